/**
 * The imchat/peer comparison of the benchmark: picks the compared figures out of the
 * results of one sitting and sets them side by side as ratios (imchat / peer). Pure.
 *
 * @module
 */

import { round } from "./_bench_stats.ts";

/** The part of a benchmark result the comparison reads. */
export interface ResultLike {
  scenario: string;
  server: string;
  store: string | null;
  ok: boolean;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/** The compared figures of one server. */
export interface PeerFigures {
  /** Deliveries per server CPU-second of the fanout runs, by sender count. */
  fanoutPerCpuS: Record<string, number | null>;
  /** Deliveries per server CPU-second at light load. */
  lightPerCpuS: number | null;
  /** p99 delivery latency at light load, ms. */
  lightP99Ms: number | null;
  /** Idle connections at the first memory reading, and RSS per connection there (KiB). */
  idleCheckpoint: number | null;
  idleKiBAtCheckpoint: number | null;
  /** Idle connections at the end, and RSS per connection there (KiB). */
  idleConnections: number | null;
  idleKiBAtEnd: number | null;
}

/** One line of the comparison. */
export interface ComparisonRow {
  metric: string;
  imchat: number | null;
  peer: number | null;
  /** imchat / peer, or null when either is missing. */
  ratio: number | null;
  /** Which way is better for imchat. */
  better: "higher" | "lower";
}

const num = (v: unknown): number | null => typeof v === "number" && Number.isFinite(v) ? v : null;

/** Per CPU-second figure of a room result: with redis-server counted when there is one. */
function perCpu(m: Record<string, unknown>): number | null {
  return num(m.deliveriesPerServerRedisCpuS) ?? num(m.deliveriesPerServerCpuS);
}

/**
 * The compared figures of `server` (and imchat's `store`) among `results`; figures of failed
 * or missing runs are null.
 *
 * @example
 * ```ts
 * peerFigures([], "ngircd", null).lightPerCpuS; // null
 * ```
 */
export function peerFigures(
  results: readonly ResultLike[],
  server: string,
  store: string | null,
): PeerFigures {
  const mine = results.filter((r) => r.ok && r.server === server && r.store === store);
  const fanoutPerCpuS: Record<string, number | null> = {};
  for (const r of mine.filter((r) => r.scenario === "fanout" && r.params.transport !== "ws")) {
    fanoutPerCpuS[String(r.params.senders)] = perCpu(r.metrics);
  }
  const light = mine.find((r) => r.scenario === "latency");
  const idle = mine.find((r) => r.scenario === "connect");
  const latency = light?.metrics.latency as Record<string, unknown> | undefined;
  return {
    fanoutPerCpuS,
    lightPerCpuS: light ? perCpu(light.metrics) : null,
    lightP99Ms: num(latency?.p99Ms),
    idleCheckpoint: num(idle?.metrics.checkpointConnections),
    idleKiBAtCheckpoint: num(idle?.metrics.perConnectionKiBAtCheckpoint),
    idleConnections: num(idle?.metrics.connected),
    idleKiBAtEnd: num(idle?.metrics.rssDeltaPerConnectionKiB),
  };
}

/**
 * imchat's figures against the peer's, as ratios imchat / peer: above 1 is better for imchat
 * in deliveries per CPU-second, below 1 is better in latency and memory.
 *
 * @example
 * ```ts
 * const a = { fanoutPerCpuS: { "1": 300 }, lightPerCpuS: null, lightP99Ms: null,
 *   idleCheckpoint: null, idleKiBAtCheckpoint: null, idleConnections: null, idleKiBAtEnd: null };
 * compareFigures(a, { ...a, fanoutPerCpuS: { "1": 200 } })[0].ratio; // 1.5
 * ```
 */
export function compareFigures(imchat: PeerFigures, peer: PeerFigures): ComparisonRow[] {
  const row = (
    metric: string,
    a: number | null,
    b: number | null,
    better: "higher" | "lower",
  ): ComparisonRow => ({
    metric,
    imchat: a,
    peer: b,
    ratio: a !== null && b !== null && b > 0 ? round(a / b, 2) : null,
    better,
  });
  const senders = [
    ...new Set([...Object.keys(imchat.fanoutPerCpuS), ...Object.keys(peer.fanoutPerCpuS)]),
  ]
    .sort((x, y) => Number(x) - Number(y));
  const at = (n: number | null) => n === null ? "?" : n.toLocaleString("en-US");
  return [
    ...senders.map((n) =>
      row(
        `fan-out, ${n} sender${n === "1" ? "" : "s"}: deliveries per server CPU-s`,
        imchat.fanoutPerCpuS[n] ?? null,
        peer.fanoutPerCpuS[n] ?? null,
        "higher",
      )
    ),
    row(
      "light load: deliveries per server CPU-s",
      imchat.lightPerCpuS,
      peer.lightPerCpuS,
      "higher",
    ),
    row("light load: p99 latency, ms", imchat.lightP99Ms, peer.lightP99Ms, "lower"),
    row(
      `idle: KiB per connection at ${at(imchat.idleCheckpoint ?? peer.idleCheckpoint)}`,
      imchat.idleKiBAtCheckpoint,
      peer.idleKiBAtCheckpoint,
      "lower",
    ),
    row(
      `idle: KiB per connection at ${at(imchat.idleConnections ?? peer.idleConnections)}`,
      imchat.idleKiBAtEnd,
      peer.idleKiBAtEnd,
      "lower",
    ),
  ];
}
