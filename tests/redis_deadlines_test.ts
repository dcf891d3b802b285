import assert from "node:assert/strict";
import { Deadlines } from "../lib/store/redis/deadlines.ts";

Deno.test("deadlines: a reply in time settles as the command did; done runs once", async () => {
  const deadlines = new Deadlines(5000, "r:1");
  let done = 0;
  const reply = deadlines.track(Promise.resolve("PONG"), 0, () => done++);
  assert.equal(await reply, "PONG");
  assert.equal(done, 1);
  assert.equal(deadlines.pending, 0);
  assert.equal(deadlines.sweep(10_000), 0);
  const failing = deadlines.track(Promise.reject(new Error("ERR x")), 0, () => done++);
  await assert.rejects(failing, /ERR x/);
  assert.equal(done, 2);
});

Deno.test("deadlines: a command without a reply fails after the timeout, not before", async () => {
  const deadlines = new Deadlines(5000, "r:1");
  const never = new Promise<string>(() => {});
  let done = 0;
  const first = deadlines.track(never, 1000, () => done++);
  const second = deadlines.track(never, 3000);
  assert.equal(deadlines.sweep(5999), 0);
  assert.equal(deadlines.pending, 2);
  assert.equal(deadlines.sweep(6000), 1);
  await assert.rejects(first, /timed out after 5000 ms on r:1/);
  assert.equal(done, 0);
  assert.equal(deadlines.pending, 1);
  assert.equal(deadlines.sweep(8000), 1);
  await assert.rejects(second, /timed out/);
  assert.equal(deadlines.pending, 0);
});

Deno.test("deadlines: a late reply after the timeout changes nothing", async () => {
  const deadlines = new Deadlines(100, "r:1");
  const late = Promise.withResolvers<string>();
  let done = 0;
  const reply = deadlines.track(late.promise, 0, () => done++);
  deadlines.sweep(100);
  await assert.rejects(reply, /timed out/);
  late.resolve("OK");
  await late.promise;
  assert.equal(done, 0);
});

Deno.test("deadlines: many settled entries are dropped from the queue", async () => {
  const deadlines = new Deadlines(100, "r:1");
  const held = Promise.withResolvers<number>();
  const blocked = deadlines.track(held.promise, 0);
  const replies = [];
  for (let i = 0; i < 5000; i++) replies.push(deadlines.track(Promise.resolve(i), 1));
  assert.equal((await Promise.all(replies)).length, 5000);
  assert.equal(deadlines.pending, 1);
  held.resolve(7);
  assert.equal(await blocked, 7);
  assert.equal(deadlines.pending, 0);
});
