/**
 * Test harness: starts real servers (in-process or as a subprocess) on real TCP, and test
 * clients that record every event so tests can wait for what a user would see.
 *
 * @module
 */

import { parseServerConfig } from "../lib/config/server_config.ts";
import { BINARIES } from "../scripts/compile.ts";
import { Wire } from "./_wire.ts";
import { type ChatServer, startServer } from "../lib/server/server.ts";
import { createLogger, type Logger } from "../lib/server/log.ts";

/** The server runs with exactly the permissions its compiled executable gets. */
const SERVER_PERMISSIONS = BINARIES[0].permissions;

/** Which store a test server uses. */
export type Backend = { kind: "kv" } | { kind: "redis"; url: string };

let prefixCounter = 0;

/**
 * Every test user registers from 127.0.0.1: registration limits are lifted unless a test
 * sets its own (later flags win).
 */
export const OPEN_REGISTRATION = [
  "--register-address-limit",
  "1000000",
  "--register-limit",
  "1000000",
];

/** Flags selecting the backend; each Redis server gets a fresh key prefix. */
export function backendArgs(backend: Backend, kvPath = ":memory:"): string[] {
  return backend.kind === "kv"
    ? ["--kv", kvPath]
    : ["--redis", backend.url, "--redis-prefix", `t${Date.now()}x${++prefixCounter}:`];
}

/** A server started in this process. */
export interface TestServer extends AsyncDisposable {
  server: ChatServer;
  port: number;
  /** Log lines written (JSON). */
  logs: string[];
  /** A greeted connection to this server. */
  connect(): Promise<Wire>;
  /** Registers (unless taken) and logs in a user; returns the connection. */
  user(name: string, password?: string): Promise<Wire>;
}

/** Extra knobs of {@linkcode startTestServer}. */
export interface TestServerOptions {
  /** The server's clock. */
  now?: () => number;
  /** KV file (default in memory); ignored for Redis. */
  kvPath?: string;
  /** Redis key prefix (default a fresh one), to reopen the same data. */
  redisPrefix?: string;
}

/** Starts a server in-process on 127.0.0.1 and a free port. */
export async function startTestServer(
  backend: Backend,
  extra: string[] = [],
  options: TestServerOptions = {},
): Promise<TestServer> {
  const storeArgs = backendArgs(backend, options.kvPath);
  if (options.redisPrefix && backend.kind === "redis") storeArgs[3] = options.redisPrefix;
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http-port",
    "0",
    ...storeArgs,
    ...OPEN_REGISTRATION,
    ...extra,
  ];
  const config = parseServerConfig(args, () => undefined, "test");
  const logs: string[] = [];
  const log: Logger = createLogger("debug", (line) => logs.push(line));
  const server = await startServer(config, { log, now: options.now });
  const port = server.addr.port;
  const clients: Wire[] = [];
  const connect = async () => {
    const client = await Wire.open(port);
    clients.push(client);
    return client;
  };
  return {
    server,
    port,
    logs,
    connect,
    async user(name: string, password = "password1") {
      const client = await connect();
      await client.request("register", { name, password, nickname: name.toUpperCase() })
        .catch((error) => {
          if (error.code !== "NAME_TAKEN") throw error;
        });
      await client.request("login", { name, password });
      await client.next("backlog");
      return client;
    },
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.close();
      await Promise.all(clients.map((c) => c.closed));
      await server.shutdown();
    },
  };
}

/**
 * A connection to the server on `port`, logged in as `name` (password `password1`), after
 * registering the account when `register` is set.
 */
export async function userOn(port: number, name: string, register = true): Promise<Wire> {
  const c = await Wire.open(port);
  if (register) {
    await c.request("register", { name, password: "password1", nickname: name.toUpperCase() });
  }
  await c.request("login", { name, password: "password1" });
  await c.next("backlog");
  return c;
}

/** Waits until the server has logged a line that passes `match`, or fails after `ms`. */
export async function waitForLog(
  server: TestServer,
  match: (entry: Record<string, unknown>) => boolean,
  what: string,
  ms = 5000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  let seen = 0;
  for (;;) {
    for (; seen < server.logs.length; seen++) {
      const entry = JSON.parse(server.logs[seen]);
      if (match(entry)) return entry;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for the log to show ${what}`);
    await sleep(10);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A server running as its own process (`server.ts`), for restart and signal tests. */
export interface ServerProcess extends AsyncDisposable {
  port: number;
  /** The port of its HTTP listener (the last one a process reported). */
  readonly httpPort: number | undefined;
  process: Deno.ChildProcess;
  /** Log lines so far. */
  lines: string[];
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Runs `server.ts` with `args` and waits until it listens (with `--workers` above 1: until
 * the supervisor says every worker listens).
 */
export async function spawnServer(args: string[]): Promise<ServerProcess> {
  const workers = args.includes("--workers") && Number(args[args.lastIndexOf("--workers") + 1]) > 1;
  const readyEvent = workers ? "supervisor_ready" : "listening";
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...SERVER_PERMISSIONS,
      new URL("../server.ts", import.meta.url).pathname,
      "--host",
      "127.0.0.1",
      "--http-port",
      "0",
      ...OPEN_REGISTRATION,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let httpPort: number | undefined;
  const listening = Promise.withResolvers<number>();
  const reading = (async () => {
    let rest = "";
    for await (const chunk of process.stderr.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        try {
          const entry = JSON.parse(line);
          if (entry.event === readyEvent) listening.resolve(entry.port);
          if (entry.event === "http_listening") httpPort = entry.port;
        } catch {
          // not a log line
        }
      }
    }
    listening.reject(new Error(`server exited before listening:\n${lines.join("\n")}`));
  })();
  let status: Promise<Deno.CommandStatus> | null = null;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        process.kill(signal);
      } catch {
        // already gone
      }
      status = Promise.all([process.status, reading]).then(([s]) => s);
    }
    return status;
  };
  let port: number;
  try {
    port = await listening.promise;
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
  return {
    port,
    get httpPort() {
      return httpPort;
    },
    process,
    lines,
    stop,
    [Symbol.asyncDispose]: async () => void await stop("SIGKILL"),
  };
}

/** One test case run against each backend. */
export type Case = [name: string, run: (backend: Backend) => Promise<void>];

/**
 * Registers `title (Deno KV)` and `title (Redis)` tests that run every case as a step; the
 * Redis one starts its own redis-server and stops it.
 */
export function backendSuites(
  title: string,
  cases: Case[],
  startRedis: () => Promise<{ url: string } & AsyncDisposable>,
): void {
  Deno.test(`${title} (Deno KV)`, async (t) => {
    for (const [name, run] of cases) await t.step(name, () => run({ kind: "kv" }));
  });
  Deno.test(`${title} (Redis)`, async (t) => {
    await using redis = await startRedis();
    for (const [name, run] of cases) {
      await t.step(name, () => run({ kind: "redis", url: redis.url }));
    }
  });
}

/** Opens a raw TCP connection (no hello) for tests of what the server accepts. */
export async function rawConnect(port: number): Promise<RawConn> {
  return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port }));
}

/** A bare connection that sends bytes and reads decoded frames; `using` closes it. */
export class RawConn implements Disposable {
  readonly conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Reads the next frame as JSON, or null when the server closed the connection. */
  async read(ms = 5000): Promise<Record<string, unknown> | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.#buffer.length >= 4) {
        const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
        if (this.#buffer.length >= 4 + length) {
          const payload = this.#buffer.slice(4, 4 + length);
          this.#buffer = this.#buffer.slice(4 + length);
          return JSON.parse(new TextDecoder().decode(payload));
        }
      }
      const chunk = new Uint8Array(65536);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        this.conn.read(chunk),
        new Promise<"timeout">((resolve) =>
          timer = setTimeout(() => resolve("timeout"), deadline - Date.now())
        ),
      ]).catch(() => null).finally(() => clearTimeout(timer));
      if (n === "timeout") throw new Error("Timed out reading a frame");
      if (n === null) return null;
      const next = new Uint8Array(this.#buffer.length + n);
      next.set(this.#buffer);
      next.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = next;
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
