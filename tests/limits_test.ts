import { equal, ok } from "node:assert/strict";
import { LoginThrottle, Strikes, TokenBucket } from "../lib/server/limits.ts";

Deno.test("token bucket allows the burst, then the rate", () => {
  const bucket = new TokenBucket(10, 3, 0);
  equal([1, 2, 3, 4].map(() => bucket.take(0)).join(), "true,true,true,false");
  equal(bucket.wait(), 1);
  ok(!bucket.take(50), "half a token after 50 ms");
  ok(bucket.take(100), "one token after 100 ms");
  ok(!bucket.take(100));
  equal([0, 0, 0, 0].map(() => bucket.take(10_000)).join(), "true,true,true,false", "burst cap");
});

Deno.test("a rate of 0 means unlimited", () => {
  const bucket = new TokenBucket(0, 1, 0);
  for (let i = 0; i < 1000; i++) ok(bucket.take(0));
});

Deno.test("strikes cross the limit only under sustained abuse", () => {
  const strikes = new Strikes(3, 0);
  ok(!strikes.add(0) && !strikes.add(0) && !strikes.add(0));
  ok(strikes.add(0), "fourth strike at once crosses 3");
  const slow = new Strikes(3, 0);
  for (let t = 0; t < 20_000; t += 1000) ok(!slow.add(t), "one per second leaks away");
});

Deno.test("login throttle locks a key after the limit until the window passes", () => {
  const throttle = new LoginThrottle({ limit: 3, windowMs: 60_000 });
  for (const t of [0, 1000, 2000]) {
    equal(throttle.retryAfter(["acct:bob"], t), 0);
    throttle.fail(["acct:bob"], t);
  }
  equal(throttle.retryAfter(["acct:bob"], 3000), 57, "until the first failure leaves the window");
  equal(throttle.retryAfter(["acct:alice"], 3000), 0, "other keys unaffected");
  equal(throttle.retryAfter(["acct:alice", "acct:bob"], 3000), 57);
  equal(throttle.retryAfter(["acct:bob"], 60_000), 0, "the window passed");
  throttle.fail(["acct:bob"], 60_000);
  throttle.clear("acct:bob");
  equal(throttle.retryAfter(["acct:bob"], 60_001), 0, "cleared after a success");
});

Deno.test("login throttle remembers a bounded number of keys", () => {
  const throttle = new LoginThrottle({ limit: 1, windowMs: 60_000 }, 2);
  throttle.fail(["a"], 0);
  throttle.fail(["b"], 0);
  throttle.fail(["c"], 0);
  equal(throttle.retryAfter(["a"], 1), 0, "oldest key forgotten");
  ok(throttle.retryAfter(["c"], 1) > 0);
});
