/** Pure parts of the session: positions per stream and the outbox. */

import assert from "node:assert/strict";
import { Outbox } from "../lib/client/outbox.ts";
import { StreamPositions } from "../lib/client/positions.ts";
import type { ChatMessage } from "../lib/protocol/messages.ts";

const msg = (stream: string, seq: number): ChatMessage => ({
  stream,
  seq,
  ts: seq,
  from: "bob",
  nick: "Bob",
  text: `m${seq}`,
});
const state = (stream: string, start: number, epoch = "e") => ({
  stream,
  epoch,
  head: start,
  acked: start,
  start,
  unread: 0,
});

Deno.test("positions: in order, duplicates dropped, a jump held until filled", () => {
  const p = new StreamPositions();
  p.start(state("#a", 2));
  assert.deepEqual(p.offer(msg("#a", 2)).deliver, []);
  assert.deepEqual(p.offer(msg("#a", 3)).deliver.map((m) => m.seq), [3]);
  const held = p.offer(msg("#a", 6));
  assert.deepEqual(held.deliver, []);
  assert.deepEqual(held.gap, { after: 3, before: 6 });
  assert.deepEqual(p.offer(msg("#a", 4)).deliver.map((m) => m.seq), [4]);
  assert.deepEqual(p.offer(msg("#a", 5)).deliver.map((m) => m.seq), [5, 6]);
  assert.equal(p.gap("#a"), undefined);
});

Deno.test("positions: own sends count as had; reported gaps release what is held", () => {
  const p = new StreamPositions();
  p.start(state("@me", 0));
  assert.deepEqual(p.own("@me", 2), []);
  assert.deepEqual(p.offer(msg("@me", 1)).deliver.map((m) => m.seq), [1]);
  assert.equal(p.seq("@me"), 2);
  p.offer(msg("@me", 9));
  assert.deepEqual(p.skipTo("@me", 8).map((m) => m.seq), [9]);
});

Deno.test("positions: acks only what moved, positions for resume, resets on a new epoch", () => {
  const p = new StreamPositions();
  p.start(state("#a", 0));
  p.start(state("#b", 5));
  p.offer(msg("#a", 1));
  assert.deepEqual(p.takeAcks(), [{ stream: "#a", upTo: 1 }]);
  assert.deepEqual(p.takeAcks(), []);
  p.offer(msg("#a", 3));
  assert.deepEqual(p.takeAcks(), [], "nothing past a hole");
  assert.deepEqual(p.positions(), { "#a": { seq: 1, epoch: "e" }, "#b": { seq: 5, epoch: "e" } });
  p.start(state("#a", 0));
  assert.equal(p.seq("#a"), 1, "a resume starting earlier keeps what the client has");
  p.start({ ...state("#a", 0, "new"), reset: true });
  assert.equal(p.seq("#a"), 0);
  p.start(state("#b", 2), 4);
  assert.equal(p.seq("#b"), 6, "skipped positions count as reported");
});

Deno.test("outbox: strictly in order, one on the wire, retries keep the key", () => {
  const o = new Outbox();
  const a = o.add({ room: "x" }, "a", "ka");
  const b = o.add({ to: "bob" }, "b", "kb");
  assert.equal(o.next(0), a);
  o.sending(a);
  assert.equal(o.next(0), null, "one at a time");
  o.retryAt(a, 1000);
  assert.equal(o.next(999), null, "b waits behind a");
  assert.equal(o.wakeAt(), 1000);
  assert.equal(o.next(1000), a);
  o.sending(a);
  o.interrupted();
  assert.equal(o.next(0), a, "a dropped send goes again");
  o.sending(a);
  o.accepted(a);
  assert.equal(o.next(0), b);
  o.refused(b);
  assert.equal(o.size, 0);
  assert.equal(a.key, "ka");
  assert.equal(a.attempts, 3);
});
