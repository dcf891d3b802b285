import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { createClock } from "@sinonjs/fake-timers";
import { HasherBusyError, HashQueue } from "../lib/auth/hash_queue.ts";

/** A queue on a fake clock whose jobs each take `jobMs` of that clock. */
function setup(concurrency: number, jobMs = 100, maxQueue = 100) {
  const clock = createClock(0);
  const queue = new HashQueue({
    concurrency,
    maxQueue,
    now: () => clock.now,
    initialEstimateMs: jobMs,
  });
  const started: string[] = [];
  const job = (name: string, ms = jobMs) => () => {
    started.push(name);
    return new Promise<string>((resolve) => clock.setTimeout(() => resolve(name), ms));
  };
  return { clock, queue, started, job };
}

const busy = (retryAfter?: number) => (error: unknown) =>
  error instanceof HasherBusyError && (retryAfter === undefined || error.retryAfter === retryAfter);

Deno.test("hash queue: runs at most its concurrency at once, in arrival order", async () => {
  const { clock, queue, started, job } = setup(2);
  const results = ["a", "b", "c", "d", "e"].map((name) => queue.run(job(name)));
  deepStrictEqual(started, ["a", "b"]);
  equal(queue.waiting, 3);
  await clock.tickAsync(100);
  deepStrictEqual(started, ["a", "b", "c", "d"]);
  await clock.tickAsync(200);
  deepStrictEqual(await Promise.all(results), ["a", "b", "c", "d", "e"]);
});

Deno.test("hash queue: a job whose signal aborts leaves the queue and never runs", async () => {
  const { clock, queue, started, job } = setup(1);
  const gone = new AbortController();
  const first = queue.run(job("first"));
  const dropped = queue.run(job("dropped"), { signal: gone.signal });
  const last = queue.run(job("last"));
  const reason = new Error("connection closed");
  gone.abort(reason);
  await rejects(dropped, (error) => error === reason);
  equal(queue.waiting, 1);
  await clock.tickAsync(200);
  deepStrictEqual([await first, await last], ["first", "last"]);
  deepStrictEqual(started, ["first", "last"]);
  // Already aborted: refused without queueing.
  await rejects(queue.run(job("late"), { signal: gone.signal }), (error) => error === reason);
  deepStrictEqual(started, ["first", "last"]);
});

Deno.test("hash queue: refuses at once what cannot finish before its deadline", async () => {
  const { clock, queue, started, job } = setup(2);
  const deadline = 1000; // 10 rounds of 2 jobs of 100 ms fit
  const results = Array.from(
    { length: 30 },
    (_, i) => queue.run(job(`j${i}`), { deadline }).catch((error) => error),
  );
  const settled = await Promise.all(
    results.map((result) => Promise.race([result, clock.tickAsync(0).then(() => "pending")])),
  );
  const refused = settled.filter((value) => value instanceof HasherBusyError);
  equal(refused.length, 10, "20 admitted, the rest refused without waiting");
  ok(refused.every((error) => error.retryAfter === 1), "the queue is free in about 1 s");
  await clock.tickAsync(1000);
  const done = (await Promise.all(results)).filter((value) => typeof value === "string");
  equal(done.length, 20);
  equal(started.length, 20);
});

Deno.test("hash queue: a job still waiting at its deadline is dropped, not started", async () => {
  const { clock, queue, started, job } = setup(1);
  const slow = queue.run(job("slow", 500)); // the estimate says 100 ms; it takes 500
  const waiting = rejects(queue.run(job("waiting"), { deadline: 300 }), busy(1));
  await clock.tickAsync(500);
  await waiting;
  equal(await slow, "slow");
  deepStrictEqual(started, ["slow"]);
});

Deno.test("hash queue: learns the job duration; a stuck job stops admission", async () => {
  const { clock, queue, job } = setup(1, 100);
  await Promise.all([queue.run(job("a", 300)), clock.tickAsync(300)]);
  ok(queue.estimateMs > 100 && queue.estimateMs < 300, `estimate ${queue.estimateMs}`);
  // Workers that get no CPU: the running job's age is the estimate.
  const stuck = queue.run(job("stuck", 60_000));
  await clock.tickAsync(5000);
  equal(queue.estimateMs, 5000);
  await rejects(queue.run(job("next"), { deadline: clock.now + 9000 }), busy(5));
  await clock.tickAsync(55_000);
  equal(await stuck, "stuck");
});

Deno.test("hash queue: one stuck slot does not stop admission while another works", async () => {
  const { clock, queue, job } = setup(2, 100);
  const stuck = queue.run(job("stuck", 10_000));
  await clock.tickAsync(5000);
  equal(queue.estimateMs, 100, "a slot is free: no sign of starvation");
  const next = queue.run(job("next"), { deadline: clock.now + 1000 });
  await clock.tickAsync(100);
  equal(await next, "next");
  await clock.tickAsync(5000);
  equal(await stuck, "stuck");
});

Deno.test("hash queue: refuses past its bound and after close", async () => {
  const { clock, queue, job } = setup(1, 100, 2);
  const admitted = [queue.run(job("a")), queue.run(job("b")), queue.run(job("c"))];
  await rejects(queue.run(job("d")), busy(1));
  const failed = Promise.all(admitted.slice(1).map((result) => rejects(result, /closed/)));
  queue.close();
  await failed;
  await rejects(queue.run(job("e")), /closed/);
  await clock.tickAsync(100);
  equal(await admitted[0], "a", "the running job finishes");
});
