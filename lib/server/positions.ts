/**
 * A session's positions: for each stream it is in, the highest position up to which every
 * position was written to the session (as a message, as the position of its own send, or
 * reported skipped). An acknowledgement is clamped to it, and a live message is written only
 * when it follows on. Pure code.
 *
 * @module
 */

import type { StreamName } from "../protocol/messages.ts";

/** What to do with a live message of a stream. */
export type Verdict =
  /** Write it: it follows on (the position advanced). */
  | "write"
  /** Drop it: already covered (a duplicate). */
  | "drop"
  /** Positions are missing before it: fill them from the store first. */
  | "gap"
  /** The session is not in that stream. */
  | "foreign";

/**
 * Positions of one session.
 *
 * @example
 * ```ts
 * const p = new Positions();
 * p.start("#lobby", 10);
 * p.offer("#lobby", 11); // "write"
 * p.own("#lobby", 13); // own send ahead of 12
 * p.offer("#lobby", 12); // "write": covers 12 and 13
 * p.covered("#lobby"); // 13
 * ```
 */
export class Positions {
  readonly #at = new Map<StreamName, number>();
  /** Own sends not yet reached, per stream (made on first use). */
  #ahead: Map<StreamName, Set<number>> | null = null;

  /** Starts (or restarts) a stream after position `seq`. */
  start(stream: StreamName, seq: number): void {
    this.#at.set(stream, seq);
    this.#ahead?.delete(stream);
  }

  /** Leaves a stream. */
  stop(stream: StreamName): void {
    this.#at.delete(stream);
    this.#ahead?.delete(stream);
  }

  /** Whether the session is in `stream`. */
  has(stream: StreamName): boolean {
    return this.#at.has(stream);
  }

  /** The streams the session is in. */
  streams(): IterableIterator<StreamName> {
    return this.#at.keys();
  }

  /** The covered position of a stream (undefined when not in it). */
  covered(stream: StreamName): number | undefined {
    return this.#at.get(stream);
  }

  /**
   * Judges a live message at `seq`; on `"write"` the position advances (over own sends that
   * follow too).
   */
  offer(stream: StreamName, seq: number): Verdict {
    const at = this.#at.get(stream);
    if (at === undefined) return "foreign";
    if (seq <= at) return "drop";
    if (seq > at + 1) return "gap";
    this.#advance(stream, seq);
    return "write";
  }

  /** The session's own send got position `seq`. */
  own(stream: StreamName, seq: number): void {
    const at = this.#at.get(stream);
    if (at === undefined || seq <= at) return;
    if (seq === at + 1) {
      this.#advance(stream, seq);
      return;
    }
    this.#ahead ??= new Map();
    let ahead = this.#ahead.get(stream);
    if (!ahead) this.#ahead.set(stream, ahead = new Set());
    ahead.add(seq);
  }

  /**
   * Positions up to `seq` were written to the session in one piece (a batch that started right
   * after its position) or reported to it as skipped or gone.
   */
  skip(stream: StreamName, seq: number): void {
    const at = this.#at.get(stream);
    if (at === undefined || seq <= at) return;
    this.#advance(stream, seq);
  }

  /** What an acknowledgement of `upTo` may cover. */
  clamp(stream: StreamName, upTo: number): number {
    return Math.min(upTo, this.#at.get(stream) ?? 0);
  }

  #advance(stream: StreamName, seq: number): void {
    const ahead = this.#ahead?.get(stream);
    if (ahead) {
      for (const s of [...ahead]) if (s <= seq) ahead.delete(s);
      while (ahead.delete(seq + 1)) seq++;
      if (ahead.size === 0) this.#ahead!.delete(stream);
    }
    this.#at.set(stream, seq);
  }
}
