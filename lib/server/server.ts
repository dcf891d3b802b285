/**
 * The chat server: accepts TCP (or TLS) connections, serves each (`connection.ts`), and runs
 * one sweep timer for every connection's deadlines. `startServer()` returns a disposable
 * handle; disposing it shuts the server down gracefully.
 *
 * @module
 */

import { ProcessHasher } from "../auth/hash_worker.ts";
import { type PasswordHasher, ThreadHasher } from "../auth/password.ts";
import type { ServerConfig } from "../config/server_config.ts";
import type { Store, StoreStatus } from "../store/contract/store.ts";
import type { Core } from "./context.ts";
import { acceptLoop } from "./accept_loop.ts";
import type { ConnectionContext } from "./frames.ts";
import { serveConnection } from "./tcp.ts";
import { Hub } from "./hub.ts";
import { RegistrationThrottle } from "./limits.ts";
import { LoginGuard } from "./login_guard.ts";
import { createLogger, type Logger } from "./log.ts";
import { instrumentStore, Metrics } from "./metrics.ts";
import { startHttp } from "./http.ts";
import { health, type NodeView, renderMetrics, startLagProbe } from "./monitor.ts";
import { serveWebSocket } from "./websocket.ts";
import { openStore } from "./store_open.ts";
import { listenTls } from "./tls_listener.ts";
import type { TransportListener } from "./transport.ts";

/** A running server. */
export interface ChatServer extends AsyncDisposable {
  /** The address it listens on (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  readonly nodeId: string;
  /** The port of the HTTP listener, when there is one. */
  readonly httpPort?: number;
  /** This process's metrics in the Prometheus text format. */
  metricsText(): string;
  /** Stops accepting, tells clients, finishes in-flight requests, closes everything. */
  shutdown(message?: string): Promise<void>;
}

/** Parts a caller may supply instead of the defaults (tests inject these). */
export interface ServerDeps {
  log?: Logger;
  /** A store the caller owns (it is not closed at shutdown). */
  store?: Store;
  /** Where metrics are counted (the caller may share it with the store it opened). */
  metrics?: Metrics;
  now?: () => number;
  /**
   * The command line that starts this server program; with it, passwords are hashed in
   * low-priority copies of it (see `--hash-workers`), otherwise on in-process threads.
   */
  workerCommand?: string[];
  /**
   * This process is worker `index` of a node run with `--workers`: it shares the port with
   * the other workers (SO_REUSEPORT) and has its own id (`instanceId`) towards the store.
   */
  worker?: { index: number; instanceId: string };
  /** The whole node's metrics and health, for a worker's HTTP listener. */
  node?: NodeView;
}

const SWEEP_MS = 1000;
const SHUTDOWN_GRACE_MS = 5000;

/**
 * Starts a server.
 *
 * @example
 * ```ts
 * await using server = await startServer(parseServerConfig(["--port", "0"], Deno.env.get, "h"));
 * console.log(server.addr.port);
 * ```
 */
export async function startServer(
  config: ServerConfig,
  deps: ServerDeps = {},
): Promise<ChatServer> {
  const log = deps.log ?? createLogger(config.logLevel);
  const metrics = deps.metrics ?? new Metrics();
  const onStatus = (status: StoreStatus) => {
    const { event, ...fields } = status;
    if (event === "store_error") {
      metrics.storeError(status.op);
      log.error(event, fields);
    } else if (event === "store_down") log.warn(event, fields);
    else log.info(event, fields);
  };
  const observer = {
    command: (shard: string, _op: string, s: number) => metrics.shardOp(shard, s),
  };
  const rawStore = deps.store ?? await openStore(config, onStatus, { observer });
  const store = instrumentStore(rawStore, metrics);
  if (config.lobby) {
    await store.rooms.create({
      name: config.lobby,
      title: config.lobby,
      topic: "",
      public: true,
      owner: null,
      createdAt: Date.now(),
    }, config.maxRooms);
  }
  const reusePort = deps.worker !== undefined;
  let listener: TransportListener;
  try {
    listener = config.tlsCert && config.tlsKey
      ? await listenTls({
        hostname: config.host,
        port: config.port,
        cert: await Deno.readTextFile(config.tlsCert),
        key: await Deno.readTextFile(config.tlsKey),
        reusePort,
      })
      : Deno.listen({
        hostname: config.host,
        port: config.port,
        transport: "tcp",
        reusePort,
      } as Deno.TcpListenOptions);
  } catch (error) {
    if (!deps.store) await rawStore[Symbol.asyncDispose]();
    throw error;
  }
  const now = deps.now ?? Date.now;
  const instanceId = deps.worker?.instanceId ?? config.nodeId;
  const hub = new Hub(store, log, metrics, {
    maxFrame: config.maxFrame,
    presenceRoomLimit: config.presenceRoomLimit,
    now,
  });
  const core: Core = {
    config,
    store,
    hub,
    log,
    metrics,
    now,
    knownUsers: new Set(),
    hasher: await startHasher(config, deps.workerCommand, log, now),
    loginGuard: new LoginGuard({
      pairLimit: config.loginLimit,
      addressLimit: config.addressLimit,
      accountLimit: config.accountLimit,
      windowMs: config.loginWindowMs,
    }),
    registrations: new RegistrationThrottle({
      perAddress: config.registerAddressLimit,
      overall: config.registerLimit,
      windowMs: config.registerWindowMs,
    }),
    roomCreations: new Map(),
    worker: deps.worker?.index,
    slowConsumers: new Map(),
  };
  const connections = new Set<Promise<void>>();
  const requests = new Set<Promise<void>>();
  let stopping: Promise<void> | null = null;
  let serial = 0;

  const shared: ConnectionContext = { core, requests, stopping: () => stopping !== null };
  /** Tracks a connection until it has ended (its promise never rejects). */
  const track = (task: Promise<void>) => {
    connections.add(task);
    task.then(() => connections.delete(task));
  };

  const sweep = () => {
    const t = now();
    for (const session of hub.connections) {
      if (session.phase === "closed") continue;
      if (session.phase !== "user") {
        // A registration or login in progress is finished and answered first, for at most
        // one more login timeout.
        const cutOff = session.loginDeadline +
          (session.exclusiveRunning ? config.loginTimeoutMs : 0);
        if (t > cutOff) session.fail("TIMEOUT", "Not logged in in time");
        continue;
      }
      if (session.pingedAt > 0) {
        if (t - session.pingedAt >= config.pingIntervalMs) {
          session.dropReason = "timeout";
          log.info("ping_timeout", { user: session.user?.name, remote: session.remote });
          session.fail("TIMEOUT", "No answer to ping");
        }
      } else if (t - session.lastSeen >= config.pingIntervalMs) {
        session.pingedAt = t;
        session.send({ type: "ping" });
      }
    }
  };
  const sweeper = setInterval(
    sweep,
    Math.min(SWEEP_MS, config.pingIntervalMs / 4, config.loginTimeoutMs / 4),
  );

  const accepting = acceptLoop(
    listener,
    (conn) => track(serveConnection(conn, shared, `${instanceId}#${++serial}`)),
    log,
    () => stopping !== null,
  );

  const stopProbe = startLagProbe(metrics);
  const http = config.httpPort === undefined ? undefined : await startHttp(
    config,
    {
      websocket(socket, remote) {
        track(serveWebSocket(socket, remote, shared, `${instanceId}#${++serial}`));
      },
      metrics: () => deps.node ? deps.node.metrics() : renderMetrics(hub, metrics, rawStore),
      health: () => deps.node ? deps.node.health() : health(store),
    },
    log,
    deps.worker !== undefined,
  );

  const addr = listener.addr as Deno.NetAddr;
  log.info("listening", {
    host: addr.hostname,
    port: addr.port,
    node: config.nodeId,
    store: store.backend,
  });

  const shutdown = (message = "Server is shutting down") => {
    stopping ??= (async () => {
      log.info("shutting_down", { connections: hub.connections.size });
      clearInterval(sweeper);
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      await withTimeout(Promise.allSettled([...requests]), SHUTDOWN_GRACE_MS);
      hub.flush();
      for (const session of hub.connections) {
        session.send({ type: "shutdown", message });
        session.close(SHUTDOWN_GRACE_MS);
      }
      await withTimeout(Promise.allSettled([...connections]), SHUTDOWN_GRACE_MS + 1000);
      await hub.close();
      await http?.stop();
      stopProbe();
      await core.hasher.close();
      if (!deps.store) await rawStore[Symbol.asyncDispose]();
      log.info("stopped");
    })();
    return stopping;
  };

  return {
    addr,
    httpPort: http?.port,
    nodeId: config.nodeId,
    metricsText: () => renderMetrics(hub, metrics, rawStore),
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(),
  };
}

/** Worker processes when possible and asked for, else threads of this process. */
async function startHasher(
  config: ServerConfig,
  command: string[] | undefined,
  log: Logger,
  now: () => number,
): Promise<PasswordHasher> {
  if (command && config.hashWorkers > 0) {
    try {
      const { hashWorkers, hashQueue } = config;
      const hasher = await ProcessHasher.start(hashWorkers, command, hashQueue, now);
      log.info("hash_workers", { count: config.hashWorkers });
      return hasher;
    } catch (error) {
      log.warn("hash_workers_failed", { error: String(error) });
    }
  }
  return new ThreadHasher(
    config.hashConcurrency || navigator.hardwareConcurrency || 1,
    config.hashQueue,
    undefined,
    now,
  );
}

/** Waits for `promise` at most `ms`. */
function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => {}),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]).finally(() => clearTimeout(timer));
}
