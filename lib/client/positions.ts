/**
 * The client's positions per stream (PROTOCOL §8): what it has passed on, what it holds
 * back until a gap is filled, and what it may acknowledge. Pure code.
 *
 * For each stream the client keeps `seq`, the highest position up to which it has every
 * message (received, its own send's position, or reported as skipped or gone). A message at
 * `seq + 1` is passed on; one at or below `seq` is a duplicate and dropped; one further
 * ahead is held until the positions before it arrive (from history) or are reported gone.
 *
 * @module
 */

import type { ChatMessage, Positions, StreamName, StreamState } from "../protocol/messages.ts";

/** What {@linkcode StreamPositions.offer} decided. */
export interface Offered {
  /** Messages to show now, in order (the offered one and any held ones it unblocked). */
  deliver: ChatMessage[];
  /** A hole before the held messages: positions `after + 1` … `before - 1` are missing. */
  gap?: { after: number; before: number };
}

interface Track {
  epoch: string;
  seq: number;
  /** Held messages and own positions beyond `seq`, by position (`null` = own send). */
  ahead: Map<number, ChatMessage | null>;
  /** Highest position acknowledged to the server. */
  acked: number;
}

/** Most positions held ahead of a gap per stream before the oldest are given up. */
const AHEAD_MAX = 5000;

/**
 * Positions of every stream the client reads.
 *
 * @example
 * ```ts
 * const p = new StreamPositions();
 * p.start({ stream: "#lobby", epoch: "e", head: 3, acked: 1, start: 1, unread: 2 });
 * p.offer(msg(2)).deliver.length; // 1
 * p.offer(msg(2)).deliver.length; // 0 (duplicate)
 * p.offer(msg(4)).gap; // { after: 2, before: 4 }
 * ```
 */
export class StreamPositions {
  readonly #tracks = new Map<StreamName, Track>();

  /**
   * Sets a stream's start from the server's state (login, resume, join). Keeps what the
   * client already has when the server starts at or before it in the same epoch (no
   * duplicates after a resume); starts over on a reset or a new epoch.
   */
  start(state: StreamState, skipped = 0): void {
    const base = state.start + skipped;
    const track = this.#tracks.get(state.stream);
    if (track && track.epoch === state.epoch && !state.reset) {
      if (base > track.seq) this.#advance(track, base);
      return;
    }
    this.#tracks.set(state.stream, {
      epoch: state.epoch,
      seq: base,
      ahead: new Map(),
      acked: base,
    });
  }

  /** Forgets a stream (a room left). */
  drop(stream: StreamName): void {
    this.#tracks.delete(stream);
  }

  /** Whether the stream is tracked. */
  has(stream: StreamName): boolean {
    return this.#tracks.has(stream);
  }

  /** The highest contiguous position of a stream (0 when unknown). */
  seq(stream: StreamName): number {
    return this.#tracks.get(stream)?.seq ?? 0;
  }

  /** Offers a received message (live, backlog or history). */
  offer(msg: ChatMessage): Offered {
    const track = this.#tracks.get(msg.stream);
    if (!track) {
      // A stream the client was not told about (e.g. joined on another device): start here.
      this.#tracks.set(msg.stream, { epoch: "", seq: msg.seq, ahead: new Map(), acked: 0 });
      return { deliver: [msg] };
    }
    if (msg.seq <= track.seq || track.ahead.get(msg.seq)) return { deliver: [] };
    if (msg.seq > track.seq + 1) {
      if (track.ahead.has(msg.seq)) return { deliver: [] };
      track.ahead.set(msg.seq, msg);
      this.#bound(track);
      return { deliver: [], gap: this.#gap(track) };
    }
    track.seq = msg.seq;
    const deliver = [msg, ...this.#drain(track)];
    const gap = track.ahead.size > 0 ? this.#gap(track) : undefined;
    return gap ? { deliver, gap } : { deliver };
  }

  /** Records the position of the client's own send (its `ok`); returns held messages freed. */
  own(stream: StreamName, seq: number): ChatMessage[] {
    const track = this.#tracks.get(stream);
    if (!track) {
      this.#tracks.set(stream, { epoch: "", seq, ahead: new Map(), acked: 0 });
      return [];
    }
    if (seq <= track.seq) return [];
    if (seq > track.seq + 1) {
      if (!track.ahead.has(seq)) track.ahead.set(seq, null);
      return [];
    }
    track.seq = seq;
    return this.#drain(track);
  }

  /**
   * Positions up to `upTo` are reported gone (a `gap` event, or history that has nothing
   * before a held message): move past them and release what was held.
   */
  skipTo(stream: StreamName, upTo: number): ChatMessage[] {
    const track = this.#tracks.get(stream);
    if (!track || upTo <= track.seq) return [];
    return this.#advance(track, upTo);
  }

  /** The first missing range of a stream, if one is being waited for. */
  gap(stream: StreamName): { after: number; before: number } | undefined {
    const track = this.#tracks.get(stream);
    return track && track.ahead.size > 0 ? this.#gap(track) : undefined;
  }

  /** Acknowledgements due: streams whose position moved since the last call. */
  takeAcks(): { stream: StreamName; upTo: number }[] {
    const due: { stream: StreamName; upTo: number }[] = [];
    for (const [stream, track] of this.#tracks) {
      if (track.seq > track.acked) {
        due.push({ stream, upTo: track.seq });
        track.acked = track.seq;
      }
    }
    return due;
  }

  /** Positions to send with `login`/`resume`. */
  positions(): Positions {
    const out: Positions = {};
    for (const [stream, track] of this.#tracks) {
      if (track.seq <= 0) continue;
      out[stream] = track.epoch ? { seq: track.seq, epoch: track.epoch } : { seq: track.seq };
    }
    return out;
  }

  /** After a reconnect nothing has been acknowledged on the new session yet. */
  resetAcks(): void {
    for (const track of this.#tracks.values()) track.acked = Math.min(track.acked, track.seq);
  }

  #advance(track: Track, upTo: number): ChatMessage[] {
    track.seq = upTo;
    for (const seq of [...track.ahead.keys()]) if (seq <= upTo) track.ahead.delete(seq);
    return this.#drain(track);
  }

  #drain(track: Track): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (;;) {
      const next = track.seq + 1;
      if (!track.ahead.has(next)) break;
      const held = track.ahead.get(next)!;
      track.ahead.delete(next);
      track.seq = next;
      if (held !== null) out.push(held);
    }
    return out;
  }

  #gap(track: Track): { after: number; before: number } {
    let before = Infinity;
    for (const seq of track.ahead.keys()) if (seq < before) before = seq;
    return { after: track.seq, before };
  }

  #bound(track: Track): void {
    if (track.ahead.size <= AHEAD_MAX) return;
    const oldest = Math.min(...track.ahead.keys());
    this.#advance(track, oldest - 1);
  }
}
