import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import { sleep, spawnServer, TestClient, userOn } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

function nodeArgs(url: string, id: string, prefix: string): string[] {
  return [
    "--port",
    "0",
    "--redis",
    url,
    "--redis-prefix",
    prefix,
    "--node-id",
    id,
    "--node-ttl",
    "2",
  ];
}

Deno.test("two nodes on one Redis behave as one server", async () => {
  await using redis = await startRedis();
  await using a = await spawnServer(nodeArgs(redis.url, "node-a", "c1:"));
  await using b = await spawnServer(nodeArgs(redis.url, "node-b", "c1:"));
  const alice = await userOn(a.port, "alice");
  const bob = await userOn(b.port, "bob");
  const online = await alice.next("presence", (e) => e.user.name === "bob" && e.online);
  deepStrictEqual(online.user, { name: "bob", nickname: "BOB" });
  const bobTablet = await userOn(a.port, "bob", false);
  await alice.conn.request("ping", {});
  equal(alice.events.filter((e) => e.type === "presence" && e.user.name === "bob").length, 1);

  const users = await bob.conn.request("users", {});
  deepStrictEqual(users.users.map((u) => u.name).sort(), ["alice", "bob"]);
  deepStrictEqual(await alice.conn.request("count", {}), { users: 2, sessions: 3 });

  const group = await alice.conn.request("send", { text: "hello from A" });
  const got = await bob.next("message");
  deepStrictEqual(got.msg, {
    id: group.msgId,
    ts: group.ts,
    from: "alice",
    nick: "ALICE",
    text: "hello from A",
  });
  await bobTablet.next("message", (e) => e.msg.id === group.msgId);

  const reply = await bob.conn.request("send", { to: "alice", text: "hi from B" });
  ok(reply.msgId > group.msgId, "ids increase across nodes");
  equal((await alice.next("message", (e) => e.msg.to === "alice")).msg.text, "hi from B");
  await bobTablet.next("message", (e) => e.msg.id === reply.msgId);

  await bob.conn.request("nick", { nickname: "Bobby" });
  const renamed = await alice.next("nick");
  deepStrictEqual([renamed.name, renamed.old, renamed.nickname], ["bob", "BOB", "Bobby"]);

  bob.close();
  bobTablet.close();
  const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
  equal(off.reason, "drop");
  deepStrictEqual(await alice.conn.request("count", {}), { users: 1, sessions: 1 });
  alice.close();
  await Promise.all([alice.conn.closed, bob.conn.closed, bobTablet.conn.closed]);
});

Deno.test("a node killed with SIGKILL: its users go offline elsewhere, nothing is lost", async () => {
  await using redis = await startRedis();
  await using a = await spawnServer(nodeArgs(redis.url, "node-a", "c2:"));
  await using c = await spawnServer(nodeArgs(redis.url, "node-c", "c2:"));
  const b = await spawnServer(nodeArgs(redis.url, "node-b", "c2:"));
  const alice = await userOn(a.port, "alice");
  const carol = await userOn(c.port, "carol");
  const bob = await userOn(b.port, "bob");
  await alice.next("presence", (e) => e.user.name === "bob" && e.online);
  const killedAt = Date.now();
  await b.stop("SIGKILL");
  await bob.conn.closed;

  // Others keep chatting while the dead node is noticed.
  const during = await alice.conn.request("send", { text: "still chatting" });
  await carol.next("message", (e) => e.msg.id === during.msgId);
  const missed = await alice.conn.request("send", { to: "bob", text: "are you there?" });

  const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 15_000);
  equal(off.reason, "node_down");
  ok(Date.now() - killedAt < 15_000, "offline within the bound");
  await carol.next("presence", (e) => e.user.name === "bob" && !e.online);
  deepStrictEqual((await carol.conn.request("count", {})).users, 2);

  const back = await userOn(a.port, "bob", false);
  await back.next("backlog");
  ok(back.messages().some((m) => m.msg.id === missed.msgId && m.away === true));
  for (const client of [alice, carol, back]) client.close();
  await Promise.all([alice.conn.closed, carol.conn.closed, back.conn.closed]);
});

Deno.test("a Redis restart with AOF loses nothing acknowledged; nodes resume", async () => {
  await using redis = await startRedis(["--appendonly", "yes", "--appendfsync", "always"]);
  await using a = await spawnServer(nodeArgs(redis.url, "node-a", "c3:"));
  await using b = await spawnServer(nodeArgs(redis.url, "node-b", "c3:"));
  const alice = await userOn(a.port, "alice");
  const bobReg = await TestClient.open(b.port);
  await bobReg.conn.request("register", { name: "bob", password: "password1", nickname: "B" });
  bobReg.close();
  const acked: number[] = [];
  for (let i = 0; i < 20; i++) {
    acked.push((await alice.conn.request("send", { to: "bob", text: `m${i}` })).msgId);
  }
  await redis.stop();
  let refused = 0;
  try {
    await alice.conn.request("send", { text: "during the outage" });
  } catch (error) {
    ok(error instanceof ChatError);
    equal(error.code, "UNAVAILABLE");
    refused++;
  }
  equal(refused, 1, "a send during the outage is refused, not silently dropped");
  await redis.restart();
  for (const node of [a, b]) {
    const deadline = Date.now() + 15_000;
    while (!node.lines.some((l) => l.includes('"redis_up"'))) {
      ok(Date.now() < deadline, "node reconnected to Redis");
      await sleep(100);
    }
  }
  await sleep(300);
  const bob = await userOn(b.port, "bob", false);
  await bob.next("backlog");
  deepStrictEqual(bob.messages().map((m) => m.msg.id), acked);
  const after = await alice.conn.request("send", { text: "after the restart" });
  equal((await bob.next("message", (e) => e.msg.id === after.msgId)).msg.text, "after the restart");
  alice.close();
  bob.close();
  await Promise.all([alice.conn.closed, bob.conn.closed]);
});

Deno.test("a node stalled past the TTL registers its users again when it resumes", async () => {
  await using redis = await startRedis();
  await using a = await spawnServer(nodeArgs(redis.url, "node-a", "c4:"));
  await using b = await spawnServer(nodeArgs(redis.url, "node-b", "c4:"));
  const bob = await userOn(b.port, "bob");
  const alice = await userOn(a.port, "alice");
  const first = await bob.next("presence", (e) => e.user.name === "alice" && e.online);
  a.process.kill("SIGSTOP");
  const gone = await bob.next("presence", (e) => e.user.name === "alice" && !e.online, 15_000);
  equal(gone.reason, "node_down");
  a.process.kill("SIGCONT");
  // Node A notices at its next heartbeat that it was removed and puts alice back.
  await bob.next(
    "presence",
    (e) => e.user.name === "alice" && e.online && e !== first,
    10_000,
  );
  const sent = await bob.conn.request("send", { to: "alice", text: "still there?" });
  equal((await alice.next("message", (e) => e.msg.id === sent.msgId)).msg.text, "still there?");
  deepStrictEqual((await bob.conn.request("count", {})).users, 2);
  alice.close();
  bob.close();
  await Promise.all([alice.conn.closed, bob.conn.closed]);
});
