import assert from "node:assert/strict";
import type { ChatMessage } from "../lib/protocol/messages.ts";
import type { StreamRange } from "../lib/store/contract/streams.ts";
import { type FeedSink, StreamFeed } from "../lib/server/stream_feed.ts";

const msg = (seq: number): ChatMessage => ({
  stream: "#r",
  seq,
  ts: 0,
  from: "a",
  nick: "A",
  text: `m${seq}`,
});

/** A stream of `head` messages of which positions below `first` are trimmed. */
function store(head: number, first = 1, failures = 0) {
  const calls: [number, number][] = [];
  let fail = failures;
  const read = (_: string, after: number, limit: number): Promise<StreamRange> => {
    calls.push([after, limit]);
    if (fail-- > 0) return Promise.reject(new Error("down"));
    const messages: ChatMessage[] = [];
    for (let s = Math.max(after + 1, first); s <= head && messages.length < limit; s++) {
      messages.push(msg(s));
    }
    return Promise.resolve({
      messages,
      head: { seq: head, epoch: "e" },
      first: messages[0]?.seq ?? head + 1,
    });
  };
  return { read, calls, setHead: (h: number) => head = h };
}

function sink() {
  const passed: [number, string | undefined][] = [];
  const gone: [number, number][] = [];
  const failed: unknown[] = [];
  const s: FeedSink = {
    pass: (m, origin) => passed.push([m.seq, origin]),
    gone: (_, after, next) => gone.push([after, next]),
    failed: (_, error) => failed.push(error),
  };
  return { s, passed, gone, failed };
}

Deno.test("stream feed: passes on in order, drops duplicates, holds until started", async () => {
  const db = store(10);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.offer(msg(11), "x");
  feed.start(10);
  feed.offer(msg(12), undefined);
  feed.offer(msg(12), undefined);
  feed.offer(msg(9), undefined);
  await feed.idle();
  assert.deepEqual(out.passed, [[11, "x"], [12, undefined]]);
  assert.equal(db.calls.length, 0);
});

Deno.test("stream feed: a jump ahead is filled from the store first", async () => {
  const db = store(20);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.start(10);
  feed.offer(msg(14), "o14");
  feed.offer(msg(15), "o15");
  await feed.idle();
  assert.deepEqual(out.passed.map(([s]) => s), [11, 12, 13, 14, 15]);
  assert.deepEqual(out.passed[3], [14, "o14"]);
  assert.deepEqual(db.calls, [[10, 3]]);
});

Deno.test("stream feed: positions gone from the store are reported, then delivery goes on", async () => {
  const db = store(20, 14);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.start(10);
  feed.offer(msg(16), undefined);
  await feed.idle();
  assert.deepEqual(out.gone, [[10, 14]]);
  assert.deepEqual(out.passed.map(([s]) => s), [14, 15, 16]);
});

Deno.test("stream feed: failed reads are retried until they succeed, and reported", async () => {
  const db = store(13, 1, 2);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.start(10);
  feed.offer(msg(13), undefined);
  await feed.idle();
  assert.equal(out.failed.length, 2);
  assert.deepEqual(out.passed.map(([s]) => s), [11, 12, 13]);
});

Deno.test("stream feed: restore reads everything after the head", async () => {
  const db = store(10);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.start(10);
  db.setHead(1205);
  feed.restore();
  await feed.idle();
  assert.equal(out.passed.length, 1195);
  assert.deepEqual(out.passed.at(-1), [1205, undefined]);
  feed.offer(msg(1206), undefined);
  assert.equal(out.passed.at(-1)![0], 1206);
});

Deno.test("stream feed: messages offered while filling are passed on once, in order", async () => {
  const db = store(30);
  const out = sink();
  const feed = new StreamFeed("#r", db.read, out.s);
  feed.start(0);
  feed.offer(msg(20), undefined);
  for (let s = 21; s <= 30; s++) feed.offer(msg(s), undefined);
  feed.offer(msg(25), undefined);
  await feed.idle();
  assert.deepEqual(out.passed.map(([s]) => s), Array.from({ length: 30 }, (_, i) => i + 1));
});
