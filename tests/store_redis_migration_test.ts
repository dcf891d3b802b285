/**
 * A Redis database written by the version 1 server (tests/fixtures/v1/redis.rdb) opens as
 * version 2 data with the expectations of the fixture's README; several nodes starting at
 * once convert it once; the cluster layout of version 1 (`{im}:` keys) converts too.
 *
 * @module
 */

import assert from "node:assert/strict";
import { nicknameKey } from "../lib/protocol/rules.ts";
import type { StoreStatus } from "../lib/store/contract/store.ts";
import { openRedisStore, type RedisStoreOptions } from "../lib/store/redis/open.ts";
import { TEST_SETTINGS } from "./contract/_factory.ts";
import { startRedis, startRedisCluster } from "./_redis.ts";

const FIXTURE = new URL("./fixtures/v1/redis.rdb", import.meta.url).pathname;

function options(url: string, nodeId: string, statuses: string[]): RedisStoreOptions {
  return {
    ...TEST_SETTINGS,
    url,
    nodeId,
    onStatus: (s: StoreStatus) => statuses.push(s.event),
  };
}

Deno.test("redis store: version 1 data is converted once and kept", async () => {
  await using redis = await startRedis([], { rdb: FIXTURE });
  const statuses: string[] = [];
  {
    await using store = await openRedisStore(options(redis.url, "n1", statuses));
    const { accounts, rooms, streams } = store;
    assert.deepEqual(statuses, ["migrated"]);
    assert.equal((await accounts.getUser("bob"))?.nickname, "小明");
    assert.match((await accounts.getUser("alice"))!.passwordHash, /^scrypt\$/);
    assert.equal(await accounts.nameOfNickname(nicknameKey("小明")), "bob");
    const lobby = await rooms.get("lobby");
    assert.equal(lobby?.members, 3);
    assert.equal(lobby?.owner, null);
    assert.equal(lobby?.public, true);
    assert.deepEqual(await rooms.roomsOf("carol"), [{ room: "lobby", role: "member" }]);
    assert.deepEqual((await rooms.directory("", "", 10)).rooms.map((r) => r.name), ["lobby"]);
    const group = await streams.read("#lobby", 0, 10);
    assert.deepEqual(group.messages.map((m) => [m.seq, m.from, m.nick, m.text]), [
      [1, "alice", "Alice", "hello everyone"],
      [2, "bob", "小明", "大家好"],
      [3, "alice", "Alice", "third group message"],
    ]);
    const alice = await streams.read("@alice", 0, 10);
    assert.deepEqual(alice.messages.map((m) => [m.seq, m.from, m.to, m.text]), [
      [1, "alice", "bob", "hi bob"],
      [2, "bob", "alice", "hi alice"],
      [3, "alice", "carol", "carol, are you there?"],
      [4, "bob", "alice", "unread for alice"],
    ]);
    // alice: group message 5 and private message 7 unread; bob: group messages 3 and 5;
    // carol: all three group messages and private message 6.
    assert.deepEqual(await streams.cursors("alice"), new Map([["#lobby", 2], ["@alice", 3]]));
    assert.deepEqual(await streams.cursors("bob"), new Map([["#lobby", 1], ["@bob", 3]]));
    assert.deepEqual(await streams.cursors("carol"), new Map());
    assert.deepEqual((await streams.read("@carol", 0, 10)).messages.map((m) => m.text), [
      "carol, are you there?",
    ]);
    assert.deepEqual((await streams.read("@bob", 0, 10)).messages.map((m) => m.text), [
      "hi bob",
      "hi alice",
      "unread for alice",
    ]);
    const top = await streams.top(5, "2000-01-01");
    assert.deepEqual(top.allTime, [{ name: "alice", count: 4 }, { name: "bob", count: 3 }]);
    const inLobby = await streams.top(5, "2000-01-01", "lobby");
    assert.deepEqual(inLobby.allTime, [{ name: "alice", count: 2 }, { name: "bob", count: 1 }]);
    assert.deepEqual(await streams.contacts("alice", 5), ["bob", "carol"]);
    const page = await streams.page({ stream: "@alice", peer: "carol", limit: 5 });
    assert.deepEqual(page.messages.map((m) => m.text), ["carol, are you there?"]);
    const [next] = await streams.append([{
      room: "lobby",
      from: "carol",
      nick: "Carol",
      ts: 1,
      text: "hi",
    }]);
    assert.ok(next.ok && next.message.seq === 4);
    const [reply] = await streams.append([{
      to: "bob",
      from: "alice",
      nick: "A",
      ts: 2,
      text: "x",
    }]);
    assert.ok(reply.ok && reply.message.seq === 5);
    assert.equal((await streams.head("@bob")).seq, 4);
  }
  statuses.length = 0;
  await using again = await openRedisStore(options(redis.url, "n1", statuses));
  assert.deepEqual(statuses, []);
  assert.equal((await again.streams.head("#lobby")).seq, 4);
  const old = await again.streams.read("#lobby", 3, 10);
  assert.deepEqual(old.messages.map((m) => m.text), ["hi"]);
});

Deno.test("redis store: nodes starting at once convert version 1 data once", async () => {
  await using redis = await startRedis([], { rdb: FIXTURE });
  const statuses: string[] = [];
  const stores = await Promise.all(
    ["n1", "n2", "n3"].map((id) => openRedisStore(options(redis.url, id, statuses))),
  );
  try {
    assert.deepEqual(statuses, ["migrated"]);
    for (const store of stores) assert.equal((await store.streams.head("#lobby")).seq, 3);
    assert.equal((await stores[1].rooms.get("lobby"))?.members, 3);
  } finally {
    for (const store of stores) await store[Symbol.asyncDispose]();
  }
});

Deno.test("redis cluster store: version 1 keys under {im}: are converted", async () => {
  await using cluster = await startRedisCluster();
  const seed = Number(new URL(cluster.url).port);
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command("redis-cli", {
      args: ["-c", "-p", String(seed), ...args],
      stdout: "piped",
    }).output();
    assert.equal(out.code, 0);
  };
  await cli("SET", "{im}:seq", "2");
  await cli("HSET", "{im}:user:alice", "name", "alice", "nickname", "Alice", "passwordHash", "h");
  await cli("HSET", "{im}:user:alice", "createdAt", "1");
  await cli("HSET", "{im}:cursor", "alice", "1");
  await cli("SET", "{im}:nick:alice", "alice");
  await cli(
    "ZADD",
    "{im}:group",
    "1",
    '{"id":1,"ts":5,"from":"alice","nick":"Alice","text":"one"}',
    "2",
    '{"id":2,"ts":6,"from":"alice","nick":"Alice","text":"two"}',
  );
  const statuses: string[] = [];
  await using store = await openRedisStore({
    ...options(cluster.url, "n1", statuses),
    cluster: true,
  });
  assert.deepEqual(statuses, ["migrated"]);
  assert.equal((await store.accounts.getUser("alice"))?.nickname, "Alice");
  const group = await store.streams.read("#lobby", 0, 10);
  assert.deepEqual(group.messages.map((m) => [m.seq, m.text]), [[1, "one"], [2, "two"]]);
  assert.deepEqual(await store.streams.cursors("alice"), new Map([["#lobby", 1]]));
});
