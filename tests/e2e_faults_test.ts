/**
 * The two faults of issue 10, end to end on three server nodes sharing one Redis.
 *
 * - A node's link to Redis is cut (through a relay) while presence changes elsewhere and a
 *   private message to one of its users is acknowledged: once the link is back, that user's
 *   online list is exact (a `roster` arrives) and the message is delivered.
 * - A node stalled past its TTL (SIGSTOP): every private message acknowledged meanwhile is
 *   delivered after it resumes, and its user's acknowledgement cannot skip any of them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { UserInfo } from "../lib/protocol/messages.ts";
import { spawnServer } from "./_harness.ts";
import { startRedis, startRelay } from "./_redis.ts";
import { loggedIn, redisNode } from "./_nodes.ts";
import { Wire } from "./_wire.ts";

/** The online users of the latest complete roster (since the `from`th event). */
function lastRoster(wire: Wire, from: number): string[] | null {
  const events = wire.events.slice(from);
  let end = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.type === "roster" && e.done) {
      end = i;
      break;
    }
  }
  if (end < 0) return null;
  let start = end;
  while (
    start > 0 && events[start - 1].type === "roster" &&
    !(events[start - 1] as { done: boolean }).done
  ) {
    start--;
  }
  const users: UserInfo[] = [];
  for (let i = start; i <= end; i++) users.push(...(events[i] as { users: UserInfo[] }).users);
  return users.map((u) => u.name).sort();
}

Deno.test("fault: a node whose Redis link was cut gets exact presence and every acknowledged message back", async () => {
  await using redis = await startRedis();
  await using relay = await startRelay(redis.port);
  await using one = await spawnServer(
    redisNode(redis.url, "node-1", "faults:", ["--node-ttl", "2"]),
  );
  await using two = await spawnServer(
    redisNode(relay.url, "node-2", "faults:", ["--node-ttl", "2"]),
  );
  await using three = await spawnServer(
    redisNode(redis.url, "node-3", "faults:", ["--node-ttl", "2"]),
  );
  const bob = await loggedIn(two.port, "bob");
  const carol = await loggedIn(one.port, "carol");
  const erin = await loggedIn(three.port, "erin");
  // dave exists but is offline.
  const dave0 = await loggedIn(one.port, "dave");
  await dave0.request("logout", {});
  dave0.close();
  await bob.next("presence", (e) => e.user.name === "erin" && e.online);
  try {
    const before = bob.events.length;
    await relay.cut();
    // Meanwhile on the other nodes: carol leaves, dave comes, erin writes bob privately.
    await carol.request("logout", {});
    const dave = await loggedIn(one.port, "dave", false);
    const sent = await erin.request("send", { to: "bob", text: "during the cut", key: "cut-1" });
    assert.equal(sent.stream, "@erin");
    relay.restore();
    // Bob's node learns it may have missed events: it sends him a fresh roster.
    const deadline = Date.now() + 20_000;
    await bob.waitFor(
      () => {
        const roster = lastRoster(bob, before);
        return roster !== null && roster.join() === "dave,erin";
      },
      "an exact roster after the link came back",
      deadline - Date.now(),
    );
    assert.deepEqual(lastRoster(bob, before), ["dave", "erin"]);
    const got = await bob.next("message", (e) => e.msg.text === "during the cut", 20_000);
    assert.equal(got.msg.stream, "@bob");
    assert.equal(bob.messages("@bob").filter((m) => m.msg.text === "during the cut").length, 1);
    const listed = await bob.request("users", {});
    assert.deepEqual(listed.users.map((u) => u.name).sort(), ["bob", "dave", "erin"]);
    dave.close();
  } finally {
    bob.close();
    carol.close();
    erin.close();
  }
});

Deno.test("fault: private messages acknowledged while a node was stalled past its TTL all arrive, in order", async () => {
  await using redis = await startRedis();
  await using one = await spawnServer(
    redisNode(redis.url, "node-1", "faults:", ["--node-ttl", "2"]),
  );
  await using two = await spawnServer(
    redisNode(redis.url, "node-2", "faults:", ["--node-ttl", "2"]),
  );
  const alice = await loggedIn(one.port, "alice");
  const bob = await loggedIn(two.port, "bob");
  try {
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    await bob.request("send", { to: "alice", text: "before" });
    two.process.kill("SIGSTOP");
    const texts = ["one", "two", "three"];
    try {
      await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 15_000);
      for (const text of texts) {
        const ok = await alice.request("send", { to: "bob", text, key: `stall-${text}` });
        assert.equal(ok.stream, "@alice");
      }
    } finally {
      two.process.kill("SIGCONT");
    }
    // The next message after the stall also arrives, after the three (no hole before it).
    await alice.next("presence", (e) => e.user.name === "bob" && e.online, 15_000);
    await alice.request("send", { to: "bob", text: "after" });
    await bob.waitFor(
      () => bob.messages("@bob").some((m) => m.msg.text === "after"),
      "the message after the stall",
      15_000,
    );
    const seen = bob.messages("@bob").map((m) => m.msg);
    const received = seen.filter((m) => m.from === "alice").map((m) => m.text);
    assert.deepEqual(received, [...texts, "after"]);
    const seqs = seen.map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    // An acknowledgement of the last one covers exactly what bob was given.
    await bob.send({ type: "ack", stream: "@bob", upTo: seqs.at(-1)! });
    bob.close();
    await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 15_000);
    const again = await loggedIn(two.port, "bob", false);
    const login = again.events.find((e) => e.type === "rooms");
    assert.ok(login);
    assert.equal(again.messages("@bob").length, 0);
    again.close();
  } finally {
    alice.close();
    bob.close();
  }
});
