/**
 * Unit tests of the load generator's parts: the latency histogram, the byte-scanning imchat
 * receiver and IRC driver (fed by fake servers over loopback, split at awkward places), the
 * IRC line reader (fed byte by byte and split at every offset), the delivery window of the
 * room senders, the ngircd configuration, the imchat/peer comparison, and the pure parts of
 * the scale scenarios (room layout, /metrics counters, load-process shares and addresses).
 */

import { deepStrictEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { BenchConn, frameOf, FrameReader } from "../scripts/_bench_client.ts";
import { DeliverySink, parseStamp, stampText } from "../scripts/_bench_common.ts";
import { compareFigures, peerFigures } from "../scripts/_bench_compare.ts";
import {
  IrcConn,
  ircJoin,
  IrcLineReader,
  ircRegister,
  MAX_LINE,
  parseIrcLine,
} from "../scripts/_bench_irc.ts";
import { shares, sourceAddresses } from "../scripts/_bench_fleet.ts";
import { ngircdConfig } from "../scripts/_bench_proc.ts";
import { counterDelta, framesOut, sessionsPerWorker } from "../scripts/_bench_scale.ts";
import { roomLayout, roomName, userName } from "../scripts/_bench_seed.ts";
import { Histogram } from "../scripts/_bench_stats.ts";
import { type Receiver, RoomSenders, type Sender } from "../scripts/_bench_target.ts";

Deno.test("histogram percentiles: exact below 2 ms, within 0.1 % above", () => {
  const h = new Histogram();
  for (let us = 1; us <= 1000; us++) h.record(us);
  const s = h.summary();
  equal(s.samples, 1000);
  equal(s.p50Ms, 0.5);
  equal(s.p99Ms, 0.99);
  equal(s.p999Ms, 0.999);
  equal(s.maxMs, 1);

  const big = new Histogram();
  for (const us of [10_000, 250_000, 3_000_000]) big.record(us);
  const p = big.summary();
  ok(Math.abs(p.p50Ms! - 250) / 250 < 0.001, `p50 ${p.p50Ms}`);
  equal(p.maxMs, 3000);
  ok(p.p99Ms! <= p.maxMs!, "a percentile never exceeds the maximum");
  big.record(-5);
  equal(big.percentile(0.0001), 0, "negative values count as zero");
  equal(new Histogram().summary().p99Ms, null);
});

/** A message event laid out as the server encodes it. */
function message(stream: string, seq: number, text: string, extra: object = {}, top = {}) {
  return frameOf({
    type: "message",
    msg: { stream, seq, ts: 1, from: "bob", nick: 'B"O}B', text, ...extra },
    ...top,
  });
}

Deno.test("receiver byte-scans message frames split across reads, and acks per stream", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const sendMs = Date.now() - 3.25;
  const frames = [
    frameOf({ type: "presence", user: { name: "x", nickname: "X" }, online: true }),
    message("#lobby", 7, stampText(sendMs)),
    message("@al", 9, stampText(sendMs), { to: "al" }),
    message("#lobby", 3, "hi", {}, { backlog: true }),
    message("#lobby", 11, "plain"),
    message("#r.2", 4, stampText(sendMs), { action: true }),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    all.set(f, at);
    at += f.length;
  }
  const server = (async () => {
    const conn = await listener.accept();
    // Cut the stream in 1-, 2- and 5-byte pieces and one large rest.
    for (const [from, to] of [[0, 1], [1, 3], [3, 8], [8, all.length]]) {
      await conn.write(all.subarray(from, to));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const got = new Uint8Array(1024);
    let fill = 0;
    const acks: unknown[] = [];
    while (acks.length < 3) {
      const n = await conn.read(got.subarray(fill));
      if (n === null) break;
      fill += n;
      let pos = 0;
      while (fill - pos >= 4) {
        const len = new DataView(got.buffer, pos).getUint32(0);
        if (fill - pos - 4 < len) break;
        acks.push(JSON.parse(new TextDecoder().decode(got.subarray(pos + 4, pos + 4 + len))));
        pos += 4 + len;
      }
      got.copyWithin(0, pos, fill);
      fill -= pos;
    }
    conn.close();
    return acks;
  })();
  const client = await BenchConn.open({ host: "127.0.0.1", port, bufferBytes: 16 });
  const sink = new DeliverySink();
  const w = sink.open("all", 0);
  client.sink = sink;
  const events: string[] = [];
  client.onEvent = (e) => events.push(String(e.type));
  const deadline = Date.now() + 5000;
  while (sink.total < 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  client.flushAck();
  const acks = await server;
  client.close();
  listener.close();
  deepStrictEqual(events, ["presence"]);
  equal(sink.total, 5);
  equal(w.count, 3, "three timed live deliveries");
  equal(sink.away, 1, "one backlog message");
  equal(sink.untimed, 1);
  equal(client.frames, 6);
  deepStrictEqual(client.positions(), { "#lobby": 11, "@al": 9, "#r.2": 4 });
  ok(w.hist.summary().p50Ms! >= 3, "latency measured from the send stamp");
  deepStrictEqual(acks, [
    { type: "ack", stream: "#lobby", upTo: 11 },
    { type: "ack", stream: "@al", upTo: 9 },
    { type: "ack", stream: "#r.2", upTo: 4 },
  ]);
});

Deno.test("FrameReader hands over the same payloads fed whole, byte by byte, split anywhere", () => {
  const frames = [frameOf({ type: "ping" }), frameOf({ type: "x", t: "長".repeat(40) })];
  const bytes = new Uint8Array([...frames[0], ...frames[1]]);
  const expected = ['{"type":"ping"}', JSON.stringify({ type: "x", t: "長".repeat(40) })];
  const read = (chunks: Uint8Array[]) => {
    const seen: string[] = [];
    const reader = new FrameReader(16, {
      payload: (b, s, e) => seen.push(new TextDecoder().decode(b.subarray(s, e))),
    });
    for (const chunk of chunks) reader.push(chunk, 0);
    return seen;
  };
  deepStrictEqual(read([bytes]), expected);
  deepStrictEqual(read([...bytes].map((b) => Uint8Array.of(b))), expected);
  for (let cut = 0; cut <= bytes.length; cut++) {
    deepStrictEqual(read([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `at ${cut}`);
  }
  const huge = new Uint8Array([0x7f, 0, 0, 0]);
  throws(() => read([huge]), RangeError);
});

Deno.test("parseStamp reads b:<ms> texts and rejects others", () => {
  const at = (text: string) => {
    const b = new TextEncoder().encode(`xx${text}yy`);
    return parseStamp(b, 2, b.length - 2);
  };
  equal(at("b:1700000000123.250"), 1700000000123.25);
  equal(at("b:42"), 42);
  equal(at("hello"), -1);
  equal(at("b:"), -1);
  equal(at(stampText(1234.5)), 1234.5);
});

Deno.test("parseIrcLine splits prefix, command and parameters", () => {
  deepStrictEqual(parseIrcLine(":a!~u@127.0.0.1 PRIVMSG #bench :b:1.5 and more"), {
    prefix: "a!~u@127.0.0.1",
    command: "PRIVMSG",
    params: ["#bench", "b:1.5 and more"],
  });
  deepStrictEqual(parseIrcLine("PING :bench.irc"), {
    prefix: null,
    command: "PING",
    params: ["bench.irc"],
  });
  deepStrictEqual(parseIrcLine(":srv 366 r0001 #bench :End of NAMES list"), {
    prefix: "srv",
    command: "366",
    params: ["r0001", "#bench", "End of NAMES list"],
  });
  deepStrictEqual(parseIrcLine("privmsg  #c  plain").params, ["#c", "plain"]);
  deepStrictEqual(parseIrcLine("PRIVMSG #c ::x").params, ["#c", ":x"]);
  throws(() => parseIrcLine(":only-a-prefix"), SyntaxError);
});

/** Lines an IrcLineReader hands over, as `P:<text>` for PRIVMSGs and `L:<line>` for others. */
function readLines(chunks: Uint8Array[], bufferBytes: number): string[] {
  const seen: string[] = [];
  const decoder = new TextDecoder();
  const reader = new IrcLineReader(bufferBytes, {
    privmsg: (b, s, t, e) => {
      ok(s <= t && t <= e, "text inside the line");
      seen.push(`P:${decoder.decode(b.subarray(t, e))}`);
    },
    line: (text) => seen.push(`L:${text}`),
  });
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      const space = reader.space();
      const n = Math.min(space.length, chunk.length - at);
      space.set(chunk.subarray(at, at + n));
      reader.commit(n, 0);
      at += n;
    }
  }
  return seen;
}

Deno.test("IrcLineReader: the same lines fed whole, byte by byte and split at every offset", () => {
  const stream = ":bench.irc 001 r0001 :Welcome to the Internet Relay Network r0001\r\n" +
    ":sender01!~sender01@127.0.0.1 PRIVMSG #bench :b:1700000000123.250\r\n" +
    "PING :bench.irc\r\n" +
    "\r\n" +
    ":s!u@h PRIVMSG #bench plain\n" +
    "PRIVMSG #bench :no prefix\r\n" +
    ":s!u@h NOTICE #bench :PRIVMSG inside a notice\r\n" +
    ":s!u@h PRIVMSG #bench :\r\n" +
    ":partial";
  const bytes = new TextEncoder().encode(stream);
  const expected = [
    "L::bench.irc 001 r0001 :Welcome to the Internet Relay Network r0001",
    "P:b:1700000000123.250",
    "L:PING :bench.irc",
    "P:plain",
    "P:no prefix",
    "L::s!u@h NOTICE #bench :PRIVMSG inside a notice",
    "P:",
  ];
  deepStrictEqual(readLines([bytes], 4096), expected);
  deepStrictEqual(readLines([...bytes].map((b) => Uint8Array.of(b)), 16), expected);
  for (let cut = 0; cut <= bytes.length; cut++) {
    deepStrictEqual(
      readLines([bytes.subarray(0, cut), bytes.subarray(cut)], 16),
      expected,
      `split at ${cut}`,
    );
  }
});

Deno.test("IrcLineReader grows for long lines up to MAX_LINE, then throws a RangeError", () => {
  const long = `:s PRIVMSG #c :${"x".repeat(5000)}\r\n`;
  deepStrictEqual(readLines([new TextEncoder().encode(long)], 16), [`P:${"x".repeat(5000)}`]);
  throws(
    () => readLines([new Uint8Array(MAX_LINE + 10).fill(0x41)], 1024),
    RangeError,
  );
});

Deno.test("IRC driver registers, joins, answers PING and byte-scans PRIVMSGs", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const sendMs = Date.now() - 2.5;
  const encoder = new TextEncoder();
  const server = (async () => {
    const conn = await listener.accept();
    let got = "";
    const buf = new Uint8Array(4096);
    const until = async (part: string) => {
      while (!got.includes(part)) {
        const n = await conn.read(buf);
        if (n === null) throw new Error(`closed before "${part}"; got ${got}`);
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
    };
    const write = async (text: string) => {
      const bytes = encoder.encode(text);
      // In pieces of 7 bytes, so lines are cut everywhere.
      for (let at = 0; at < bytes.length; at += 7) {
        await conn.write(bytes.subarray(at, at + 7));
      }
    };
    await until("USER r0001 0 * :r0001\r\n");
    await write(":srv 001 r0001 :Welcome\r\n:srv 376 r0001 :End of MOTD command\r\n");
    await until("JOIN #bench\r\n");
    await write(":r0001!~r0001@h JOIN :#bench\r\n:srv 366 r0001 #bench :End of NAMES list\r\n");
    await until("PRIVMSG #bench :hello\r\n");
    await write(
      `:s!~s@h PRIVMSG #bench :${stampText(sendMs)}\r\nPING :token-1\r\n` +
        `:s!~s@h PRIVMSG #bench :untimed\r\n:s!~s@h PRIVMSG #bench :${stampText(sendMs)}\r\n`,
    );
    await until("PONG :token-1\r\n");
    conn.close();
    return got;
  })();
  const client = await IrcConn.open({ host: "127.0.0.1", port, bufferBytes: 16 });
  try {
    await ircRegister(client, "r0001", 5000);
    await ircJoin(client, "#bench", 5000);
    const sink = new DeliverySink();
    const w = sink.open("all", 0);
    client.sink = sink;
    await client.send("hello");
    const got = await server;
    await client.closed;
    equal(client.received, 3);
    equal(sink.total, 3);
    equal(w.count, 2, "two timed deliveries");
    equal(sink.untimed, 1);
    ok(w.hist.summary().p50Ms! >= 2, "latency measured from the send stamp");
    ok(got.startsWith("NICK r0001\r\nUSER r0001 0 * :r0001\r\n"), got);
    equal(client.closeReason, "closed by server");
  } finally {
    client.close();
    listener.close();
  }
});

Deno.test("IRC registration fails on an error numeric", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const server = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(1024));
    await conn.write(new TextEncoder().encode(":srv 433 * r0001 :Nickname already in use\r\n"));
    return conn;
  })();
  const client = await IrcConn.open({ host: "127.0.0.1", port });
  try {
    await rejects(ircRegister(client, "r0001", 5000), /433/);
  } finally {
    client.close();
    (await server).close();
    listener.close();
  }
});

/** A receiver that the test delivers to by hand. */
class FakeReceiver implements Receiver {
  isOpen = true;
  closeReason: string | null = null;
  received = 0;
  readonly closed: Promise<void>;
  #close!: () => void;
  constructor() {
    this.closed = new Promise((resolve) => this.#close = resolve);
  }
  flushAck(): void {}
  close(): void {
    this.isOpen = false;
    this.#close();
  }
}

/** A sender that records its texts and accepts at once. */
class FakeSender implements Sender {
  isOpen = true;
  closeReason: string | null = null;
  texts: string[] = [];
  send(text: string): Promise<void> {
    this.texts.push(text);
    return Promise.resolve();
  }
  flushAck(): void {}
  close(): void {
    this.isOpen = false;
  }
}

Deno.test("RoomSenders keeps senders × window messages' worth of deliveries in flight", async () => {
  const sink = new DeliverySink();
  const receivers = [0, 1, 2, 3].map(() => new FakeReceiver());
  const senders = [new FakeSender(), new FakeSender()];
  const room = new RoomSenders(senders, receivers, sink, 3, null);
  const deliver = (r: FakeReceiver, n: number) => {
    r.received += n;
    sink.total += n;
    sink.onRead?.();
  };
  room.start();
  const issued = () => senders[0].texts.length + senders[1].texts.length;
  equal(issued(), 6, "2 senders × window 3");
  deepStrictEqual([senders[0].texts.length, senders[1].texts.length], [3, 3], "round robin");
  equal(room.outstanding, 24);
  for (const r of receivers.slice(0, 3)) deliver(r, 1);
  equal(issued(), 6, "a message is not complete until every receiver has it");
  deliver(receivers[3], 1);
  equal(issued(), 7, "one message delivered everywhere: one more goes out");
  ok(senders[0].texts.every((t) => t.startsWith("b:")), "texts are send stamps");
  // A receiver that closes stops counting: its share of the window is released.
  receivers[3].close();
  await receivers[3].closed;
  await Promise.resolve();
  equal(room.outstanding, 7 * 3 - 3, "outstanding counts only open receivers");
  equal(issued(), 7, "18 deliveries outstanding fill the window of 3 receivers");
  for (const r of receivers.slice(0, 3)) deliver(r, 1);
  equal(issued(), 8);
  await room.stop(100);
  equal(room.ok, issued());
  equal(sink.onRead, null);
});

Deno.test("ngircdConfig: loopback, no limits or penalties, no lookups", () => {
  const text = ngircdConfig({
    port: 16667,
    listen: ["127.0.0.1", "127.0.0.2"],
    includeDir: "/tmp/x/conf.d",
  });
  for (
    const line of [
      "Listen = 127.0.0.1,127.0.0.2",
      "Ports = 16667",
      "MaxConnections = 0",
      "MaxConnectionsIP = 0",
      "MaxPenaltyTime = 0",
      "DNS = no",
      "Ident = no",
      "PAM = no",
      "IncludeDir = /tmp/x/conf.d",
    ]
  ) {
    ok(text.split("\n").includes(line), `missing "${line}" in\n${text}`);
  }
});

Deno.test("peer comparison: figures from results, ratios imchat / peer", () => {
  const result = (
    scenario: string,
    server: string,
    store: string | null,
    params: Record<string, unknown>,
    metrics: Record<string, unknown>,
    ok = true,
  ) => ({ scenario, server, store, ok, params, metrics });
  const results = [
    result("fanout", "imchat", "kv", { senders: 1 }, { deliveriesPerServerCpuS: 300_000 }),
    result("fanout", "imchat", "kv", { senders: 4 }, { deliveriesPerServerCpuS: 600_000 }),
    result("latency", "imchat", "kv", {}, {
      deliveriesPerServerCpuS: 40_000,
      latency: { p99Ms: 10 },
    }),
    result("connect", "imchat", "kv", {}, {
      checkpointConnections: 10_000,
      perConnectionKiBAtCheckpoint: 13,
      connected: 19_000,
      rssDeltaPerConnectionKiB: 12,
    }),
    result("fanout", "imchat", "redis", { senders: 1 }, {
      deliveriesPerServerCpuS: 500_000,
      deliveriesPerServerRedisCpuS: 250_000,
    }),
    result("fanout", "ngircd", null, { senders: 1 }, { deliveriesPerServerCpuS: 200_000 }),
    result("fanout", "ngircd", null, { senders: 4 }, {}, false),
    result("latency", "ngircd", null, {}, {
      deliveriesPerServerCpuS: 80_000,
      latency: { p99Ms: 8 },
    }),
    result("connect", "ngircd", null, {}, {
      checkpointConnections: 10_000,
      perConnectionKiBAtCheckpoint: 6.5,
      connected: 19_000,
      rssDeltaPerConnectionKiB: 8,
    }),
  ];
  const peer = peerFigures(results, "ngircd", null);
  deepStrictEqual(peer.fanoutPerCpuS, { "1": 200_000 }, "failed runs are left out");
  equal(peerFigures(results, "imchat", "redis").fanoutPerCpuS["1"], 250_000, "redis counted");
  const rows = compareFigures(peerFigures(results, "imchat", "kv"), peer);
  deepStrictEqual(
    rows.map((r) => [r.metric, r.ratio, r.better]),
    [
      ["fan-out, 1 sender: deliveries per server CPU-s", 1.5, "higher"],
      ["fan-out, 4 senders: deliveries per server CPU-s", null, "higher"],
      ["light load: deliveries per server CPU-s", 0.5, "higher"],
      ["light load: p99 latency, ms", 1.25, "lower"],
      ["idle: KiB per connection at 10,000", 2, "lower"],
      ["idle: KiB per connection at 19,000", 1.5, "lower"],
    ],
  );
});

Deno.test("roomLayout: one room per layer, rooms of exactly `size`, room-mates vary", () => {
  const layout = roomLayout(15_000, 3, 20);
  equal(layout.length, 3);
  for (const layer of layout) {
    const sizes = new Map<number, number>();
    for (const room of layer) sizes.set(room, (sizes.get(room) ?? 0) + 1);
    equal(sizes.size, 750, "15,000 / 20 rooms per layer");
    ok([...sizes.values()].every((n) => n === 20), "every room has 20 members");
  }
  // Mates of user 0 over the three layers: nearly 3 × 19 different users.
  const mates = new Set<number>();
  for (const layer of layout) {
    layer.forEach((room, u) => {
      if (u !== 0 && room === layer[0]) mates.add(u);
    });
  }
  ok(mates.size >= 55, `room-mates barely repeat across layers: ${mates.size}`);
  deepStrictEqual(roomLayout(15_000, 3, 20), layout, "the same layout on every run");
  deepStrictEqual(roomLayout(40, 0, 20), []);
  throws(() => roomLayout(30, 1, 20), RangeError);
  equal(roomName("s5k-", 2, 17), "s5k-2-17");
  equal(userName("c-", 42), "c-000042");
});

Deno.test("framesOut sums frames by type over workers; counterDelta subtracts", () => {
  const text = [
    "# HELP imchat_frames_out_total Frames sent, by type.",
    "# TYPE imchat_frames_out_total counter",
    'imchat_frames_out_total{worker="0",type="presence"} 10',
    'imchat_frames_out_total{worker="1",type="presence"} 5',
    'imchat_frames_out_total{type="ok"} 2',
    'imchat_frames_in_total{type="ok"} 99',
    'imchat_sessions{worker="0"} 16000',
    'imchat_sessions{worker="1"} 17000',
  ].join("\n");
  deepStrictEqual(framesOut(text), { presence: 15, ok: 2 });
  deepStrictEqual(counterDelta({ ok: 2, a: 1 }, { ok: 5, a: 1, b: 3 }), { ok: 3, b: 3 });
  deepStrictEqual(sessionsPerWorker(text), [16000, 17000]);
});

Deno.test("fleet: shares split evenly, source addresses never repeat", () => {
  deepStrictEqual(shares(10, 3), [[0, 4], [4, 7], [7, 10]]);
  deepStrictEqual(shares(100_000, 6).map(([a, b]) => b - a), [
    16_667,
    16_667,
    16_667,
    16_667,
    16_666,
    16_666,
  ]);
  const all = Array.from({ length: 6 }, (_, i) => sourceAddresses(i, 2)).flat();
  equal(new Set(all).size, 12);
  deepStrictEqual(all.slice(0, 3), ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  equal(sourceAddresses(127, 2)[1], "127.0.1.1");
});
