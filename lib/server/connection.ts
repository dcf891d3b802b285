/**
 * Serves one connection: reads frames (adaptive read buffer), dispatches them in order,
 * pauses reading while an exclusive request runs or too many run at once, and cleans up
 * when the connection ends.
 *
 * @module
 */

import { decodePayload } from "../protocol/codec.ts";
import { ChatError } from "../protocol/errors.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import type { Core } from "./context.ts";
import { isClientType } from "../protocol/validate.ts";
import { dispatch, reportError } from "./dispatch.ts";
import { addressKey } from "./address_key.ts";
import { TokenBucket } from "./limits.ts";
import { Outbox } from "./outbox.ts";
import { Session } from "./session.ts";
import type { Transport } from "./transport.ts";

/**
 * Read buffer sizes. An idle connection holds the smallest; a read that fills its buffer
 * doubles the next one (busy connections read in few large chunks), and small reads shrink
 * it back. Frames larger than the buffer are reassembled by the decoder.
 */
const READ_BUFFER_MIN = 512;
const READ_BUFFER_MAX = 65536;
/** Requests of one connection that may run at once before reading pauses. */
const MAX_IN_FLIGHT = 64;

/** What a connection shares with the rest of the server. */
export interface ConnectionContext {
  core: Core;
  /** Unique key of this connection on this node. */
  key: string;
  /** Every request in progress on this node (awaited at shutdown). */
  requests: Set<Promise<void>>;
  /** Whether the server is shutting down. */
  stopping(): boolean;
}

/** Serves `conn` until it closes. Never throws. */
export async function serveConnection(conn: Transport, ctx: ConnectionContext): Promise<void> {
  const { core, key, requests } = ctx;
  const { config, hub, log, metrics, now } = core;
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
      session.end();
    },
    () => session.end(),
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
  session.addressKey = addressKey(addr.hostname, config.ipv6Prefix);
  session.loginDeadline = now() + config.loginTimeoutMs;
  session.bucket = new TokenBucket(config.rate, config.burst, now());
  hub.connections.add(session);
  // A closing session leaves the live set at once, not when its socket is gone.
  let user: string | undefined;
  let detached = Promise.resolve();
  session.signal.addEventListener("abort", () => {
    user = session.user?.name;
    detached = hub.detach(session, session.dropReason).catch((error) =>
      log.warn("detach_failed", { user, error: String(error) })
    );
  }, { once: true });
  log.debug("connect", { remote });
  const decoder = new FrameDecoder(config.maxFrame);
  let buffer = new Uint8Array(READ_BUFFER_MIN);
  // Requests running while later frames are read; made on first use (idle connections
  // never need it).
  let inFlight: Set<Promise<void>> | null = null;
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
        await Promise.allSettled([...inFlight ?? []]);
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
          await Promise.allSettled([...inFlight ?? []]);
          reportError(core, session, error, undefined);
          break reading;
        }
        metrics.frameIn(isClientType(value.type) ? value.type : "other");
        if (ctx.stopping()) {
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
          session.exclusiveRunning = true;
          await done;
          session.exclusiveRunning = false;
        } else {
          const running: Set<Promise<void>> = inFlight ??= new Set();
          running.add(done);
          done.finally(() => running.delete(done));
          if (running.size >= MAX_IN_FLIGHT) await Promise.race(running);
        }
      }
      if (n === buffer.length && n < READ_BUFFER_MAX) {
        buffer = new Uint8Array(n * 2);
      } else if (n < buffer.length / 8 && buffer.length > READ_BUFFER_MIN) {
        buffer = new Uint8Array(buffer.length / 2);
      }
      if (decoder.failure) {
        log.info("bad_frame", { remote, error: decoder.failure.message });
        await Promise.allSettled([...inFlight ?? []]);
        reportError(core, session, decoder.failure, undefined);
        break;
      }
    }
  } catch (error) {
    if (open) log.debug("read_error", { remote, error: String(error) });
  } finally {
    hub.connections.delete(session);
    session.end();
    await detached;
    log.info("disconnect", { user, remote, reason: session.dropReason });
  }
}
