/**
 * The `Presence` contract: who is online, on which nodes, away reasons, online counts per room
 * and system-wide, node heartbeats and the reaping of dead nodes.
 *
 * A user is online while at least one node holds a session of theirs. Every change of a user's
 * state (online, offline, away, nickname) gets the next presence version of that user and is
 * announced by the presence store itself: on the channel `#<room>` of each room of the user
 * with at most `presenceRoomLimit` members, and on `~<user>`; away and nickname changes also on
 * `@<user>` (the user's own sessions). Room online lists are kept in step (guarded by the
 * presence version, so racing changes from two nodes end in the latest state).
 *
 * @module
 */

import type { OfflineReason, UserInfo } from "../../protocol/messages.ts";

/** A page of online users. */
export interface OnlinePage {
  users: UserInfo[];
  total: number;
  more: boolean;
}

/** Users and logged-in sessions over all nodes. */
export interface OnlineCounts {
  users: number;
  sessions: number;
}

/** Presence of users. */
export interface Presence {
  /**
   * This node now holds a session of `user`, who is a member of `rooms`. When no node held one
   * before, the user comes online (announced); `first` says so.
   */
  attach(user: UserInfo, rooms: readonly string[]): Promise<{ first: boolean }>;
  /**
   * This node no longer holds sessions of `name`. When no node holds one any more the user goes
   * offline with `reason` (announced, away cleared); `last` says so.
   */
  detach(name: string, reason: OfflineReason): Promise<{ last: boolean }>;
  /** An online user joined a room (announced there as online) or left it. */
  joined(name: string, room: string): Promise<void>;
  parted(name: string, room: string): Promise<void>;
  /** Sets (non-empty) or clears (null) the away reason of an online user; announced. */
  setAway(name: string, reason: string | null): Promise<void>;
  /** Records a nickname change of a user (online or not); announced as a `nick` event. */
  renamed(name: string, old: string, nickname: string): Promise<void>;
  /** The online ones among `names`, with nickname and away reason. */
  status(names: readonly string[]): Promise<Map<string, UserInfo>>;
  /** Online members of a room, sorted by name (at most `limit`), and how many there are. */
  roomOnline(room: string, limit: number): Promise<{ users: UserInfo[]; total: number }>;
  /** How many members of each room are online. */
  roomCounts(rooms: readonly string[]): Promise<Map<string, number>>;
  /** Online users sorted by name, names greater than `after`, at most `limit`. */
  online(after: string, limit: number): Promise<OnlinePage>;
  /** Reports how many logged-in sessions this node holds. */
  setSessions(count: number): Promise<void>;
  /** Online users and sessions over all nodes. */
  counts(): Promise<OnlineCounts>;
}
