/**
 * The `Streams` contract: ordered message streams with contiguous positions, idempotent
 * appends, ranges for gap filling and history, per-user acknowledged positions, private
 * contacts and activity counts.
 *
 * Streams are `#<room>` and `@<user>` (see `lib/protocol/messages.ts`). Every append to a
 * stream gets the next position: 1, 2, 3, … with no hole, never reused, also after trimming.
 * An append publishes the stored message on the stream's bus channel (same name as the
 * stream) as part of the same write, so that publish order equals position order per stream.
 *
 * @module
 */

import type { ChatMessage, StreamName } from "../../protocol/messages.ts";

/** Where a stream stands in the store. */
export interface StreamHead {
  /** Newest position; 0 for an empty stream. */
  seq: number;
  /** Made when the stream is first written or first asked for; changes only if it is lost. */
  epoch: string;
}

/** A message to append. */
export interface NewMessage {
  /** For a room message, the room; absent for a private message. */
  room?: string;
  /** For a private message, the receiver; absent for a room message. */
  to?: string;
  from: string;
  nick: string;
  ts: number;
  text: string;
  action?: true;
  /** Idempotency key (1–64 of `A-Za-z0-9_-`): a second append from `from` with the same key
   * and target within the dedupe window stores nothing and returns the first result. */
  key?: string;
}

/** What an append did. */
export type AppendOutcome =
  | {
    ok: true;
    /** The stored message: in the room's stream, or the sender's copy in `@from`. */
    message: ChatMessage;
    epoch: string;
    /** A resend: nothing was stored now. */
    dup: boolean;
  }
  | { ok: false; error: "no_room" | "not_member" | "failed"; cause?: unknown };

/** A run of a stream read for delivery. */
export interface StreamRange {
  /** Messages with positions after the asked one, ascending, at most the asked limit. */
  messages: ChatMessage[];
  head: StreamHead;
  /**
   * The position of the first message returned, or `head.seq + 1` when none is. When it is
   * greater than the asked position + 1, the positions between are gone (trimmed).
   */
  first: number;
}

/** A page of history. */
export interface HistoryPage {
  /** Oldest first. */
  messages: ChatMessage[];
  /** Whether more exist beyond the page (older, or newer with `after`). */
  more: boolean;
  epoch: string;
}

/** Options of {@linkcode Streams.page}. */
export interface PageQuery {
  stream: StreamName;
  /** Only the messages exchanged with this user (for an `@user` stream). */
  peer?: string;
  before?: number;
  after?: number;
  limit: number;
}

/** One user's message count. */
export interface ActivityCount {
  name: string;
  count: number;
}

/** Rankings: all time and one UTC day. */
export interface Rankings {
  allTime: ActivityCount[];
  today: ActivityCount[];
}

/** Acknowledged positions to store: user → stream → position. */
export type AckBatch = ReadonlyMap<string, ReadonlyMap<StreamName, number>>;

/** Message streams. */
export interface Streams {
  /**
   * Appends messages; the outcomes are in the order of `messages`, one each (a failure of one
   * does not fail the others). A room message needs `from` to be a member of `room` (checked
   * atomically with the write). A private message is stored twice: the sender's copy in
   * `@from` and the receiver's copy in `@to` (see docs/PROTOCOL.md §8.3 for the rule across two
   * shards); each copy is published on its stream's channel. Messages of one call to the same
   * stream get consecutive positions in call order. Room appends also count the sender's
   * activity in the room; overall activity is added by {@linkcode Streams.addActivity}.
   * `origin` is passed with the published messages (it tags the sending session).
   */
  append(messages: readonly NewMessage[], origin?: string): Promise<AppendOutcome[]>;
  /** The head of one stream (made, with a new epoch, when the stream has none). */
  head(stream: StreamName): Promise<StreamHead>;
  /** Heads of several streams. */
  heads(streams: readonly StreamName[]): Promise<Map<StreamName, StreamHead>>;
  /** Messages after position `after`, ascending, at most `limit`. */
  read(stream: StreamName, after: number, limit: number): Promise<StreamRange>;
  /** A page of history (see {@linkcode PageQuery}). */
  page(query: PageQuery): Promise<HistoryPage>;
  /** The positions `user` has acknowledged, by stream (absent streams: 0). */
  cursors(user: string): Promise<Map<StreamName, number>>;
  /** Advances acknowledged positions, never backwards. */
  acknowledge(acks: AckBatch): Promise<void>;
  /** Sets a user's acknowledged position in a stream (joining a room: its head). */
  setCursor(user: string, stream: StreamName, seq: number): Promise<void>;
  /** The users `user` most recently exchanged private messages with, newest first. */
  contacts(user: string, limit: number): Promise<string[]>;
  /**
   * Completes the second writes of private messages `user` sent whose receiver's copy may be
   * missing (interrupted sends); idempotent. Returns how many were completed.
   */
  complete(user: string): Promise<number>;
  /** Adds overall activity counts (summed by the caller) for one UTC day. */
  addActivity(day: string, counts: ReadonlyMap<string, number>): Promise<void>;
  /** Most active senders overall, or in one room; at most `limit`, ties by name. */
  top(limit: number, day: string, room?: string): Promise<Rankings>;
}
