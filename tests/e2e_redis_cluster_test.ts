/**
 * Two server nodes on a local three-master Redis Cluster (issue 11): rooms and users spread
 * over the shards; room messages travel on sharded channels to the nodes that hold members;
 * private messages and presence cross nodes; a node without members of a room never hears it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnServer } from "./_harness.ts";
import { startRedisCluster } from "./_redis.ts";
import { loggedIn, redisNode } from "./_nodes.ts";

Deno.test("redis cluster: two nodes chat through sharded pub/sub; rooms reach only their nodes", async () => {
  await using cluster = await startRedisCluster();
  await using a = await spawnServer(
    redisNode(cluster.url, "node-a", "cl:", ["--redis-cluster", "--lobby", ""]),
  );
  await using b = await spawnServer(
    redisNode(cluster.url, "node-b", "cl:", ["--redis-cluster", "--lobby", ""]),
  );
  const alice = await loggedIn(a.port, "alice");
  const bob = await loggedIn(b.port, "bob");
  const carol = await loggedIn(a.port, "carol");
  try {
    // Ten rooms, so that they land on every shard; alice owns them, bob joins them on node b.
    const rooms = Array.from({ length: 10 }, (_, i) => `room-${i}`);
    for (const room of rooms) {
      await alice.request("create", { room });
      await bob.request("join", { room });
    }
    for (const room of rooms) await alice.request("send", { room, text: `hello ${room}` });
    await bob.waitFor(
      () => rooms.every((room) => bob.messages(`#${room}`).length === 1),
      "one message in each room",
      10_000,
    );
    // A private message across nodes, and presence of a contact.
    await bob.request("send", { to: "alice", text: "over the cluster" });
    const got = await alice.next("message", (e) => e.msg.stream === "@alice", 10_000);
    assert.equal(got.msg.text, "over the cluster");
    // A room with members on node a only: node b never subscribes to it.
    await carol.request("create", { room: "a-only" });
    await alice.request("join", { room: "a-only" });
    await carol.request("send", { room: "a-only", text: "local" });
    await alice.next("message", (e) => e.msg.stream === "#a-only");
    const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    assert.ok(!/a-only/.test(metrics), "no per-room series leak the room's name");
    const subscribed = metrics.split("\n").filter((l) => l.startsWith("imchat_bus_subscriptions"));
    assert.ok(subscribed.length > 0, "node b reports its subscriptions");
    // Bob's node holds: his inbox, his contact alice's presence, his ten rooms.
    const count = Number(subscribed[0].split(" ").at(-1));
    assert.equal(count, 1 + 1 + rooms.length);
  } finally {
    alice.close();
    bob.close();
    carol.close();
  }
});
