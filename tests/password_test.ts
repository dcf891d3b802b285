import { equal, ok, rejects } from "node:assert/strict";
import {
  HasherBusyError,
  hashPassword,
  ThreadHasher,
  verifyPassword,
} from "../lib/auth/password.ts";
import { hashToken, newToken } from "../lib/auth/token.ts";
import { ProcessHasher } from "../lib/auth/hash_worker.ts";

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

Deno.test("worker processes hash at idle priority and stop with the hasher", async () => {
  const worker = new URL("../lib/auth/hash_worker.ts", import.meta.url).pathname;
  const hasher = await ProcessHasher.start(
    2,
    [Deno.execPath(), "run", "--quiet", "--no-prompt", "--no-config", worker],
    10,
  );
  try {
    const stored = await hasher.hash("password1");
    ok(stored.startsWith("scrypt$16384$8$1$"));
    const results = await Promise.all([
      hasher.verify("password1", stored),
      hasher.verify("password2", stored),
      hasher.verify("password1", "garbage"),
    ]);
    equal(results.join(), "true,false,false");
    // Each of our workers runs at idle scheduling policy (SCHED_IDLE = 5) or at nice 19.
    let workers = 0;
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
      if (!cmdline.includes("hash_worker.ts")) continue;
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== Deno.pid) continue; // another test's server
      const nice = Number(fields[16]);
      const policy = Number(fields[38]);
      ok(policy === 5 || nice === 19, `policy ${policy}, nice ${nice}`);
      workers++;
    }
    equal(workers, 2);
    // A worker that dies is replaced: hashing goes on.
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (cmdline.includes("hash_worker.ts") && ppid === Deno.pid) {
        Deno.kill(Number(entry.name), "SIGKILL");
      }
    }
    ok(await hasher.verify("password1", stored), "verified by a replacement worker");
  } finally {
    await hasher.close();
  }
  await rejects(hasher.hash("x"), /closed/);
});

Deno.test("worker processes are given only jobs still wanted, one at a time", async () => {
  const worker = new URL("../lib/auth/hash_worker.ts", import.meta.url).pathname;
  const hasher = await ProcessHasher.start(
    1,
    [Deno.execPath(), "run", "--quiet", "--no-prompt", "--no-config", worker],
    10,
  );
  try {
    const stored = await hasher.hash("password1");
    const gone = new AbortController();
    const first = hasher.verify("password1", stored);
    const dropped = hasher.verify("password1", stored, { signal: gone.signal });
    const reason = new Error("connection closed");
    gone.abort(reason);
    await rejects(dropped, (error) => error === reason);
    ok(await first);
    await rejects(
      hasher.verify("password1", stored, { deadline: Date.now() }),
      HasherBusyError,
      "cannot finish by a deadline that has come",
    );
  } finally {
    await hasher.close();
  }
});
