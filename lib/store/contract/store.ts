/**
 * A store: the five contracts of one backend, opened together.
 *
 * @module
 */

import type { Accounts } from "./accounts.ts";
import type { Bus } from "./bus.ts";
import type { Presence } from "./presence.ts";
import type { Rooms } from "./rooms.ts";
import type { Streams } from "./streams.ts";

/** Which backend a store is. */
export type Backend = "kv" | "redis" | "link";

/** Notable events of a store, for the log. */
export type StoreStatus =
  | { event: "store_down"; detail: string }
  | { event: "store_up"; detail: string }
  | { event: "node_reaped"; detail: string; users: number }
  | { event: "migrated"; detail: string }
  | { event: "store_error"; detail: string; op: string };

/** The five contracts of one backend. */
export interface Store extends AsyncDisposable {
  readonly backend: Backend;
  /** Whether the backend is reachable now. */
  readonly available: boolean;
  readonly accounts: Accounts;
  readonly rooms: Rooms;
  readonly streams: Streams;
  readonly bus: Bus;
  readonly presence: Presence;
  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
}

/** Bounds on stored data. */
export interface Retention {
  /** Messages kept per room stream. */
  roomMax: number;
  /** Messages kept per user's private stream. */
  inboxMax: number;
  /** Messages kept per user and peer for conversation history. */
  privateMax: number;
}

/** Settings every backend takes. */
export interface StoreSettings {
  retention: Retention;
  /** How long idempotency keys are remembered, ms. */
  dedupeWindowMs: number;
  /** Rooms above this many members carry no per-user presence announcements. */
  presenceRoomLimit: number;
  /** The lobby's name (migration of version 1 data puts the group log there); null: none. */
  lobby: string | null;
  /** Called with notable events. */
  onStatus?: (status: StoreStatus) => void;
}

/** Default retention. */
export const DEFAULT_RETENTION: Retention = { roomMax: 10_000, inboxMax: 1_000, privateMax: 1_000 };

/** The UTC day of a timestamp as `YYYY-MM-DD`. */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}
