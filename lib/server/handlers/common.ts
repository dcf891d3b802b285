/**
 * What several request handlers share: naming users (login name or nickname) and rooms,
 * fitting lists into one frame, and the command table's types.
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import type { ClientMessage, ClientType } from "../../protocol/messages.ts";
import { foldName, nicknameKey } from "../../protocol/rules.ts";
import type { RoomSummary } from "../../store/contract/rooms.ts";
import type { Context, Core } from "../context.ts";

/** Who may send a message: before `hello`, greeted and logged out, logged in, or greeted. */
export type Access = "greeting" | "guest" | "user" | "greeted";

/** One row of the command table. */
export interface Handler<T extends ClientMessage> {
  access: Access;
  /** Frames after this one wait until it is done (login, logout...). */
  exclusive?: boolean;
  run(ctx: Context, message: T): Promise<object | void> | object | void;
}

/** Rows for some message types. */
export type Rows<K extends ClientType> = { [T in K]: Handler<Extract<ClientMessage, { type: T }>> };

/** Room in a frame for everything of a reply but its list. */
const REPLY_OVERHEAD = 1024;
const utf8 = new TextEncoder();

/**
 * The longest run of `items` whose JSON fits in one frame next to the rest of a reply; from
 * the end when `fromEnd` (history keeps the newest).
 */
export function fitFrame<T>(core: Core, items: T[], fromEnd = false): T[] {
  let budget = core.config.maxFrame - REPLY_OVERHEAD;
  // Fast path: UTF-8 needs at most 3 bytes per UTF-16 unit of the JSON.
  if (JSON.stringify(items).length * 3 <= budget) return items;
  const order = fromEnd ? [...items].reverse() : items;
  let kept = 0;
  for (const item of order) {
    budget -= utf8.encode(JSON.stringify(item)).length + 1;
    if (budget < 0) break;
    kept++;
  }
  return fromEnd ? items.slice(items.length - kept) : items.slice(0, kept);
}

/**
 * The login name of a user named by login name or nickname (§4.1 of the protocol).
 *
 * @throws {ChatError} `UNKNOWN_USER`
 */
export async function resolveUser(core: Core, raw: string): Promise<string> {
  const name = foldName(raw);
  if (core.knownUsers.has(name) || core.hub.isLocal(name)) return name;
  if (await core.store.accounts.getUser(name) !== null) {
    rememberUser(core, name);
    return name;
  }
  const owner = await core.store.accounts.nameOfNickname(nicknameKey(raw.normalize("NFC").trim()));
  if (owner !== null) return owner;
  throw new ChatError("UNKNOWN_USER", `There is no user named "${raw.slice(0, 40)}"`);
}

const KNOWN_USERS_MAX = 100_000;

/** Remembers that an account exists (so private sends skip a store lookup). */
export function rememberUser(core: Core, name: string): void {
  if (core.knownUsers.size >= KNOWN_USERS_MAX) core.knownUsers.clear();
  core.knownUsers.add(name);
}

/**
 * A room by name. Invite-only rooms are found too: each request then answers for itself
 * (`NOT_A_MEMBER`, `INVITE_ONLY`); only `room` hides them (see {@linkcode visibleRoom}).
 *
 * @throws {ChatError} `NO_SUCH_ROOM`
 */
export async function resolveRoom(ctx: Context, raw: string): Promise<RoomSummary> {
  const name = foldName(raw);
  const room = await ctx.core.store.rooms.get(name);
  if (room) return room;
  throw new ChatError("NO_SUCH_ROOM", `There is no room named "${raw.slice(0, 40)}"`);
}

/**
 * A room visible to the session's user: an invite-only room is hidden from users who are
 * neither members nor invited.
 *
 * @throws {ChatError} `NO_SUCH_ROOM`
 */
export async function visibleRoom(ctx: Context, raw: string): Promise<RoomSummary> {
  const room = await resolveRoom(ctx, raw);
  if (room.public || await canSee(ctx, room.name)) return room;
  throw new ChatError("NO_SUCH_ROOM", `There is no room named "${raw.slice(0, 40)}"`);
}

async function canSee(ctx: Context, room: string): Promise<boolean> {
  const me = ctx.session.user!.name;
  return ctx.core.hub.roomsOf(me)?.has(room) ||
    (await ctx.core.store.rooms.roleOf(room, me)) !== null ||
    await ctx.core.store.rooms.isInvited(room, me);
}

/**
 * Requires the session's user to be a member of `room` (as this node knows it, else the store).
 *
 * @throws {ChatError} `NOT_A_MEMBER`
 */
export async function requireMember(ctx: Context, room: string): Promise<void> {
  const me = ctx.session.user!.name;
  if (ctx.core.hub.roomsOf(me)?.has(room)) return;
  if ((await ctx.core.store.rooms.roleOf(room, me)) !== null) return;
  throw new ChatError("NOT_A_MEMBER", `You are not a member of #${room}`);
}

/** A list's page size: default when absent or 0, capped. */
export function pageSize(asked: number | undefined, fallback: number, cap: number): number {
  return Math.min(asked || fallback, cap);
}
