/**
 * One client connection's state: its phase in the conversation, the logged-in user, the
 * bounded outbox, and the bookkeeping for delivery and acknowledgement. No socket code: the
 * transport is given as an outbox and a close function.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import type { ChatMessage, OfflineReason, ServerMessage, UserInfo } from "../protocol/messages.ts";
import type { Strikes, TokenBucket } from "./limits.ts";
import type { Metrics } from "./metrics.ts";
import type { Outbox } from "./outbox.ts";

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

/** A connection's state. */
export class Session {
  /** Unique on this node; also tags this session's own messages on the feed. */
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
  readonly #closeTransport: () => void;
  readonly #metrics: Metrics;
  readonly #lifetime = new AbortController();
  phase: Phase = "greeting";
  user: UserInfo | null = null;
  tokenHash: string | null = null;
  /** Time the last frame arrived. */
  lastSeen: number;
  /** When a session that is not logged in gets closed. */
  loginDeadline: number;
  /** An exclusive request (`register`, `login`...) is being processed. */
  exclusiveRunning = false;
  /** Why the session is being dropped, for the presence event. */
  dropReason: OfflineReason = "drop";
  /** When a ping was sent that no frame has answered yet; 0 when none. */
  pingedAt = 0;
  /** Highest message id written to this session. */
  maxSentId = 0;
  /** Live messages held while the login backlog is being delivered; null when live. */
  held: Held[] | null = null;
  #heldBytes = 0;
  /** Request rate limit, and the count of refused requests (made at the first refusal). */
  bucket!: TokenBucket;
  strikes: Strikes | null = null;

  constructor(
    key: string,
    remote: string,
    now: number,
    outbox: Outbox,
    maxFrame: number,
    closeTransport: () => void,
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
    this.outbox = outbox;
    this.#maxFrame = maxFrame;
    this.#closeTransport = closeTransport;
  }

  /**
   * Aborted (with a {@linkcode SessionClosedError}) the moment the session closes: its
   * deadlines end and the work it waits for (such as a queued password hash) is dropped.
   */
  get signal(): AbortSignal {
    return this.#lifetime.signal;
  }

  /** Encodes and queues one message. */
  send(message: ServerMessage): void {
    if (this.phase === "closed") return;
    this.#metrics.frameOut(message.type);
    this.outbox.push(encodeMessage(message, this.#maxFrame));
  }

  /**
   * Queues a chat message whose frame is already encoded, or holds it during login. Held
   * messages count against the outbox bound too.
   */
  deliver(message: ChatMessage, frame: Uint8Array): void {
    if (this.held !== null) {
      this.#heldBytes += frame.length;
      if (this.#heldBytes > this.outbox.maxBytes) {
        this.held = [];
        this.#heldBytes = 0;
        this.outbox.overflow();
        return;
      }
      this.held.push({ message, frame });
      return;
    }
    if (!this.outbox.push(frame)) return;
    this.#metrics.deliveries++;
    if (message.id > this.maxSentId) this.maxSentId = message.id;
  }

  /**
   * Queues several chat messages at once as one pre-joined buffer shared with other
   * sessions (`lastId` is the highest id in it). Only for a session that is not holding.
   */
  deliverJoined(joined: Uint8Array, count: number, lastId: number): void {
    if (!this.outbox.push(joined, true)) return;
    this.#metrics.deliveries += count;
    if (lastId > this.maxSentId) this.maxSentId = lastId;
  }

  /**
   * Ends the hold: writes the backlog and the held live messages in id order, each id once
   * (a message both held and in the backlog goes out as the live one). Writes are paced by
   * the outbox draining, so a large backlog never crosses the outbox bound; live messages
   * keep being held meanwhile; `flush` pushes out whatever the hub is still batching, so it
   * is held too instead of arriving after the hold ends. Returns how many were written.
   */
  async release(backlog: readonly Held[], flush: () => void = () => {}): Promise<number> {
    const seen = new Set<number>();
    let pending: Held[] = [...backlog];
    let written = 0;
    for (;;) {
      // Messages still waiting elsewhere for this turn come into the hold first.
      flush();
      const held = this.held ?? [];
      this.held = held.length > 0 || pending.length > 0 ? [] : null;
      this.#heldBytes = 0;
      const batch = [...held, ...pending].filter(({ message }) => {
        if (seen.has(message.id)) return false;
        seen.add(message.id);
        return true;
      }).sort((a, b) => a.message.id - b.message.id);
      pending = [];
      for (const { message, frame } of batch) {
        if (this.phase === "closed") return written;
        if (this.outbox.queuedBytes + frame.length > this.outbox.maxBytes / 2) {
          await this.outbox.drained();
        }
        if (!this.outbox.push(frame)) return written;
        this.#metrics.deliveries++;
        if (message.id > this.maxSentId) this.maxSentId = message.id;
        written++;
      }
      if (this.held === null) return written;
    }
  }

  /**
   * Sends an error without a request id, then closes once it is written (or after a short
   * grace period for a peer that does not read).
   */
  fail(code: ErrorCode, message: string): void {
    this.send({ type: "error", code, message });
    this.close();
  }

  /**
   * Closes: the outbox is sealed at once (the frames queued so far, such as a fatal error,
   * are the last ones ever written) and the signal aborts; the transport closes once those
   * frames are written, or after `graceMs` for a peer that does not read.
   */
  close(graceMs = 1000): void {
    if (this.phase === "closed") return;
    this.outbox.seal();
    this.#markClosed();
    const timer = setTimeout(() => this.#closeTransport(), graceMs);
    this.outbox.drained().then(() => {
      clearTimeout(timer);
      this.#closeTransport();
    });
  }

  /** Closes at once, dropping what is still queued (the peer is gone or cut off). */
  end(): void {
    if (this.phase === "closed") return;
    this.outbox.close();
    this.#markClosed();
    this.#closeTransport();
  }

  #markClosed(): void {
    this.phase = "closed";
    this.#lifetime.abort(new SessionClosedError());
  }
}
