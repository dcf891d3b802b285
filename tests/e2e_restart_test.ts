import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { type Backend, backendArgs, spawnServer, TestClient } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

async function login(port: number, name: string): Promise<TestClient> {
  const c = await TestClient.open(port);
  await c.conn.request("login", { name, password: "password1" });
  return c;
}

async function survivesRestart(args: string[]): Promise<void> {
  let sent: number;
  {
    await using server = await spawnServer(["--port", "0", ...args]);
    const alice = await TestClient.open(server.port);
    for (const name of ["alice", "bob"]) {
      await alice.conn.request("register", { name, password: "password1", nickname: name });
    }
    await alice.conn.request("login", { name: "alice", password: "password1" });
    await alice.conn.request("send", { text: "before the restart" });
    sent = (await alice.conn.request("send", { to: "bob", text: "see you later" })).msgId;
    const status = await server.stop("SIGTERM");
    equal(status.code, 0, "clean exit on SIGTERM");
    await alice.next("shutdown");
    await alice.conn.closed;
    ok(server.lines.some((line) => line.includes('"event":"stopped"')));
    ok(
      server.lines.some((line) => line.includes('"event":"hash_workers"')),
      "passwords were hashed in worker processes",
    );
  }
  await using server = await spawnServer(["--port", "0", ...args]);
  const bob = await login(server.port, "bob");
  const backlog = await bob.next("backlog");
  deepStrictEqual(backlog, { type: "backlog", private: 1, group: 1, skipped: 0 });
  deepStrictEqual(bob.messages().map((m) => m.msg.text), ["before the restart", "see you later"]);
  equal(bob.messages()[1].msg.id, sent);
  const history = await bob.conn.request("history", { with: "alice" });
  deepStrictEqual(history.messages.map((m) => m.text), ["see you later"]);
  const next = await bob.conn.request("send", { text: "after" });
  ok(next.msgId > sent, "ids keep increasing after a restart");
  bob.close();
  await bob.conn.closed;
}

Deno.test("accounts and messages survive a server restart (Deno KV file)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imchat-kv-" });
  try {
    await survivesRestart(["--kv", `${dir}/chat.kv`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("accounts and messages survive a server restart (Redis)", async () => {
  await using redis = await startRedis();
  const backend: Backend = { kind: "redis", url: redis.url };
  await survivesRestart(backendArgs(backend));
});

Deno.test("the server exits with a clear error when Redis is unreachable", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-A",
      new URL("../server.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--redis",
      "redis://127.0.0.1:1",
    ],
    stdout: "null",
    stderr: "piped",
  });
  const { code, stderr } = await command.output();
  equal(code, 1);
  const text = new TextDecoder().decode(stderr);
  ok(text.includes("Cannot start the server"), text);
  ok(!text.includes("    at "), "no stack trace");
});
