/**
 * The Redis backend under real server nodes over real TCP: two nodes on one Redis act as one
 * server (room and private messages, presence); the first fault of issue 10: a node stalled
 * past its TTL (SIGSTOP) while a private message to its user is acknowledged still delivers
 * that message once it resumes; and `--workers 2` on Redis: a killed worker is restarted
 * under its id (taking it over) and its users resume.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnServer } from "./_harness.ts";
import { freePort, startRedis } from "./_redis.ts";
import { loggedIn, redisNode } from "./_nodes.ts";
import { Wire } from "./_wire.ts";

Deno.test("redis store: two server nodes on one Redis act as one server", async () => {
  await using redis = await startRedis();
  await using a = await spawnServer(redisNode(redis.url, "node-a", "e2e:", ["--node-ttl", "2"]));
  await using b = await spawnServer(redisNode(redis.url, "node-b", "e2e:", ["--node-ttl", "2"]));
  const alice = await loggedIn(a.port, "alice");
  const bob = await loggedIn(b.port, "bob");
  try {
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    await alice.request("send", { room: "lobby", text: "hello from a", key: "k1" });
    const room = await bob.next("message", (e) => e.msg.text === "hello from a");
    assert.equal(room.msg.stream, "#lobby");
    const sent = await bob.request("send", { to: "alice", text: "hi from b" });
    assert.equal(sent.stream, "@bob");
    const inbox = await alice.next("message", (e) => e.msg.stream === "@alice");
    assert.deepEqual([inbox.msg.from, inbox.msg.text], ["bob", "hi from b"]);
    const count = await alice.request("count", {});
    assert.equal(count.users, 2);
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("redis store: a private message to a user on a stalled node is delivered after it", async () => {
  await using redis = await startRedis();
  await using a = await spawnServer(redisNode(redis.url, "node-a", "e2e:", ["--node-ttl", "2"]));
  await using b = await spawnServer(redisNode(redis.url, "node-b", "e2e:", ["--node-ttl", "2"]));
  const alice = await loggedIn(a.port, "alice");
  const bob = await loggedIn(b.port, "bob");
  try {
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    b.process.kill("SIGSTOP");
    try {
      const gone = await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 10_000);
      assert.equal(gone.reason, "node_down");
      const sent = await alice.request("send", { to: "bob", text: "while you slept", key: "z1" });
      assert.equal(sent.stream, "@alice");
    } finally {
      b.process.kill("SIGCONT");
    }
    const got = await bob.next("message", (e) => e.msg.text === "while you slept", 10_000);
    assert.equal(got.msg.stream, "@bob");
    await alice.next("presence", (e) => e.user.name === "bob" && e.online, 10_000);
  } finally {
    alice.close();
    bob.close();
  }
});

Deno.test("redis store: --workers 2; a killed worker's users resume", async () => {
  await using redis = await startRedis();
  const port = freePort();
  await using node = await spawnServer([
    // Later flags win: this node listens on a known port with two workers.
    ...redisNode(redis.url, "node", "e2e:", ["--node-ttl", "2"]),
    "--port",
    String(port),
    "--workers",
    "2",
  ]);
  const found = new Map<number, Wire>();
  for (let i = 0; i < 64 && found.size < 2; i++) {
    const wire = await Wire.open(port);
    if (found.has(wire.hello.worker!)) wire.close();
    else found.set(wire.hello.worker!, wire);
  }
  assert.equal(found.size, 2, "connections should land on both workers");
  const [a, b] = [found.get(0)!, found.get(1)!];
  let again: Wire | null = null;
  try {
    await a.request("register", { name: "alice", password: "password1", nickname: "ALICE" });
    await a.request("login", { name: "alice", password: "password1" });
    await b.request("register", { name: "bob", password: "password1", nickname: "BOB" });
    const bobLogin = await b.request("login", { name: "bob", password: "password1" });
    await a.next("presence", (e) => e.user.name === "bob" && e.online);
    await b.request("send", { to: "alice", text: "from worker 1" });
    await a.next("message", (e) => e.msg.text === "from worker 1");
    const pid = Number(
      node.lines.map((l) => JSON.parse(l)).find((e) =>
        e.event === "worker_started" && e.worker === 1
      ).pid,
    );
    Deno.kill(pid, "SIGKILL");
    await b.closed;
    await a.request("send", { to: "bob", text: "while bob was away" });
    const deadline = Date.now() + 10_000;
    while (!again) {
      try {
        again = await Wire.open(port);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await again.request("resume", { token: bobLogin.token });
    await again.next("message", (e) => e.msg.text === "while bob was away");
    await again.next("backlog");
    await again.request("send", { to: "alice", text: "bob is back" });
    await a.next("message", (e) => e.msg.text === "bob is back");
  } finally {
    a.close();
    b.close();
    again?.close();
    await node.stop("SIGTERM");
  }
});
