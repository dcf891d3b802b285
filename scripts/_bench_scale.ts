/**
 * The large scenarios of the benchmark on Redis: a server (one process or `--workers N`)
 * on one redis-server or a three-master cluster, seeded through the store contracts
 * (`_bench_seed.ts`); the presence storm (everyone dropped and resumed at once) and many
 * small rooms under paced traffic. Frames the server sent are read from its `/metrics`.
 *
 * @module
 */

import { BenchConn, helloResume, ReplyError } from "./_bench_client.ts";
import { DeliverySink, nowMs, NULL_SINK, pace, pool, sleep, stampText } from "./_bench_common.ts";
import { type Measure, Meter, progress, SEND_QUEUE } from "./_bench_load.ts";
import {
  freePort,
  type Pinning,
  type RedisProc,
  rssKiB,
  type ServerNode,
  spawnRedis,
  spawnRedisCluster,
  spawnServer,
  treeRssKiB,
} from "./_bench_proc.ts";
import { FleetMember, shares, sourceAddresses } from "./_bench_fleet.ts";
import { type Seeded, type SeedPlan, seedStore } from "./_bench_seed.ts";
import { round } from "./_bench_stats.ts";
import { type ServerSide, SPREAD_HOSTS } from "./_bench_target.ts";

/**
 * Frames sent by type, summed over every series of `imchat_frames_out_total` in a
 * Prometheus exposition (one per worker with `--workers`).
 *
 * @example
 * ```ts
 * framesOut('imchat_frames_out_total{worker="0",type="ok"} 2\nimchat_frames_out_total{type="ok"} 1\n');
 * // { ok: 3 }
 * ```
 */
export function framesOut(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^imchat_frames_out_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const type = /(?:^|,)type="([^"]*)"/.exec(m[1])?.[1] ?? "?";
    out[type] = (out[type] ?? 0) + Number(m[2]);
  }
  return out;
}

/** `after − before` per key, keys of either. */
export function counterDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/** Options of {@linkcode startScaleServer}. */
export interface ScaleOptions {
  tag: string;
  workers: number;
  redis: "single" | "cluster";
  /** `--lobby` ("" for none). */
  lobby: string;
  plans: SeedPlan[];
  extra?: string[];
}

/** A seeded imchat server on Redis. */
export interface ScaleServer {
  side: ServerSide;
  node: ServerNode;
  redis: RedisProc;
  httpPort: number;
  /** Loopback destinations the connections are spread over (the node listens on 0.0.0.0). */
  hosts: string[];
  seeded: Seeded[];
  /** Seconds the seeding took. */
  seedS: number;
  /** Frames sent so far by type (from /metrics). */
  frames(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Starts Redis, seeds it, then starts the server on it. */
export async function startScaleServer(pin: Pinning, o: ScaleOptions): Promise<ScaleServer> {
  const redis = o.redis === "cluster"
    ? await spawnRedisCluster(pin.serverCore)
    : await spawnRedis(pin.serverCore);
  let node: ServerNode | null = null;
  try {
    const started = performance.now();
    const users = o.plans.reduce((n, p) => n + p.users, 0);
    progress(`${o.tag}: seeding ${users} accounts on ${o.redis} Redis`);
    const seeded = await seedStore(
      { kind: "redis", url: redis.url, cluster: o.redis === "cluster", prefix: "bench:" },
      o.plans,
      500,
    );
    const seedS = round((performance.now() - started) / 1000, 1);
    progress(`${o.tag}: seeded in ${seedS} s; starting the server (${o.workers} workers)`);
    const httpPort = freePort();
    node = await spawnServer({
      nodeId: `bench-${o.tag}`,
      core: pin.serverCore,
      listenHost: "0.0.0.0",
      extra: [
        "--redis",
        redis.url,
        ...(o.redis === "cluster" ? ["--redis-cluster"] : []),
        "--redis-prefix",
        "bench:",
        "--workers",
        String(o.workers),
        "--hash-workers",
        "0",
        "--lobby",
        o.lobby,
        "--http-port",
        String(httpPort),
        "--http-host",
        "127.0.0.1",
        "--send-queue",
        String(SEND_QUEUE),
        ...(o.extra ?? []),
      ],
    });
    const n = node;
    await sleep(o.workers > 1 ? 2000 : 300);
    return {
      side: { nodes: [{ pid: n.pid }], redis: { pids: redis.pids } },
      node: n,
      redis,
      httpPort,
      hosts: SPREAD_HOSTS,
      seeded,
      seedS,
      frames: async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
        return framesOut(await res.text());
      },
      stop: async () => {
        await n.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await node?.stop();
    await redis.stop();
    throw error;
  }
}

/** A resumed connection and when its login sequence ended. */
interface Resumed {
  conn: BenchConn;
  doneMs: number;
  roster: number;
}

/**
 * Resumes user `u` of `seeded` on a fresh connection to `hosts[u % hosts.length]`, with
 * `sink` for its deliveries once logged in.
 */
async function resumeUser(
  server: ScaleServer,
  seeded: Seeded,
  u: number,
  sink: DeliverySink,
): Promise<Resumed> {
  const conn = await BenchConn.open({
    host: server.hosts[u % server.hosts.length],
    port: server.node.port,
    bufferBytes: 1024,
    timeoutMs: 30_000,
  });
  try {
    const seq = await helloResume(conn, seeded.tokens[u], 60_000);
    conn.sink = sink;
    return { conn, doneMs: nowMs(), roster: seq.roster };
  } catch (error) {
    conn.close();
    throw error;
  }
}

/**
 * Opens every user of `seeded`, `atOnce` at a time; throws when any fails, unless `tolerate`
 * (then the failures are counted in `failures`).
 */
async function resumeAll(
  server: ScaleServer,
  seeded: Seeded,
  atOnce: number,
  sink: DeliverySink,
  failures?: Record<string, number>,
): Promise<Resumed[]> {
  const out: Resumed[] = [];
  const result = await pool(seeded.names.length, atOnce, Date.now() + 300_000, async (u) => {
    out[u] = await resumeUser(server, seeded, u, sink);
  });
  if (failures) {
    for (const [k, v] of result.errors) failures[k] = (failures[k] ?? 0) + v;
    return out.filter((r) => r !== undefined);
  }
  if (result.failed > 0) {
    for (const r of out) r?.conn.close();
    throw new Error(`${result.failed} resumes failed: ${[...result.errors.keys()].join("; ")}`);
  }
  return out;
}

/** Figures of one presence storm. */
export interface StormOut {
  users: number;
  roomsPerUser: number;
  lobby: boolean;
  /** From the first drop to the last client's `backlog` event (its roster came before). */
  stormS: number;
  resumesPerS: number;
  /** Users resumed in the storm, and why the others failed. */
  resumed: number;
  failures: Record<string, number>;
  /** Frames the server sent from the drop until `settleMs` after the last backlog. */
  serverFrames: number;
  serverFramesByType: Record<string, number>;
  framesPerUser: number;
  /** Frames the clients received over the same time. */
  clientFrames: number;
  /** Users listed in the resumed sessions' rosters, on average. */
  rosterMean: number;
  measure: Measure;
  serverCpuMsPerUser: number;
}

/**
 * Connects every user of `seeded`, waits `settleMs`, then drops every connection at once and
 * resumes them all (`atOnce` in flight): the time until every client has its roster and
 * `backlog`, the frames the server sent meanwhile (until `settleMs` after, so coalesced
 * presence is counted) and the server's CPU.
 */
export async function presenceStorm(
  server: ScaleServer,
  seeded: Seeded,
  shape: { roomsPerUser: number; lobby: boolean },
  atOnce: number,
  settleMs: number,
): Promise<StormOut> {
  const users = seeded.names.length;
  const first = await resumeAll(server, seeded, atOnce, NULL_SINK);
  let second: Resumed[] = [];
  const failures: Record<string, number> = {};
  try {
    await sleep(settleMs);
    const before = await server.frames();
    const meter = new Meter(server.side);
    const t0 = nowMs();
    for (const r of first) r.conn.close();
    second = await resumeAll(server, seeded, atOnce, NULL_SINK, failures);
    const stormMs = Math.max(...second.map((r) => r.doneMs)) - t0;
    await sleep(settleMs);
    const measure = meter.stop();
    const delta = counterDelta(before, await server.frames());
    const serverFrames = Object.values(delta).reduce((a, b) => a + b, 0);
    const serverSide = measure.serverCpuS + (measure.redisCpuS ?? 0);
    return {
      users,
      roomsPerUser: shape.roomsPerUser,
      lobby: shape.lobby,
      stormS: round(stormMs / 1000, 3),
      resumesPerS: Math.round(second.length / (stormMs / 1000)),
      resumed: second.length,
      failures,
      serverFrames,
      serverFramesByType: delta,
      framesPerUser: round(serverFrames / users, 2),
      clientFrames: second.reduce((n, r) => n + r.conn.frames, 0),
      rosterMean: round(second.reduce((n, r) => n + r.roster, 0) / users, 2),
      measure,
      serverCpuMsPerUser: round((1000 * serverSide) / users, 3),
    };
  } finally {
    for (const r of [...first, ...second]) r.conn.close();
    await sleep(500);
  }
}

/**
 * Room messages at `rate` per second in total, round robin over `rooms`; room k's message
 * is sent by the connection of its first member. A sender with 50 sends in flight skips its
 * turn (counted in {@linkcode missed}).
 */
export class RoomsSender {
  readonly #rooms: { name: string; sender: BenchConn }[];
  readonly #sink: DeliverySink;
  readonly #rate: number;
  #next = 0;
  #stop: (() => void) | null = null;
  ok = 0;
  missed = 0;
  errors: Record<string, number> = {};

  constructor(rooms: { name: string; sender: BenchConn }[], sink: DeliverySink, rate: number) {
    this.#rooms = rooms;
    this.#sink = sink;
    this.#rate = rate;
  }

  /** Starts sending. */
  start(): void {
    this.#stop = pace(this.#rate, () => this.#issue());
  }

  /** Stops; waits up to `ms` for the sends in flight. */
  async stop(ms = 5000): Promise<void> {
    this.#stop?.();
    const deadline = Date.now() + ms;
    while (this.#rooms.some((r) => r.sender.inFlight > 0) && Date.now() < deadline) {
      await sleep(5);
    }
  }

  #issue(): void {
    const room = this.#rooms[this.#next];
    this.#next = (this.#next + 1) % this.#rooms.length;
    if (!room.sender.isOpen || room.sender.inFlight >= 50) {
      this.missed++;
      return;
    }
    const sendMs = nowMs();
    room.sender.request({ type: "send", room: room.name, text: stampText(sendMs) }).then(() => {
      this.ok++;
      this.#sink.countSent(sendMs);
    }, (error) => {
      const key = error instanceof ReplyError ? error.code : "closed";
      this.errors[key] = (this.errors[key] ?? 0) + 1;
    });
  }
}

/** Figures of one many-rooms run. */
export interface RoomsOut {
  users: number;
  rooms: number;
  roomSize: number;
  rate: number;
  sent: number;
  deliveries: number;
  expected: number;
  deliveriesPerS: number;
  latency: ReturnType<DeliverySink["windows"][number]["hist"]["summary"]>;
  measure: Measure;
  deliveriesPerServerCpuS: number | null;
  /** Server CPU (nodes and Redis) per delivery, µs. */
  serverCpuUsPerDelivery: number | null;
  sendErrors: Record<string, number>;
  missed: number;
  crossChecks: number;
  crossCheckMismatches: number;
  backlogMessages: number;
}

/**
 * Every user of `seeded` logged in; room messages at `rate` per second spread over every
 * room (each delivered to the members but the sender); receivers acknowledge every 100 ms.
 */
export async function manyRooms(
  server: ScaleServer,
  seeded: Seeded,
  o: { rate: number; warmupMs: number; ms: number; atOnce: number },
): Promise<RoomsOut> {
  const sink = new DeliverySink();
  const conns = await resumeAll(server, seeded, o.atOnce, sink);
  const ack = setInterval(() => {
    for (const r of conns) r.conn.flushAck();
  }, 100);
  try {
    const rooms = seeded.rooms.map((room) => ({
      name: room.name,
      sender: conns[room.members[0]].conn,
    }));
    const roomSize = seeded.rooms[0].members.length;
    const sender = new RoomsSender(rooms, sink, o.rate);
    sender.start();
    await sleep(o.warmupMs);
    const w = sink.open("main", nowMs());
    const meter = new Meter(server.side);
    await sleep(o.ms);
    w.until = nowMs();
    await sender.stop();
    const deadline = Date.now() + 5000;
    while (w.count < w.sent * (roomSize - 1) && Date.now() < deadline) await sleep(10);
    const measure = meter.stop();
    const cpu = measure.serverCpuS + (measure.redisCpuS ?? 0);
    return {
      users: seeded.names.length,
      rooms: rooms.length,
      roomSize,
      rate: o.rate,
      sent: w.sent,
      deliveries: w.count,
      expected: w.sent * (roomSize - 1),
      deliveriesPerS: Math.round(w.count / measure.wallS),
      latency: w.hist.summary(),
      measure,
      deliveriesPerServerCpuS: cpu > 0 ? Math.round(w.count / cpu) : null,
      serverCpuUsPerDelivery: w.count > 0 ? round((1e6 * cpu) / w.count, 1) : null,
      sendErrors: sender.errors,
      missed: sender.missed,
      crossChecks: sink.checked,
      crossCheckMismatches: sink.mismatches,
      backlogMessages: sink.away,
    };
  } finally {
    clearInterval(ack);
    for (const r of conns) r.conn.flushAck();
    await sleep(150);
    for (const r of conns) r.conn.close();
    await sleep(500);
  }
}

/** Sessions per worker (`imchat_sessions`, one series per worker), from a /metrics text. */
export function sessionsPerWorker(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^imchat_sessions(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m) out.push(Number(m[2]));
  }
  return out;
}

/** Options of {@linkcode hundredThousand}. */
export interface FleetOptions {
  users: number;
  workers: number;
  /** Load-generator processes, and source addresses of each. */
  members: number;
  addressesPerMember: number;
  /** Resumes in flight per member. */
  atOnce: number;
  idleMs: number;
  /** Messages sent to the big room, one after the other. */
  messages: number;
  /** No resume starts later than this, ms (the run reports how many it reached). */
  connectMs: number;
  /** Whether every user is in the lobby-style room (false: in no room, no messages). */
  lobby: boolean;
}

/** Figures of the 100,000-connection run. */
export interface FleetOut {
  users: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  /** Connections closed after their login, by reason. */
  closedAfterLogin: Record<string, number>;
  connectS: number;
  resumesPerS: number;
  /** Resumes per second in each 5-second interval while connecting. */
  resumesPerSByInterval: number[];
  connectMeasure: Measure;
  sessionsPerWorker: number[];
  rssKiB: { serverBefore: number; redisBefore: number; serverIdle: number; redisIdle: number };
  kibPerConnection: { total: number; delta: number; serverOnly: number; redisOnly: number };
  /** Per message: deliveries, and ms from send to the last and to the median delivery. */
  deliveries: { expected: number; got: number; lastMs: number | null; p50Ms: number | null }[];
  deliveryMeasure: Measure | null;
  benchRssMiB: number[];
}

/** RSS of a server process tree and of its redis-servers, KiB. */
function serverRss(server: ScaleServer): { server: number; redis: number } {
  return {
    server: treeRssKiB(server.node.pid) ?? 0,
    redis: server.redis.pids.reduce((sum, pid) => sum + (rssKiB(pid) ?? 0), 0),
  };
}

/**
 * `users` logged-in idle users on `workers` server processes on one redis-server, every one
 * in one lobby-style room (above the presence limit), connected by `members` load-generator
 * processes from their own loopback source addresses. Then `messages` room messages, each
 * timed from its send to the last of its deliveries.
 */
export async function hundredThousand(
  server: ScaleServer,
  o: FleetOptions,
  onMember: (pid: number) => void,
): Promise<FleetOut> {
  const seeded = server.seeded[0];
  const members: FleetMember[] = [];
  let sender: BenchConn | null = null;
  try {
    const before = serverRss(server);
    const ranges = shares(o.users, o.members);
    for (const [i, [from, to]] of ranges.entries()) {
      const m = await FleetMember.start({
        host: "127.0.0.1",
        port: server.node.port,
        localAddresses: sourceAddresses(i, o.addressesPerMember),
        tokens: seeded.tokens.slice(from, to),
        atOnce: o.atOnce,
        connectMs: o.connectMs,
      });
      members.push(m);
      onMember(m.pid);
    }
    progress(`c100k: ${members.length} load processes ready; connecting ${o.users} users`);
    const meter = new Meter(server.side);
    const started = performance.now();
    const connected = members.map((m) => m.next("connected", o.connectMs + 120_000));
    for (const m of members) await m.send({ cmd: "connect" });
    const byInterval: number[] = [];
    let last = 0;
    let finished = false;
    const all = Promise.all(connected).finally(() => finished = true);
    while (!finished) {
      await Promise.race([all.catch(() => {}), sleep(5000)]);
      const done = members.reduce((n, m) => n + m.progress.done, 0);
      const open = members.reduce((n, m) => n + m.progress.open, 0);
      const failed = members.reduce((n, m) => n + m.progress.failed, 0);
      if (!finished) {
        byInterval.push(Math.round((done - last) / 5));
        last = done;
        progress(
          `c100k: ${done} logged in, ${open} still open, ${failed} failed ` +
            `(${byInterval[byInterval.length - 1]}/s)`,
        );
      }
    }
    const reports = await all;
    const connectS = (performance.now() - started) / 1000;
    const connectMeasure = meter.stop();
    const done = reports.reduce((n, r) => n + r.done, 0);
    const errors: Record<string, number> = {};
    const closed: Record<string, number> = {};
    for (const r of reports) {
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.closed)) closed[k] = (closed[k] ?? 0) + v;
    }
    progress(`c100k: ${done} connected in ${round(connectS, 1)} s; idle ${o.idleMs / 1000} s`);
    await sleep(o.idleMs);
    const idle = serverRss(server);
    const metricsText = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    sender = await BenchConn.open({ host: "127.0.0.1", port: server.node.port });
    await helloResume(sender, seeded.tokens[0], 60_000);
    const deliveries: FleetOut["deliveries"] = [];
    const deliveryMeter = new Meter(server.side);
    for (let k = 0; k < (o.lobby ? o.messages : 0); k++) {
      const waits = members.map((m) => m.next("delivered", 90_000));
      for (const m of members) await m.send({ cmd: "expect", perConnection: 1, timeoutMs: 60_000 });
      await sleep(200);
      await sender.request({ type: "send", room: "lobby", text: stampText(nowMs()) });
      const got = await Promise.all(waits);
      const maxes = got.map((g) => g.maxMs).filter((v): v is number => v !== null);
      deliveries.push({
        expected: got.reduce((n, g) => n + g.expected, 0),
        got: got.reduce((n, g) => n + g.got, 0),
        lastMs: maxes.length ? Math.max(...maxes) : null,
        p50Ms: got[0]?.p50Ms ?? null,
      });
      progress(`c100k: message ${k + 1}: ${JSON.stringify(deliveries[k])}`);
      await sleep(1000);
    }
    const deliveryMeasure = deliveryMeter.stop();
    const total = idle.server + idle.redis;
    return {
      users: o.users,
      connected: done,
      failed: reports.reduce((n, r) => n + r.failed, 0),
      errors,
      closedAfterLogin: closed,
      connectS: round(connectS, 2),
      resumesPerS: Math.round(done / connectS),
      resumesPerSByInterval: byInterval,
      connectMeasure,
      sessionsPerWorker: sessionsPerWorker(metricsText),
      rssKiB: {
        serverBefore: before.server,
        redisBefore: before.redis,
        serverIdle: idle.server,
        redisIdle: idle.redis,
      },
      kibPerConnection: {
        total: round(total / Math.max(1, done), 2),
        delta: round((total - before.server - before.redis) / Math.max(1, done), 2),
        serverOnly: round((idle.server - before.server) / Math.max(1, done), 2),
        redisOnly: round((idle.redis - before.redis) / Math.max(1, done), 2),
      },
      deliveries,
      deliveryMeasure,
      benchRssMiB: members.map((m) => round((rssKiB(m.pid) ?? 0) / 1024, 1)),
    };
  } finally {
    sender?.close();
    await Promise.allSettled(members.map((m) => m.stop()));
  }
}
