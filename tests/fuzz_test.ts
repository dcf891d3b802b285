/**
 * Seeded fuzzing of a live server: random and mutated frames from several connections at
 * once while two users keep chatting. Reproduce a run with FUZZ_SEED=<seed> (printed at the
 * start); FUZZ_MS sets how long it runs (default 4000).
 */
import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { rawConnect, sleep, startTestServer } from "./_harness.ts";

const seed = Number(Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const durationMs = Number(Deno.env.get("FUZZ_MS") ?? 4000);

/** mulberry32: a small, fast, seedable generator. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];
const bytes = (rng: Rng, n: number) => Uint8Array.from({ length: n }, () => int(rng, 256));
const te = new TextEncoder();

function header(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length >>> 0);
  return h;
}

function frame(payload: Uint8Array): Uint8Array {
  return new Uint8Array([...header(payload.length), ...payload]);
}

const TEMPLATES: Record<string, unknown>[] = [
  { type: "hello", id: 1, protocol: 1 },
  { type: "register", id: 2, name: "fuzzuser", password: "password1", nickname: "Fuzz" },
  { type: "login", id: 3, name: "victim", password: "password1" },
  { type: "resume", id: 4, token: "abc" },
  { type: "send", id: 5, text: "hello" },
  { type: "send", id: 6, to: "alice", text: "hi" },
  { type: "ack", upTo: 5 },
  { type: "history", id: 7, with: "bob", limit: 5 },
  { type: "nick", id: 8, nickname: "Nick" },
  { type: "top", id: 9 },
  { type: "logout", id: 10 },
];
const ODD_VALUES: unknown[] = [
  null,
  true,
  -1,
  1.5,
  2 ** 60,
  "",
  "x".repeat(300),
  [],
  {},
  { nested: [1, 2] },
  "\u0000\u202e\x1b[2J",
  NaN,
];

/** One hostile input: a list of chunks to write, in order. */
function attack(rng: Rng): Uint8Array[] {
  const hello = encodeMessage({ type: "hello", id: 1, protocol: 1 });
  switch (int(rng, 12)) {
    case 0:
      return [bytes(rng, int(rng, 300))];
    case 1:
      return [header(65537 + int(rng, 2 ** 31)), bytes(rng, int(rng, 100))];
    case 2: {
      const payload = te.encode(JSON.stringify(pick(rng, TEMPLATES)));
      return [hello, header(payload.length), payload.subarray(0, int(rng, payload.length))];
    }
    case 3:
      return [hello, frame(new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x22, 0x7d]))];
    case 4: {
      const depth = 1 + int(rng, 20000);
      const open = rng() < 0.5 ? "[" : '{"a":';
      const close = open === "[" ? "]" : "}";
      return [hello, frame(te.encode(open.repeat(depth) + "1" + close.repeat(depth)))];
    }
    case 5:
      return [hello, encodeMessage({ type: "send", id: 5, text: "y".repeat(60000) })];
    case 6: {
      const message = { ...pick(rng, TEMPLATES) };
      const keys = Object.keys(message);
      message[pick(rng, keys)] = pick(rng, ODD_VALUES);
      return [hello, frame(te.encode(JSON.stringify(message)))];
    }
    case 7:
      return [hello, encodeMessage({ type: `x${int(rng, 1e6)}`, id: 1 })];
    case 8:
      return [encodeMessage(pick(rng, TEMPLATES))];
    case 9:
      return [
        hello,
        ...Array.from(
          { length: 30 },
          (_, i) =>
            encodeMessage({ type: "login", id: 10 + i, name: "victim", password: `guess${i}` }),
        ),
      ];
    case 10: {
      const encoded = encodeMessage(pick(rng, TEMPLATES));
      for (let i = 0; i < 1 + int(rng, 4); i++) encoded[int(rng, encoded.length)] = int(rng, 256);
      return [hello, encoded];
    }
    default: {
      const all = new Uint8Array([
        ...hello,
        ...encodeMessage(pick(rng, TEMPLATES)),
        ...encodeMessage(pick(rng, TEMPLATES)),
      ]);
      const cut = int(rng, all.length);
      return [all.subarray(0, cut), all.subarray(cut)];
    }
  }
}

Deno.test(`fuzzing a live server (FUZZ_SEED=${seed})`, async () => {
  console.log(`fuzz: seed ${seed}, ${durationMs} ms (reproduce with FUZZ_SEED=${seed})`);
  await using s = await startTestServer({ kind: "kv" }, [
    "--address-limit",
    "1000000",
    "--rate",
    "0",
  ]);
  const setup = await s.connect();
  await setup.conn.request("register", { name: "victim", password: "password1", nickname: "V" });
  const alice = await s.user("alice");
  const bob = await s.user("bob");
  const deadline = Date.now() + durationMs;
  const rng = prng(seed);

  const chat = (async () => {
    const sent: number[] = [];
    while (Date.now() < deadline) {
      sent.push((await alice.conn.request("send", { text: `tick ${sent.length}` })).msgId);
      await sleep(20);
    }
    return sent;
  })();

  let attacks = 0;
  const workers = Array.from({ length: 6 }, async (_, w) => {
    const local = prng(seed + w + 1 + int(rng, 1000));
    while (Date.now() < deadline) {
      const raw = await rawConnect(s.port);
      try {
        for (const chunk of attack(local)) await raw.write(chunk);
        attacks++;
        // Read whatever comes back for a moment; the server may close on us.
        for (let i = 0; i < 3; i++) {
          if (await raw.read(100).catch(() => null) === null) break;
        }
      } catch {
        // the server closed the connection mid-write: fine
      } finally {
        raw.close();
      }
    }
  });

  await Promise.all(workers);
  const sent = await chat;
  ok(attacks > 50, `${attacks} attacks`);
  // The fuzzer may log in as "victim" and chat too; alice's ticks are what must arrive.
  const ticks = () => bob.messages().filter((m) => m.msg.from === "alice");
  await bob.waitFor(() => ticks().length >= sent.length, "bob got every tick");
  deepStrictEqual(ticks().map((m) => m.msg.id), sent, "in order, each once");

  // Stored data is intact.
  const history = await bob.conn.request("history", { limit: 200 });
  const stored = history.messages.filter((m) => m.from === "alice").map((m) => m.id);
  deepStrictEqual(stored, sent.slice(-stored.length));
  ok(stored.length >= Math.min(sent.length, 100), "the newest ticks are in the history");
  const check = await s.connect();
  await rejects(
    check.conn.request("register", { name: "victim", password: "password1", nickname: "V2" }),
    (e) => e instanceof ChatError && e.code === "NAME_TAKEN",
  );
  const again = await check.conn.request("login", { name: "alice", password: "password1" });
  equal(again.user.name, "alice");
});
