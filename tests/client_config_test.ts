import assert from "node:assert/strict";
import { parseClientConfig } from "../lib/config/client_config.ts";
import { UsageError } from "../lib/config/flags.ts";
import {
  formatHistory,
  formatSettings,
  parseHistory,
  parseSettings,
  stateDir,
} from "../lib/client/settings.ts";

const noEnv = () => undefined;

Deno.test("client config: defaults", () => {
  assert.deepEqual(parseClientConfig([], noEnv), {
    host: "127.0.0.1",
    port: 8889,
    tls: false,
    color: true,
    bell: true,
    lang: "en",
    json: false,
    stay: false,
    register: false,
  });
});

Deno.test("client config: flags win over the environment; credentials from env", () => {
  const env = (name: string) =>
    ({
      IM_HOST: "chat.example",
      IM_PORT: "7000",
      IM_USER: "bot",
      IM_PASSWORD: "secret123",
      LANG: "zh_CN.UTF-8",
    })[name];
  const config = parseClientConfig(["--port", "9001", "--json", "--stay", "--no-bell"], env);
  assert.equal(config.host, "chat.example");
  assert.equal(config.port, 9001);
  assert.equal(config.user, "bot");
  assert.equal(config.password, "secret123");
  assert.equal(config.lang, "zh");
  assert.equal(config.json, true);
  assert.equal(config.stay, true);
  assert.equal(config.bell, false);
  assert.equal(parseClientConfig(["--lang", "en"], env).lang, "en");
});

Deno.test("client config: --ca implies TLS unless --no-tls; NO_COLOR", () => {
  assert.equal(parseClientConfig(["--ca", "ca.pem"], noEnv).tls, true);
  assert.equal(parseClientConfig(["--ca", "ca.pem", "--no-tls"], noEnv).tls, false);
  assert.equal(parseClientConfig([], (n) => n === "NO_COLOR" ? "1" : undefined).color, false);
});

Deno.test("client config: bad values are usage errors", () => {
  assert.throws(() => parseClientConfig(["--port", "0"], noEnv), UsageError);
  assert.throws(() => parseClientConfig(["--lang", "fr"], noEnv), UsageError);
  assert.throws(() => parseClientConfig(["--verbose"], noEnv), UsageError);
});

Deno.test("kept settings and history survive a round trip; damage gives defaults", () => {
  const settings = { ignore: ["bob", "小明"], presence: "all" as const, bell: false };
  assert.deepEqual(parseSettings(formatSettings(settings)), settings);
  assert.deepEqual(parseSettings("{broken"), { ignore: [], presence: "summary", bell: true });
  assert.deepEqual(parseSettings('{"ignore":[1,"a","a"],"presence":"loud"}').ignore, ["a"]);
  const history = ["one", "two\nlines", '引号"quote'];
  assert.deepEqual(parseHistory(formatHistory(history)), history);
  assert.deepEqual(parseHistory('"ok"\nnot json\n'), ["ok"]);
  assert.equal(stateDir((n) => ({ XDG_STATE_HOME: "/s" })[n]), "/s/imchat");
  assert.equal(stateDir((n) => ({ HOME: "/h" })[n]), "/h/.local/state/imchat");
});
