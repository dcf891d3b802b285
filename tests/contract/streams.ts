/**
 * Contract cases of `Streams` (lib/store/contract/streams.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ChatMessage } from "../../lib/protocol/messages.ts";
import type { BusDelivery } from "../../lib/store/contract/bus.ts";
import type { Store } from "../../lib/store/contract/store.ts";
import type { AppendOutcome, NewMessage } from "../../lib/store/contract/streams.ts";
import { type ContractCase, eventually, type StoreFactory, TEST_SETTINGS } from "./_factory.ts";

const TS = Date.UTC(2026, 11, 1, 12);
const DAY = "2026-12-01";

async function withRoom(f: StoreFactory, members: string[] = ["alice", "bob"]): Promise<Store> {
  const store = await f.open("n1");
  await store.rooms.create({
    name: "tea",
    title: "Tea",
    topic: "",
    public: true,
    owner: members[0],
    createdAt: 1,
  }, 100);
  for (const name of members.slice(1)) await store.rooms.join("tea", name, 100);
  return store;
}

const inRoom = (from: string, text: string, extra: Partial<NewMessage> = {}): NewMessage => ({
  room: "tea",
  from,
  nick: from.toUpperCase(),
  ts: TS,
  text,
  ...extra,
});

const privately = (
  from: string,
  to: string,
  text: string,
  key?: string,
  ts = TS,
): NewMessage => ({
  to,
  from,
  nick: from.toUpperCase(),
  ts,
  text,
  ...(key === undefined ? {} : { key }),
});

function ok(outcome: AppendOutcome): ChatMessage {
  assert.ok(outcome.ok, `append failed: ${JSON.stringify(outcome)}`);
  return outcome.message;
}

/** The cases. */
export const STREAM_CASES: ContractCase[] = [
  ["room messages get positions 1, 2, 3 in one epoch", async (f) => {
    const { streams } = await withRoom(f);
    const empty = await streams.head("#tea");
    assert.equal(empty.seq, 0);
    assert.ok(empty.epoch.length > 0);
    assert.deepEqual(await streams.head("#tea"), empty);
    const out = await streams.append([
      inRoom("alice", "one"),
      inRoom("bob", "two", { action: true }),
    ]);
    const third = await streams.append([inRoom("alice", "three")]);
    const messages = [...out, ...third].map(ok);
    assert.deepEqual(messages.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(messages[1], {
      stream: "#tea",
      seq: 2,
      ts: TS,
      from: "bob",
      nick: "BOB",
      text: "two",
      action: true,
    });
    assert.ok(out.every((o) => o.ok && o.epoch === empty.epoch && !o.dup));
    assert.deepEqual(await streams.head("#tea"), { seq: 3, epoch: empty.epoch });
  }],
  ["each message of a batch has its own outcome", async (f) => {
    const { streams } = await withRoom(f);
    const out = await streams.append([
      inRoom("alice", "fine"),
      inRoom("mallory", "not a member"),
      { ...inRoom("alice", "no such room"), room: "nope" },
      inRoom("bob", "fine too"),
    ]);
    assert.deepEqual(out.map((o) => o.ok ? o.message.seq : o.error), [
      1,
      "not_member",
      "no_room",
      2,
    ]);
  }],
  ["concurrent appends get every position exactly once, in call order per caller", async (f) => {
    const store = await withRoom(f, ["alice", "bob", "carol"]);
    const other = await f.open("n2");
    const calls: Promise<AppendOutcome[]>[] = [];
    for (let i = 0; i < 100; i++) {
      calls.push(store.streams.append([inRoom("alice", `a${i}`)]));
      calls.push(other.streams.append([inRoom("bob", `b${i}`), inRoom("carol", `c${i}`)]));
    }
    const results = await Promise.all(calls);
    const seqs = results.flat().map((o) => ok(o).seq);
    assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i + 1));
    const alice = results.filter((_, i) => i % 2 === 0).map(([o]) => ok(o).seq);
    assert.deepEqual(alice, [...alice].sort((a, b) => a - b));
    for (const [b, c] of results.filter((_, i) => i % 2 === 1)) {
      assert.equal(ok(c).seq, ok(b).seq + 1);
    }
  }],
  ["a private message is stored as the sender's and the receiver's copy", async (f) => {
    const { streams } = await f.open("n1");
    const [first] = await streams.append([privately("alice", "bob", "hi bob")]);
    const sent = ok(first);
    assert.deepEqual(sent, {
      stream: "@alice",
      seq: 1,
      ts: TS,
      from: "alice",
      nick: "ALICE",
      to: "bob",
      text: "hi bob",
    });
    await streams.append([
      privately("bob", "alice", "hi alice", undefined, TS + 1),
      privately("carol", "bob", "yo", undefined, TS + 2),
    ]);
    const bob = await streams.read("@bob", 0, 10);
    assert.deepEqual(bob.messages.map((m) => [m.seq, m.from, m.to, m.text]), [
      [1, "alice", "bob", "hi bob"],
      [2, "bob", "alice", "hi alice"],
      [3, "carol", "bob", "yo"],
    ]);
    const alice = await streams.read("@alice", 0, 10);
    assert.deepEqual(alice.messages.map((m) => m.text), ["hi bob", "hi alice"]);
    assert.equal(alice.head.seq, 2);
    assert.deepEqual(await streams.contacts("bob", 10), ["carol", "alice"]);
    assert.deepEqual(await streams.contacts("alice", 10), ["bob"]);
    // In the same millisecond as carol's: still the newest.
    await streams.append([privately("dave", "bob", "same time", undefined, TS + 2)]);
    assert.deepEqual(await streams.contacts("bob", 10), ["dave", "carol", "alice"]);
  }],
  ["a resend with the same key to the same target stores nothing new", async (f) => {
    const { streams } = await withRoom(f);
    const [a] = await streams.append([inRoom("alice", "once", { key: "k-1" })]);
    const [again] = await streams.append([inRoom("alice", "once", { key: "k-1" })]);
    assert.ok(a.ok && again.ok);
    assert.equal(again.dup, true);
    assert.deepEqual(again.message, a.message);
    assert.equal((await streams.head("#tea")).seq, 1);
    // Another sender, or another target, with the same key is another message.
    const [bob] = await streams.append([inRoom("bob", "mine", { key: "k-1" })]);
    assert.equal(ok(bob).seq, 2);
    const [p1] = await streams.append([privately("alice", "bob", "psst", "k-1")]);
    const [p2] = await streams.append([privately("alice", "bob", "psst", "k-1")]);
    assert.ok(p2.ok && p2.dup);
    assert.deepEqual(ok(p1), ok(p2));
    assert.equal((await streams.head("@bob")).seq, 1);
    // Twice in one batch.
    const both = await streams.append([
      privately("alice", "carol", "x", "k-2"),
      privately("alice", "carol", "x", "k-2"),
    ]);
    assert.deepEqual(both.map((o) => o.ok && o.dup), [false, true]);
    assert.equal((await streams.head("@carol")).seq, 1);
  }],
  ["a resend is recognised on another node", async (f) => {
    const a = await withRoom(f);
    const b = await f.open("n2");
    const [first] = await a.streams.append([inRoom("alice", "hello", { key: "same" })]);
    const [second] = await b.streams.append([inRoom("alice", "hello", { key: "same" })]);
    assert.ok(second.ok && second.dup);
    assert.equal(ok(second).seq, ok(first).seq);
  }],
  ["read returns messages after a position, ascending, bounded", async (f) => {
    const { streams } = await withRoom(f);
    for (let i = 1; i <= 6; i++) await streams.append([inRoom("alice", `m${i}`)]);
    const range = await streams.read("#tea", 2, 3);
    assert.deepEqual(range.messages.map((m) => m.seq), [3, 4, 5]);
    assert.equal(range.head.seq, 6);
    assert.equal(range.first, 3);
    assert.deepEqual((await streams.read("#tea", 6, 10)).messages, []);
    assert.equal((await streams.read("#tea", 6, 10)).first, 7);
    const none = await streams.read("#empty", 0, 10);
    assert.deepEqual(none.messages, []);
    assert.equal(none.head.seq, 0);
  }],
  ["retention trims the oldest; read reports the first position kept", async (f) => {
    const { streams } = await withRoom(f);
    const max = TEST_SETTINGS.retention.roomMax;
    for (let i = 1; i <= max * 3; i++) await streams.append([inRoom("alice", `m${i}`)]);
    const range = await eventually(async () => {
      const r = await streams.read("#tea", 0, 1000);
      return r.messages.length <= max + Math.ceil(max / 100) ? r : undefined;
    }, "trimming");
    assert.equal(range.first, range.messages[0].seq);
    assert.equal(range.messages.at(-1)!.seq, max * 3);
    assert.ok(range.first > 1);
    assert.deepEqual(
      range.messages.map((m) => m.seq),
      Array.from({ length: max * 3 - range.first + 1 }, (_, i) => range.first + i),
    );
  }],
  ["page reads history backwards, forwards and per conversation", async (f) => {
    const { streams } = await withRoom(f);
    for (let i = 1; i <= 7; i++) await streams.append([inRoom("alice", `m${i}`)]);
    const newest = await streams.page({ stream: "#tea", limit: 3 });
    assert.deepEqual(newest.messages.map((m) => m.seq), [5, 6, 7]);
    assert.equal(newest.more, true);
    assert.equal(newest.epoch, (await streams.head("#tea")).epoch);
    const older = await streams.page({ stream: "#tea", limit: 3, before: 5 });
    assert.deepEqual(older.messages.map((m) => m.seq), [2, 3, 4]);
    const oldest = await streams.page({ stream: "#tea", limit: 3, before: 2 });
    assert.deepEqual(oldest.messages.map((m) => m.seq), [1]);
    assert.equal(oldest.more, false);
    const forward = await streams.page({ stream: "#tea", limit: 4, after: 2 });
    assert.deepEqual(forward.messages.map((m) => m.seq), [3, 4, 5, 6]);
    assert.equal(forward.more, true);
    assert.equal((await streams.page({ stream: "#tea", limit: 4, after: 5 })).more, false);
    await streams.append([
      privately("alice", "bob", "to bob"),
      privately("carol", "alice", "from carol"),
      privately("bob", "alice", "from bob"),
    ]);
    const withBob = await streams.page({ stream: "@alice", peer: "bob", limit: 10 });
    assert.deepEqual(withBob.messages.map((m) => [m.seq, m.text]), [[1, "to bob"], [
      3,
      "from bob",
    ]]);
    const bobView = await streams.page({ stream: "@bob", peer: "alice", limit: 1 });
    assert.deepEqual(bobView.messages.map((m) => m.text), ["from bob"]);
    assert.equal(bobView.more, true);
    const after = await streams.page({ stream: "@alice", peer: "bob", limit: 10, after: 1 });
    assert.deepEqual(after.messages.map((m) => m.seq), [3]);
  }],
  ["conversation history keeps the newest privateMax per peer", async (f) => {
    const { streams } = await f.open("n1");
    const max = TEST_SETTINGS.retention.privateMax;
    for (let i = 0; i < max + 5; i++) await streams.append([privately("alice", "bob", `p${i}`)]);
    const page = await eventually(async () => {
      const p = await streams.page({ stream: "@alice", peer: "bob", limit: 100 });
      return p.messages.length === max ? p : undefined;
    }, "conversation trimming");
    assert.equal(page.messages.at(-1)!.text, `p${max + 4}`);
  }],
  ["acknowledged positions only grow; setCursor sets a start", async (f) => {
    const { streams } = await f.open("n1");
    assert.deepEqual(await streams.cursors("alice"), new Map());
    await streams.acknowledge(new Map([["alice", new Map([["#tea", 5], ["@alice", 2]])]]));
    await streams.acknowledge(
      new Map([["alice", new Map([["#tea", 3]])], ["bob", new Map([["#tea", 1]])]]),
    );
    assert.deepEqual(await streams.cursors("alice"), new Map([["#tea", 5], ["@alice", 2]]));
    assert.deepEqual(await streams.cursors("bob"), new Map([["#tea", 1]]));
    await streams.setCursor("bob", "#tea", 9);
    assert.equal((await streams.cursors("bob")).get("#tea"), 9);
  }],
  ["concurrent acknowledgements keep the highest", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          (i % 2 ? a : b).streams.acknowledge(new Map([["alice", new Map([["#tea", i + 1]])]])),
      ),
    );
    assert.equal((await a.streams.cursors("alice")).get("#tea"), 40);
  }],
  ["rankings per room are exact, ties by name; overall comes from addActivity", async (f) => {
    const { streams } = await withRoom(f, ["carol", "alice", "bob"]);
    await streams.append([
      inRoom("bob", "1"),
      inRoom("bob", "2"),
      inRoom("alice", "3"),
      inRoom("carol", "4"),
    ]);
    const room = await streams.top(2, DAY, "tea");
    assert.deepEqual(room.allTime, [{ name: "bob", count: 2 }, { name: "alice", count: 1 }]);
    assert.deepEqual(room.today, room.allTime);
    assert.deepEqual((await streams.top(5, "2026-11-30", "tea")).today, []);
    await streams.addActivity(DAY, new Map([["dave", 3], ["bob", 1]]));
    await streams.addActivity(DAY, new Map([["bob", 2]]));
    await streams.addActivity("2026-11-30", new Map([["erin", 9]]));
    const overall = await streams.top(10, DAY);
    assert.deepEqual(overall.allTime, [
      { name: "erin", count: 9 },
      { name: "bob", count: 3 },
      { name: "dave", count: 3 },
    ]);
    assert.deepEqual(overall.today, [{ name: "bob", count: 3 }, { name: "dave", count: 3 }]);
    assert.deepEqual((await streams.top(0, DAY)).allTime, []);
  }],
  [
    "appends are published on the stream's channel in position order, with the origin",
    async (f) => {
      const writer = await withRoom(f);
      const reader = await f.open("n2");
      const got: { channel: string; delivery: BusDelivery }[] = [];
      reader.bus.onDelivery((channel, delivery) => got.push({ channel, delivery }));
      await reader.bus.subscribe(["#tea", "@bob"]);
      await Promise.all([
        writer.streams.append([inRoom("alice", "r1"), inRoom("bob", "r2")], "sess-1"),
        writer.streams.append([privately("alice", "bob", "p1")], "sess-2"),
        writer.streams.append([inRoom("alice", "r3")]),
      ]);
      const all = await eventually(() => got.length === 4 ? got : undefined, "4 deliveries");
      const room = all.filter((g) => g.channel === "#tea").map((g) => g.delivery);
      assert.deepEqual(
        room.map((d) => d.kind === "message" ? d.message.seq : 0),
        [1, 2, 3],
      );
      assert.deepEqual(room.map((d) => d.origin), ["sess-1", "sess-1", undefined]);
      const inbox = all.find((g) => g.channel === "@bob")!.delivery;
      assert.ok(inbox.kind === "message");
      assert.equal(inbox.message.stream, "@bob");
      assert.equal(inbox.origin, "sess-2");
    },
  ],
  ["complete finishes nothing when every send completed", async (f) => {
    const { streams } = await f.open("n1");
    await streams.append([privately("alice", "bob", "done")]);
    assert.equal(await streams.complete("alice"), 0);
    assert.equal((await streams.head("@bob")).seq, 1);
  }],
];
