/**
 * The `Rooms` contract: room records, membership and roles, bans, invitations and the
 * directory of public rooms. Permission rules that must hold at the moment of the write (only
 * the owner kicks, a banned user cannot join) are checked by the store atomically with it.
 *
 * @module
 */

import type { Role } from "../../protocol/messages.ts";

/** A room as stored. */
export interface RoomRecord {
  /** Folded name (login-name rules). */
  name: string;
  title: string;
  topic: string;
  public: boolean;
  /** Login name of the owner; null for a room without one (the lobby). */
  owner: string | null;
  createdAt: number;
}

/** A room with its member count. */
export interface RoomSummary extends RoomRecord {
  members: number;
}

/** One of a user's rooms. */
export interface Membership {
  room: string;
  role: Role;
}

/** A pending invitation. */
export interface Invitation {
  room: string;
  /** Who invited. */
  by: string;
  at: number;
}

/** Outcome of {@linkcode Rooms.join}. */
export type JoinOutcome = "joined" | "already" | "no_room" | "banned" | "invite_only" | "too_many";

/** Outcome of {@linkcode Rooms.part}. */
export type PartOutcome = "ok" | "no_room" | "not_member" | "owner";

/** Outcome of the owner's actions and of invitations. */
export type ActOutcome =
  | "ok"
  | "no_room"
  | "not_member"
  | "not_owner"
  | "target_not_member"
  | "already_member"
  | "banned"
  | "no_owner";

/** A page of members. */
export interface MemberPage {
  members: { name: string; role: Role }[];
  total: number;
  more: boolean;
}

/** A page of rooms. */
export interface RoomPage {
  rooms: RoomSummary[];
  more: boolean;
}

/** Rooms and their members. */
export interface Rooms {
  /**
   * Creates a room; its owner (when not null) becomes its first member with role `owner`,
   * unless that user is already in `maxRooms` rooms (`too_many`). Public rooms enter the
   * directory. `taken` when the name exists.
   */
  create(room: RoomRecord, maxRooms: number): Promise<"ok" | "taken" | "too_many">;
  /** One room with its member count; null when there is none. */
  get(name: string): Promise<RoomSummary | null>;
  /** Several rooms; unknown names are left out. */
  getMany(names: readonly string[]): Promise<Map<string, RoomSummary>>;
  /**
   * Makes `user` a member. A public room is open to anyone not banned; an invite-only room
   * needs an invitation (which is used up) or being its owner. `already` when a member.
   */
  join(room: string, user: string, maxRooms: number): Promise<JoinOutcome>;
  /** Removes `user`. The owner may leave only as the last member (`owner` otherwise). */
  part(room: string, user: string): Promise<PartOutcome>;
  /** Any member (`by`) invites `user` (kept until used, or dropped by a ban). */
  invite(room: string, by: string, user: string, at: number): Promise<ActOutcome>;
  /** The owner (`by`) removes a member. */
  kick(room: string, by: string, user: string): Promise<ActOutcome>;
  /** The owner bans `user`: removed if a member, invitations dropped, kept out. */
  ban(room: string, by: string, user: string): Promise<ActOutcome>;
  /** The owner lifts a ban. */
  unban(room: string, by: string, user: string): Promise<ActOutcome>;
  /** The owner hands ownership to a member; the old owner stays a member. */
  transfer(room: string, by: string, user: string): Promise<ActOutcome>;
  /** Any member sets the topic. */
  setTopic(room: string, by: string, topic: string): Promise<ActOutcome>;
  /** `user`'s role in `room`, or null when not a member. */
  roleOf(room: string, user: string): Promise<Role | null>;
  /** Whether `user` is banned from `room`. */
  isBanned(room: string, user: string): Promise<boolean>;
  /** The rooms `user` is a member of, sorted by room name. */
  roomsOf(user: string): Promise<Membership[]>;
  /** `user`'s pending invitations, newest first, at most `limit`. */
  invitesOf(user: string, limit: number): Promise<Invitation[]>;
  /** Whether `user` holds an invitation to `room`. */
  isInvited(room: string, user: string): Promise<boolean>;
  /** Members sorted by name, names greater than `after` (all when empty), at most `limit`. */
  members(room: string, after: string, limit: number): Promise<MemberPage>;
  /** Public rooms whose name starts with `prefix`, sorted by name, names after `after`. */
  directory(prefix: string, after: string, limit: number): Promise<RoomPage>;
}
