/**
 * Data of protocol version 1 (docs/PROTOCOL.md §13), end to end: the real server started on a
 * copy of the data files in tests/fixtures/v1 converts them, and alice, bob and carol log in
 * with `password1` to the backlogs and unread counts that the fixture's README describes.
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { spawnServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import { Wire } from "./_wire.ts";
import { PASSWORD, received, roomStates, texts } from "./_e2e.ts";

const FIXTURES = new URL("./fixtures/v1/", import.meta.url).pathname;

/** Logs in as each user and checks what the README says they find. */
async function checkConverted(port: number): Promise<void> {
  const clients: Wire[] = [];
  const enter = async (name: string) => {
    const c = await Wire.open(port);
    clients.push(c);
    const reply = await c.request("login", { name, password: PASSWORD });
    const backlog = await c.next("backlog");
    return { c, reply, backlog, lobby: roomStates(c).get("lobby")! };
  };
  try {
    // alice: group message 5 and private message 7 unread.
    const alice = await enter("alice");
    deepStrictEqual(alice.reply.user, { name: "alice", nickname: "Alice" });
    deepStrictEqual(
      [alice.reply.inbox.head, alice.reply.inbox.unread, alice.reply.inbox.peers],
      [4, 1, { bob: 1 }],
    );
    equal(alice.reply.rooms, 1);
    deepStrictEqual(
      [alice.lobby.owner, alice.lobby.members, alice.lobby.stream.head, alice.lobby.stream.unread],
      [null, 3, 3, 1],
    );
    deepStrictEqual(received(alice.c), ["@alice:4", "#lobby:3"]);
    deepStrictEqual(texts(alice.c), ["unread for alice", "third group message"]);
    deepStrictEqual(alice.backlog, { type: "backlog", messages: 2, skipped: 0 });
    // bob: group messages 3 and 5 unread, nothing private.
    const bob = await enter("bob");
    deepStrictEqual(bob.reply.user, { name: "bob", nickname: "小明" });
    deepStrictEqual([bob.reply.inbox.head, bob.reply.inbox.unread], [3, 0]);
    deepStrictEqual([bob.lobby.stream.acked, bob.lobby.stream.unread], [1, 2]);
    deepStrictEqual(texts(bob.c), ["大家好", "third group message"]);
    // carol: all three group messages and private message 6 unread.
    const carol = await enter("carol");
    deepStrictEqual(carol.reply.user, { name: "carol", nickname: "Carol" });
    deepStrictEqual(
      [carol.reply.inbox.head, carol.reply.inbox.unread, carol.reply.inbox.peers],
      [1, 1, { alice: 1 }],
    );
    deepStrictEqual([carol.lobby.stream.acked, carol.lobby.stream.unread], [0, 3]);
    deepStrictEqual(texts(carol.c), [
      "carol, are you there?",
      "hello everyone",
      "大家好",
      "third group message",
    ]);
    // The messages keep their senders and nicknames; the conversations are there.
    const history = await carol.c.request("history", { room: "lobby" });
    deepStrictEqual(history.messages.map((m) => [m.seq, m.from, m.nick, m.text]), [
      [1, "alice", "Alice", "hello everyone"],
      [2, "bob", "小明", "大家好"],
      [3, "alice", "Alice", "third group message"],
    ]);
    const withBob = await alice.c.request("history", { with: "小明" });
    deepStrictEqual(withBob.messages.map((m) => [m.from, m.to, m.text]), [
      ["alice", "bob", "hi bob"],
      ["bob", "alice", "hi alice"],
      ["bob", "alice", "unread for alice"],
    ]);
    const top = await bob.c.request("top", {});
    deepStrictEqual(top.allTime.map((e) => [e.name, e.nickname, e.count]), [
      ["alice", "Alice", 4],
      ["bob", "小明", 3],
    ]);
    // New messages continue the converted streams; the old nicknames are still taken.
    equal((await bob.c.request("send", { room: "lobby", text: "after" })).seq, 4);
    equal((await bob.c.request("send", { to: "alice", text: "hi again" })).seq, 4);
    deepStrictEqual(await carol.c.request("check", { nickname: "小明", name: "carol" }), {
      nickname: "taken",
      name: "taken",
    });
  } finally {
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.closed));
  }
}

Deno.test("version 1 data converts at start and logs in as the README says (Deno KV)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imchat-v1-" });
  try {
    await Deno.copyFile(`${FIXTURES}imchat.kv`, `${dir}/imchat.kv`);
    const args = ["--port", "0", "--workers", "1", "--kv", `${dir}/imchat.kv`];
    {
      await using server = await spawnServer(args);
      ok(server.lines.some((l) => l.includes('"migrated"')), "converted at start");
      await checkConverted(server.port);
      equal((await server.stop("SIGTERM")).code, 0);
    }
    // Converted once: a restart finds the converted data and does not convert again.
    await using server = await spawnServer(args);
    ok(!server.lines.some((l) => l.includes('"migrated"')), "not converted twice");
    const c = await Wire.open(server.port);
    try {
      await c.request("login", { name: "carol", password: PASSWORD });
      await c.next("backlog");
      equal(roomStates(c).get("lobby")!.stream.head, 4);
    } finally {
      c.close();
      await c.closed;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("version 1 data converts at start and logs in as the README says (Redis)", async () => {
  await using redis = await startRedis([], { rdb: `${FIXTURES}redis.rdb` });
  const args = ["--port", "0", "--workers", "1", "--redis", redis.url, "--redis-prefix", "im:"];
  {
    await using server = await spawnServer(args);
    ok(server.lines.some((l) => l.includes('"migrated"')), "converted at start");
    await checkConverted(server.port);
    equal((await server.stop("SIGTERM")).code, 0);
  }
  await using server = await spawnServer(args);
  ok(!server.lines.some((l) => l.includes('"migrated"')), "not converted twice");
});
