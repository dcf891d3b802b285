import { equal, ok, rejects } from "node:assert/strict";
import {
  HasherBusyError,
  hashPassword,
  ThreadHasher,
  verifyPassword,
} from "../lib/auth/password.ts";
import { hashToken, newToken } from "../lib/auth/token.ts";

const FAST = { N: 1024, r: 8, p: 1 };

Deno.test("a password verifies against its salted hash, and only that password", async () => {
  const stored = await hashPassword("correct horse", FAST);
  ok(stored.startsWith("scrypt$1024$8$1$"));
  ok(!stored.includes("correct horse"));
  ok(await verifyPassword("correct horse", stored));
  ok(!await verifyPassword("correct horsE", stored));
  const again = await hashPassword("correct horse", FAST);
  ok(again !== stored, "a fresh salt each time");
  ok(!await verifyPassword("x", "not-a-hash"));
  ok(!await verifyPassword("x", "scrypt$a$b$c$d$e"));
});

Deno.test("the hasher runs at most its concurrency at once and refuses past its queue", async () => {
  const hasher = new ThreadHasher(1, 2, FAST);
  const stored = await hashPassword("password1", FAST);
  const started = [
    hasher.verify("password1", stored),
    hasher.verify("password1", stored),
    hasher.verify("password2", stored),
  ];
  await rejects(hasher.verify("password1", stored), HasherBusyError);
  const results = await Promise.all(started);
  equal(results.join(), "true,true,false");
  ok(await hasher.verify("password1", stored), "usable again once the queue drained");
});

Deno.test("tokens are random and stored only as their SHA-256", () => {
  const a = newToken();
  const b = newToken();
  ok(a !== b);
  ok(/^[A-Za-z0-9_-]{43}$/.test(a));
  const hash = hashToken(a);
  ok(/^[0-9a-f]{64}$/.test(hash));
  equal(hash, hashToken(a));
});
