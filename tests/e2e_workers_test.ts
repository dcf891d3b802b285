/**
 * `--workers 2`: two server processes share the port and act as one node. Users landing on
 * different workers chat and see each other's presence; a killed worker is restarted and its
 * users resume on any worker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "./_redis.ts";
import { spawnServer } from "./_harness.ts";
import { Wire } from "./_wire.ts";

/** Connections until one lands on each of the two workers (others are closed). */
async function onEachWorker(port: number): Promise<Wire[]> {
  const found = new Map<number, Wire>();
  for (let i = 0; i < 64 && found.size < 2; i++) {
    const wire = await Wire.open(port);
    if (found.has(wire.hello.worker!)) wire.close();
    else found.set(wire.hello.worker!, wire);
  }
  assert.equal(found.size, 2, "connections should land on both workers");
  return [found.get(0)!, found.get(1)!];
}

async function login(wire: Wire, name: string, register: boolean) {
  if (register) {
    await wire.request("register", { name, password: "password1", nickname: name.toUpperCase() });
  }
  const result = await wire.request("login", { name, password: "password1" });
  await wire.next("backlog");
  return result;
}

Deno.test("workers on Deno KV: users on different workers chat; a killed worker's users resume", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  await using node = await spawnServer([
    "--port",
    String(port),
    "--workers",
    "2",
    "--kv",
    `${dir}/chat.kv`,
    "--hash-workers",
    "0",
  ]);
  try {
    const [a, b] = await onEachWorker(port);
    await login(a, "alice", true);
    const bobLogin = await login(b, "bob", true);
    const online = await a.next("presence", (e) => e.user.name === "bob" && e.online);
    assert.equal(online.online, true);
    await a.request("send", { room: "lobby", text: "from worker 0", key: "k1" });
    const got = await b.next("message", (e) => e.msg.text === "from worker 0");
    assert.equal(got.msg.stream, "#lobby");
    await b.request("send", { to: "alice", text: "private, from worker 1" });
    await a.next("message", (e) => e.msg.stream === "@alice");

    // Kill bob's worker: the supervisor starts it again; bob resumes on whichever worker.
    const pid = Number(
      node.lines.map((l) => JSON.parse(l)).find((e) =>
        e.event === "worker_started" && e.worker === 1
      ).pid,
    );
    Deno.kill(pid, "SIGKILL");
    await b.closed;
    await a.request("send", { room: "lobby", text: "while bob was away" });
    const deadline = Date.now() + 10_000;
    let again: Wire | null = null;
    while (!again) {
      try {
        again = await Wire.open(port);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await again.request("resume", {
      token: bobLogin.token,
      positions: { "#lobby": { seq: got.msg.seq } },
    });
    const missed = await again.next("message", (e) => e.msg.text === "while bob was away");
    assert.equal(missed.backlog, true);
    await again.next("backlog");
    assert.equal(again.messages("#lobby").filter((m) => m.msg.text === "from worker 0").length, 0);
    await again.request("send", { room: "lobby", text: "bob is back" });
    await a.next("message", (e) => e.msg.text === "bob is back");
    a.close();
    again.close();
  } finally {
    await node.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
});
