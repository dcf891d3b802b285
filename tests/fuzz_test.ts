/**
 * Seeded fuzzing of a live server: random and mutated frames of protocol 2 from several
 * connections at once (as guests and logged in) while two users keep chatting. Whatever the
 * fuzzer does, the chat goes on: every message reaches the reader once, at contiguous positions,
 * and the stored data stay intact. Reproduce a run with FUZZ_SEED=<seed> (printed at the start);
 * FUZZ_MS sets how long it runs (default 4000).
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { rawConnect, sleep, startTestServer } from "./_harness.ts";
import { PASSWORD, refused, roomStates } from "./_e2e.ts";

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
  { type: "hello", id: 1, protocol: 2 },
  { type: "check", id: 2, name: "fuzzuser", nickname: "Fuzz", room: "fuzzroom" },
  { type: "register", id: 3, name: "fuzzuser", password: PASSWORD, nickname: "Fuzz" },
  { type: "login", id: 4, name: "victim", password: PASSWORD },
  { type: "login", id: 5, name: "victim", password: PASSWORD, positions: { "#lobby": { seq: 2 } } },
  { type: "resume", id: 6, token: "abc", positions: { "@victim": { seq: 1, epoch: "x" } } },
  { type: "send", id: 7, room: "lobby", text: "hello", key: "fz1" },
  { type: "send", id: 8, to: "alice", text: "hi", action: true },
  { type: "ack", stream: "#lobby", upTo: 5 },
  { type: "ack", stream: "@victim", upTo: 9007199254740991 },
  { type: "history", id: 9, with: "bob", limit: 5 },
  { type: "history", id: 10, room: "lobby", before: 3 },
  { type: "history", id: 11, room: "lobby", after: 1, limit: 200 },
  { type: "nick", id: 12, nickname: "Nick" },
  { type: "away", id: 13, reason: "fuzzing" },
  { type: "top", id: 14, room: "lobby" },
  { type: "users", id: 15, after: "a", limit: 2 },
  { type: "count", id: 16, room: "lobby" },
  { type: "rooms", id: 17, query: "f", mine: true },
  { type: "room", id: 18, room: "lobby" },
  { type: "create", id: 19, room: "fuzzroom", title: "Fuzz", public: false },
  { type: "join", id: 20, room: "fuzzroom" },
  { type: "part", id: 21, room: "fuzzroom" },
  { type: "invite", id: 22, room: "fuzzroom", user: "bob" },
  { type: "kick", id: 23, room: "lobby", user: "alice" },
  { type: "ban", id: 24, room: "fuzzroom", user: "alice" },
  { type: "unban", id: 25, room: "fuzzroom", user: "alice" },
  { type: "transfer", id: 26, room: "fuzzroom", user: "bob" },
  { type: "topic", id: 27, room: "lobby", topic: "fuzzed" },
  { type: "members", id: 28, room: "lobby", limit: 1 },
  { type: "ping", id: 29 },
  { type: "pong" },
  { type: "logout", id: 30 },
];
const ODD_VALUES: unknown[] = [
  null,
  true,
  -1,
  -0,
  1.5,
  2 ** 60,
  "",
  "x".repeat(300),
  "\ud800",
  [],
  {},
  { nested: [1, 2] },
  { "#lobby": { seq: -3 } },
  "\u0000\u202e\x1b[2J",
  NaN,
];

const hello = () => encodeMessage({ type: "hello", id: 1, protocol: 2 });
const victimLogin = () =>
  encodeMessage({ type: "login", id: 2, name: "victim", password: PASSWORD });

function mutated(rng: Rng): Record<string, unknown> {
  const message = { ...pick(rng, TEMPLATES) };
  const keys = Object.keys(message);
  message[pick(rng, keys)] = pick(rng, ODD_VALUES);
  if (rng() < 0.3) {
    message[pick(rng, ["extra", "re", "from", "seq", "stream"])] = pick(rng, ODD_VALUES);
  }
  return message;
}

/** One hostile input: a list of chunks to write, in order. */
function attack(rng: Rng): Uint8Array[] {
  switch (int(rng, 14)) {
    case 0:
      return [bytes(rng, int(rng, 300))];
    case 1:
      return [header(65537 + int(rng, 2 ** 31)), bytes(rng, int(rng, 100))];
    case 2: {
      const payload = te.encode(JSON.stringify(pick(rng, TEMPLATES)));
      return [hello(), header(payload.length), payload.subarray(0, int(rng, payload.length))];
    }
    case 3:
      return [
        hello(),
        frame(new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x22, 0x7d])),
      ];
    case 4: {
      const depth = 1 + int(rng, 20000);
      const open = rng() < 0.5 ? "[" : '{"a":';
      const close = open === "[" ? "]" : "}";
      return [hello(), frame(te.encode(open.repeat(depth) + "1" + close.repeat(depth)))];
    }
    case 5:
      return [
        hello(),
        encodeMessage({ type: "send", id: 5, room: "lobby", text: "y".repeat(60000) }),
      ];
    case 6:
      return [hello(), frame(te.encode(JSON.stringify(mutated(rng))))];
    case 7:
      return [hello(), encodeMessage({ type: `x${int(rng, 1e6)}`, id: 1 })];
    case 8:
      return [encodeMessage(pick(rng, TEMPLATES))];
    case 9:
      return [
        hello(),
        ...Array.from(
          { length: 30 },
          (_, i) =>
            encodeMessage({ type: "login", id: 10 + i, name: "victim", password: `guess${i}` }),
        ),
      ];
    case 10: {
      const encoded = encodeMessage(pick(rng, TEMPLATES));
      for (let i = 0; i < 1 + int(rng, 4); i++) encoded[int(rng, encoded.length)] = int(rng, 256);
      return [hello(), encoded];
    }
    case 11:
    case 12: {
      // Logged in as the victim: valid and mutated requests of every type.
      const requests = Array.from(
        { length: 1 + int(rng, 12) },
        () => encodeMessage(rng() < 0.5 ? pick(rng, TEMPLATES) : mutated(rng)),
      );
      return [hello(), victimLogin(), ...requests];
    }
    default: {
      const all = new Uint8Array([
        ...hello(),
        ...encodeMessage(pick(rng, TEMPLATES)),
        ...encodeMessage(pick(rng, TEMPLATES)),
      ]);
      const cut = int(rng, all.length);
      return [all.subarray(0, cut), all.subarray(cut)];
    }
  }
}

Deno.test(`fuzzing a live server, FUZZ_SEED=${seed}`, async () => {
  console.log(`fuzz: seed ${seed}, ${durationMs} ms (reproduce with FUZZ_SEED=${seed})`);
  await using s = await startTestServer({ kind: "kv" }, [
    "--address-limit",
    "1000000",
    "--login-limit",
    "1000000",
    "--rate",
    "0",
  ]);
  const setup = await s.connect();
  await setup.request("register", { name: "victim", password: PASSWORD, nickname: "V" });
  const alice = await s.user("alice");
  const bob = await s.user("bob");
  const deadline = Date.now() + durationMs;
  const rng = prng(seed);

  const chat = (async () => {
    const sent: number[] = [];
    while (Date.now() < deadline) {
      const text = `tick ${sent.length}`;
      sent.push((await alice.request("send", { room: "lobby", text, key: `t${sent.length}` })).seq);
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
  // The fuzzer may post in the lobby too; alice's ticks are what must arrive, in order.
  const ticks = () => bob.messages("#lobby").filter((m) => m.msg.from === "alice");
  await bob.waitFor(() => ticks().length >= sent.length, "bob got every tick", 10_000);
  deepStrictEqual(ticks().map((m) => m.msg.seq), sent, "in order, each once");
  // Every lobby message bob got is at a contiguous position after his start.
  const start = roomStates(bob).get("lobby")!.stream.start;
  deepStrictEqual(
    bob.messages("#lobby").map((m) => m.msg.seq),
    Array.from({ length: bob.messages("#lobby").length }, (_, i) => start + 1 + i),
  );
  // Stored data are intact.
  const history = await bob.request("history", { room: "lobby", limit: 200 });
  const stored = history.messages.filter((m) => m.from === "alice").map((m) => m.seq);
  deepStrictEqual(stored, sent.slice(-stored.length));
  ok(stored.length >= Math.min(sent.length, 100), "the newest ticks are in the history");
  const check = await s.connect();
  await refused(
    check.request("register", { name: "victim", password: PASSWORD, nickname: "V2" }),
    "NAME_TAKEN",
  );
  const again = await check.request("login", { name: "alice", password: PASSWORD });
  equal(again.user.name, "alice");
  equal(s.logs.filter((l) => l.includes('"internal_error"')).length, 0, "no INTERNAL");
});
