import assert from "node:assert/strict";
import { parseClientConfig } from "../lib/config/client_config.ts";
import { UsageError } from "../lib/config/flags.ts";

const noEnv = () => undefined;

Deno.test("client config: defaults", () => {
  assert.deepEqual(parseClientConfig([], noEnv), {
    host: "127.0.0.1",
    port: 8889,
    tls: false,
    caFile: undefined,
    color: true,
  });
});

Deno.test("client config: flags win over the environment", () => {
  const env = (name: string) => ({ IM_HOST: "chat.example", IM_PORT: "7000" })[name];
  const config = parseClientConfig(["--port", "9001"], env);
  assert.equal(config.host, "chat.example");
  assert.equal(config.port, 9001);
});

Deno.test("client config: --ca implies TLS unless --no-tls", () => {
  assert.equal(parseClientConfig(["--ca", "ca.pem"], noEnv).tls, true);
  assert.equal(parseClientConfig(["--ca", "ca.pem", "--no-tls"], noEnv).tls, false);
  assert.equal(parseClientConfig([], (n) => n === "IM_TLS" ? "1" : undefined).tls, true);
});

Deno.test("client config: --no-color and NO_COLOR turn colour off", () => {
  assert.equal(parseClientConfig(["--no-color"], noEnv).color, false);
  assert.equal(parseClientConfig([], (n) => n === "NO_COLOR" ? "1" : undefined).color, false);
  assert.equal(parseClientConfig([], (n) => n === "NO_COLOR" ? "" : undefined).color, true);
});

Deno.test("client config: bad values are usage errors", () => {
  assert.throws(() => parseClientConfig(["--port", "0"], noEnv), UsageError);
  assert.throws(() => parseClientConfig(["--port", "http"], noEnv), UsageError);
  assert.throws(() => parseClientConfig(["--verbose"], noEnv), UsageError);
});
