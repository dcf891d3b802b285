/**
 * Benchmark process plumbing: CPU pinning with taskset, spawning chat server nodes, a
 * redis-server and the reference peer ngircd pinned to a core, finding the pid that really
 * runs the server, and reading CPU time, RSS and limits from /proc. Linux only.
 *
 * @module
 */

import { v8FlagsOption } from "../lib/server/v8_flags.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SERVER_TS = new URL("../server.ts", import.meta.url).pathname;

/** Runs a command and returns its trimmed stdout, or null when it cannot run or fails. */
export async function capture(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

let clockTicks = 100;

/** Reads `getconf CLK_TCK` once (default 100). */
export async function initClockTicks(): Promise<number> {
  const out = await capture("getconf", ["CLK_TCK"]);
  const n = Number(out);
  if (Number.isFinite(n) && n > 0) clockTicks = n;
  return clockTicks;
}

/** utime + stime of a process in seconds (all threads), or null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** Pids of every descendant of `pid` (workers of a supervisor and their hashing workers). */
export function descendantPids(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const child = Number(entry.name);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${child}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parents.get(ppid) ?? [];
      list.push(child);
      parents.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * CPU seconds of a process and all its descendants (a server, its workers and their hashing
 * workers) that are alive now.
 */
export function treeCpuSeconds(pid: number): number | null {
  const own = cpuSeconds(pid);
  if (own === null) return null;
  return descendantPids(pid).reduce((sum, child) => sum + (cpuSeconds(child) ?? 0), own);
}

/** RSS of a process and all its descendants, KiB, or null when it is gone. */
export function treeRssKiB(pid: number): number | null {
  const own = rssKiB(pid);
  if (own === null) return null;
  return descendantPids(pid).reduce((sum, child) => sum + (rssKiB(child) ?? 0), own);
}

/**
 * CPU seconds (utime + stime) of every user-space process except `exclude`, by pid. Kernel
 * threads are left out (their work includes the softirq processing of our own loopback
 * traffic).
 */
export function otherCpu(exclude: ReadonlySet<number>): Map<number, number> {
  const out = new Map<number, number>();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc")];
  } catch {
    return out;
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      if (pid === 2 || ppid === 2) continue;
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / clockTicks);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** VmRSS in KiB, or null when the process is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Soft "Max open files" limit of a process, or null. */
export function openFileLimit(pid: number | "self"): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
      Deno.readTextFileSync(`/proc/${pid}/limits`),
    );
    if (!m) return null;
    return m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return null;
  }
}

/** Busy and total jiffies per CPU from /proc/stat. */
export function coreTimes(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  try {
    for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2].trim().split(/\s+/).map(Number);
      // user nice system idle iowait irq softirq steal (guest time is inside user)
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out[Number(m[1])] = { busy: total - v[3] - v[4], total };
    }
  } catch {
    // not Linux
  }
  return out;
}

/** Per-core busy percentage between two {@linkcode coreTimes} readings. */
export function coreBusy(
  before: { busy: number; total: number }[],
  after: { busy: number; total: number }[],
): number[] {
  return after.map((a, i) => {
    const b = before[i];
    if (!b || a.total === b.total) return 0;
    return Math.round((1000 * (a.busy - b.busy)) / (a.total - b.total)) / 10;
  });
}

/** Command line of a process, NUL separators turned into spaces. */
function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Direct children of a process (all its threads). */
function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/**
 * The pid that runs `marker` among `pid` and its descendants (taskset execs, so this is
 * usually `pid` itself; a wrapper would make it a child).
 */
function findProcess(pid: number, marker: string): number | null {
  const queue = [pid];
  for (let depth = 0; queue.length > 0 && depth < 50; depth++) {
    const p = queue.shift()!;
    if (cmdline(p).includes(marker)) return p;
    queue.push(...children(p));
  }
  return null;
}

/** Inode of the socket listening on `port` (from /proc/net/tcp and tcp6), or null. */
function listenInode(port: number): string | null {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      for (const line of Deno.readTextFileSync(file).split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === "0A") return f[9];
      }
    } catch {
      // no such table
    }
  }
  return null;
}

/** Whether `pid` holds the socket listening on `port`. */
function ownsListener(pid: number, port: number): boolean | null {
  const inode = listenInode(port);
  if (inode === null) return null;
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`) === `socket:[${inode}]`) return true;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return null;
  }
  return false;
}

/** Whether taskset exists; decided once. */
let tasksetPath: string | null | undefined;
async function taskset(): Promise<string | null> {
  if (tasksetPath === undefined) {
    tasksetPath = (await capture("sh", ["-c", "command -v taskset"])) || null;
  }
  return tasksetPath;
}

/** How the bench process and the children are placed on cores. */
export interface Pinning {
  /** Core of the server side (nodes, redis-server), or null when unpinned. */
  serverCore: number | null;
  /** Core of the bench process, or null when unpinned. */
  benchCore: number | null;
  note: string;
}

/**
 * Pins every thread of this process to core 1 and decides that children go to core 0.
 * Without taskset, or with fewer than two cores, nothing is pinned and the note says so.
 */
export async function pinSelf(cores: number): Promise<Pinning> {
  const tool = await taskset();
  if (!tool) {
    return {
      serverCore: null,
      benchCore: null,
      note: "taskset not found: server, redis and bench run UNPINNED and compete for cores",
    };
  }
  if (cores < 2) {
    return {
      serverCore: null,
      benchCore: null,
      note: "fewer than 2 cores: nothing pinned; server and bench share one core",
    };
  }
  const ok = await capture(tool, ["-a", "-p", "-c", "1", String(Deno.pid)]);
  if (ok === null) {
    return {
      serverCore: 0,
      benchCore: null,
      note: "taskset -p on the bench failed: bench unpinned, server side pinned to core 0",
    };
  }
  return {
    serverCore: 0,
    benchCore: 1,
    note: "server nodes and redis-server pinned to core 0 (taskset -c 0); " +
      "bench pinned to core 1 (taskset -a -p -c 1, all threads)",
  };
}

/** Every child still to be killed, for cleanup on error or signal. */
const live = new Set<Managed>();

/** A spawned process that must not outlive the bench. */
interface Managed {
  kill(): Promise<void>;
}

/**
 * Registers a child started elsewhere so that {@linkcode killAll} kills it too; returns the
 * function that unregisters it.
 */
export function manage(kill: () => Promise<void>): () => void {
  const managed: Managed = { kill };
  live.add(managed);
  return () => void live.delete(managed);
}

/** Kills every child still running. */
export async function killAll(): Promise<void> {
  await Promise.allSettled([...live].map((m) => m.kill()));
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitStatus(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = await Promise.race([
    child.status.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]);
  clearTimeout(timer);
  return done;
}

function spawnPinned(
  core: number | null,
  cmd: string,
  args: string[],
  stderr: "piped" | "null",
): Promise<Deno.ChildProcess> {
  return taskset().then((tool) => {
    const [c, a] = tool && core !== null ? [tool, ["-c", String(core), cmd, ...args]] : [cmd, args];
    return new Deno.Command(c, { args: a, cwd: ROOT, stdin: "null", stdout: "null", stderr })
      .spawn();
  });
}

/** A chat server node running as a child process. */
export interface ServerNode {
  nodeId: string;
  host: string;
  port: number;
  /** Pid of the process that runs server.ts (verified to own the listening socket). */
  pid: number;
  /** How the pid was verified. */
  pidNote: string;
  args: string[];
  /** Count of warn/error log lines by event name. */
  logEvents: Record<string, number>;
  /** Last log lines. */
  tail: string[];
  stop(): Promise<void>;
}

/** Deno flags of every server spawned from now on (e.g. `--cpu-prof`). */
let serverDenoFlags: string[] = [];

/** Sets the Deno flags of every server spawned from now on. */
export function setServerDenoFlags(flags: string[]): void {
  serverDenoFlags = [...flags];
}

/** Options of {@linkcode spawnServer}. */
export interface NodeOptions {
  nodeId: string;
  core: number | null;
  /** Listen address; connections always go to 127.0.0.x. */
  listenHost?: string;
  extra?: string[];
}

/**
 * Starts `server.ts` pinned to a core on a free port, waits until it answers `hello` with
 * its node id, and finds the pid of the process that actually serves.
 */
export async function spawnServer(options: NodeOptions): Promise<ServerNode> {
  const host = options.listenHost ?? "127.0.0.1";
  const port = freePort();
  const args = [
    "run",
    "--quiet",
    "--allow-all",
    v8FlagsOption(),
    ...serverDenoFlags,
    SERVER_TS,
    "--host",
    host,
    "--port",
    String(port),
    "--rate",
    "0",
    // Every simulated user registers from this one machine.
    "--register-address-limit",
    "1000000",
    "--register-limit",
    "1000000",
    "--log-level",
    "warn",
    "--node-id",
    options.nodeId,
    ...(options.extra?.includes("--workers") ? [] : ["--workers", "1"]),
    // The HTTP listener is on by default (port 8080): only where the bench asks for it.
    ...(options.extra?.includes("--http-port") ? [] : ["--no-http"]),
    ...(options.extra ?? []),
  ];
  const child = await spawnPinned(options.core, Deno.execPath(), args, "piped");
  const logEvents: Record<string, number> = {};
  const tail: string[] = [];
  const reading = (async () => {
    let rest = "";
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
          try {
            const event = String(JSON.parse(line).event ?? "?");
            logEvents[event] = (logEvents[event] ?? 0) + 1;
          } catch {
            logEvents["(non-json)"] = (logEvents["(non-json)"] ?? 0) + 1;
          }
        }
      }
    } catch {
      // pipe closed
    }
  })();
  let exited = false;
  child.status.then(() => exited = true);
  let realPid = child.pid;
  const managed: Managed = {
    async kill() {
      live.delete(managed);
      // Workers and hashing workers too: a supervisor killed hard would leave them behind.
      const tree = exited ? [] : descendantPids(child.pid);
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // gone
        }
        if (!await waitStatus(child, 5000)) {
          try {
            child.kill("SIGKILL");
          } catch {
            // gone
          }
          await waitStatus(child, 3000);
        }
      }
      for (const pid of realPid !== child.pid ? [realPid, ...tree] : tree) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await Promise.race([reading, sleep(1000)]);
    },
  };
  live.add(managed);
  try {
    await waitForHello(port, options.nodeId, () => exited, tail);
  } catch (error) {
    await managed.kill();
    throw error;
  }
  const found = findProcess(child.pid, SERVER_TS);
  let pidNote: string;
  if (found === null) {
    pidNote = `no process with server.ts under ${child.pid}; using the child pid`;
  } else {
    realPid = found;
    const owns = ownsListener(realPid, port);
    pidNote = owns === true
      ? `pid ${realPid} runs server.ts and owns the listening socket` +
        (realPid === child.pid ? " (taskset exec'd deno)" : ` (child of ${child.pid})`)
      : owns === false
      ? `WARNING: pid ${realPid} runs server.ts but does not own port ${port}`
      : `pid ${realPid} runs server.ts (listening socket not checked)`;
  }
  return {
    nodeId: options.nodeId,
    host,
    port,
    pid: realPid,
    pidNote,
    args: args.slice(3),
    logEvents,
    tail,
    stop: () => managed.kill(),
  };
}

/** Polls until the server on `port` answers hello with `nodeId` (20 s at most). */
async function waitForHello(
  port: number,
  nodeId: string,
  exited: () => boolean,
  tail: string[],
): Promise<void> {
  const deadline = Date.now() + 20_000;
  const hello = new TextEncoder().encode('{"type":"hello","id":1,"protocol":2}');
  const frame = new Uint8Array(4 + hello.length);
  new DataView(frame.buffer).setUint32(0, hello.length);
  frame.set(hello, 4);
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`server ${nodeId} exited:\n${tail.join("\n")}`);
    let conn: Deno.Conn | null = null;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(frame);
      const buf = new Uint8Array(4096);
      let fill = 0;
      const readDeadline = Date.now() + 2000;
      while (Date.now() < readDeadline) {
        const timer = setTimeout(() => conn?.close(), 2000);
        const n = await conn.read(buf.subarray(fill));
        clearTimeout(timer);
        if (n === null) break;
        fill += n;
        if (fill >= 4) {
          const len = new DataView(buf.buffer).getUint32(0);
          if (fill >= 4 + len) {
            const reply = JSON.parse(new TextDecoder().decode(buf.subarray(4, 4 + len)));
            if (reply.type === "ok" && reply.node === nodeId) return;
            throw new Error(`port ${port} answered as ${JSON.stringify(reply)}`);
          }
        }
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("port ")) throw error;
    } finally {
      try {
        conn?.close();
      } catch {
        // closed
      }
    }
    await sleep(50);
  }
  throw new Error(`server ${nodeId} did not answer on port ${port} within 20 s`);
}

/** A redis-server child. */
export interface RedisProc {
  url: string;
  port: number;
  pid: number;
  /** `[pid]`: the processes whose CPU and memory count as Redis. */
  pids: number[];
  version: string;
  stop(): Promise<void>;
}

/** Starts Debian's redis-server on a free loopback port without persistence, pinned. */
export async function spawnRedis(core: number | null, extra: string[] = []): Promise<RedisProc> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "imchat-bench-redis-" });
  const child = await spawnPinned(core, "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    ...extra,
  ], "null");
  let exited = false;
  child.status.then(() => exited = true);
  const managed: Managed = {
    async kill() {
      live.delete(managed);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
        await waitStatus(child, 3000);
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  live.add(managed);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      await managed.kill();
      throw new Error("redis-server exited at start");
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      conn.close();
      if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await managed.kill();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await sleep(50);
  }
  const pid = findProcess(child.pid, "redis-server") ?? child.pid;
  const version = (await capture("redis-server", ["--version"])) ?? "?";
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    pids: [pid],
    version,
    stop: () => managed.kill(),
  };
}

/**
 * Starts three redis-server masters with cluster mode on (no replicas), pinned, and joins
 * them into a cluster with `redis-cli --cluster create`; resolves once every slot is served.
 * The result's `pid` is the first master's; `pids` holds all three.
 */
export async function spawnRedisCluster(core: number | null): Promise<RedisProc> {
  const nodes: RedisProc[] = [];
  const stop = async () => void await Promise.allSettled(nodes.map((n) => n.stop()));
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await spawnRedis(core, ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]),
      );
    }
    const created = await capture("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    if (created === null) throw new Error("redis-cli --cluster create failed");
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(
        nodes.map((n) => capture("redis-cli", ["-p", String(n.port), "CLUSTER", "INFO"])),
      );
      if (infos.every((info) => info?.includes("cluster_state:ok"))) break;
      if (Date.now() > deadline) throw new Error("the Redis Cluster did not become ready");
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...nodes[0], pids: nodes.map((n) => n.pid), stop };
}

/** Settings of a generated ngircd configuration. */
export interface NgircdConfigOptions {
  port: number;
  /** Addresses to listen on (loopback). */
  listen: string[];
  /** An empty directory, read as the configuration snippet directory. */
  includeDir: string;
}

/**
 * The ngircd.conf of the reference peer: loopback only, no DNS, ident or PAM lookups, no
 * connection limits (total or per address), no command penalties (one client sends hundreds
 * of PRIVMSGs a second), and no system-wide configuration snippets.
 *
 * @example
 * ```ts
 * ngircdConfig({ port: 6667, listen: ["127.0.0.1"], includeDir: "/tmp/x" }).includes("Ports = 6667");
 * ```
 */
export function ngircdConfig(o: NgircdConfigOptions): string {
  return [
    "[Global]",
    "Name = bench.irc",
    "Info = imchat benchmark reference peer",
    "AdminInfo1 = imchat benchmark",
    "AdminInfo2 = loopback only",
    "AdminEMail = bench@localhost",
    `Listen = ${o.listen.join(",")}`,
    `Ports = ${o.port}`,
    "MotdPhrase = imchat benchmark",
    "PidFile =",
    "[Limits]",
    "MaxConnections = 0",
    "MaxConnectionsIP = 0",
    "MaxJoins = 10",
    "MaxNickLength = 16",
    "MaxPenaltyTime = 0",
    "PingTimeout = 120",
    "PongTimeout = 20",
    "[Options]",
    "DNS = no",
    "Ident = no",
    "PAM = no",
    `IncludeDir = ${o.includeDir}`,
    "",
  ].join("\n");
}

/** An ngircd child. */
export interface NgircdProc {
  port: number;
  pid: number;
  /** Addresses it listens on. */
  listen: string[];
  /** First line of `ngircd --version`. */
  version: string;
  /** How the pid was verified. */
  pidNote: string;
  /** Last lines of its log (stderr). */
  tail: string[];
  stop(): Promise<void>;
}

/** How to get ngircd where it is missing (Debian and Ubuntu). */
export const NGIRCD_INSTALL = "apt-get install ngircd";

/** Path of the ngircd binary (PATH, then /usr/sbin, which a non-root PATH may lack), or null. */
export async function ngircdPath(): Promise<string | null> {
  const found = await capture("sh", ["-c", "command -v ngircd"]);
  if (found) return found;
  try {
    Deno.statSync("/usr/sbin/ngircd");
    return "/usr/sbin/ngircd";
  } catch {
    return null;
  }
}

/**
 * Starts Debian's ngircd in the foreground on a free port with a generated configuration in
 * a temporary directory, pinned to `core`; resolves once it accepts connections. `stop()`
 * kills it and removes the directory; {@linkcode killAll} does too.
 */
export async function spawnNgircd(core: number | null, listen: string[]): Promise<NgircdProc> {
  const binary = await ngircdPath();
  if (binary === null) {
    throw new Error(`ngircd not found on PATH or in /usr/sbin (${NGIRCD_INSTALL})`);
  }
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "imchat-bench-ngircd-" });
  const includeDir = `${dir}/conf.d`;
  await Deno.mkdir(includeDir);
  const config = `${dir}/ngircd.conf`;
  await Deno.writeTextFile(config, ngircdConfig({ port, listen, includeDir }));
  const child = await spawnPinned(core, binary, ["-n", "-f", config], "piped");
  const tail: string[] = [];
  const reading = (async () => {
    let rest = "";
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
        }
      }
    } catch {
      // pipe closed
    }
  })();
  let exited = false;
  child.status.then(() => exited = true);
  const managed: Managed = {
    async kill() {
      live.delete(managed);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
        await waitStatus(child, 3000);
      }
      await Promise.race([reading, sleep(1000)]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  live.add(managed);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) {
      await managed.kill();
      throw new Error(`ngircd exited at start:\n${tail.join("\n")}`);
    }
    try {
      const conn = await Deno.connect({ hostname: listen[0], port });
      conn.close();
      break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await managed.kill();
      throw new Error(`ngircd did not listen on port ${port}:\n${tail.join("\n")}`);
    }
    await sleep(50);
  }
  const pid = findProcess(child.pid, "ngircd") ?? child.pid;
  const owns = ownsListener(pid, port);
  const pidNote = owns === true
    ? `pid ${pid} runs ngircd and owns the listening socket`
    : owns === false
    ? `WARNING: pid ${pid} runs ngircd but does not own port ${port}`
    : `pid ${pid} runs ngircd (listening socket not checked)`;
  const version = (await capture(binary, ["--version"]))?.split("\n")[0] ?? "?";
  return { port, pid, listen, version, pidNote, tail, stop: () => managed.kill() };
}
