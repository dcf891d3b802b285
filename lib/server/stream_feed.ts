/**
 * The node's view of one stream it is subscribed to: live messages from the bus are passed on
 * only in position order without a hole. A message that jumps ahead makes the feed read the
 * missing positions from the store first (retrying with backoff until it succeeds), and after
 * a subscription came back the feed reads whatever it missed. Positions the store no longer
 * has (trimmed) are reported, never skipped silently.
 *
 * @module
 */

import type { ChatMessage, StreamName } from "../protocol/messages.ts";
import type { StreamRange } from "../store/contract/streams.ts";

/** Reads a stream from the store. */
export type RangeReader = (
  stream: StreamName,
  after: number,
  limit: number,
) => Promise<StreamRange>;

/** Where a feed sends what it passes on and what it reports. */
export interface FeedSink {
  /** A message that follows on (`origin`: the sending session, when known). */
  pass(message: ChatMessage, origin: string | undefined): void;
  /** Positions `after + 1` … `next - 1` are gone from the store. */
  gone(stream: StreamName, after: number, next: number): void;
  /** A read failed (it is retried). */
  failed(stream: StreamName, error: unknown): void;
}

/** Most live messages held while filling; beyond, they are read back from the store. */
const HOLD_MAX = 5000;
/** Messages read per store call while filling. */
const READ_CHUNK = 500;

interface Pending {
  message: ChatMessage;
  origin: string | undefined;
}

/**
 * Contiguous delivery of one stream.
 *
 * @example
 * ```ts
 * const feed = new StreamFeed("#lobby", reader, sink);
 * feed.start(41); // the store's head when the subscription was made
 * feed.offer(message, origin);
 * ```
 */
export class StreamFeed {
  readonly stream: StreamName;
  readonly #read: RangeReader;
  readonly #sink: FeedSink;
  /** Last position passed on; -1 until started. */
  #head = -1;
  #held: Pending[] = [];
  /** Held messages were dropped (over the bound): read until the store's head. */
  #overflowed = false;
  #filling: Promise<void> | null = null;
  /** A restore was asked while filling: read to the store's head once more. */
  #again = false;
  #closed = false;
  #retryMs = 50;

  constructor(stream: StreamName, read: RangeReader, sink: FeedSink) {
    this.stream = stream;
    this.#read = read;
    this.#sink = sink;
  }

  /** The last position passed on (-1 before {@linkcode start}). */
  get head(): number {
    return this.#head;
  }

  /** Resolves when no fill is running. */
  idle(): Promise<void> {
    return this.#filling ?? Promise.resolve();
  }

  /** Starts passing on after `head` (the store's head read after subscribing). */
  start(head: number): void {
    if (this.#head >= 0) return;
    this.#head = head;
    this.#drain();
    if (this.#held.length > 0 || this.#overflowed) this.#fill(false);
  }

  /** A live message from the bus. */
  offer(message: ChatMessage, origin: string | undefined): void {
    if (this.#closed || (this.#head >= 0 && message.seq <= this.#head)) return;
    if (this.#head >= 0 && this.#filling === null && message.seq === this.#head + 1) {
      this.#head = message.seq;
      this.#sink.pass(message, origin);
      return;
    }
    if (this.#held.length >= HOLD_MAX) this.#overflowed = true;
    else this.#held.push({ message, origin });
    if (this.#head >= 0 && this.#filling === null) this.#fill(false);
  }

  /** The subscription may have missed messages: read everything after the head. */
  restore(): void {
    if (this.#closed || this.#head < 0) return;
    if (this.#filling) this.#again = true;
    else this.#fill(true);
  }

  /** Stops: nothing more is passed on. */
  close(): void {
    this.#closed = true;
    this.#held = [];
  }

  /** Passes on held messages that follow on. */
  #drain(): void {
    if (this.#held.length === 0) return;
    this.#held.sort((a, b) => a.message.seq - b.message.seq);
    let i = 0;
    for (; i < this.#held.length; i++) {
      const { message, origin } = this.#held[i];
      if (message.seq <= this.#head) continue;
      if (message.seq !== this.#head + 1) break;
      this.#head = message.seq;
      this.#sink.pass(message, origin);
    }
    this.#held = this.#held.slice(i);
  }

  #fill(toHead: boolean): void {
    this.#filling = this.#run(toHead).finally(() => {
      this.#filling = null;
      if (this.#closed) return;
      if (this.#again || this.#held.length > 0 || this.#overflowed) {
        const again = this.#again;
        this.#again = false;
        this.#fill(again);
      }
    });
  }

  async #run(toHead: boolean): Promise<void> {
    let readToHead = toHead;
    for (;;) {
      if (this.#closed) return;
      this.#drain();
      if (this.#overflowed) {
        this.#overflowed = false;
        readToHead = true;
      }
      const next = this.#held[0]?.message.seq;
      if (next === undefined && !readToHead) return;
      const want = next === undefined ? READ_CHUNK : Math.min(READ_CHUNK, next - this.#head - 1);
      let range: StreamRange;
      try {
        range = await this.#read(this.stream, this.#head, want);
        this.#retryMs = 50;
      } catch (error) {
        this.#sink.failed(this.stream, error);
        await new Promise((resolve) => setTimeout(resolve, this.#retryMs));
        this.#retryMs = Math.min(this.#retryMs * 2, 5000);
        continue;
      }
      if (this.#closed) return;
      if (range.first > this.#head + 1) {
        const upTo = Math.min(range.first, next ?? range.first);
        this.#sink.gone(this.stream, this.#head, upTo);
        this.#head = upTo - 1;
      }
      for (const message of range.messages) {
        // Held messages keep their origin: the fill stops where they start.
        if (next !== undefined && message.seq >= next) break;
        if (message.seq !== this.#head + 1) continue;
        this.#head = message.seq;
        this.#sink.pass(message, undefined);
      }
      if (readToHead && range.messages.length < want && next === undefined) {
        readToHead = this.#head < range.head.seq;
        if (!readToHead) return;
      }
    }
  }
}
