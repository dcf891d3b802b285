/**
 * The Redis link under outages and with replicas: unavailability is reported and commands
 * fail fast while Redis is down; subscriptions come back by themselves and say which channels
 * may have missed messages; `waitReplicas` makes a write fail when replicas do not confirm
 * it; the observer sees per-shard latency.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import type { BusDelivery } from "../lib/store/contract/bus.ts";
import type { StoreStatus } from "../lib/store/contract/store.ts";
import { openRedisStore, type RedisStoreOptions } from "../lib/store/redis/open.ts";
import { eventually, TEST_SETTINGS } from "./contract/_factory.ts";
import { redisCli, startRedis, startRelay } from "./_redis.ts";

const topic = (text: string) => ({
  type: "topic" as const,
  room: "tea",
  topic: text,
  by: { name: "alice", nickname: "A" },
});

function options(url: string, nodeId: string, extra: Partial<RedisStoreOptions> = {}) {
  return { ...TEST_SETTINGS, url, nodeId, nodeTtlMs: 3000, ...extra };
}

Deno.test("redis store: while Redis is down commands fail fast; then everything comes back", async () => {
  await using redis = await startRedis();
  const statuses: StoreStatus[] = [];
  const restored: string[][] = [];
  const got: [string, BusDelivery][] = [];
  await using store = await openRedisStore(
    options(redis.url, "n1", { onStatus: (s) => statuses.push(s) }),
  );
  store.bus.onRestored((channels) => restored.push(channels.sort()));
  store.bus.onDelivery((channel, delivery) => got.push([channel, delivery]));
  await store.bus.subscribe(["#tea", "~bob"]);
  assert.equal(store.available, true);
  await redis.stop();
  await eventually(() => store.available ? undefined : true, "the store to be unavailable");
  const started = Date.now();
  await assert.rejects(() => store.accounts.getUser("alice"));
  await assert.rejects(() => store.streams.head("#tea"));
  assert.ok(Date.now() - started < 500, "commands fail at once");
  assert.ok(statuses.some((s) => s.event === "store_down"));
  await redis.restart();
  await eventually(() => store.available ? true : undefined, "the store to be back", 5000);
  await eventually(
    () => restored.some((c) => c.includes("#tea") && c.includes("~bob")) ? true : undefined,
    "the channels to be restored",
    5000,
  );
  assert.ok(statuses.some((s) => s.event === "store_up"));
  await using other = await openRedisStore(options(redis.url, "n2"));
  await other.bus.publish("#tea", topic("after"));
  await eventually(() => got.find(([c]) => c === "#tea"), "a delivery after the outage");
});

Deno.test("redis store: a subscription made while Redis is down is retried until it works", async () => {
  await using redis = await startRedis();
  const restored: string[] = [];
  const got: string[] = [];
  const errors: StoreStatus[] = [];
  await using store = await openRedisStore(options(redis.url, "n1", {
    onStatus: (s) => void (s.event === "store_error" && errors.push(s)),
  }));
  store.bus.onRestored((channels) => restored.push(...channels));
  store.bus.onDelivery((channel) => got.push(channel));
  await redis.stop();
  await eventually(() => store.available ? undefined : true, "the store to be unavailable");
  await assert.rejects(() => store.bus.subscribe(["#late"]));
  assert.equal(store.bus.subscriptions, 1);
  assert.ok(errors.some((s) => s.event === "store_error" && s.op === "subscribe"));
  await redis.restart();
  await eventually(() => restored.includes("#late") ? true : undefined, "#late restored", 8000);
  await using other = await openRedisStore(options(redis.url, "n2"));
  await other.bus.publish("#late", topic("now"));
  await eventually(() => got.includes("#late") ? true : undefined, "a delivery on #late");
});

Deno.test("redis store: with waitReplicas a write needs a replica's confirmation", async () => {
  await using primary = await startRedis(["--repl-diskless-sync-delay", "0"]);
  const seconds = new Map<string, number>();
  await using store = await openRedisStore(options(primary.url, "n1", {
    waitReplicas: 1,
    observer: { command: (shard, op) => seconds.set(`${shard} ${op}`, 1) },
  }));
  await store.rooms.create({
    name: "tea",
    title: "t",
    topic: "",
    public: true,
    owner: "alice",
    createdAt: 1,
  }, 9).then(
    () => assert.fail("a write without a replica must fail"),
    (error) => {
      assert.ok(error instanceof ChatError);
      assert.equal(error.code, "UNAVAILABLE");
    },
  );
  await using replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
  await eventually(
    async () =>
      (await redisCli(primary.port, "INFO", "replication")).includes("state=online")
        ? true
        : undefined,
    "the replica to be in sync",
    10_000,
  );
  assert.equal(
    await store.rooms.create({
      name: "den",
      title: "d",
      topic: "",
      public: true,
      owner: "alice",
      createdAt: 1,
    }, 9),
    "ok",
  );
  const [sent] = await store.streams.append([{
    room: "den",
    from: "alice",
    nick: "A",
    ts: 1,
    text: "x",
  }]);
  assert.ok(sent.ok);
  assert.equal(await redisCli(replica.port, "HGET", "im:{r:den}:h", "seq"), "1\n");
  await replica.stop(true);
  const [lost] = await store.streams.append([
    { room: "den", from: "alice", nick: "A", ts: 2, text: "y", key: "k1" },
  ]);
  assert.ok(
    !lost.ok && lost.error === "failed" && (lost.cause as ChatError).code === "UNAVAILABLE",
  );
  const shard = `127.0.0.1:${primary.port}`;
  assert.ok(seconds.has(`${shard} append_room`));
  assert.deepEqual(store.shards, [shard]);
});

Deno.test("redis store: after a node's cut link, it learns which channels missed presence", async () => {
  await using redis = await startRedis();
  await using relay = await startRelay(redis.port);
  await using a = await openRedisStore(options(redis.url, "n1"));
  await using b = await openRedisStore(options(relay.url, "n2", { nodeTtlMs: 10_000 }));
  const restored = new Set<string>();
  const heard: string[] = [];
  b.bus.onRestored((channels) => channels.forEach((c) => restored.add(c)));
  b.bus.onDelivery((channel, delivery) => {
    if (delivery.kind === "event" && delivery.event.type === "presence") heard.push(channel);
  });
  await b.bus.subscribe(["~carol", "~dave"]);
  await a.presence.attach({ name: "carol", nickname: "C" }, []);
  await eventually(() => heard.includes("~carol") ? true : undefined, "carol online");
  await relay.cut();
  await eventually(() => b.available ? undefined : true, "the cut to be noticed");
  await a.presence.detach("carol", "logout");
  await a.presence.attach({ name: "dave", nickname: "D" }, []);
  relay.restore();
  await eventually(
    () => restored.has("~carol") && restored.has("~dave") ? true : undefined,
    "the channels restored",
    8000,
  );
  assert.deepEqual([...(await b.presence.status(["carol", "dave"])).keys()], ["dave"]);
  assert.equal(b.available, true);
});
