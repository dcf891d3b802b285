import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { LoginThrottle, RegistrationThrottle, Strikes, TokenBucket } from "../lib/server/limits.ts";
import { LoginGuard, TRUST_MS } from "../lib/server/login_guard.ts";

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

const POLICY = { pairLimit: 3, addressLimit: 100, accountLimit: 5, windowMs: 300_000 };

Deno.test("login guard: wrong passwords lock the account only from that address", () => {
  const guard = new LoginGuard(POLICY);
  for (let t = 0; t < 3; t++) {
    equal(guard.admitLogin("alice", "198.51.100.1", t), 0);
    guard.loginFailed("alice", "198.51.100.1", t);
  }
  equal(guard.admitLogin("alice", "198.51.100.1", 3), 300, "this pair waits for the window");
  equal(guard.admitLogin("alice", "198.51.100.2", 3), 0, "the account is not locked");
  equal(guard.admitLogin("bob", "198.51.100.1", 3), 0, "nor is the address");
  equal(guard.admitLogin("alice", "198.51.100.1", 300_000), 0, "the window passed");
});

Deno.test("login guard: an attacked account is slowed for new addresses, never for its own", () => {
  const guard = new LoginGuard(POLICY);
  guard.succeeded("alice", "192.0.2.7", 0); // the user's own address
  let now = 1000;
  // An attacker with many addresses, each below the pair limit.
  for (let i = 0; i < 5; i++) {
    equal(guard.admitLogin("alice", `203.0.113.${i}`, now), 0);
    guard.loginFailed("alice", `203.0.113.${i}`, now);
  }
  // Slowed: one attempt from new addresses at a time, the interval doubling per failure.
  equal(guard.admitLogin("alice", "203.0.113.100", now), 0, "one attempt goes ahead");
  guard.loginFailed("alice", "203.0.113.100", now);
  equal(guard.admitLogin("alice", "203.0.113.101", now), 1, "the next waits 1 s");
  now += 1000;
  equal(guard.admitLogin("alice", "203.0.113.101", now), 0);
  guard.loginFailed("alice", "203.0.113.101", now);
  equal(guard.admitLogin("alice", "203.0.113.102", now), 2, "then 2 s");
  for (let i = 0; i < 20; i++) guard.loginFailed("alice", `203.0.113.${150 + i}`, now);
  now += 2000;
  equal(guard.admitLogin("alice", "203.0.113.103", now), 0);
  equal(guard.admitLogin("alice", "203.0.113.104", now), 60, "at most a minute apart");
  // Meanwhile the user logs in from their own address at once, every time.
  for (let i = 0; i < 3; i++) equal(guard.admitLogin("alice", "192.0.2.7", now + i), 0);
  // Other accounts are not affected.
  equal(guard.admitLogin("bob", "203.0.113.104", now), 0);
  // Once the failures leave the window, new addresses are no longer slowed.
  equal(guard.admitLogin("alice", "203.0.113.104", now + 300_000), 0);
  equal(guard.admitLogin("alice", "203.0.113.105", now + 300_000), 0);
});

Deno.test("login guard: the per-address limit counts every kind of failure", () => {
  const guard = new LoginGuard({ ...POLICY, addressLimit: 4 });
  guard.addressFailed("198.51.100.9", 0); // unknown user
  guard.addressFailed("198.51.100.9", 0); // invalid token
  guard.loginFailed("alice", "198.51.100.9", 0);
  equal(guard.admitResume("198.51.100.9", 0), 0);
  guard.loginFailed("bob", "198.51.100.9", 0);
  equal(guard.admitResume("198.51.100.9", 0), 300);
  equal(guard.admitLogin("carol", "198.51.100.9", 0), 300);
  equal(guard.admitLogin("carol", "198.51.100.10", 0), 0);
});

Deno.test("login guard: a success clears its pair and trust expires", () => {
  const guard = new LoginGuard(POLICY);
  for (let i = 0; i < 3; i++) guard.loginFailed("alice", "192.0.2.7", 0);
  guard.succeeded("alice", "192.0.2.7", 0);
  equal(guard.admitLogin("alice", "192.0.2.7", 1), 0, "a resume from there cleared the pair");
  const late = TRUST_MS - 10;
  for (let i = 0; i < 5; i++) guard.loginFailed("alice", `203.0.113.${i}`, late);
  equal(guard.admitLogin("alice", "192.0.2.7", late), 0, "slowed: trusted takes no turn");
  equal(guard.admitLogin("alice", "203.0.113.50", late), 0);
  equal(guard.admitLogin("alice", "192.0.2.7", TRUST_MS + 1), 1, "trust has expired");
});

Deno.test("registration throttle: per address and for the whole node", () => {
  const throttle = new RegistrationThrottle({ perAddress: 2, overall: 3, windowMs: 3_600_000 });
  deepStrictEqual(throttle.admit("198.51.100.1", 0), { wait: 0 });
  deepStrictEqual(throttle.admit("198.51.100.1", 1000), { wait: 0 });
  deepStrictEqual(throttle.admit("198.51.100.1", 2000), { wait: 3598, limit: "address" });
  deepStrictEqual(throttle.admit("198.51.100.2", 2000), { wait: 0 });
  deepStrictEqual(throttle.admit("198.51.100.3", 2000), { wait: 3598, limit: "overall" });
  deepStrictEqual(throttle.admit("198.51.100.3", 3_600_000), { wait: 0 }, "the first left");
});
