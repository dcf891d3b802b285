/**
 * The real server as its own process (`server.ts`): data survive a SIGTERM and a `kill -9`,
 * positions continue after a restart, tokens stay valid, a KV file has one owner, and start-up
 * failures are reported plainly.
 *
 * @module
 */

import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { backendArgs, backendSuites, type Case, spawnServer } from "./_harness.ts";
import { freePort, startRedis } from "./_redis.ts";
import { Wire } from "./_wire.ts";
import { PASSWORD, received, texts } from "./_e2e.ts";

/** Connections to close at the end of a block. */
class Clients implements AsyncDisposable {
  readonly #all: Wire[] = [];
  async open(port: number): Promise<Wire> {
    const c = await Wire.open(port);
    this.#all.push(c);
    return c;
  }
  async login(port: number, name: string): Promise<Wire> {
    const c = await this.open(port);
    await c.request("login", { name, password: PASSWORD });
    await c.next("backlog");
    return c;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.#all) c.close();
    await Promise.all(this.#all.map((c) => c.closed));
  }
}

/** Store flags that reopen the same data: a KV file in `dir`, or a fixed Redis prefix. */
type Data = { args: string[]; [Symbol.asyncDispose](): Promise<void> };

async function data(kind: "kv" | { url: string }): Promise<Data> {
  if (kind === "kv") {
    const dir = await Deno.makeTempDir({ prefix: "imchat-restart-" });
    return {
      args: ["--kv", `${dir}/chat.kv`],
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
  }
  return {
    args: backendArgs({ kind: "redis", url: kind.url }),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

const cases: Case[] = [
  ["accounts, rooms, messages, positions and tokens survive a SIGTERM restart", async (backend) => {
    await using store = await data(backend.kind === "kv" ? "kv" : backend);
    // Several workers, as the default is on a machine with several cores (they share a port).
    const args = () => ["--port", String(freePort()), "--workers", "2", ...store.args];
    let token: string;
    {
      await using server = await spawnServer(args());
      await using clients = new Clients();
      const alice = await clients.open(server.port);
      for (const name of ["alice", "bob"]) {
        await alice.request("register", { name, password: PASSWORD, nickname: name.toUpperCase() });
      }
      token = (await alice.request("login", { name: "alice", password: PASSWORD })).token;
      await alice.next("backlog");
      await alice.request("create", { room: "tea", title: "Tea" });
      const lobby = await alice.request("send", { room: "lobby", text: "before the restart" });
      const dm = await alice.request("send", { to: "bob", text: "see you later" });
      await alice.request("send", { room: "tea", text: "tea time" });
      await alice.send({ type: "ack", stream: "#lobby", upTo: lobby.seq });
      await alice.send({ type: "ack", stream: "@alice", upTo: dm.seq });
      await alice.request("ping", {});
      const status = await server.stop("SIGTERM");
      equal(status.code, 0, "clean exit on SIGTERM");
      await alice.next("shutdown");
      await alice.closed;
      ok(server.lines.some((line) => line.includes('"event":"stopped"')));
      ok(
        server.lines.some((line) => line.includes('"event":"hash_workers"')),
        "passwords were hashed in worker processes",
      );
    }
    await using server = await spawnServer(args());
    await using clients = new Clients();
    const bob = await clients.login(server.port, "bob");
    deepStrictEqual(received(bob), ["@bob:1", "#lobby:1"]);
    deepStrictEqual(texts(bob), ["see you later", "before the restart"]);
    const history = await bob.request("history", { with: "alice" });
    deepStrictEqual(history.messages.map((m) => m.text), ["see you later"]);
    equal((await bob.request("send", { room: "lobby", text: "after" })).seq, 2, "positions go on");
    // alice's acknowledgements were written at shutdown; her resume token still works.
    const alice = await clients.open(server.port);
    const back = await alice.request("resume", { token });
    await alice.next("backlog");
    equal(back.user.name, "alice");
    deepStrictEqual(received(alice), ["#lobby:2", "#tea:1"]);
    const tea = await alice.request("room", { room: "tea" });
    deepStrictEqual([tea.room.owner, tea.room.title, tea.role], ["alice", "Tea", "owner"]);
  }],
];

backendSuites("restart", cases, () => startRedis());

Deno.test("kill -9: every acknowledged message is there after the restart (Deno KV file)", async () => {
  await using store = await data("kv");
  const args = ["--port", "0", "--workers", "1", "--rate", "0", ...store.args];
  const acked: number[] = [];
  {
    await using server = await spawnServer(args);
    await using clients = new Clients();
    const alice = await clients.open(server.port);
    await alice.request("register", { name: "alice", password: PASSWORD, nickname: "A" });
    await alice.request("login", { name: "alice", password: PASSWORD });
    await alice.next("backlog");
    const pump = (async () => {
      for (let n = 0;; n++) {
        try {
          acked.push((await alice.request("send", { room: "lobby", text: `m${n}` })).seq);
        } catch {
          return;
        }
      }
    })();
    while (acked.length < 100) await new Promise((resolve) => setTimeout(resolve, 10));
    equal((await server.stop("SIGKILL")).signal, "SIGKILL");
    await pump;
  }
  await using server = await spawnServer(args);
  await using clients = new Clients();
  const alice = await clients.login(server.port, "alice");
  const stored = new Set<number>();
  let before: number | undefined;
  for (;;) {
    const page = await alice.request("history", { room: "lobby", limit: 200, before });
    for (const m of page.messages) stored.add(m.seq);
    if (!page.more) break;
    before = page.messages[0].seq;
  }
  deepStrictEqual(acked.filter((seq) => !stored.has(seq)), []);
  equal(stored.size, Math.max(...stored), "no hole");
  const next = await alice.request("send", { room: "lobby", text: "after" });
  equal(next.seq, stored.size + 1, "positions go on after the last stored one");
});

Deno.test("a KV file has one owner: a second server on it refuses to start", async () => {
  await using store = await data("kv");
  await using first = await spawnServer(["--port", "0", "--workers", "1", ...store.args]);
  const second = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-A",
      new URL("../server.ts", import.meta.url).pathname,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--workers",
      "1",
      ...store.args,
    ],
    stdout: "null",
    stderr: "piped",
  });
  const { code, stderr } = await second.output();
  equal(code, 1);
  const text = new TextDecoder().decode(stderr);
  match(text, /Cannot start the server: .*in use by another server process/);
  ok(!text.includes("    at "), "no stack trace");
  // The first keeps serving.
  const c = await Wire.open(first.port);
  equal(c.hello.protocol, 2);
  c.close();
  await c.closed;
});

Deno.test("the server exits with a clear error when Redis is unreachable", async () => {
  for (const workers of ["1", "2"]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../server.ts", import.meta.url).pathname,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        workers,
        "--redis",
        "redis://127.0.0.1:1",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // It must exit by itself; after 15 s it is stopped and the test fails.
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const { code, stderr } = await child.output();
    clearTimeout(timer);
    const text = new TextDecoder().decode(stderr);
    equal(code, 1, `--workers ${workers}: exit code ${code}; stderr:\n${text.slice(0, 600)}`);
    ok(text.includes("Cannot start the server"), text);
    ok(!text.includes("    at "), "no stack trace");
  }
});
