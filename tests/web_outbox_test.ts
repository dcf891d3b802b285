import assert from "node:assert/strict";
import { newKey, Outbox, retryable, sameTarget } from "../lib/web/outbox.ts";

function keys() {
  let n = 0;
  return () => `k${++n}`;
}

Deno.test("outbox: entries keep their key through a drop and a resend", () => {
  const box = new Outbox(keys());
  const a = box.add({ room: "lobby" }, "one", false, 10);
  const b = box.add({ to: "bob" }, "two", true, 11);
  assert.deepEqual(box.queued().map((e) => e.key), ["k1", "k2"]);
  box.sending(a.key);
  box.sending(b.key);
  assert.deepEqual(box.queued(), []);
  box.requeue();
  assert.deepEqual(box.queued().map((e) => [e.key, e.text]), [["k1", "one"], ["k2", "two"]]);
  assert.equal(box.settle("k1")?.text, "one");
  assert.equal(box.settle("k1"), undefined);
  box.sending("k2");
  box.fail("k2", "UNKNOWN_USER");
  assert.equal(box.get("k2")?.status, "failed");
  assert.deepEqual(box.queued(), []);
  box.discard("k2");
  assert.deepEqual(box.entries, []);
});

Deno.test("outbox: saved entries come back queued; invalid ones are dropped", () => {
  const box = new Outbox(keys());
  box.add({ room: "lobby" }, "one", false, 1);
  box.sending("k1");
  box.add({ to: "bob" }, "two", false, 2);
  box.fail("k2", "SELF_MESSAGE");
  const saved = JSON.parse(JSON.stringify(box.toJSON()));
  saved.push({ key: "bad key!", target: { room: "x" }, text: "x", createdAt: 0 });
  saved.push({ key: "ok", target: {}, text: "x", createdAt: 0 });
  const again = new Outbox(keys(), saved);
  assert.deepEqual(again.entries.map((e) => [e.key, e.status]), [["k1", "queued"], [
    "k2",
    "failed",
  ]]);
  assert.deepEqual(again.forTarget({ to: "bob" }).map((e) => e.key), ["k2"]);
});

Deno.test("outbox: keys are 22 characters the server accepts", () => {
  const key = newKey(new Uint8Array(16).fill(255));
  assert.match(key, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(newKey(new Uint8Array(16)), newKey(new Uint8Array(16).fill(1)));
});

Deno.test("outbox: which refusals are worth a retry", () => {
  assert.equal(retryable("UNAVAILABLE"), true);
  assert.equal(retryable("RATE_LIMITED"), true);
  assert.equal(retryable("INVALID_TEXT"), false);
  assert.equal(retryable("NOT_A_MEMBER"), false);
  assert.equal(sameTarget({ room: "a" }, { room: "a" }), true);
  assert.equal(sameTarget({ room: "a" }, { to: "a" }), false);
});
