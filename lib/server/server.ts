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
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import type { Core } from "./context.ts";
import { acceptLoop } from "./accept_loop.ts";
import { serveConnection } from "./connection.ts";
import { Hub } from "./hub.ts";
import { RegistrationThrottle } from "./limits.ts";
import { LoginGuard } from "./login_guard.ts";
import { createLogger, type Logger } from "./log.ts";
import { instrumentStore, Metrics } from "./metrics.ts";
import { startMonitor } from "./monitor.ts";
import { listenTls } from "./tls_listener.ts";
import type { Transport, TransportListener } from "./transport.ts";

/** A running server. */
export interface ChatServer extends AsyncDisposable {
  /** The address it listens on (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  readonly nodeId: string;
  /** Stops accepting, tells clients, finishes in-flight requests, closes everything. */
  shutdown(message?: string): Promise<void>;
}

/** Parts a caller may supply instead of the defaults (tests inject these). */
export interface ServerDeps {
  log?: Logger;
  /** A store the caller owns (it is not closed at shutdown). */
  store?: Store;
  now?: () => number;
  /**
   * The command line that starts this server program; with it, passwords are hashed in
   * low-priority copies of it (see `--hash-workers`), otherwise on in-process threads.
   */
  workerCommand?: string[];
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
  const metrics = new Metrics();
  const rawStore = deps.store ?? await openStore(config, log);
  const store = instrumentStore(rawStore, metrics);
  let listener: TransportListener;
  try {
    listener = config.tlsCert && config.tlsKey
      ? await listenTls({
        hostname: config.host,
        port: config.port,
        cert: await Deno.readTextFile(config.tlsCert),
        key: await Deno.readTextFile(config.tlsKey),
      })
      : Deno.listen({ hostname: config.host, port: config.port, transport: "tcp" });
  } catch (error) {
    if (!deps.store) await rawStore[Symbol.asyncDispose]();
    throw error;
  }
  const now = deps.now ?? Date.now;
  const hub = new Hub(store, log, config.maxFrame, metrics);
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
    slowConsumers: new Map(),
  };
  const connections = new Set<Promise<void>>();
  const requests = new Set<Promise<void>>();
  let stopping: Promise<void> | null = null;
  let serial = 0;

  const serve = (conn: Transport) =>
    serveConnection(conn, {
      core,
      key: `${config.nodeId}#${++serial}`,
      requests,
      stopping: () => stopping !== null,
    });

  const sweep = () => {
    const t = now();
    hub.flushAcks();
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
    (conn) => {
      const task = serve(conn).catch((error) =>
        log.error("connection_failed", { error: String(error) })
      );
      connections.add(task);
      task.finally(() => connections.delete(task));
    },
    log,
    () => stopping !== null,
  );

  const monitor = config.metricsPort === undefined
    ? undefined
    : startMonitor(config, store, hub, metrics, log);

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
      await hub.flushAcks();
      await monitor?.stop();
      await core.hasher.close();
      if (!deps.store) await rawStore[Symbol.asyncDispose]();
      log.info("stopped");
    })();
    return stopping;
  };

  return { addr, nodeId: config.nodeId, shutdown, [Symbol.asyncDispose]: () => shutdown() };
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
