/**
 * Where a node's channels are subscribed, with plain shards in place of Redis: a channel is
 * placed only on the shard its slot map names and only while that shard holds it, a recheck
 * asked for while a pass ends is not lost, and `CLIENT LIST` counts are read as Redis writes
 * them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Shard } from "../lib/store/redis/shard.ts";
import { subscriptionCount } from "../lib/store/redis/shard.ts";
import { placement, Subscriptions } from "../lib/store/redis/subscriptions.ts";

/** A shard that holds what it was asked to subscribe. */
function plainShard(name: string) {
  const channels = new Set<string>();
  return {
    name,
    channels,
    subscribe: async (list: string[]) => {
      await Promise.resolve();
      for (const channel of list) channels.add(channel);
    },
    unsubscribe: (list: string[]) => {
      for (const channel of list) channels.delete(channel);
      return Promise.resolve();
    },
  } as unknown as Shard & { channels: Set<string> };
}

/** Subscriptions routed to `owner()`, with every `restored` report kept. */
function subscriptions(owner: () => Shard) {
  const restored: string[][] = [];
  const subs = new Subscriptions({
    route: () => owner(),
    refresh: () => Promise.resolve(),
    restored: (channels) => restored.push(channels),
    failed: () => {},
  });
  return { subs, restored };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

Deno.test("subscriptions: placement by slot owner and what the shard holds", () => {
  const a = { channels: new Set(["x"]) };
  const b = { channels: new Set(["x"]) };
  assert.equal(placement(a, a, "x"), "fits");
  assert.equal(placement(a, null, "x"), "fits");
  assert.equal(placement(a, b, "x"), "elsewhere");
  assert.equal(placement({ channels: new Set<string>() }, null, "x"), "dropped");
  assert.equal(placement({ channels: new Set<string>() }, b, "x"), "dropped");
  assert.equal(placement(undefined, a, "x"), "none");
});

Deno.test("subscriptions: CLIENT LIST counts", () => {
  const line = "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name= age=1 idle=0 " +
    "flags=P db=0 sub=1 psub=0 ssub=2 multi=-1 cmd=ssubscribe user=default resp=2";
  assert.equal(subscriptionCount(line, true), 2);
  assert.equal(subscriptionCount(line, false), 1);
  assert.equal(subscriptionCount("", true), 0);
  assert.equal(subscriptionCount("id=7 addr=127.0.0.1:5000 sub=0 psub=0\n", true), null);
});

Deno.test("subscriptions: a recheck asked for right after a pass that found nothing is not lost", async () => {
  const a = plainShard("a");
  const b = plainShard("b");
  let owner = a;
  const { subs, restored } = subscriptions(() => owner);
  await subs.add(["x"]);
  subs.recheck(); // nothing to do: this pass ends at once
  owner = b;
  subs.shardGone(a);
  subs.recheck();
  await settle();
  assert.deepEqual([...b.channels], ["x"]);
  assert.deepEqual(restored, [["x"]]);
  subs.close();
});

Deno.test("subscriptions: a channel its shard dropped unannounced is placed again and reported", async () => {
  const a = plainShard("a");
  const { subs, restored } = subscriptions(() => a);
  await subs.add(["x", "y"]);
  assert.deepEqual(restored, []);
  a.channels.delete("x"); // Redis dropped it and nobody heard
  subs.recheck();
  await settle();
  assert.deepEqual([...a.channels].sort(), ["x", "y"]);
  assert.deepEqual(restored, [["x"]]);
  assert.deepEqual(subs.perShard(), new Map([["a", 2]]));
  subs.close();
});

Deno.test("subscriptions: a channel on a shard the slot map no longer names moves and is reported", async () => {
  const a = plainShard("a");
  const b = plainShard("b");
  let owner = a;
  const { subs, restored } = subscriptions(() => owner);
  await subs.add(["x"]);
  owner = b;
  subs.recheck();
  await settle();
  assert.deepEqual([...a.channels], []);
  assert.deepEqual([...b.channels], ["x"]);
  assert.deepEqual(restored, [["x"]]);
  subs.close();
});
