/**
 * Unit tests of the load generator's parts: the latency histogram and the byte-scanning
 * receiver (fed by a fake server over loopback, frames split at awkward places).
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { BenchConn, DeliverySink, frameOf, stampText } from "../scripts/_bench_client.ts";
import { Histogram } from "../scripts/_bench_stats.ts";

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

Deno.test("receiver byte-scans message frames split across reads, and acks", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const sendMs = Date.now() - 3.25;
  const frames = [
    frameOf({ type: "presence", user: { name: "x", nickname: "X" }, online: true }),
    frameOf({
      type: "message",
      msg: { id: 7, ts: 1, from: "bob", nick: "BOB", text: stampText(sendMs) },
    }),
    frameOf({
      type: "message",
      msg: { id: 9, ts: 1, from: "bob", nick: 'B"O}B', to: "al", text: stampText(sendMs) },
    }),
    frameOf({
      type: "message",
      msg: { id: 3, ts: 1, from: "bob", nick: "BOB", text: "hi" },
      away: true,
    }),
    frameOf({ type: "message", msg: { id: 11, ts: 1, from: "bob", nick: "BOB", text: "plain" } }),
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
    const got = new Uint8Array(256);
    const n = await conn.read(got);
    conn.close();
    return new TextDecoder().decode(got.subarray(4, n ?? 4));
  })();
  const client = await BenchConn.open({ host: "127.0.0.1", port, bufferBytes: 16 });
  const sink = new DeliverySink();
  const w = sink.open("all", 0);
  client.sink = sink;
  const events: string[] = [];
  client.onEvent = (e) => events.push(String(e.type));
  const deadline = Date.now() + 5000;
  while (sink.total < 4 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  client.flushAck();
  const ack = await server;
  client.close();
  listener.close();
  deepStrictEqual(events, ["presence"]);
  equal(sink.total, 4);
  equal(w.count, 2, "two timed live deliveries");
  equal(sink.away, 1);
  equal(sink.untimed, 1);
  equal(client.maxId, 11);
  ok(w.hist.summary().p50Ms! >= 3, "latency measured from the send stamp");
  deepStrictEqual(JSON.parse(ack), { type: "ack", upTo: 11 });
});
