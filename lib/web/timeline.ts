/**
 * The messages of one view (a room, or a private conversation), in stream order, each
 * `(stream, seq)` once: a message delivered live, again after a reconnect, and once more
 * in a history page is shown once.
 *
 * @module
 */

import type { ChatMessage } from "../protocol/messages.ts";

/**
 * Messages sorted by `seq`, without duplicates.
 *
 * @example
 * ```ts
 * const t = new Timeline();
 * t.add({ stream: "#lobby", seq: 2, ts: 0, from: "bob", nick: "Bob", text: "hi" }); // true
 * t.add({ stream: "#lobby", seq: 2, ts: 0, from: "bob", nick: "Bob", text: "hi" }); // false
 * ```
 */
export class Timeline {
  readonly #messages: ChatMessage[] = [];
  readonly #seqs = new Set<number>();
  /** Whether history said nothing older exists. */
  complete = false;

  /** The messages, oldest first. */
  get messages(): readonly ChatMessage[] {
    return this.#messages;
  }

  /** How many messages it holds. */
  get size(): number {
    return this.#messages.length;
  }

  /** Whether position `seq` is shown. */
  has(seq: number): boolean {
    return this.#seqs.has(seq);
  }

  /** Adds a message in order; false when its position is shown already. */
  add(msg: ChatMessage): boolean {
    if (this.#seqs.has(msg.seq)) return false;
    this.#seqs.add(msg.seq);
    const list = this.#messages;
    if (list.length === 0 || list[list.length - 1].seq < msg.seq) {
      list.push(msg);
      return true;
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].seq < msg.seq) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, msg);
    return true;
  }

  /**
   * Adds a history page (oldest first); `more` false on a page of the oldest messages
   * marks the timeline complete. Returns how many were new.
   */
  addPage(messages: readonly ChatMessage[], more: boolean): number {
    let added = 0;
    for (const msg of messages) if (this.add(msg)) added++;
    if (!more) this.complete = true;
    return added;
  }

  /** The oldest position shown. */
  oldest(): number | undefined {
    return this.#messages[0]?.seq;
  }

  /** The newest position shown. */
  newest(): number | undefined {
    return this.#messages[this.#messages.length - 1]?.seq;
  }

  /** Drops everything (the stream got a new epoch). */
  clear(): void {
    this.#messages.length = 0;
    this.#seqs.clear();
    this.complete = false;
  }
}
