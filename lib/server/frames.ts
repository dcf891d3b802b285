/**
 * What every transport does with a connection: open its session (outbox, deadlines, the
 * node's registry) and run its decoded frames through the command table in order — waiting
 * while an exclusive request runs or too many run at once, answering what came before a bad
 * frame before closing. Transports (TCP in `tcp.ts`, WebSocket in `websocket.ts`) only turn
 * bytes into payloads and frames into writes.
 *
 * @module
 */

import { ChatError } from "../protocol/errors.ts";
import { isClientType } from "../protocol/validate.ts";
import type { Core } from "./context.ts";
import { dispatch, dispatchAck, reportError } from "./dispatch.ts";
import { addressKey } from "./address_key.ts";
import { TokenBucket } from "./limits.ts";
import { type FrameWriter, Outbox, type OutboxEvents } from "./outbox.ts";
import { Session, type SessionTransport } from "./session.ts";

/** Requests of one connection that may run at once before reading pauses. */
export const MAX_IN_FLIGHT = 64;

/** What every connection shares with the rest of the server (one object for all). */
export interface ConnectionContext {
  core: Core;
  /** Every request in progress on this node (awaited at shutdown). */
  requests: Set<Promise<void>>;
  /** Whether the server is shutting down. */
  stopping(): boolean;
}

/**
 * Opens the session of a new connection (`key`: unique on this node) with the transport's
 * writer and close function.
 */
export function openSession(
  ctx: ConnectionContext,
  key: string,
  remote: string,
  writer: FrameWriter,
  closeTransport: () => void,
): Session {
  const { core } = ctx;
  const { config, hub, log, metrics, now } = core;
  metrics.accepted++;
  const events = new ConnectionEvents(core, remote, closeTransport);
  events.outbox = new Outbox(writer, config.sendQueueBytes, events);
  const session = new Session(key, remote, now(), events, config.maxFrame, metrics);
  events.session = session;
  session.addressKey = addressKey(session.address, config.ipv6Prefix);
  session.loginDeadline = now() + config.loginTimeoutMs;
  session.bucket = new TokenBucket(config.rate, config.burst, now());
  hub.connections.add(session);
  log.debug("connect", { remote });
  return session;
}

/**
 * One object per connection between its session, outbox and transport: what the outbox
 * reports (a slow consumer, a failed write, bytes written) and what the session needs.
 */
class ConnectionEvents implements OutboxEvents, SessionTransport {
  readonly #core: Core;
  readonly #remote: string;
  readonly close: () => void;
  outbox!: Outbox;
  session: Session | null = null;

  constructor(core: Core, remote: string, close: () => void) {
    this.#core = core;
    this.#remote = remote;
    this.close = close;
  }

  /** The session leaves the node the moment it closes, not when the socket is gone. */
  onClose(closed: Session): void {
    const { hub, log } = this.#core;
    hub.connections.delete(closed);
    hub.detach(closed, closed.dropReason).catch((error) =>
      log.warn("detach_failed", { user: closed.user?.name, error: String(error) })
    );
  }

  overflowed(): void {
    const { log, metrics, now, slowConsumers } = this.#core;
    const user = this.session?.user?.name;
    log.warn("slow_consumer", {
      user,
      remote: this.#remote,
      queued: this.session?.outbox.queuedBytes,
    });
    metrics.slowConsumers++;
    if (user) {
      slowConsumers.set(user, now());
      if (slowConsumers.size > 100_000) slowConsumers.clear();
    }
    this.session?.end();
  }

  failed(): void {
    this.session?.end();
  }

  wrote(bytes: number): void {
    this.#core.metrics.bytesOut += bytes;
  }
}

/** Runs one connection's decoded frames in order. */
export class FrameRunner {
  readonly #ctx: ConnectionContext;
  readonly #session: Session;
  /** Requests running while later frames are read; made on first use. */
  #inFlight: Set<Promise<void>> | null = null;

  constructor(ctx: ConnectionContext, session: Session) {
    this.#ctx = ctx;
    this.#session = session;
  }

  /**
   * Counts a frame of `type` and says whether it may run: not on a closed session, and not
   * while the server stops (then the client is told so).
   */
  #admit(type: string): boolean {
    const { core } = this.#ctx;
    const session = this.#session;
    if (session.closed) return false;
    core.metrics.frameIn(type);
    if (!this.#ctx.stopping()) return true;
    reportError(
      core,
      session,
      new ChatError("SHUTTING_DOWN", "Server is shutting down"),
      undefined,
    );
    return false;
  }

  /** Handles one decoded frame; resolves false when the connection must stop reading. */
  async run(value: Record<string, unknown>): Promise<boolean> {
    if (!this.#admit(isClientType(value.type) ? value.type : "other")) return false;
    const { core, requests } = this.#ctx;
    const session = this.#session;
    const { exclusive, done } = dispatch(core, session, value);
    requests.add(done);
    done.finally(() => requests.delete(done));
    if (exclusive) {
      session.exclusiveRunning = true;
      await done;
      session.exclusiveRunning = false;
    } else {
      const running: Set<Promise<void>> = this.#inFlight ??= new Set();
      running.add(done);
      done.finally(() => running.delete(done));
      if (running.size >= MAX_IN_FLIGHT) await Promise.race(running);
    }
    return !session.closed;
  }

  /**
   * Handles an `ack` recognised without decoding (`fast_ack.ts`) as {@linkcode run} would;
   * false when the connection must stop reading.
   */
  ack(stream: string, upTo: number): boolean {
    if (!this.#admit("ack")) return false;
    dispatchAck(this.#ctx.core, this.#session, stream, upTo);
    return true;
  }

  /** A frame could not be decoded: answer what came before it, then report and close. */
  async bad(error: unknown): Promise<void> {
    this.#ctx.core.log.info("bad_frame", {
      remote: this.#session.remote,
      error: (error as Error).message,
    });
    await Promise.allSettled([...this.#inFlight ?? []]);
    reportError(this.#ctx.core, this.#session, error, undefined);
  }
}
