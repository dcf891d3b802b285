/**
 * The client's position in each stream: the highest `seq` up to which every position was
 * received (a `message` event, the `ok` of an own `send`, or reported gone by `gap`). Sent
 * with `resume` so the server starts each stream right after it (docs/PROTOCOL.md §8.4).
 *
 * @module
 */

import type { Positions, StreamName } from "../protocol/messages.ts";

interface Cursor {
  epoch?: string;
  upTo: number;
  /** Received ranges above `upTo + 1`, sorted, not touching each other. */
  ahead: [number, number][];
}

/** Positions saved between page loads: `upTo` and `epoch` per stream. */
export type SavedPositions = Record<StreamName, { seq: number; epoch?: string }>;

/**
 * Per-stream positions with out-of-order receipts held until the hole before them fills.
 *
 * @example
 * ```ts
 * const book = new PositionBook();
 * book.start("#lobby", "e1", 4);
 * book.mark("#lobby", 6); // the ok of an own send came before message 5
 * book.upTo("#lobby"); // 4
 * book.mark("#lobby", 5);
 * book.upTo("#lobby"); // 6
 * ```
 */
export class PositionBook {
  readonly #cursors = new Map<StreamName, Cursor>();

  /** A book with the positions of an earlier page load. */
  static from(saved: SavedPositions | undefined): PositionBook {
    const book = new PositionBook();
    for (const [stream, { seq, epoch }] of Object.entries(saved ?? {})) {
      if (Number.isSafeInteger(seq) && seq >= 0) {
        book.#cursors.set(stream, { epoch, upTo: seq, ahead: [] });
      }
    }
    return book;
  }

  /**
   * Where this session's delivery of `stream` starts (its `start`, plus `skipped` for a
   * room's backlog). Receipts above it are kept; those at or below it are dropped.
   */
  start(stream: StreamName, epoch: string, upTo: number): void {
    const old = this.#cursors.get(stream);
    const ahead = old && old.epoch === epoch ? old.ahead.filter(([, to]) => to > upTo) : [];
    const cursor: Cursor = { epoch, upTo, ahead };
    this.#cursors.set(stream, cursor);
    compact(cursor);
  }

  /** Records that position `seq` of `stream` was received. */
  mark(stream: StreamName, seq: number): void {
    this.#add(stream, seq, seq);
  }

  /** Records that positions `after + 1` … `next - 1` are gone (a `gap` event). */
  skip(stream: StreamName, after: number, next: number): void {
    if (next - 1 > after) this.#add(stream, after + 1, next - 1);
  }

  /** The highest position up to which everything of `stream` was received (0 if none). */
  upTo(stream: StreamName): number {
    return this.#cursors.get(stream)?.upTo ?? 0;
  }

  /** The epoch the positions of `stream` belong to, when known. */
  epoch(stream: StreamName): string | undefined {
    return this.#cursors.get(stream)?.epoch;
  }

  /** Forgets a stream (a room that was left). */
  forget(stream: StreamName): void {
    this.#cursors.delete(stream);
  }

  /** The positions to send with `login`/`resume`, and to save. */
  positions(): Positions {
    const out: Positions = {};
    for (const [stream, { epoch, upTo }] of this.#cursors) {
      if (upTo > 0) out[stream] = epoch === undefined ? { seq: upTo } : { seq: upTo, epoch };
    }
    return out;
  }

  #add(stream: StreamName, from: number, to: number): void {
    let cursor = this.#cursors.get(stream);
    if (!cursor) {
      cursor = { upTo: 0, ahead: [] };
      this.#cursors.set(stream, cursor);
    }
    if (to <= cursor.upTo) return;
    from = Math.max(from, cursor.upTo + 1);
    const ranges: [number, number][] = [];
    let placed = false;
    for (const [a, b] of cursor.ahead) {
      if (b + 1 < from) ranges.push([a, b]);
      else if (to + 1 < a) {
        if (!placed) ranges.push([from, to]);
        placed = true;
        ranges.push([a, b]);
      } else {
        from = Math.min(from, a);
        to = Math.max(to, b);
      }
    }
    if (!placed) ranges.push([from, to]);
    cursor.ahead = ranges;
    compact(cursor);
  }
}

function compact(cursor: Cursor): void {
  while (cursor.ahead.length > 0 && cursor.ahead[0][0] <= cursor.upTo + 1) {
    cursor.upTo = Math.max(cursor.upTo, cursor.ahead[0][1]);
    cursor.ahead.shift();
  }
}
