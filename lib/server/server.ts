/**
 * The chat server: accepts TCP connections, reads frames, dispatches them, and runs one
 * sweep timer for every connection's deadlines. `startServer()` returns a disposable
 * handle; disposing it shuts the server down gracefully.
 *
 * @module
 */

import { ProcessHasher } from "../auth/hash_worker.ts";
import { type PasswordHasher, ThreadHasher } from "../auth/password.ts";
import type { ServerConfig } from "../config/server_config.ts";
import { decodePayload } from "../protocol/codec.ts";
import { ChatError } from "../protocol/errors.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import type { Core } from "./context.ts";
import { dispatch, reportError } from "./dispatch.ts";
import { Hub } from "./hub.ts";
import { LoginThrottle, Strikes, TokenBucket } from "./limits.ts";
import { createLogger, type Logger } from "./log.ts";
import { instrumentStore, Metrics } from "./metrics.ts";
import { Outbox } from "./outbox.ts";
import { Session } from "./session.ts";

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

/**
 * Read buffer sizes. An idle connection holds the smallest; a read that fills its buffer
 * doubles the next one (busy connections read in few large chunks), and small reads shrink
 * it back. Frames larger than the buffer are reassembled by the decoder.
 */
const READ_BUFFER_MIN = 512;
const READ_BUFFER_MAX = 65536;
/** Requests of one connection that may run at once before reading pauses. */
const MAX_IN_FLIGHT = 64;
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
  let listener: Deno.Listener;
  try {
    listener = config.tlsCert && config.tlsKey
      ? Deno.listenTls({
        hostname: config.host,
        port: config.port,
        transport: "tcp",
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
  const throttle = (limit: number) => new LoginThrottle({ limit, windowMs: config.loginWindowMs });
  const core: Core = {
    config,
    store,
    hub,
    log,
    metrics,
    now,
    knownUsers: new Set(),
    hasher: await startHasher(config, deps.workerCommand, log),
    accountThrottle: throttle(config.loginLimit),
    addressThrottle: throttle(config.addressLimit),
    slowConsumers: new Map(),
  };
  const connections = new Set<Promise<void>>();
  const requests = new Set<Promise<void>>();
  let stopping: Promise<void> | null = null;
  let serial = 0;

  const serve = async (conn: Deno.Conn) => {
    const key = `${config.nodeId}#${++serial}`;
    metrics.accepted++;
    const addr = conn.remoteAddr as Deno.NetAddr;
    const remote = `${addr.hostname}:${addr.port}`;
    let open = true;
    const closeTransport = () => {
      if (!open) return;
      open = false;
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const outbox = new Outbox(
      conn,
      config.sendQueueBytes,
      () => {
        const user = session.user?.name;
        log.warn("slow_consumer", { user, remote, queued: outbox.queuedBytes });
        metrics.slowConsumers++;
        if (user) {
          core.slowConsumers.set(user, now());
          if (core.slowConsumers.size > 100_000) core.slowConsumers.clear();
        }
        closeTransport();
      },
      closeTransport,
      (bytes) => metrics.bytesOut += bytes,
    );
    const session = new Session(
      key,
      remote,
      now(),
      outbox,
      config.maxFrame,
      closeTransport,
      metrics,
    );
    session.loginDeadline = now() + config.loginTimeoutMs;
    session.bucket = new TokenBucket(config.rate, config.burst, now());
    session.strikes = new Strikes(2 * config.burst, now());
    hub.connections.add(session);
    log.debug("connect", { remote });
    const decoder = new FrameDecoder(config.maxFrame);
    let buffer = new Uint8Array(READ_BUFFER_MIN);
    const inFlight = new Set<Promise<void>>();
    try {
      reading: for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        session.lastSeen = now();
        session.pingedAt = 0;
        let frames: Uint8Array[];
        try {
          frames = decoder.push(buffer.subarray(0, n));
        } catch (error) {
          log.info("bad_frame", { remote, error: (error as Error).message });
          await Promise.allSettled([...inFlight]);
          reportError(core, session, error, undefined);
          break;
        }
        for (const frame of frames) {
          if (session.phase === "closed") break reading;
          let value: Record<string, unknown>;
          try {
            value = decodePayload(frame);
          } catch (error) {
            log.info("bad_frame", { remote, error: (error as Error).message });
            // Answer what came before the bad frame, then close.
            await Promise.allSettled([...inFlight]);
            reportError(core, session, error, undefined);
            break reading;
          }
          metrics.frameIn(
            typeof value.type === "string" && value.type.length <= 16 ? value.type : "?",
          );
          if (stopping) {
            reportError(
              core,
              session,
              new ChatError("SHUTTING_DOWN", "Server is shutting down"),
              undefined,
            );
            break reading;
          }
          const { exclusive, done } = dispatch(core, session, value);
          requests.add(done);
          done.finally(() => requests.delete(done));
          if (exclusive) {
            await done;
          } else {
            inFlight.add(done);
            done.finally(() => inFlight.delete(done));
            if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
          }
        }
        if (n === buffer.length && n < READ_BUFFER_MAX) {
          buffer = new Uint8Array(n * 2);
        } else if (n < buffer.length / 8 && buffer.length > READ_BUFFER_MIN) {
          buffer = new Uint8Array(buffer.length / 2);
        }
        if (decoder.failure) {
          log.info("bad_frame", { remote, error: decoder.failure.message });
          await Promise.allSettled([...inFlight]);
          reportError(core, session, decoder.failure, undefined);
          break;
        }
      }
    } catch (error) {
      if (open) log.debug("read_error", { remote, error: String(error) });
    } finally {
      hub.connections.delete(session);
      const user = session.user?.name;
      await hub.detach(session, session.dropReason).catch((error) =>
        log.warn("detach_failed", { user, error: String(error) })
      );
      if (session.phase !== "closed") {
        session.phase = "closed";
        outbox.close();
        closeTransport();
      }
      log.info("disconnect", { user, remote, reason: session.dropReason });
    }
  };

  const sweep = () => {
    const t = now();
    hub.flushAcks();
    for (const session of hub.connections) {
      if (session.phase === "closed") continue;
      if (session.phase !== "user") {
        if (t > session.loginDeadline) {
          session.fail("TIMEOUT", "Not logged in in time");
        }
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

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const task = serve(conn).catch((error) =>
          log.error("connection_failed", { error: String(error) })
        );
        connections.add(task);
        task.finally(() => connections.delete(task));
      }
    } catch (error) {
      if (!stopping) log.error("accept_failed", { error: String(error) });
    }
  })();

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
): Promise<PasswordHasher> {
  if (command && config.hashWorkers > 0) {
    try {
      const hasher = await ProcessHasher.start(config.hashWorkers, command, config.hashQueue);
      log.info("hash_workers", { count: config.hashWorkers });
      return hasher;
    } catch (error) {
      log.warn("hash_workers_failed", { error: String(error) });
    }
  }
  return new ThreadHasher(
    config.hashConcurrency || navigator.hardwareConcurrency || 1,
    config.hashQueue,
  );
}

/** The HTTP listener of /metrics and /healthz, and the event-loop lag probe. */
function startMonitor(
  config: ServerConfig,
  store: Store,
  hub: Hub,
  metrics: Metrics,
  log: Logger,
): { stop(): Promise<void> } {
  const LAG_PROBE_MS = 100;
  let expected = performance.now() + LAG_PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    metrics.eventLoopLag = Math.max(metrics.eventLoopLag, Math.max(0, now - expected) / 1000);
    expected = now + LAG_PROBE_MS;
  }, LAG_PROBE_MS);
  const http = Deno.serve({
    hostname: config.metricsHost,
    port: config.metricsPort,
    onListen: ({ port }) => log.info("metrics_listening", { host: config.metricsHost, port }),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      let queuedBytes = 0;
      for (const session of hub.connections) queuedBytes += session.outbox.queuedBytes;
      const body = metrics.render({
        connections: hub.connections.size,
        sessions: hub.localSessions,
        localUsers: hub.localUsers,
        queuedBytes,
      });
      return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
    }
    if (path === "/healthz") {
      try {
        await withTimeout(store.ping(), 2000, true);
        return new Response(`ok ${store.backend}\n`);
      } catch (error) {
        return new Response(`store unreachable: ${error}\n`, { status: 503 });
      }
    }
    return new Response("not found\n", { status: 404 });
  });
  return {
    async stop() {
      clearInterval(probe);
      await http.shutdown();
    },
  };
}

/** Waits for `promise` at most `ms`; then resolves, or rejects when `fail` is set. */
function withTimeout(promise: Promise<unknown>, ms: number, fail = false): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => {}),
    new Promise<void>((resolve, reject) =>
      timer = setTimeout(() => fail ? reject(new Error("timed out")) : resolve(), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}
