/**
 * The bounded outbound queue of one connection. Frames pushed during one event-loop turn are
 * written together; the same frame buffer may be pushed to any number of outboxes (encode
 * once, write everywhere). A push that would exceed the byte bound is refused and reported,
 * so a peer that stops reading is cut off instead of growing server memory. A sealed outbox
 * writes what it holds and accepts nothing more, so a last frame stays the last.
 *
 * @module
 */

import { concat } from "../protocol/bytes.ts";

/** The write side of a connection. */
export interface FrameWriter {
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /**
   * Writes what the connection takes at once, without waiting; returns how many bytes (0 when
   * none: then `write` is used for the rest). Optional.
   */
  writeSync?(bytes: Uint8Array): number;
}

/** What an outbox tells its connection; every method is called with the outbox closed. */
export interface OutboxEvents {
  /** A push would have crossed the bound. */
  overflowed(): void;
  /** A write failed. */
  failed?(error: unknown): void;
  /** `bytes` were written (also called with the outbox open). */
  wrote?(bytes: number): void;
}

/**
 * Coalescing, bounded write queue.
 *
 * @example
 * ```ts
 * const outbox = new Outbox(conn, 1 << 20, { overflowed: () => conn.close() });
 * outbox.push(frame);
 * ```
 */
export class Outbox {
  /** Outboxes with frames pushed this turn, written by one microtask after it. */
  static #due: Outbox[] = [];
  static #flushDue = () => {
    const due = Outbox.#due;
    Outbox.#due = [];
    for (const outbox of due) outbox.#flush();
  };

  readonly #writer: FrameWriter;
  readonly #maxBytes: number;
  readonly #events: OutboxEvents;
  readonly #chunks: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #closed = false;
  #sealed = false;
  #drainWaiters: (() => void)[] | null = null;

  constructor(writer: FrameWriter, maxBytes: number, events: OutboxEvents) {
    this.#writer = writer;
    this.#maxBytes = maxBytes;
    this.#events = events;
  }

  /** Bytes waiting to be written (including a write in progress). */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** The bound on queued bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Gives up on this peer as if the bound were crossed. */
  overflow(): void {
    if (this.#closed) return;
    this.close();
    this.#events.overflowed();
  }

  /**
   * Queues a frame. Returns false when the outbox is sealed or closed, or when the frame would
   * exceed the bound (then `onOverflow` is called once and the outbox closes). Frames pushed in one
   * turn are written together after it; with `now`, an idle outbox starts writing at once
   * (for a caller that pushes the turn's only frame).
   */
  push(frame: Uint8Array, now = false): boolean {
    if (this.#closed || this.#sealed) return false;
    if (this.#queued + frame.length > this.#maxBytes) {
      this.overflow();
      return false;
    }
    this.#chunks.push(frame);
    this.#queued += frame.length;
    if (!this.#writing) {
      this.#writing = true;
      if (now) this.#flush();
      else if (Outbox.#due.push(this) === 1) queueMicrotask(Outbox.#flushDue);
    }
    return true;
  }

  /** Resolves when everything queued so far has been written (or the outbox closed). */
  drained(): Promise<void> {
    if (!this.#writing || this.#closed) return Promise.resolve();
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /** Refuses further frames; what is queued is still written (see {@linkcode drained}). */
  seal(): void {
    this.#sealed = true;
  }

  /** Drops whatever is queued and refuses further frames. */
  close(): void {
    this.#closed = true;
    this.#chunks.length = 0;
    this.#wake();
  }

  /** Writes what is queued: synchronously as long as the writer takes it all. */
  #flush(): void {
    while (this.#chunks.length > 0 && !this.#closed) {
      const chunks = this.#chunks;
      const data = chunks.length === 1 ? chunks[0] : concat(chunks);
      chunks.length = 0;
      const sent = this.#writer.writeSync?.(data) ?? 0;
      if (sent < data.length) {
        this.#finish(data, sent);
        return;
      }
      this.#written(data.length);
    }
    this.#writing = false;
    this.#wake();
  }

  /** Writes the rest of `data` from `offset` asynchronously, then goes on flushing. */
  async #finish(data: Uint8Array, offset: number): Promise<void> {
    try {
      while (offset < data.length) {
        offset += await this.#writer.write(offset === 0 ? data : data.subarray(offset));
      }
    } catch (error) {
      this.close();
      this.#writing = false;
      this.#events.failed?.(error);
      this.#wake();
      return;
    }
    this.#written(data.length);
    this.#flush();
  }

  #written(bytes: number): void {
    this.#queued -= bytes;
    this.#events.wrote?.(bytes);
  }

  #wake(): void {
    if ((this.#writing && !this.#closed) || this.#drainWaiters === null) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = null;
    for (const resolve of waiters) resolve();
  }
}
