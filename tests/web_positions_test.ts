import assert from "node:assert/strict";
import { PositionBook } from "../lib/web/positions.ts";
import { Timeline } from "../lib/web/timeline.ts";
import type { ChatMessage } from "../lib/protocol/messages.ts";

Deno.test("positions: receipts out of order wait for the hole before them", () => {
  const book = new PositionBook();
  book.start("#lobby", "e1", 4);
  book.mark("#lobby", 7);
  book.mark("#lobby", 6);
  assert.equal(book.upTo("#lobby"), 4);
  book.mark("#lobby", 5);
  assert.equal(book.upTo("#lobby"), 7);
  book.mark("#lobby", 3);
  assert.equal(book.upTo("#lobby"), 7);
  assert.deepEqual(book.positions(), { "#lobby": { seq: 7, epoch: "e1" } });
});

Deno.test("positions: a gap moves past positions that are gone", () => {
  const book = new PositionBook();
  book.start("@alice", "p", 2);
  book.skip("@alice", 2, 10);
  assert.equal(book.upTo("@alice"), 9);
  book.mark("@alice", 10);
  assert.equal(book.upTo("@alice"), 10);
});

Deno.test("positions: ranges merge in any order", () => {
  const book = new PositionBook();
  book.start("#r", "e", 0);
  for (const seq of [9, 3, 5, 4, 8, 2, 7]) book.mark("#r", seq);
  assert.equal(book.upTo("#r"), 0);
  book.mark("#r", 1);
  assert.equal(book.upTo("#r"), 5);
  book.mark("#r", 6);
  assert.equal(book.upTo("#r"), 9);
});

Deno.test("positions: start keeps receipts above it in the same epoch, drops them in another", () => {
  const book = new PositionBook();
  book.start("#r", "e", 0);
  book.mark("#r", 5);
  book.start("#r", "e", 3);
  book.mark("#r", 4);
  assert.equal(book.upTo("#r"), 5);
  book.mark("#r", 8);
  book.start("#r", "other", 6);
  book.mark("#r", 7);
  assert.equal(book.upTo("#r"), 7);
});

Deno.test("positions: saved positions come back; nonsense is ignored", () => {
  const book = PositionBook.from({
    "#a": { seq: 3, epoch: "x" },
    "#b": { seq: -1 },
    "#c": { seq: 1.5 },
  });
  assert.deepEqual(book.positions(), { "#a": { seq: 3, epoch: "x" } });
  book.forget("#a");
  assert.deepEqual(book.positions(), {});
});

function msg(seq: number, text = `m${seq}`): ChatMessage {
  return { stream: "#lobby", seq, ts: seq, from: "bob", nick: "Bob", text };
}

Deno.test("timeline: ordered by seq, each (stream, seq) once", () => {
  const t = new Timeline();
  assert.equal(t.add(msg(5)), true);
  assert.equal(t.add(msg(3)), true);
  assert.equal(t.add(msg(9)), true);
  assert.equal(t.add(msg(5, "again")), false);
  assert.equal(t.addPage([msg(1), msg(2), msg(3)], true), 2);
  assert.deepEqual(t.messages.map((m) => m.seq), [1, 2, 3, 5, 9]);
  assert.equal(t.messages[3].text, "m5");
  assert.equal(t.oldest(), 1);
  assert.equal(t.newest(), 9);
  assert.equal(t.complete, false);
  t.addPage([], false);
  assert.equal(t.complete, true);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.complete, false);
});
