/**
 * The `Store` contract: accounts, resume tokens, and the durable ordered message log with
 * its live feed. Two backends implement it: Deno KV (`kv.ts`) and Redis (`redis.ts`); one
 * contract suite (`tests/store_contract.ts`) runs against both.
 *
 * @module
 */

import type {
  ChatMessage,
  NickEvent,
  OfflineReason,
  PresenceEvent,
  UserInfo,
} from "../protocol/messages.ts";

/** An account as stored. `passwordHash` never leaves the server. */
export interface UserRecord extends UserInfo {
  /** Encoded salted scrypt hash (see `lib/auth/password.ts`). */
  passwordHash: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

/** A message to append; the store assigns its id. */
export type NewMessage = Omit<ChatMessage, "id">;

/** What was stored for a user while away, oldest first in each list. */
export interface Backlog {
  /** Unacknowledged private messages to the user (at most `inboxLimit`). */
  private: ChatMessage[];
  /** Group messages after the user's cursor, at most `groupLimit`, newest kept. */
  group: ChatMessage[];
  /** Group messages after the cursor that were left out by `groupLimit`. */
  skipped: number;
}

/** Options of {@linkcode Store.backlog}. */
export interface BacklogOptions {
  /** Start after this message id instead of the user's stored group cursor. */
  since?: number;
  /** Most group messages to return (the newest are kept). */
  groupLimit: number;
}

/** A page of a conversation, newest first. */
export interface HistoryPage {
  messages: ChatMessage[];
  /** Whether older messages exist before the last one returned. */
  more: boolean;
}

/** Options of {@linkcode Store.history}. */
export interface HistoryQuery {
  /** The other user of a private conversation; absent for the group. */
  between?: [string, string];
  /** Only messages with a smaller id. */
  before?: number;
  /** Most messages to return. */
  limit: number;
}

/** One user's message count. */
export interface ActivityCount {
  name: string;
  count: number;
}

/** Bounds on stored data. */
export interface Retention {
  /**
   * Group messages kept (oldest dropped first). Deno KV trims in steps of 1% of this, so
   * the log may briefly hold up to 1% more.
   */
  groupMax: number;
  /** Messages kept per private conversation. */
  privateMax: number;
  /** Unacknowledged private messages kept per user (oldest dropped first). */
  inboxMax: number;
}

/** Default retention. */
export const DEFAULT_RETENTION: Retention = {
  groupMax: 10_000,
  privateMax: 1_000,
  inboxMax: 1_000,
};

/** A live resume token. */
export interface TokenInfo {
  name: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

/** Outcome of an atomic account creation. */
export type CreateUserResult = "ok" | "name_taken" | "nick_taken";

/** Outcome of an atomic nickname change. */
export type SetNicknameResult = "ok" | "nick_taken" | "unknown_user";

/**
 * Receives each committed message, in id order, with the `origin` tag given to
 * {@linkcode Store.append} (so a node can skip the session that sent it).
 */
export type FeedListener = (message: ChatMessage, origin: string | undefined) => void;

/** Something every node tells its sessions: a presence change or a nickname change. */
export type ClusterEvent = PresenceEvent | NickEvent;

/**
 * Receives cluster events on every node, with the `origin` given by the node that caused
 * them (a session key), if any.
 */
export type ClusterListener = (event: ClusterEvent, origin: string | undefined) => void;

/** Part of the online list, and its full length. */
export interface OnlineList {
  users: UserInfo[];
  total: number;
}

/** Users and logged-in sessions online system-wide. */
export interface OnlineCounts {
  users: number;
  sessions: number;
}

/**
 * The storage contract. All names are casefolded login names.
 *
 * Message ids are positive integers assigned at commit, increasing in commit order across
 * every node sharing the store. When {@linkcode Store.append} resolves, the messages are
 * durable (as durable as the backend is configured to be) and have been, or are about to be,
 * passed to feed listeners in id order.
 */
export interface Store extends AsyncDisposable {
  /** Which backend this is, for logs and health. */
  readonly backend: "kv" | "redis";
  /** Whether the backend is reachable now (false while Redis is down). */
  readonly available: boolean;

  /** Creates an account and reserves its nickname in one atomic step. */
  createUser(user: UserRecord): Promise<CreateUserResult>;
  /** Reads one account. */
  getUser(name: string): Promise<UserRecord | null>;
  /** Reads public info of several accounts; unknown names are left out. */
  getUsers(names: readonly string[]): Promise<UserInfo[]>;
  /**
   * Changes a nickname atomically: exactly one of two racing users wins a name. On success
   * every node's cluster listeners get a `nick` event tagged with `origin`.
   */
  setNickname(name: string, nickname: string, origin?: string): Promise<SetNicknameResult>;

  /** Stores a resume token (by its hash) for `ttlMs`. */
  saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void>;
  /** The user a live token belongs to and when it expires; null when unknown, expired or revoked. */
  lookupToken(tokenHash: string): Promise<TokenInfo | null>;
  /** Revokes a token. */
  revokeToken(tokenHash: string): Promise<void>;

  /**
   * Appends messages in order, assigning ids. Group messages go to the group log; private
   * ones to the conversation log and the receiver's inbox. Counts each sender's activity.
   * `origin` is passed to feed listeners with these messages and is not stored.
   */
  append(messages: readonly NewMessage[], origin?: string): Promise<ChatMessage[]>;
  /** Registers the listener of the live feed of committed messages. */
  onCommitted(listener: FeedListener): void;

  /**
   * Registers that this node now holds sessions of `user`. When no node held them before,
   * every node's cluster listeners get `presence` with `online: true`. From then on the
   * feed of this node carries the private messages to and from `user` (it always carries
   * every group message).
   */
  join(user: UserInfo): Promise<void>;
  /**
   * This node no longer holds sessions of `name`. When no node holds them any more, every
   * node's cluster listeners get `presence` with `online: false` and `reason`.
   */
  leave(name: string, reason: OfflineReason): Promise<void>;
  /** Registers a listener of cluster events (presence and nickname changes). */
  onEvent(listener: ClusterListener): void;
  /**
   * Users online on any node, sorted by name, and how many there are. When more than
   * `limit` are online, `limit` of them (the first to come online on Deno KV, a sample on
   * Redis), so that listing never costs more than `limit`.
   */
  online(limit: number): Promise<OnlineList>;
  /** Reports how many logged-in sessions this node holds. */
  setSessions(count: number): Promise<void>;
  /** Online users and sessions over all nodes. */
  counts(): Promise<OnlineCounts>;

  /** What was stored for `name` while away. */
  backlog(name: string, options: BacklogOptions): Promise<Backlog>;
  /**
   * Records that users received every message up to an id: advances each group cursor
   * (never backwards) and removes acknowledged private messages from each inbox.
   */
  acknowledge(acks: ReadonlyMap<string, number>): Promise<void>;
  /** A page of a conversation, newest first. */
  history(query: HistoryQuery): Promise<HistoryPage>;
  /** The most active senders, all time and for one UTC day (`YYYY-MM-DD`). */
  top(limit: number, day: string): Promise<{ allTime: ActivityCount[]; today: ActivityCount[] }>;

  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
}

/** The UTC day of a timestamp as `YYYY-MM-DD`. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/** The two names of a private conversation in a stable order. */
export function pairOf(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}
