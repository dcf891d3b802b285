/**
 * Load generator for the chat server: `deno task bench [options]` (`--help` for them).
 *
 * Spawns the server (and redis-server) as child processes pinned to core 0, pins itself to
 * core 1, drives loopback-only load and reports throughput, latency percentiles, server CPU
 * (from /proc/<pid>/stat), RSS and its own CPU. Every phase is bounded in time and count;
 * every child is killed at the end, also on error. Results go to stdout as tables and to a
 * JSON file (`--out`, default `bench-results/latest.json`).
 *
 * Scenarios: `connect` (idle logged-in connections and memory per connection), `fanout`
 * (group throughput with one windowed sender), `latency` (paced group messages), `private`
 * (pairs exchanging private messages), `login` (resumes/s, password logins/s, chat latency
 * during a login storm). Store modes: `kv` (one node on Deno KV in memory) and `redis` (two
 * nodes on one redis-server; fanout, latency and private only).
 *
 * @module
 */

import {
  BenchConn,
  DeliverySink,
  fastPathFailure,
  helloLogin,
  helloResume,
  nowMs,
  pool,
  sleep,
  type Window,
} from "./_bench_client.ts";
import {
  type Accounts,
  type Cluster,
  clusterRss,
  connectAccounts,
  GroupSender,
  LAG_LIMIT,
  loginStorm,
  type Measure,
  Meter,
  oneLogin,
  oneResume,
  PASSWORD,
  PrivateSender,
  progress,
  SEND_QUEUE,
  setupAccounts,
  startCluster,
  waitQuiet,
} from "./_bench_load.ts";
import {
  capture,
  initClockTicks,
  killAll,
  openFileLimit,
  type Pinning,
  pinSelf,
  rssKiB,
  spawnServer,
} from "./_bench_proc.ts";
import { fmt, type LatencySummary, round, table } from "./_bench_stats.ts";

const ROOT = new URL("../", import.meta.url).pathname;

type Scenario = "connect" | "fanout" | "latency" | "private" | "login";
type Store = "kv" | "redis";
const SCENARIOS: Scenario[] = ["connect", "fanout", "latency", "private", "login"];
/** Scenarios run in Redis mode. */
const REDIS_SCENARIOS: Scenario[] = ["fanout", "latency", "private"];

/** Sizes of every phase. */
interface Sizes {
  connections: number;
  connectConcurrency: number;
  idleMs: number;
  clients: number;
  window: number;
  warmupMs: number;
  fanoutMs: number;
  latencyRate: number;
  latencyMs: number;
  pairs: number;
  privateRate: number;
  privateMs: number;
  resumes: number;
  resumeConcurrency: number;
  logins: number;
  loginConcurrency: number;
  stormPhaseMs: number;
  stormConcurrency: number;
  loginUsers: number;
}

const FULL: Sizes = {
  connections: 19_000,
  connectConcurrency: 500,
  idleMs: 5000,
  clients: 200,
  window: 10,
  warmupMs: 1000,
  fanoutMs: 10_000,
  latencyRate: 100,
  latencyMs: 10_000,
  pairs: 100,
  privateRate: 2000,
  privateMs: 10_000,
  resumes: 5000,
  resumeConcurrency: 200,
  logins: 200,
  loginConcurrency: 16,
  stormPhaseMs: 5000,
  stormConcurrency: 32,
  loginUsers: 32,
};

const QUICK: Sizes = {
  connections: 300,
  connectConcurrency: 100,
  idleMs: 500,
  clients: 20,
  window: 10,
  warmupMs: 300,
  fanoutMs: 2000,
  latencyRate: 100,
  latencyMs: 2000,
  pairs: 10,
  privateRate: 200,
  privateMs: 2000,
  resumes: 200,
  resumeConcurrency: 50,
  logins: 16,
  loginConcurrency: 8,
  stormPhaseMs: 1500,
  stormConcurrency: 8,
  loginUsers: 8,
};

/** Parsed command line. */
interface Options {
  scenarios: Scenario[];
  stores: Store[];
  quick: boolean;
  out: string;
  sizes: Sizes;
}

const USAGE = `Usage: deno task bench [options]

  --scenario S      connect|fanout|latency|private|login|all (default all; repeat or
                    comma-separate for several)
  --store S         kv|redis|both (default both; redis runs fanout, latency, private)
  --quick           small phases, for a smoke test
  --out FILE        JSON results (default bench-results/latest.json)
  --connections N   idle connections of the connect scenario (default 19000)
  --clients K       receivers of fanout/latency (default 200)
  --duration S      seconds of the fanout, latency and private phases (default 10)
  --private-rate R  private messages per second in total (default 2000)
  --help            this text`;

class UsageError extends Error {}

function parseArgs(args: string[]): Options {
  let scenarios: Scenario[] = [...SCENARIOS];
  let stores: Store[] = ["kv", "redis"];
  let quick = false;
  let out = "bench-results/latest.json";
  const overrides: Partial<Sizes> = {};
  let durationS: number | null = null;
  const int = (flag: string, value: string | undefined, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer ≥ ${min}`);
    return n;
  };
  let chosen: Scenario[] | null = null;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].includes("=") ? args[i].split(/=(.*)/s, 2) : [args[i]];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--scenario": {
        const v = value() ?? "";
        for (const s of v.split(",")) {
          if (s === "all") chosen = [...SCENARIOS];
          else if ((SCENARIOS as string[]).includes(s)) (chosen ??= []).push(s as Scenario);
          else throw new UsageError(`unknown scenario "${s}"`);
        }
        break;
      }
      case "--store": {
        const v = value();
        if (v === "both") stores = ["kv", "redis"];
        else if (v === "kv" || v === "redis") stores = [v];
        else throw new UsageError(`--store is kv, redis or both, not "${v}"`);
        break;
      }
      case "--quick":
        quick = true;
        break;
      case "--out":
        out = value() ?? "";
        if (!out) throw new UsageError("--out needs a file name");
        break;
      case "--connections":
        overrides.connections = int(flag, value(), 1);
        break;
      case "--clients":
        overrides.clients = int(flag, value(), 2);
        break;
      case "--duration":
        durationS = int(flag, value(), 1);
        break;
      case "--private-rate":
        overrides.privateRate = int(flag, value(), 1);
        break;
      default:
        throw new UsageError(`unknown option "${args[i]}"`);
    }
  }
  if (chosen) scenarios = SCENARIOS.filter((s) => chosen!.includes(s));
  const sizes = { ...(quick ? QUICK : FULL), ...overrides };
  if (durationS !== null) {
    sizes.fanoutMs = sizes.latencyMs = sizes.privateMs = durationS * 1000;
  }
  return { scenarios, stores, quick, out, sizes };
}

/** One scenario's outcome in one store mode. */
interface Result {
  scenario: Scenario;
  store: Store;
  ok: boolean;
  error?: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  notes: string[];
}

/** A row of the closing summary. */
interface SummaryRow {
  scenario: string;
  store: Store;
  rate: string;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  measure: Measure | null;
  perCpu: number | null;
}

/** Summary rows and table rows of each result (kept out of the JSON). */
const summaryOf = new Map<Result, SummaryRow[]>();
const rowsOf = new Map<Result, [string, string][]>();

function pushSummary(result: Result, row: SummaryRow): void {
  const rows = summaryOf.get(result) ?? [];
  rows.push(row);
  summaryOf.set(result, rows);
}

// ---------------------------------------------------------------------------------------
// Group fan-out (fanout, latency, and the latency part of login)

interface GroupPhase {
  name: string;
  ms: number;
  /** Load started at the phase start and stopped at its end. */
  during?: () => { stop(): Promise<Record<string, unknown>> };
}

interface PhaseOut {
  name: string;
  sent: number;
  sendPerS: number;
  deliveries: number;
  expected: number;
  deliveriesPerS: number;
  latency: LatencySummary;
  measure: Measure;
  deliveriesPerServerCpuS: number | null;
  deliveriesPerServerRedisCpuS: number | null;
  extra?: Record<string, unknown>;
}

function phaseOut(
  cluster: Cluster,
  w: Window,
  m: Measure,
  receivers: number,
  extra?: Record<string, unknown>,
): PhaseOut {
  const serverSide = m.serverCpuS + (m.redisCpuS ?? 0);
  return {
    name: w.name,
    sent: w.sent,
    sendPerS: round(w.sent / m.wallS, 1),
    deliveries: w.count,
    expected: w.sent * receivers,
    deliveriesPerS: Math.round(w.count / m.wallS),
    latency: w.hist.summary(),
    measure: m,
    deliveriesPerServerCpuS: m.serverCpuS > 0 ? Math.round(w.count / m.serverCpuS) : null,
    deliveriesPerServerRedisCpuS: cluster.redis && serverSide > 0
      ? Math.round(w.count / serverSide)
      : null,
    ...(extra ? { extra } : {}),
  };
}

/** Waits until every window has all its expected deliveries, at most `ms`. */
async function drain(windows: Window[], perSend: () => number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const missing = () => windows.some((w) => w.count < w.sent * perSend());
  while (missing() && Date.now() < deadline) await sleep(10);
}

function closeReasons(conns: BenchConn[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of conns) {
    if (c.isOpen) continue;
    const key = c.closeReason ?? "closed";
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function closeAll(conns: BenchConn[]): Promise<void> {
  for (const c of conns) c.flushAck();
  await sleep(150);
  for (const c of conns) c.close();
}

/**
 * K receivers (resumed, spread over the nodes), one sender session (node 0) sending group
 * messages windowed (`rate` null) or paced; one measured window per phase, by send time.
 */
async function runGroup(
  cluster: Cluster,
  accounts: Accounts,
  o: { clients: number; window: number; rate: number | null; warmupMs: number },
  phases: GroupPhase[],
): Promise<{ phases: PhaseOut[]; info: Record<string, unknown> }> {
  const sink = new DeliverySink();
  const receiverAccounts = accounts.receivers.slice(0, o.clients);
  const connected = await connectAccounts(cluster, receiverAccounts, sink);
  const receivers = connected.conns.filter((c) => c !== undefined);
  const all = [...receivers];
  const ack = setInterval(() => {
    for (const c of receivers) c.flushAck();
  }, 100);
  try {
    if (receivers.length === 0) throw new Error(`no receiver connected: ${connected.errors}`);
    const senderConn = await BenchConn.open({ host: "127.0.0.1", port: cluster.nodes[0].port });
    all.push(senderConn);
    await helloResume(senderConn, accounts.sender.token, 15_000);
    await sleep(300);
    const sender = new GroupSender(senderConn, sink, o.window, o.rate, receivers);
    sender.start();
    await sleep(o.warmupMs);
    // Windows are keyed by send time: each is summarised after the final drain, so sends
    // in flight at a phase boundary count fully in their own phase.
    const done: { w: Window; m: Measure; extra?: Record<string, unknown> }[] = [];
    let previous: Window | null = null;
    for (let p = 0; p < phases.length; p++) {
      const phase = phases[p];
      const from = nowMs();
      if (previous) previous.until = from;
      const w = sink.open(phase.name, from);
      const meter = new Meter(cluster);
      const load = phase.during?.();
      await sleep(phase.ms);
      if (p === phases.length - 1) {
        w.until = nowMs();
        await sender.stop();
        await drain(sink.windows, () => receivers.filter((c) => c.isOpen).length, 5000);
      }
      const m = meter.stop();
      done.push({ w, m, extra: await load?.stop() });
      previous = w;
    }
    const open = receivers.filter((c) => c.isOpen).length;
    const outs = done.map(({ w, m, extra }) => phaseOut(cluster, w, m, open, extra));
    return {
      phases: outs,
      info: {
        receiversConnected: receivers.length,
        receiverConnectFailures: connected.failed,
        receiversClosedDuringRun: closeReasons(receivers),
        senderClosed: senderConn.isOpen ? null : senderConn.closeReason,
        senderErrors: sender.errors,
        pacedSlotsMissedWindowFull: sender.missed,
        valvePausedMs: Math.round(sender.pausedMs),
        deliveriesOutsideWindows: sink.outside,
        backlogMessages: sink.away,
        untimedMessages: sink.untimed,
        jsonCrossChecks: sink.checked,
        jsonCrossCheckMismatches: sink.mismatches,
        byteScanFastPath: fastPathFailure === null ? "on" : `OFF: ${fastPathFailure}`,
        serverRssKiB: clusterRss(cluster),
      },
    };
  } finally {
    clearInterval(ack);
    await closeAll(all);
  }
}

function phaseRows(p: PhaseOut, label = ""): [string, string][] {
  const m = p.measure;
  const l = p.latency;
  const pre = label ? `${label}: ` : "";
  const rows: [string, string][] = [
    [`${pre}messages sent (ok)`, `${fmt(p.sent)} (${fmt(p.sendPerS, 1)}/s)`],
    [`${pre}deliveries / expected`, `${fmt(p.deliveries)} / ${fmt(p.expected)}`],
    [`${pre}deliveries/s`, fmt(p.deliveriesPerS)],
    [
      `${pre}latency p50 / p99 / p99.9 / max`,
      `${fmt(l.p50Ms, 3)} / ${fmt(l.p99Ms, 3)} / ${fmt(l.p999Ms, 3)} / ${fmt(l.maxMs, 3)} ms`,
    ],
    [`${pre}server CPU`, `${fmt(m.serverCpuS, 2)} s (${fmt(m.serverCpuPct, 1)} % of a core)`],
  ];
  if (m.redisCpuS !== null) {
    rows.push([`${pre}redis CPU`, `${fmt(m.redisCpuS, 2)} s (${fmt(m.redisCpuPct, 1)} %)`]);
  }
  rows.push([`${pre}deliveries per server CPU-s`, fmt(p.deliveriesPerServerCpuS)]);
  if (p.deliveriesPerServerRedisCpuS !== null) {
    rows.push([`${pre}deliveries per (server+redis) CPU-s`, fmt(p.deliveriesPerServerRedisCpuS)]);
  }
  rows.push(
    [`${pre}bench CPU`, `${fmt(m.benchCpuS, 2)} s (${fmt(m.benchCpuPct, 1)} % of a core)`],
    [`${pre}core busy (/proc/stat)`, m.coreBusyPct.map((b, i) => `cpu${i} ${b} %`).join(", ")],
    [`${pre}other processes' CPU`, `${fmt(m.otherCpuPct, 1)} % of a core`],
    [`${pre}wall`, `${fmt(m.wallS, 2)} s — ${m.bound}${m.disturbed ? " — DISTURBED" : ""}`],
  );
  return rows;
}

function addSummary(result: Result, scenario: string, store: Store, p: PhaseOut): void {
  pushSummary(result, {
    scenario,
    store,
    rate: `${fmt(p.deliveriesPerS)} deliv/s`,
    p50: p.latency.p50Ms,
    p99: p.latency.p99Ms,
    p999: p.latency.p999Ms,
    max: p.latency.maxMs,
    measure: p.measure,
    perCpu: p.deliveriesPerServerRedisCpuS ?? p.deliveriesPerServerCpuS,
  });
}

function infoRows(info: Record<string, unknown>): [string, string][] {
  const show = (v: unknown) => typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  return Object.entries(info).map(([k, v]) => [k, show(v)]);
}

async function groupScenario(
  kind: "fanout" | "latency",
  cluster: Cluster,
  accounts: Accounts,
  s: Sizes,
  result: Result,
): Promise<void> {
  const rate = kind === "fanout" ? null : s.latencyRate;
  const ms = kind === "fanout" ? s.fanoutMs : s.latencyMs;
  result.params = {
    receivers: s.clients,
    senders: 1,
    window: s.window,
    rate: rate ?? "unlimited (window-bound)",
    durationMs: ms,
    warmupMs: s.warmupMs,
    nodes: cluster.nodes.length,
    ...(rate === null ? { lagLimitMessages: LAG_LIMIT } : {}),
  };
  progress(`${cluster.store}: ${kind} (${s.clients} receivers, ${ms / 1000} s)`);
  const run = await runGroup(
    cluster,
    accounts,
    { clients: s.clients, window: s.window, rate, warmupMs: s.warmupMs },
    [{ name: "main", ms }],
  );
  const p = run.phases[0];
  result.metrics = { ...p, ...run.info };
  rowsOf.set(result, [...phaseRows(p), ...infoRows(run.info)]);
  addSummary(result, kind, cluster.store, p);
  if (kind === "latency" && p.latency.p99Ms !== null) {
    result.notes.push(
      `p99 ${p.latency.p99Ms} ms ${p.latency.p99Ms <= 5 ? "meets" : "MISSES"} the 5 ms target`,
    );
  }
  if (p.deliveries < p.expected) {
    result.notes.push(`${p.expected - p.deliveries} deliveries missing after a 5 s drain`);
  }
}

// ---------------------------------------------------------------------------------------
// Private messages

async function privateScenario(
  cluster: Cluster,
  accounts: Accounts,
  s: Sizes,
  result: Result,
): Promise<void> {
  const pairs = Math.min(s.pairs, Math.floor(accounts.receivers.length / 2));
  const chosen = accounts.receivers.slice(0, pairs * 2);
  result.params = {
    pairs,
    totalRate: s.privateRate,
    durationMs: s.privateMs,
    warmupMs: s.warmupMs,
    nodes: cluster.nodes.length,
    placement: cluster.nodes.length > 1 ? "partners on different nodes" : "one node",
  };
  progress(`${cluster.store}: private (${pairs} pairs, ${s.privateRate}/s)`);
  const sink = new DeliverySink();
  const connected = await connectAccounts(cluster, chosen, sink);
  const conns = connected.conns;
  const ack = setInterval(() => {
    for (const c of conns) c?.flushAck();
  }, 100);
  try {
    if (connected.failed > 0) {
      throw new Error(`${connected.failed} pair connections failed: ${connected.errors}`);
    }
    const sender = new PrivateSender(conns, chosen.map((a) => a.name), sink, s.privateRate);
    sender.start();
    await sleep(s.warmupMs);
    const w = sink.open("main", nowMs());
    const meter = new Meter(cluster);
    await sleep(s.privateMs);
    w.until = nowMs();
    await sender.stop();
    await drain([w], () => 1, 5000);
    const m = meter.stop();
    const p = phaseOut(cluster, w, m, 1);
    const info = {
      sendErrors: sender.errors,
      slotsSkipped50InFlight: sender.missed,
      connectionsClosedDuringRun: closeReasons(conns),
      deliveriesOutsideWindows: sink.outside,
      backlogMessages: sink.away,
      jsonCrossChecks: sink.checked,
      jsonCrossCheckMismatches: sink.mismatches,
      serverRssKiB: clusterRss(cluster),
    };
    result.metrics = { ...p, ...info };
    rowsOf.set(result, [...phaseRows(p), ...infoRows(info)]);
    addSummary(result, "private", cluster.store, p);
    if (p.deliveries < p.expected) {
      result.notes.push(`${p.expected - p.deliveries} deliveries missing after a 5 s drain`);
    }
  } finally {
    clearInterval(ack);
    await closeAll(conns.filter((c) => c !== undefined));
  }
}

// ---------------------------------------------------------------------------------------
// Logins

async function loginScenario(
  cluster: Cluster,
  accounts: Accounts,
  s: Sizes,
  result: Result,
): Promise<void> {
  const port = cluster.nodes[0].port;
  result.params = {
    resumes: s.resumes,
    resumeConcurrency: s.resumeConcurrency,
    logins: s.logins,
    loginConcurrency: s.loginConcurrency,
    loginAccounts: accounts.loginNames.length,
    stormConcurrency: s.stormConcurrency,
    stormPhaseMs: s.stormPhaseMs,
    latencyRate: s.latencyRate,
    receivers: s.clients,
  };
  const rows: [string, string][] = [];
  const metrics: Record<string, unknown> = {};
  result.metrics = metrics;
  rowsOf.set(result, rows);

  progress(`${cluster.store}: login (a) ${s.resumes} resumes, concurrency ${s.resumeConcurrency}`);
  let meter = new Meter(cluster);
  const resumes = await pool(
    s.resumes,
    s.resumeConcurrency,
    Date.now() + 120_000,
    () => oneResume(port, accounts.resumer.token),
  );
  let m = meter.stop();
  metrics.resumes = {
    done: resumes.done,
    failed: resumes.failed,
    errors: Object.fromEntries(resumes.errors),
    perS: Math.round(resumes.done / m.wallS),
    serverCpuMsEach: resumes.done ? round((1000 * m.serverCpuS) / resumes.done, 3) : null,
    measure: m,
  };
  rows.push(
    ["(a) resumes done / failed", `${fmt(resumes.done)} / ${fmt(resumes.failed)}`],
    ["(a) resumes/s (connect+hello+resume+close)", fmt(resumes.done / m.wallS)],
    ["(a) server CPU per resume", `${fmt((1000 * m.serverCpuS) / (resumes.done || 1), 3)} ms`],
    ["(a) server / bench CPU", `${fmt(m.serverCpuPct, 1)} % / ${fmt(m.benchCpuPct, 1)} %`],
  );
  pushSummary(result, {
    scenario: "login: resumes",
    store: cluster.store,
    rate: `${fmt(resumes.done / m.wallS)} resumes/s`,
    p50: null,
    p99: null,
    p999: null,
    max: null,
    measure: m,
    perCpu: m.serverCpuS > 0 ? Math.round(resumes.done / m.serverCpuS) : null,
  });

  progress(
    `${cluster.store}: login (b) ${s.logins} password logins, concurrency ${s.loginConcurrency}`,
  );
  meter = new Meter(cluster);
  const logins = await pool(
    s.logins,
    s.loginConcurrency,
    Date.now() + 120_000,
    (i) => oneLogin(port, accounts.loginNames[i % accounts.loginNames.length]),
  );
  m = meter.stop();
  metrics.logins = {
    done: logins.done,
    failed: logins.failed,
    errors: Object.fromEntries(logins.errors),
    perS: round(logins.done / m.wallS, 1),
    serverCpuMsEach: logins.done ? round((1000 * m.serverCpuS) / logins.done, 2) : null,
    measure: m,
  };
  rows.push(
    ["(b) password logins done / failed", `${fmt(logins.done)} / ${fmt(logins.failed)}`],
    ["(b) password logins/s", fmt(logins.done / m.wallS, 1)],
    [
      "(b) server CPU per login (scrypt)",
      `${fmt((1000 * m.serverCpuS) / (logins.done || 1), 1)} ms`,
    ],
    ["(b) server / bench CPU", `${fmt(m.serverCpuPct, 1)} % / ${fmt(m.benchCpuPct, 1)} %`],
  );
  pushSummary(result, {
    scenario: "login: password",
    store: cluster.store,
    rate: `${fmt(logins.done / m.wallS, 1)} logins/s`,
    p50: null,
    p99: null,
    p999: null,
    max: null,
    measure: m,
    perCpu: m.serverCpuS > 0 ? round(logins.done / m.serverCpuS, 1) : null,
  });

  progress(
    `${cluster.store}: login (c) latency ${s.stormPhaseMs / 1000} s alone, then ` +
      `${s.stormPhaseMs / 1000} s with a storm of ${s.stormConcurrency} password logins`,
  );
  const run = await runGroup(
    cluster,
    accounts,
    { clients: s.clients, window: s.window, rate: s.latencyRate, warmupMs: s.warmupMs },
    [
      { name: "alone", ms: s.stormPhaseMs },
      {
        name: "storm",
        ms: s.stormPhaseMs,
        during: () => loginStorm(cluster, accounts.loginNames, s.stormConcurrency),
      },
    ],
  );
  const [alone, storm] = run.phases;
  metrics.latencyAlone = alone;
  metrics.latencyDuringStorm = storm;
  metrics.latencyInfo = run.info;
  const st = storm.extra as { logins: number; failed: number };
  rows.push(...phaseRows(alone, "(c) alone"), ...phaseRows(storm, "(c) storm"));
  rows.push(
    ["(c) storm logins done / failed", `${fmt(st.logins)} / ${fmt(st.failed)}`],
    ["(c) storm logins/s", fmt(st.logins / storm.measure.wallS, 1)],
    [
      "(c) p99 alone → during storm",
      `${fmt(alone.latency.p99Ms, 3)} → ${fmt(storm.latency.p99Ms, 3)} ms`,
    ],
    ...infoRows(run.info),
  );
  if (alone.latency.p99Ms !== null && storm.latency.p99Ms !== null) {
    result.notes.push(
      `chat p99 ${alone.latency.p99Ms} ms alone, ${storm.latency.p99Ms} ms during the storm ` +
        `(${round(storm.latency.p99Ms / Math.max(alone.latency.p99Ms, 0.001), 1)}x). scrypt runs ` +
        `on the server's worker threads, which share core 0 with its event loop here`,
    );
  }
  addSummary(result, "login: latency alone", cluster.store, alone);
  addSummary(result, "login: latency+storm", cluster.store, storm);
}

// ---------------------------------------------------------------------------------------
// Idle connections

/**
 * Above this many connections they go to 127.0.0.1-127.0.0.4 (server on 0.0.0.0). Linux
 * hands out even ephemeral ports to connect() first; 32768-60999 has ~14,100 of them, and
 * past that each connect() to the same destination searches long (measured here: the bench
 * core saturates and resumes/s fall from ~3,800 to ~600 beyond ~14,000 connections).
 * Four destinations keep every connect() cheap.
 */
const SPREAD_ABOVE = 10_000;

async function connectScenario(pin: Pinning, s: Sizes, result: Result): Promise<void> {
  const requested = s.connections;
  const selfLimit = openFileLimit("self") ?? 1024;
  const spread = Math.min(requested, selfLimit - 100) > SPREAD_ABOVE;
  const node = await spawnServer({
    nodeId: "bench-connect",
    core: pin.serverCore,
    listenHost: spread ? "0.0.0.0" : "127.0.0.1",
    extra: ["--kv", ":memory:", "--send-queue", String(SEND_QUEUE)],
  });
  const cluster: Cluster = { store: "kv", nodes: [node], redis: null, stop: () => node.stop() };
  const conns: BenchConn[] = [];
  try {
    const serverLimit = openFileLimit(node.pid) ?? selfLimit;
    const limit = Math.min(selfLimit, serverLimit) - 100;
    const n = Math.min(requested, limit);
    result.params = {
      requested,
      connections: n,
      concurrency: s.connectConcurrency,
      idleMs: s.idleMs,
      destinations: spread ? "127.0.0.1-127.0.0.4 (server on 0.0.0.0)" : "127.0.0.1",
      openFileLimit: { bench: selfLimit, server: serverLimit },
    };
    result.notes.push(
      `100,000 connections cannot be reached on this machine: RLIMIT_NOFILE is ` +
        `${Math.min(selfLimit, serverLimit)} per process (hard limit, cannot be raised) and the ` +
        `server holds one descriptor per connection, so one server process tops out near ` +
        `${limit}; the per-connection figure below is measured at N=${n}.`,
    );
    if (n < requested) result.notes.push(`--connections ${requested} clamped to ${n}`);
    progress(`kv: connect ${n} idle connections (concurrency ${s.connectConcurrency})`);

    const setup = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    await setup.request({ type: "hello", protocol: 1 });
    await setup.request({ type: "register", name: "idle01", password: PASSWORD, nickname: "IDLE" });
    setup.close();
    const login = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    const token = await helloLogin(login, "idle01", PASSWORD, 20_000);
    login.close();
    await sleep(500);
    const rssBefore = rssKiB(node.pid) ?? 0;
    const benchRssBefore = Deno.memoryUsage().rss;

    const meter = new Meter(cluster);
    const started = performance.now();
    const open = async (i: number) => {
      const host = spread ? `127.0.0.${1 + (i % 4)}` : "127.0.0.1";
      const conn = await BenchConn.open({ host, port: node.port, bufferBytes: 1024 });
      try {
        await helloResume(conn, token, 30_000);
      } catch (error) {
        conn.close();
        throw error;
      }
      conns.push(conn);
    };
    // Two halves, with the server's RSS read in between: the second half's growth is the
    // marginal cost of a connection, free of the fixed cost of a warm heap.
    const half = Math.floor(n / 2);
    const first = await pool(half, s.connectConcurrency, Date.now() + 300_000, open);
    const firstS = (performance.now() - started) / 1000;
    await sleep(s.idleMs);
    const rssHalf = rssKiB(node.pid) ?? 0;
    const openedHalf = conns.length;
    const secondStarted = performance.now();
    const second = await pool(
      n - half,
      s.connectConcurrency,
      Date.now() + 300_000,
      (i) => open(half + i),
    );
    const connectS = firstS + (performance.now() - secondStarted) / 1000;
    const res = {
      failed: first.failed + second.failed,
      errors: new Map([...first.errors, ...second.errors]),
    };
    const m = meter.stop();
    const rssAfter = rssKiB(node.pid) ?? 0;
    await sleep(s.idleMs);
    const rssIdle = rssKiB(node.pid) ?? 0;
    const stillOpen = conns.filter((c) => c.isOpen).length;
    const benchRss = Deno.memoryUsage().rss;
    const perConn = conns.length ? (rssIdle - rssBefore) / conns.length : null;
    const marginal = conns.length > openedHalf
      ? (rssIdle - rssHalf) / (conns.length - openedHalf)
      : null;
    for (const c of conns) c.close();
    await sleep(1000);
    const rssClosed = rssKiB(node.pid) ?? 0;

    result.metrics = {
      connected: conns.length,
      failed: res.failed,
      errors: Object.fromEntries(res.errors),
      connectSeconds: round(connectS, 3),
      resumesPerS: Math.round(conns.length / connectS),
      serverCpuMsPerResume: conns.length ? round((1000 * m.serverCpuS) / conns.length, 3) : null,
      serverRssKiB: {
        before: rssBefore,
        afterConnect: rssAfter,
        afterIdle: rssIdle,
        afterClose: rssClosed,
      },
      rssDeltaPerConnectionKiB: perConn === null ? null : round(perConn, 2),
      marginalPerConnectionKiB: marginal === null ? null : round(marginal, 2),
      serverRssAtHalfKiB: rssHalf,
      extrapolated100kMiB: perConn === null ? null : Math.round((perConn * 100_000) / 1024),
      stillOpenAfterIdle: stillOpen,
      benchRssMiB: {
        before: round(benchRssBefore / 2 ** 20, 1),
        withConnections: round(benchRss / 2 ** 20, 1),
      },
      measure: m,
      serverPid: node.pid,
      serverPidNote: node.pidNote,
    };
    rowsOf.set(result, [
      [
        "connections requested / opened / failed",
        `${fmt(requested)} / ${fmt(conns.length)} / ${fmt(res.failed)}`,
      ],
      ["time to connect all (hello+resume)", `${fmt(connectS, 2)} s`],
      ["resumes/s", fmt(conns.length / connectS)],
      [
        "server CPU while connecting",
        `${fmt(m.serverCpuS, 2)} s (${fmt(m.serverCpuPct, 1)} %), ${
          fmt((1000 * m.serverCpuS) / (conns.length || 1), 3)
        } ms/resume`,
      ],
      ["bench CPU while connecting", `${fmt(m.benchCpuS, 2)} s (${fmt(m.benchCpuPct, 1)} %)`],
      ["core busy while connecting", m.coreBusyPct.map((b, i) => `cpu${i} ${b} %`).join(", ")],
      ["other processes' CPU", `${fmt(m.otherCpuPct, 1)} % of a core`],
      ["verdict", m.bound],
      ["server RSS before", `${fmt(rssBefore / 1024, 1)} MiB`],
      ["server RSS after connect", `${fmt(rssAfter / 1024, 1)} MiB`],
      [
        `server RSS after ${s.idleMs / 1000} s idle`,
        `${fmt(rssIdle / 1024, 1)} MiB (${fmt(stillOpen)} still open)`,
      ],
      ["RSS delta per connection", `${fmt(perConn, 2)} KiB`],
      ["marginal RSS per connection (2nd half)", `${fmt(marginal, 2)} KiB`],
      [
        "→ 100k connections would need",
        `≈ ${
          fmt(perConn === null ? null : (perConn * 100_000) / 1024)
        } MiB (one process cannot hold them here)`,
      ],
      ["server RSS 1 s after closing all", `${fmt(rssClosed / 1024, 1)} MiB`],
      ["bench RSS with the connections", `${fmt(benchRss / 2 ** 20, 1)} MiB`],
    ]);
    if (res.failed > 0) {
      result.notes.push(`${res.failed} connections failed: ${[...res.errors.keys()]}`);
    }
  } finally {
    for (const c of conns) c.close();
    await cluster.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Output

/** Highest share of a core other processes used in any measurement of `metrics`. */
function disturbance(metrics: unknown): number {
  if (typeof metrics !== "object" || metrics === null) return 0;
  let max = 0;
  for (const [key, value] of Object.entries(metrics)) {
    if (key === "discardedAttempts") continue;
    if (key === "otherCpuPct" && typeof value === "number") max = Math.max(max, value);
    else max = Math.max(max, disturbance(value));
  }
  return max;
}

async function machine(
  pin: Pinning,
  clkTck: number,
  nproc: number,
): Promise<Record<string, unknown>> {
  let cpuModel = "?";
  try {
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ??
      "?";
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    nproc,
    cpuModel,
    kernel: Deno.osRelease(),
    deno: Deno.version,
    redisServer: await capture("redis-server", ["--version"]),
    // The server measured is the working tree: say which commit and what differs from it.
    git: {
      head: await capture("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
      uncommitted:
        (await capture("git", ["-C", ROOT, "status", "--porcelain", "--", "server.ts", "lib"]))
          ?.split("\n").filter(Boolean).map((line) => line.trim()) ?? [],
    },
    clkTck,
    rlimitNofile: openFileLimit("self"),
    pinning: pin.note,
    serverFlags: `--host 127.0.0.1 --port <free> --kv :memory: --rate 0 --log-level warn ` +
      `--send-queue ${SEND_QUEUE} --node-id <id> [--redis <url> --redis-prefix bench:]`,
    receive: "raw read() loop per connection, length headers walked in place, message frames " +
      "byte-scanned (layout verified against JSON.parse on each connection's first message " +
      "and on every 100th); EVERY delivery is timed, receive time taken once per read()",
    acks: "one cumulative ack per connection at most every 100 ms",
    backlog: "logins/resumes pass since=1e15, so no group backlog is replayed",
  };
}

function printResult(r: Result): void {
  console.log(`\n=== ${r.scenario} · ${r.store} ${r.ok ? "" : "(FAILED)"}`.trimEnd());
  const params = Object.entries(r.params).map(([k, v]) =>
    `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`
  );
  if (params.length) console.log(`params: ${params.join(", ")}`);
  const rows = rowsOf.get(r) ?? [];
  if (rows.length) console.log(table(["metric", "value"], rows.map(([a, b]) => [a, b]), [1]));
  for (const n of r.notes) console.log(`note: ${n}`);
  if (r.error) console.log(`error: ${r.error}`);
}

function printSummary(results: Result[]): void {
  const summary = results.flatMap((r) => summaryOf.get(r) ?? []);
  if (summary.length === 0) return;
  console.log("\n=== summary (server side = nodes + redis on core 0; bench on core 1)");
  console.log(
    "srv CPU% = server nodes + redis-server, % of one core; per srv CPU-s = deliveries " +
      "(or logins) per server-side CPU-second; other CPU% = unrelated processes (≥ 10 % " +
      "marks the row DISTURBED)",
  );
  console.log(table(
    [
      "scenario",
      "store",
      "throughput",
      "p50 ms",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "srv CPU%",
      "bench CPU%",
      "other CPU%",
      "per srv CPU-s",
      "verdict",
    ],
    summary.map((r) => [
      r.scenario,
      r.store,
      r.rate,
      fmt(r.p50, 3),
      fmt(r.p99, 3),
      fmt(r.p999, 3),
      fmt(r.max, 3),
      r.measure ? fmt(r.measure.serverCpuPct + (r.measure.redisCpuPct ?? 0), 1) : "-",
      r.measure ? fmt(r.measure.benchCpuPct, 1) : "-",
      r.measure ? fmt(r.measure.otherCpuPct, 1) : "-",
      fmt(r.perCpu),
      r.measure ? `${r.measure.bound}${r.measure.disturbed ? " (DISTURBED)" : ""}` : "-",
    ]),
    [11],
  ));
}

// ---------------------------------------------------------------------------------------
// Main

async function main(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  let options: Options;
  try {
    options = parseArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  const { scenarios, stores, sizes: s } = options;
  // Before pinning: nproc counts the cores this process may use.
  const cores = Number(await capture("nproc", [])) || navigator.hardwareConcurrency;
  const clkTck = await initClockTicks();
  const pin = await pinSelf(cores);
  progress(pin.note);
  const meta = await machine(pin, clkTck, cores);
  const results: Result[] = [];
  const processes: Record<string, unknown>[] = [];
  const output = { meta: { ...meta, quick: options.quick, args, sizes: s, processes }, results };

  const writeJson = async () => {
    const dir = options.out.includes("/") ? options.out.slice(0, options.out.lastIndexOf("/")) : "";
    if (dir) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(options.out, JSON.stringify(output, null, 2) + "\n");
  };
  // Hard stop: whatever happens, nothing runs longer than this.
  const budgetMs = options.quick ? 240_000 : 1_500_000;
  const watchdog = setTimeout(async () => {
    console.error(`bench: overall time budget of ${budgetMs / 1000} s exceeded; aborting`);
    await killAll();
    await writeJson().catch(() => {});
    Deno.exit(3);
  }, budgetMs);
  const onSignal = async () => {
    console.error("bench: interrupted; stopping children");
    await killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  /**
   * Runs one scenario. When other processes disturbed its measurements (and not --quick),
   * waits for quiet and runs it once more, keeping the less disturbed attempt.
   */
  const run = async (
    scenario: Scenario,
    store: Store,
    body: (r: Result) => Promise<void>,
    quiet: () => Promise<unknown>,
  ) => {
    const attempts: Result[] = [];
    const maxAttempts = options.quick ? 1 : 2;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const result: Result = { scenario, store, ok: true, params: {}, metrics: {}, notes: [] };
      attempts.push(result);
      try {
        await body(result);
      } catch (error) {
        result.ok = false;
        result.error = error instanceof Error ? error.message : String(error);
        progress(`${scenario} (${store}) failed: ${result.error}`);
      }
      const other = disturbance(result.metrics);
      if (other < 10 || !result.ok || attempt === maxAttempts) break;
      progress(
        `${scenario} (${store}): other processes used up to ${other} % of a core during ` +
          `the measurement; running it again`,
      );
      await quiet();
    }
    const ok = attempts.filter((r) => r.ok);
    const kept = (ok.length ? ok : attempts).reduce((a, b) =>
      disturbance(b.metrics) < disturbance(a.metrics) ? b : a
    );
    if (attempts.length > 1) {
      kept.notes.push(
        `measured twice because of other load on the machine; kept the attempt with ` +
          `${disturbance(kept.metrics)} % foreign CPU (others: ` +
          `${attempts.filter((a) => a !== kept).map((a) => disturbance(a.metrics))} %)`,
      );
      kept.metrics.discardedAttempts = attempts.filter((a) => a !== kept).map((a) => ({
        ok: a.ok,
        error: a.error,
        metrics: a.metrics,
      }));
    }
    results.push(kept);
    printResult(kept);
  };

  console.log(`imchat benchmark — ${meta.date}`);
  console.log(
    `machine: nproc=${meta.nproc}, cpu "${meta.cpuModel}", kernel ${meta.kernel}, ` +
      `deno ${Deno.version.deno} (v8 ${Deno.version.v8}), CLK_TCK ${clkTck}, ` +
      `RLIMIT_NOFILE ${meta.rlimitNofile}`,
  );
  console.log(`pinning: ${pin.note}`);
  const git = meta.git as { head: string | null; uncommitted: string[] };
  console.log(
    `server code: commit ${git.head ?? "?"}` +
      (git.uncommitted.length ? ` + uncommitted ${git.uncommitted.join(", ")}` : ""),
  );
  console.log(`server: ${meta.serverFlags}`);
  console.log(`receive: ${meta.receive}`);
  if (options.quick) console.log("mode: --quick (small phases; figures are not representative)");

  try {
    for (const store of stores) {
      const wanted = scenarios.filter((sc) => store === "kv" || REDIS_SCENARIOS.includes(sc));
      for (const sc of scenarios.filter((x) => !wanted.includes(x))) {
        console.log(`\n(${sc} runs in kv mode only; skipped for ${store})`);
      }
      if (wanted.includes("connect")) {
        if (!options.quick) await waitQuiet(null, 60_000);
        await run(
          "connect",
          store,
          (r) => connectScenario(pin, s, r),
          () => waitQuiet(null, 60_000),
        );
      }
      const chat = wanted.filter((sc) => sc !== "connect");
      if (chat.length === 0) continue;
      let cluster: Cluster | null = null;
      try {
        progress(
          `${store}: starting ${store === "kv" ? "one node" : "redis-server and two nodes"}`,
        );
        cluster = await startCluster(store, pin, store);
        for (const n of cluster.nodes) {
          progress(`${store}: node ${n.nodeId} port ${n.port}: ${n.pidNote}`);
          processes.push({ role: `server ${n.nodeId}`, pid: n.pid, note: n.pidNote, args: n.args });
        }
        if (cluster.redis) {
          processes.push({
            role: "redis-server",
            pid: cluster.redis.pid,
            note: `${cluster.redis.url}, --save "" --appendonly no, pinned like the nodes`,
          });
        }
        const loginUsers = chat.includes("login") ? s.loginUsers : 0;
        const receivers = Math.max(s.clients, chat.includes("private") ? s.pairs * 2 : 0);
        const accounts = await setupAccounts(cluster, receivers, loginUsers);
        for (const sc of chat) {
          if (!options.quick) await waitQuiet(cluster, 60_000);
          await run(sc, store, (r) => {
            if (sc === "fanout" || sc === "latency") {
              return groupScenario(sc, cluster!, accounts, s, r);
            }
            if (sc === "private") return privateScenario(cluster!, accounts, s, r);
            return loginScenario(cluster!, accounts, s, r);
          }, () => waitQuiet(cluster, 60_000));
          const c = cluster;
          const events = c.nodes.map((n) => `${n.nodeId}: ${JSON.stringify(n.logEvents)}`);
          const last = results[results.length - 1];
          last.metrics.serverWarnings = Object.fromEntries(
            c.nodes.map((n) => [n.nodeId, { ...n.logEvents }]),
          );
          if (c.nodes.some((n) => Object.keys(n.logEvents).length > 0)) {
            progress(`${store}: server warn/error log events so far: ${events.join("; ")}`);
          }
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        progress(`${store}: cluster failed: ${message}`);
        for (
          const sc of chat.filter((x) =>
            !results.some((r) => r.scenario === x && r.store === store)
          )
        ) {
          results.push({
            scenario: sc,
            store,
            ok: false,
            error: `cluster: ${message}`,
            params: {},
            metrics: {},
            notes: [],
          });
          printResult(results[results.length - 1]);
        }
      } finally {
        if (cluster) {
          const cpu = cluster.nodes.map((n) => `${n.nodeId} pid ${n.pid}`).join(", ");
          await cluster.stop();
          progress(
            `${store}: stopped ${cpu}${cluster.redis ? `, redis pid ${cluster.redis.pid}` : ""}`,
          );
        }
      }
    }
    printSummary(results);
    await writeJson();
    console.log(`\nJSON: ${options.out}`);
  } finally {
    clearTimeout(watchdog);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await killAll();
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
