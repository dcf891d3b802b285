/**
 * One client connection's state: its phase in the conversation, the logged-in user, the
 * bounded outbox, its positions per stream, and the messages held while a stream of it is
 * being filled from the store. No socket code: the transport is an outbox and a close function.
 *
 * The session's lifecycle lives here: closing seals the outbox at once (the frames queued so
 * far are the last ever written), aborts {@linkcode Session.signal} (pending work such as a
 * queued password hash is dropped), and tells the node through `onClose` so that it leaves
 * the hub immediately, not when the socket is finally gone.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import type {
  ChatMessage,
  OfflineReason,
  ServerMessage,
  StreamName,
  UserInfo,
} from "../protocol/messages.ts";
import type { Strikes, TokenBucket } from "./limits.ts";
import type { Metrics } from "./metrics.ts";
import type { Outbox } from "./outbox.ts";
import { Positions } from "./positions.ts";

/** Where a connection stands: before `hello`, greeted but not logged in, logged in, gone. */
export type Phase = "greeting" | "guest" | "user" | "closed";

/**
 * Why a closed session's pending work stopped (the reason of {@linkcode Session.signal}):
 * nobody is waiting for its result any more, so it is dropped, not reported.
 */
export class SessionClosedError extends Error {
  constructor() {
    super("Session closed");
    this.name = "SessionClosedError";
  }
}

/** A chat message with its encoded frame. */
export interface Held {
  message: ChatMessage;
  frame: Uint8Array;
}

/** What a session needs from its transport. */
export interface SessionTransport {
  outbox: Outbox;
  /** Closes the socket. */
  close(): void;
  /** Called once when the session closes (leaves the hub). */
  onClose(session: Session): void;
}

/** A connection's state. */
export class Session {
  /** Unique on this node; also tags this session's own messages on the bus. */
  readonly key: string;
  /** Remote address as `host:port`, for logs. */
  readonly remote: string;
  /** Remote host alone. */
  readonly address: string;
  /** The key of per-address limits (see `address_key.ts`); the host until set. */
  addressKey: string;
  readonly openedAt: number;
  readonly outbox: Outbox;
  readonly #maxFrame: number;
  readonly #transport: SessionTransport;
  readonly #metrics: Metrics;
  /** Made when first asked for (most sessions never are). */
  #lifetime: AbortController | null = null;
  #closedError: SessionClosedError | null = null;
  phase: Phase = "greeting";
  user: UserInfo | null = null;
  tokenHash: string | null = null;
  /** Time the last bytes arrived. */
  lastSeen: number;
  /** When a session that is not logged in gets closed. */
  loginDeadline: number;
  /** An exclusive request (`register`, `login`...) is being processed. */
  exclusiveRunning = false;
  /** Why the session is being dropped, for the presence event. */
  dropReason: OfflineReason = "drop";
  /** When a ping was sent that no frame has answered yet; 0 when none. */
  pingedAt = 0;
  /** Positions per stream. */
  readonly positions = new Positions();
  /** Streams being filled from the store, with the live messages held meanwhile. */
  filling: Map<StreamName, Held[]> | null = null;
  #heldBytes = 0;
  /** Request rate limit, and the count of refused requests (made at the first refusal). */
  bucket!: TokenBucket;
  strikes: Strikes | null = null;

  constructor(
    key: string,
    remote: string,
    now: number,
    transport: SessionTransport,
    maxFrame: number,
    metrics: Metrics,
  ) {
    this.#metrics = metrics;
    this.key = key;
    this.remote = remote;
    this.address = remote.slice(0, remote.lastIndexOf(":"));
    this.addressKey = this.address;
    this.openedAt = now;
    this.lastSeen = now;
    this.loginDeadline = now;
    this.outbox = transport.outbox;
    this.#transport = transport;
    this.#maxFrame = maxFrame;
  }

  /**
   * Aborted (with a {@linkcode SessionClosedError}) the moment the session closes: its
   * deadlines end and the work it waits for is dropped.
   */
  get signal(): AbortSignal {
    if (this.#lifetime === null) {
      this.#lifetime = new AbortController();
      if (this.#closedError) this.#lifetime.abort(this.#closedError);
    }
    return this.#lifetime.signal;
  }

  /** Throws the {@linkcode SessionClosedError} of a closed session (as the signal would). */
  throwIfClosed(): void {
    if (this.#closedError) throw this.#closedError;
  }

  /** Whether `error` is the reason this session's pending work stopped. */
  isCloseReason(error: unknown): boolean {
    return error !== null && error === this.#closedError;
  }

  /** Whether the session is closed. */
  get closed(): boolean {
    return this.phase === "closed";
  }

  /** Encodes and queues one message. */
  send(message: ServerMessage): void {
    if (this.phase === "closed") return;
    this.#metrics.frameOut(message.type);
    this.outbox.push(encodeMessage(message, this.#maxFrame));
  }

  /** Queues an encoded frame of `count` chat messages (shared with other sessions). */
  write(frame: Uint8Array, count: number, now = false): boolean {
    if (!this.outbox.push(frame, now)) return false;
    this.#metrics.deliveries += count;
    return true;
  }

  /** Holds a live message of a stream being filled; false when the hold is over its bound. */
  hold(stream: StreamName, held: Held): boolean {
    const list = this.filling?.get(stream);
    if (!list) return false;
    this.#heldBytes += held.frame.length;
    if (this.#heldBytes > this.outbox.maxBytes) {
      this.filling = null;
      this.#heldBytes = 0;
      this.outbox.overflow();
      return false;
    }
    list.push(held);
    return true;
  }

  /** Starts holding live messages of `stream`. */
  startFilling(stream: StreamName): void {
    (this.filling ??= new Map()).set(stream, []);
  }

  /**
   * Returns what was held for `stream`, sorted by position; with `stop`, live messages are no
   * longer held for it (call it when nothing was held, to end the fill in the same turn).
   */
  takeHeld(stream: StreamName, stop = false): Held[] {
    const list = this.filling?.get(stream) ?? [];
    if (stop) this.filling?.delete(stream);
    else this.filling?.set(stream, []);
    if (this.filling?.size === 0) this.filling = null;
    for (const held of list) this.#heldBytes -= held.frame.length;
    if (this.filling === null) this.#heldBytes = 0;
    return list.sort((a, b) => a.message.seq - b.message.seq);
  }

  /** Whether `stream` is being filled. */
  isFilling(stream: StreamName): boolean {
    return this.filling?.has(stream) ?? false;
  }

  /** Sends an error without a request id, then closes once it is written. */
  fail(code: ErrorCode, message: string): void {
    this.send({ type: "error", code, message });
    this.close();
  }

  /**
   * Closes: the outbox is sealed at once (the frames queued so far, such as a fatal error, are
   * the last ever written), the signal aborts and the node is told; the transport closes once
   * those frames are written, or after `graceMs` for a peer that does not read.
   */
  close(graceMs = 1000): void {
    if (this.phase === "closed") return;
    this.outbox.seal();
    this.#markClosed();
    const timer = setTimeout(() => this.#transport.close(), graceMs);
    this.outbox.drained().then(() => {
      clearTimeout(timer);
      this.#transport.close();
    });
  }

  /** Closes at once, dropping what is still queued (the peer is gone or cut off). */
  end(): void {
    if (this.phase === "closed") return;
    this.outbox.close();
    this.#markClosed();
    this.#transport.close();
  }

  #markClosed(): void {
    this.phase = "closed";
    this.filling = null;
    this.#closedError = new SessionClosedError();
    this.#lifetime?.abort(this.#closedError);
    this.#transport.onClose(this);
  }
}
