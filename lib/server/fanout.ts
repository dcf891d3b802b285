/**
 * Fan-out of live messages to the sessions of one node. Each message is encoded once; messages
 * of one stream committed in one event-loop turn are joined once into one buffer that every
 * session positioned right before them writes with one write. Under load (the previous batch
 * went out less than 2 ms before) a batch waits up to 2 ms for more messages. Sessions that are
 * not at that position, that sent one of the messages, or whose stream is being filled, get the
 * messages one by one through {@linkcode FanoutTargets.one}. It never awaits a session.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type { ChatMessage, StreamName } from "../protocol/messages.ts";
import { concat } from "../protocol/bytes.ts";
import type { Held, Session } from "./session.ts";

/** Longest wait for more messages under load, ms. */
const COALESCE_MS = 2;
/** Most bytes in one batch: a quarter of the smallest allowed outbox bound. */
const BATCH_BYTES = 16 * 1024;

/** Where the fan-out delivers. */
export interface FanoutTargets {
  /** The local sessions that receive `stream`. */
  sessionsOf(stream: StreamName): Iterable<Session>;
  /** Delivers one message to one session (own sends, holds, positions, gaps). */
  one(session: Session, stream: StreamName, held: Held, origin: string | undefined): void;
}

interface Item extends Held {
  origin: string | undefined;
}

/**
 * Batching fan-out.
 *
 * @example
 * ```ts
 * const fanout = new Fanout(targets, 65536);
 * fanout.add(message, "node#12");
 * ```
 */
export class Fanout {
  readonly #targets: FanoutTargets;
  readonly #maxFrame: number;
  #batches = new Map<StreamName, { items: Item[]; bytes: number }>();
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastFlush = -Infinity;
  readonly #flushNow = () => this.flush();

  constructor(targets: FanoutTargets, maxFrame: number) {
    this.#targets = targets;
    this.#maxFrame = maxFrame;
  }

  /** Encodes a message as its `message` event frame. */
  encode(message: ChatMessage, backlog = false): Uint8Array {
    return encodeMessage(
      backlog
        ? { type: "message", msg: message, backlog: true }
        : { type: "message", msg: message },
      this.#maxFrame,
    );
  }

  /** Queues a message that follows on in its stream (as passed on by the stream's feed). */
  add(message: ChatMessage, origin: string | undefined): void {
    const frame = this.encode(message);
    let batch = this.#batches.get(message.stream);
    if (batch && batch.bytes + frame.length > BATCH_BYTES) {
      this.#deliver(message.stream, batch.items);
      batch = undefined;
    }
    if (!batch) {
      batch = { items: [], bytes: 0 };
      this.#batches.set(message.stream, batch);
    }
    batch.items.push({ message, frame, origin });
    batch.bytes += frame.length;
    if (this.#scheduled) return;
    this.#scheduled = true;
    const since = performance.now() - this.#lastFlush;
    if (since < COALESCE_MS) this.#timer = setTimeout(this.#flushNow, COALESCE_MS - since);
    else queueMicrotask(this.#flushNow);
  }

  /** Delivers everything queued now. */
  flush(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    clearTimeout(this.#timer);
    this.#lastFlush = performance.now();
    const batches = this.#batches;
    this.#batches = new Map();
    for (const [stream, batch] of batches) this.#deliver(stream, batch.items);
  }

  #deliver(stream: StreamName, items: Item[]): void {
    if (items.length === 0) return;
    const first = items[0].message.seq;
    const last = items[items.length - 1].message.seq;
    let origins: Set<string> | null = null;
    for (const item of items) {
      if (item.origin !== undefined) (origins ??= new Set()).add(item.origin);
    }
    let joined: Uint8Array | null = null;
    for (const session of this.#targets.sessionsOf(stream)) {
      if (
        !origins?.has(session.key) && !session.isFilling(stream) &&
        session.positions.covered(stream) === first - 1
      ) {
        joined ??= items.length === 1 ? items[0].frame : concat(items.map((i) => i.frame));
        if (session.write(joined, items.length, items.length === 1)) {
          session.positions.skip(stream, last);
        }
        continue;
      }
      for (const item of items) this.#targets.one(session, stream, item, item.origin);
    }
  }
}
