/**
 * A Deno KV file written by the version 1 server (tests/fixtures/v1) opens as version 2 data,
 * with the expectations of the fixture's README.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KvBackend } from "../lib/store/kv/backend.ts";
import { TEST_SETTINGS } from "./contract/_factory.ts";

const FIXTURE = new URL("./fixtures/v1/imchat.kv", import.meta.url).pathname;

Deno.test("kv store: version 1 data is converted once and kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/imchat.kv`;
    await Deno.copyFile(FIXTURE, path);
    const statuses: string[] = [];
    const settings = {
      ...TEST_SETTINGS,
      onStatus: (s: { event: string }) => statuses.push(s.event),
    };
    {
      await using backend = await KvBackend.open(path, settings);
      const { accounts, rooms, streams } = backend.node("n1");
      assert.deepEqual(statuses, ["migrated"]);
      assert.equal((await accounts.getUser("bob"))?.nickname, "小明");
      assert.match((await accounts.getUser("alice"))!.passwordHash, /^scrypt\$/);
      const lobby = await rooms.get("lobby");
      assert.equal(lobby?.members, 3);
      assert.equal(lobby?.owner, null);
      const group = await streams.read("#lobby", 0, 10);
      assert.deepEqual(group.messages.map((m) => [m.seq, m.from, m.text]), [
        [1, "alice", "hello everyone"],
        [2, "bob", "大家好"],
        [3, "alice", "third group message"],
      ]);
      const alice = await streams.read("@alice", 0, 10);
      assert.deepEqual(alice.messages.map((m) => [m.seq, m.from, m.to, m.text]), [
        [1, "alice", "bob", "hi bob"],
        [2, "bob", "alice", "hi alice"],
        [3, "alice", "carol", "carol, are you there?"],
        [4, "bob", "alice", "unread for alice"],
      ]);
      assert.deepEqual(await streams.cursors("alice"), new Map([["#lobby", 2], ["@alice", 3]]));
      assert.deepEqual(await streams.cursors("bob"), new Map([["#lobby", 1], ["@bob", 3]]));
      assert.deepEqual(await streams.cursors("carol"), new Map());
      assert.deepEqual((await streams.read("@carol", 0, 10)).messages.map((m) => m.text), [
        "carol, are you there?",
      ]);
      const top = await streams.top(5, "2000-01-01");
      assert.deepEqual(top.allTime, [{ name: "alice", count: 4 }, { name: "bob", count: 3 }]);
      assert.deepEqual(await streams.contacts("alice", 5), ["bob", "carol"]);
      const page = await streams.page({ stream: "@alice", peer: "carol", limit: 5 });
      assert.deepEqual(page.messages.map((m) => m.text), ["carol, are you there?"]);
      // New messages continue the converted streams.
      const [next] = await streams.append([{
        room: "lobby",
        from: "carol",
        nick: "Carol",
        ts: 1,
        text: "hi",
      }]);
      assert.ok(next.ok && next.message.seq === 4);
    }
    statuses.length = 0;
    await using again = await KvBackend.open(path, settings);
    assert.deepEqual(statuses, []);
    assert.equal((await again.node("n1").streams.head("#lobby")).seq, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
