import { equal, ok } from "node:assert/strict";
import { Wire } from "./_wire.ts";

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile_test: skipped: DENORT_BIN is not set, and deno compile cannot download its " +
      "runtime base on this machine (no internet). Set DENORT_BIN to a denort binary of the " +
      `same version as deno ${Deno.version.deno} to build and test the executables.`,
  );
}

Deno.test({
  name: "deno task compile builds a server and a client that work",
  ignore: !denort,
  async fn() {
    const root = new URL("..", import.meta.url).pathname;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const dir = await Deno.makeTempDir();
    const server = new Deno.Command(`${root}dist/imchat-server`, {
      args: ["--host", "127.0.0.1", "--port", "0", "--kv", `${dir}/c.kv`],
      stderr: "piped",
      stdout: "null",
    }).spawn();
    try {
      const reader = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      let port = 0;
      while (!port) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`server exited: ${text}`);
        text += value;
        const match = text.match(/"event":"listening".*?"port":(\d+)/);
        if (match) port = Number(match[1]);
      }
      const client = await Wire.open(port);
      const reg = await client.request("register", {
        name: "alice",
        password: "password1",
        nickname: "A",
      });
      equal(reg.user.name, "alice");
      client.close();
      await client.closed;
      const help = await new Deno.Command(`${root}dist/imchat-client`, { args: ["--help"] })
        .output();
      equal(help.code, 0);
      ok(new TextDecoder().decode(help.stdout).includes("--host"));
      reader.releaseLock();
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await server.stderr.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
