/**
 * Load primitives of the benchmark: imchat server clusters (one Deno KV node, or two nodes
 * on one Redis), account setup, CPU meters, imchat as a room and an idle target, a paced
 * private sender and a password-login storm.
 *
 * @module
 */

import {
  BenchConn,
  fastPathFailure,
  helloLogin,
  helloResume,
  ReplyError,
  type Transport,
} from "./_bench_client.ts";
import {
  type DeliverySink,
  nowMs,
  pace,
  pool,
  sleep,
  stampText,
  withTimeout,
} from "./_bench_common.ts";
import {
  coreBusy,
  coreTimes,
  cpuSeconds,
  descendantPids,
  freePort,
  otherCpu,
  type Pinning,
  type RedisProc,
  rssKiB,
  type ServerNode,
  spawnRedis,
  spawnServer,
  treeCpuSeconds,
} from "./_bench_proc.ts";
import { round } from "./_bench_stats.ts";
import {
  type IdleConn,
  type IdleTarget,
  type Receiver,
  receiverName,
  type RoomTarget,
  type Sender,
  senderName,
  type ServerSide,
} from "./_bench_target.ts";

/** The room of the fan-out scenarios: the lobby every registered account is in. */
export const LOBBY = "lobby";

/** Password of every benchmark account. */
export const PASSWORD = "bench-password-1";
/** The server's per-connection queue for the bench: headroom above the 1 MiB default. */
export const SEND_QUEUE = 8 * 1024 * 1024;

/** Writes a progress line to stderr. */
export function progress(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** The server side of one store mode. */
export interface Cluster {
  store: "kv" | "redis";
  nodes: ServerNode[];
  redis: RedisProc | null;
  /** HTTP (WebSocket) port of each node, in node order. */
  httpPorts: number[];
  stop(): Promise<void>;
}

/** Starts one KV node, or a redis-server and two nodes (ids `a`, `b`) on it. */
export async function startCluster(
  store: "kv" | "redis",
  pin: Pinning,
  tag: string,
): Promise<Cluster> {
  const base = ["--send-queue", String(SEND_QUEUE)];
  const httpPorts: number[] = [];
  const http = () => {
    httpPorts.push(freePort());
    return ["--http-port", String(httpPorts[httpPorts.length - 1])];
  };
  if (store === "kv") {
    const node = await spawnServer({
      nodeId: `bench-${tag}`,
      core: pin.serverCore,
      extra: ["--kv", ":memory:", ...base, ...http()],
    });
    return { store, nodes: [node], redis: null, httpPorts, stop: () => node.stop() };
  }
  const redis = await spawnRedis(pin.serverCore);
  const nodes: ServerNode[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await redis.stop();
  };
  try {
    for (const id of ["a", "b"]) {
      nodes.push(
        await spawnServer({
          nodeId: `bench-${tag}-${id}`,
          core: pin.serverCore,
          extra: ["--redis", redis.url, "--redis-prefix", "bench:", ...base, ...http()],
        }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { store, nodes, redis, httpPorts, stop };
}

/** CPU, wall and core-busy figures over one measured window. */
export interface Measure {
  wallS: number;
  /** Sum over server nodes; percentages are of one core. */
  serverCpuS: number;
  serverCpuPct: number;
  redisCpuS: number | null;
  redisCpuPct: number | null;
  benchCpuS: number;
  benchCpuPct: number;
  /** Busy share of each core from /proc/stat (includes softirq work of loopback TCP). */
  coreBusyPct: number[];
  /** CPU of every other user-space process (other work on the machine disturbs the figures). */
  otherCpuPct: number;
  /**
   * Busy time of all cores (/proc/stat) that no process measured here accounts for: processes
   * that started and ended inside the window, kernel threads, time stolen by the hypervisor.
   */
  unaccountedPct: number;
  /** Which side looks saturated. */
  bound: string;
  /** Other processes, or unaccounted busy time, took 10 % of a core or more. */
  disturbed: boolean;
}

/** CPU seconds of redis-server processes. */
function redisCpu(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
}

/** Snapshots CPU counters now; `stop()` returns the figures since. */
export class Meter {
  readonly #cluster: ServerSide;
  readonly #t0 = performance.now();
  readonly #server: number[];
  readonly #redis: number | null;
  readonly #bench: number;
  readonly #cores = coreTimes();
  readonly #ours: Set<number>;
  readonly #others: Map<number, number>;

  constructor(cluster: ServerSide) {
    this.#cluster = cluster;
    // A node's hashing workers are part of the server.
    this.#ours = new Set([
      Deno.pid,
      ...cluster.nodes.flatMap((n) => [n.pid, ...descendantPids(n.pid)]),
    ]);
    for (const pid of cluster.redis?.pids ?? []) this.#ours.add(pid);
    this.#others = otherCpu(this.#ours);
    this.#server = cluster.nodes.map((n) => treeCpuSeconds(n.pid) ?? 0);
    this.#redis = cluster.redis ? redisCpu(cluster.redis.pids) : null;
    this.#bench = cpuSeconds(Deno.pid) ?? 0;
  }

  stop(): Measure {
    const wallS = (performance.now() - this.#t0) / 1000;
    const serverCpuS = this.#cluster.nodes.reduce(
      (sum, n, i) => sum + ((treeCpuSeconds(n.pid) ?? 0) - this.#server[i]),
      0,
    );
    const redisCpuS = this.#cluster.redis && this.#redis !== null
      ? redisCpu(this.#cluster.redis.pids) - this.#redis
      : null;
    const benchCpuS = (cpuSeconds(Deno.pid) ?? 0) - this.#bench;
    let others = 0;
    for (const [pid, cpu] of otherCpu(this.#ours)) others += cpu - (this.#others.get(pid) ?? 0);
    const pct = (s: number) => round((100 * s) / wallS, 1);
    const otherPct = pct(others);
    const serverSide = pct(serverCpuS + (redisCpuS ?? 0));
    const bench = pct(benchCpuS);
    const bound = bench >= 90 && serverSide < 85
      ? "BENCH-BOUND (bench core saturated, server core not)"
      : serverSide >= 90 && bench < 85
      ? "server-bound"
      : serverSide >= 90 && bench >= 90
      ? "both cores saturated"
      : "neither core saturated";
    const coreBusyPct = coreBusy(this.#cores, coreTimes());
    const busy = coreBusyPct.reduce((a, b) => a + b, 0);
    const unaccounted = round(Math.max(0, busy - serverSide - bench - otherPct), 1);
    return {
      wallS: round(wallS, 3),
      serverCpuS: round(serverCpuS, 2),
      serverCpuPct: pct(serverCpuS),
      redisCpuS: redisCpuS === null ? null : round(redisCpuS, 2),
      redisCpuPct: redisCpuS === null ? null : pct(redisCpuS),
      benchCpuS: round(benchCpuS, 2),
      benchCpuPct: bench,
      coreBusyPct,
      otherCpuPct: otherPct,
      unaccountedPct: unaccounted,
      bound,
      disturbed: otherPct >= 10 || unaccounted >= 10,
    };
  }
}

/**
 * Waits until unrelated work takes less than 5 % of a core over a second, at most `maxMs`:
 * other processes, and busy time of the cores that our processes do not account for (work
 * of processes too short-lived to be seen). Returns the last reading (percent of a core).
 */
export async function waitQuiet(cluster: ServerSide | null, maxMs: number): Promise<number> {
  const nodes = cluster?.nodes.map((n) => n.pid) ?? [];
  const ours = new Set([Deno.pid, ...nodes, ...nodes.flatMap((pid) => descendantPids(pid))]);
  for (const pid of cluster?.redis?.pids ?? []) ours.add(pid);
  const ourCpu = () => [...ours].reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
  const deadline = Date.now() + maxMs;
  let told = false;
  for (;;) {
    const before = otherCpu(ours);
    const cores = coreTimes();
    const mine = ourCpu();
    await sleep(1000);
    let used = 0;
    for (const [pid, cpu] of otherCpu(ours)) used += cpu - (before.get(pid) ?? 0);
    const busy = coreBusy(cores, coreTimes()).reduce((a, b) => a + b, 0);
    const pct = round(Math.max(100 * used, busy - 100 * (ourCpu() - mine)), 1);
    if (pct < 5 || Date.now() >= deadline) {
      if (told || pct >= 5) progress(`other work now takes ${pct} % of a core; going on`);
      return pct;
    }
    if (!told) progress(`other work takes ${pct} % of a core; waiting up to ${maxMs / 1000} s`);
    told = true;
  }
}

/** RSS of each node (KiB). */
export function clusterRss(cluster: ServerSide): number[] {
  return cluster.nodes.map((n) => rssKiB(n.pid) ?? 0);
}

/** A benchmark account. */
export interface Account {
  name: string;
  token: string;
}

/** The accounts of one cluster. */
export interface Accounts {
  receivers: Account[];
  /** Senders of the room scenarios. */
  senders: Account[];
  resumer: Account;
  /** Accounts for password logins (no token kept). */
  loginNames: string[];
}

/**
 * Registers the accounts (spread over the nodes, 8 at once) and logs each one that needs a
 * token in once with its password. Costs two scrypt hashes per account on the server.
 */
export async function setupAccounts(
  cluster: Cluster,
  receivers: number,
  loginUsers: number,
  senders: number,
): Promise<Accounts> {
  const senderNames = Array.from({ length: senders }, (_, i) => senderName(i));
  const withToken = [
    ...Array.from({ length: receivers }, (_, i) => receiverName(i)),
    ...senderNames,
    "resumer01",
  ];
  const plain = Array.from({ length: loginUsers }, (_, i) => `lg${String(i).padStart(3, "0")}`);
  const all = [...withToken, ...plain];
  const tokens = new Map<string, string>();
  const started = performance.now();
  const result = await pool(all.length, 8, Date.now() + 180_000, async (i) => {
    const name = all[i];
    const node = cluster.nodes[i % cluster.nodes.length];
    const conn = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    try {
      await withTimeout(
        conn.request({ type: "hello", protocol: 2 }).then(() =>
          conn.request({
            type: "register",
            name,
            password: PASSWORD,
            nickname: name.toUpperCase(),
          }).catch((error) => {
            if (!(error instanceof ReplyError && error.code === "NAME_TAKEN")) throw error;
          })
        ),
        20_000,
        "register",
      );
    } finally {
      conn.close();
    }
    if (i >= withToken.length) return;
    const login = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    try {
      tokens.set(name, await helloLogin(login, name, PASSWORD, 20_000));
    } finally {
      login.close();
    }
  });
  if (result.failed > 0) {
    throw new Error(`account setup failed for ${result.failed}: ${[...result.errors.keys()]}`);
  }
  progress(
    `${cluster.store}: ${all.length} accounts registered, ${tokens.size} logged in, ` +
      `${round((performance.now() - started) / 1000, 1)} s`,
  );
  const account = (name: string) => ({ name, token: tokens.get(name)! });
  return {
    receivers: withToken.slice(0, receivers).map(account),
    senders: senderNames.map(account),
    resumer: account("resumer01"),
    loginNames: plain,
  };
}

/**
 * Opens one resumed connection per account, account i on node i mod nodes, 50 at once.
 * Returns the connections that made it and the failures.
 */
export async function connectAccounts(
  cluster: Cluster,
  accounts: Account[],
  sink: DeliverySink,
  transport: Transport = "tcp",
): Promise<{ conns: BenchConn[]; failed: number; errors: string[] }> {
  const conns: BenchConn[] = [];
  const result = await pool(accounts.length, 50, Date.now() + 60_000, async (i) => {
    const conn = await openOn(cluster, i, transport);
    try {
      await helloResume(conn, accounts[i].token, 15_000);
    } catch (error) {
      conn.close();
      throw error;
    }
    conn.sink = sink;
    conns[i] = conn;
  });
  return { conns, failed: result.failed, errors: [...result.errors.keys()] };
}

/** Opens a connection to node `i mod nodes` over `transport`. */
function openOn(cluster: Cluster, i: number, transport: Transport): Promise<BenchConn> {
  const n = i % cluster.nodes.length;
  const port = transport === "ws" ? cluster.httpPorts[n] : cluster.nodes[n].port;
  return BenchConn.open({ host: "127.0.0.1", port, transport });
}

/** Counts of errors by code. */
function bump(counts: Record<string, number>, error: unknown): void {
  const key = error instanceof ReplyError ? error.code : "closed";
  counts[key] = (counts[key] ?? 0) + 1;
}

/** An imchat session sending group messages. */
export class ImchatSender implements Sender {
  readonly #conn: BenchConn;
  readonly #room: string;

  constructor(conn: BenchConn, room: string) {
    this.#conn = conn;
    this.#room = room;
  }

  get isOpen(): boolean {
    return this.#conn.isOpen;
  }

  get closeReason(): string | null {
    return this.#conn.closeReason;
  }

  send(text: string): Promise<void> {
    return this.#conn.request({ type: "send", room: this.#room, text }).then(() => {}, (error) => {
      throw new Error(error instanceof ReplyError ? error.code : "closed");
    });
  }

  flushAck(): void {
    this.#conn.flushAck();
  }

  close(): void {
    this.#conn.close();
  }
}

/**
 * imchat as a room target: receivers are the resumed sessions of the receiver accounts
 * (account i on node i mod nodes), sender i resumes `senders[i]` on node i mod nodes; the
 * room is the group.
 */
export function imchatRoom(
  cluster: Cluster,
  accounts: Accounts,
  transport: Transport = "tcp",
): RoomTarget {
  return {
    side: cluster,
    acks: true,
    async openReceivers(n, sink) {
      const res = await connectAccounts(cluster, accounts.receivers.slice(0, n), sink, transport);
      const conns: Receiver[] = res.conns.filter((c) => c !== undefined);
      return { conns, failed: res.failed, errors: res.errors };
    },
    async openSender(i) {
      const account = accounts.senders[i];
      if (!account) throw new Error(`no account for sender ${i + 1}`);
      const conn = await openOn(cluster, i, transport);
      try {
        await helloResume(conn, account.token, 15_000);
      } catch (error) {
        conn.close();
        throw error;
      }
      return new ImchatSender(conn, LOBBY);
    },
    info: () => ({
      transport: transport === "ws" ? "WebSocket (/ws, one text message per frame)" : "TCP",
      byteScanFastPath: fastPathFailure === null ? "on" : `OFF: ${fastPathFailure}`,
    }),
  };
}

/**
 * One imchat node on Deno KV as an idle target: every connection resumes one account with
 * its token. With `spread`, the node listens on 0.0.0.0 and connections go to `hosts`.
 */
export async function imchatIdle(pin: Pinning, spread: string[] | null): Promise<IdleTarget> {
  const node = await spawnServer({
    nodeId: "bench-connect",
    core: pin.serverCore,
    listenHost: spread ? "0.0.0.0" : "127.0.0.1",
    extra: ["--kv", ":memory:", "--send-queue", String(SEND_QUEUE)],
  });
  try {
    const setup = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    try {
      await setup.request({ type: "hello", protocol: 2 });
      await setup.request({
        type: "register",
        name: "idle01",
        password: PASSWORD,
        nickname: "IDLE",
      });
    } finally {
      setup.close();
    }
    const login = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
    let token: string;
    try {
      token = await helloLogin(login, "idle01", PASSWORD, 20_000);
    } finally {
      login.close();
    }
    return {
      pid: node.pid,
      pidNote: node.pidNote,
      hosts: spread ?? ["127.0.0.1"],
      async openIdle(_i, host): Promise<IdleConn> {
        const conn = await BenchConn.open({ host, port: node.port, bufferBytes: 1024 });
        try {
          await helloResume(conn, token, 30_000);
        } catch (error) {
          conn.close();
          throw error;
        }
        return conn;
      },
      stop: () => node.stop(),
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

/**
 * Private messages between pairs (connection 2i and 2i+1 talk to each other) at `rate` per
 * second in total, round robin over the senders; a sender with 50 sends in flight skips its
 * turn.
 */
export class PrivateSender {
  readonly #conns: BenchConn[];
  readonly #names: string[];
  readonly #sink: DeliverySink;
  readonly #rate: number;
  ok = 0;
  missed = 0;
  errors: Record<string, number> = {};
  #next = 0;
  #stopPace: (() => void) | null = null;

  constructor(conns: BenchConn[], names: string[], sink: DeliverySink, rate: number) {
    this.#conns = conns;
    this.#names = names;
    this.#sink = sink;
    this.#rate = rate;
  }

  start(): void {
    this.#stopPace = pace(this.#rate, () => this.#issue());
  }

  async stop(ms = 5000): Promise<void> {
    this.#stopPace?.();
    const deadline = Date.now() + ms;
    while (this.#conns.some((c) => c.isOpen && c.inFlight > 0) && Date.now() < deadline) {
      await sleep(5);
    }
  }

  #issue(): void {
    const i = this.#next;
    this.#next = (i + 1) % this.#conns.length;
    const conn = this.#conns[i];
    if (!conn.isOpen || conn.inFlight >= 50) {
      this.missed++;
      return;
    }
    const sendMs = nowMs();
    conn.request({ type: "send", to: this.#names[i ^ 1], text: stampText(sendMs) }).then(() => {
      this.ok++;
      this.#sink.countSent(sendMs);
    }, (error) => bump(this.errors, error));
  }
}

/** Password logins by `concurrency` workers (worker w logs in as `names[w % n]`) until stopped. */
export function loginStorm(
  cluster: Cluster,
  names: string[],
  concurrency: number,
): { stop(): Promise<{ logins: number; failed: number; errors: Record<string, number> }> } {
  let running = true;
  let logins = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const worker = async (w: number) => {
    const node = cluster.nodes[w % cluster.nodes.length];
    while (running) {
      let conn: BenchConn | null = null;
      try {
        conn = await BenchConn.open({ host: "127.0.0.1", port: node.port, bufferBytes: 16384 });
        await helloLogin(conn, names[w % names.length], PASSWORD, 20_000);
        logins++;
      } catch (error) {
        failed++;
        const key = error instanceof ReplyError ? error.code : String(error).slice(0, 60);
        errors[key] = (errors[key] ?? 0) + 1;
        await sleep(50);
      } finally {
        conn?.close();
      }
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return {
    async stop() {
      running = false;
      await Promise.race([workers, sleep(25_000)]);
      return { logins, failed, errors };
    },
  };
}

/** Resumes `conn` on node `port` (helper for one-shot connections). */
export async function oneResume(port: number, token: string, host = "127.0.0.1"): Promise<void> {
  const conn = await BenchConn.open({ host, port, bufferBytes: 4096 });
  try {
    await helloResume(conn, token, 15_000);
  } finally {
    conn.close();
  }
}

/** One password login on a fresh connection, closed afterwards. */
export async function oneLogin(port: number, name: string): Promise<void> {
  const conn = await BenchConn.open({ host: "127.0.0.1", port, bufferBytes: 16384 });
  try {
    await helloLogin(conn, name, PASSWORD, 20_000);
  } finally {
    conn.close();
  }
}
