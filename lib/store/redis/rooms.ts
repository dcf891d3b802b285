/**
 * The `Rooms` contract on Redis. The room's slot is authoritative (record, members, bans,
 * invitations; roles follow from the record's owner); each user's slot keeps a copy of their
 * room list (`:r`) and invitations (`:n`), written after the room's script. A copy left stale
 * by an interrupted second write is repaired by the next reader: `roomsOf` and `invitesOf`
 * check each entry against the room and drop what is not so any more, and a `join` that finds
 * the user a member already writes the copy again.
 *
 * @module
 */

import type { Role } from "../../protocol/messages.ts";
import type {
  ActOutcome,
  Invitation,
  JoinOutcome,
  MemberPage,
  Membership,
  PartOutcome,
  RoomPage,
  RoomRecord,
  Rooms,
  RoomSummary,
} from "../contract/rooms.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import {
  BAN,
  CREATE_ROOM,
  INVITE,
  JOIN_ROOM,
  KICK,
  PART_ROOM,
  ROLE_OF,
  SET_TOPIC,
  SUMMARY,
  TRANSFER,
  UNBAN,
} from "./lua_rooms.ts";

/** Sorts after every character of a room name (in Redis' byte order). */
const NAME_END = "\u00ff";

/** Rooms in Redis. */
export class RedisRooms implements Rooms {
  readonly #link: RedisLink;
  readonly #keys: Keys;

  constructor(link: RedisLink, keys: Keys) {
    this.#link = link;
    this.#keys = keys;
  }

  async create(room: RoomRecord, maxRooms: number): Promise<"ok" | "taken" | "too_many"> {
    const owner = room.owner ?? "";
    const base = this.#keys.room(room.name);
    const count = owner === "" ? 0 : await this.#roomCount(owner);
    const outcome = await this.#link.eval<"ok" | "taken" | "too_many">(CREATE_ROOM, base, [
      room.name,
      room.title,
      room.topic,
      room.public ? "1" : "0",
      owner,
      String(room.createdAt),
      String(count),
      String(maxRooms),
    ], true);
    if (outcome !== "ok") return outcome;
    await Promise.all([
      owner === "" ? undefined : this.#listRoom(owner, room.name),
      room.public ? this.#link.durable(this.#dir, ["ZADD", this.#dir, "0", room.name]) : undefined,
    ]);
    return "ok";
  }

  async get(name: string): Promise<RoomSummary | null> {
    const base = this.#keys.room(name);
    const [members, ...fields] = await this.#link.eval<[number, ...string[]]>(SUMMARY, base, []);
    if (fields.length === 0) return null;
    const record = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) record.set(fields[i], fields[i + 1]);
    return {
      name: record.get("name") ?? name,
      title: record.get("title") ?? name,
      topic: record.get("topic") ?? "",
      public: record.get("public") === "1",
      owner: record.get("owner") || null,
      createdAt: Number(record.get("createdAt") ?? 0),
      members: Number(members),
    };
  }

  async getMany(names: readonly string[]): Promise<Map<string, RoomSummary>> {
    const found = await Promise.all(names.map((name) => this.get(name)));
    const out = new Map<string, RoomSummary>();
    for (const room of found) if (room) out.set(room.name, room);
    return out;
  }

  async join(room: string, user: string, maxRooms: number): Promise<JoinOutcome> {
    const count = await this.#roomCount(user);
    const outcome = await this.#link.eval<JoinOutcome>(JOIN_ROOM, this.#keys.room(room), [
      user,
      String(count),
      String(maxRooms),
    ], true);
    if (outcome === "joined" || outcome === "already") {
      await Promise.all([
        this.#listRoom(user, room),
        outcome === "joined" ? this.#dropInvitation(user, room) : undefined,
      ]);
    }
    return outcome;
  }

  async part(room: string, user: string): Promise<PartOutcome> {
    const [outcome, ...invited] = await this.#link.eval<string[]>(
      PART_ROOM,
      this.#keys.room(room),
      [user],
      true,
    );
    if (outcome === "ok") {
      await Promise.all([
        this.#unlistRoom(user, room),
        ...invited.map((name) => this.#dropInvitation(name, room)),
      ]);
    }
    return outcome as PartOutcome;
  }

  async invite(room: string, by: string, user: string, at: number): Promise<ActOutcome> {
    const outcome = await this.#link.eval<ActOutcome>(INVITE, this.#keys.room(room), [
      by,
      user,
      JSON.stringify({ by, at }),
    ], true);
    if (outcome === "ok") {
      const base = this.#keys.user(user);
      await this.#link.durable(base, ["ZADD", `${base}:n`, String(at), room]);
    }
    return outcome;
  }

  async kick(room: string, by: string, user: string): Promise<ActOutcome> {
    const outcome = await this.#act(KICK, room, by, user);
    if (outcome === "ok") await this.#unlistRoom(user, room);
    return outcome;
  }

  async ban(room: string, by: string, user: string): Promise<ActOutcome> {
    const outcome = await this.#act(BAN, room, by, user);
    if (outcome === "ok") {
      await Promise.all([this.#unlistRoom(user, room), this.#dropInvitation(user, room)]);
    }
    return outcome;
  }

  unban(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#act(UNBAN, room, by, user);
  }

  transfer(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#act(TRANSFER, room, by, user);
  }

  setTopic(room: string, by: string, topic: string): Promise<ActOutcome> {
    return this.#act(SET_TOPIC, room, by, topic);
  }

  async roleOf(room: string, user: string): Promise<Role | null> {
    const role = await this.#link.eval<Role | "">(ROLE_OF, this.#keys.room(room), [user]);
    return role === "" ? null : role;
  }

  async isBanned(room: string, user: string): Promise<boolean> {
    const base = this.#keys.room(room);
    return Number(await this.#link.command(base, ["SISMEMBER", `${base}:b`, user])) === 1;
  }

  async roomsOf(user: string): Promise<Membership[]> {
    const base = this.#keys.user(user);
    const listed = await this.#link.command<string[]>(base, ["HKEYS", `${base}:r`]);
    const roles = await Promise.all(listed.map((room) => this.roleOf(room, user)));
    const out: Membership[] = [];
    const stale: string[] = [];
    listed.forEach((room, i) => {
      const role = roles[i];
      if (role) out.push({ room, role });
      else stale.push(room);
    });
    if (stale.length > 0) await this.#link.durable(base, ["HDEL", `${base}:r`, ...stale]);
    return out.sort((a, b) => (a.room < b.room ? -1 : 1));
  }

  async invitesOf(user: string, limit: number): Promise<Invitation[]> {
    if (limit <= 0) return [];
    const base = this.#keys.user(user);
    const listed = await this.#link.command<string[]>(base, ["ZREVRANGE", `${base}:n`, "0", "-1"]);
    const out: Invitation[] = [];
    const stale: string[] = [];
    for (let i = 0; i < listed.length && out.length < limit; i += limit) {
      const rooms = listed.slice(i, i + limit);
      const found = await Promise.all(rooms.map((room) => this.#invitation(room, user)));
      rooms.forEach((room, j) => {
        const invitation = found[j];
        if (invitation) out.push(invitation);
        else stale.push(room);
      });
    }
    if (stale.length > 0) await this.#link.durable(base, ["ZREM", `${base}:n`, ...stale]);
    return out.slice(0, limit);
  }

  async isInvited(room: string, user: string): Promise<boolean> {
    const base = this.#keys.room(room);
    return Number(await this.#link.command(base, ["HEXISTS", `${base}:n`, user])) === 1;
  }

  async members(room: string, after: string, limit: number): Promise<MemberPage> {
    const base = this.#keys.room(room);
    const [names, total, owner] = await Promise.all([
      this.#link.command<string[]>(base, [
        "ZRANGEBYLEX",
        `${base}:m`,
        after === "" ? "-" : `(${after}`,
        "+",
        "LIMIT",
        "0",
        String(limit + 1),
      ]),
      this.#link.command<number>(base, ["ZCARD", `${base}:m`]),
      this.#link.command<string | null>(base, ["HGET", `${base}:i`, "owner"]),
    ]);
    return {
      members: names.slice(0, limit).map((name) => ({
        name,
        role: name === owner ? "owner" : "member",
      })),
      total: Number(total),
      more: names.length > limit,
    };
  }

  async directory(prefix: string, after: string, limit: number): Promise<RoomPage> {
    const start = after !== "" && after >= prefix
      ? `(${after}`
      : (prefix === "" ? "-" : `[${prefix}`);
    const end = prefix === "" ? "+" : `[${prefix}${NAME_END}`;
    const names = await this.#link.command<string[]>(this.#dir, [
      "ZRANGEBYLEX",
      this.#dir,
      start,
      end,
      "LIMIT",
      "0",
      String(limit + 1),
    ]);
    const found = await this.getMany(names.slice(0, limit));
    const rooms = names.slice(0, limit).map((name) => found.get(name)).filter((room) =>
      room?.public
    ) as RoomSummary[];
    return { rooms, more: names.length > limit };
  }

  get #dir(): string {
    return `${this.#keys.global}:dir`;
  }

  async #act(
    script: typeof KICK,
    room: string,
    by: string,
    value: string,
  ): Promise<ActOutcome> {
    return await this.#link.eval<ActOutcome>(script, this.#keys.room(room), [by, value], true);
  }

  async #roomCount(user: string): Promise<number> {
    const base = this.#keys.user(user);
    return Number(await this.#link.command(base, ["HLEN", `${base}:r`]));
  }

  async #listRoom(user: string, room: string): Promise<void> {
    const base = this.#keys.user(user);
    await this.#link.durable(base, ["HSET", `${base}:r`, room, "1"]);
  }

  async #unlistRoom(user: string, room: string): Promise<void> {
    const base = this.#keys.user(user);
    await this.#link.durable(base, ["HDEL", `${base}:r`, room]);
  }

  async #dropInvitation(user: string, room: string): Promise<void> {
    const base = this.#keys.user(user);
    await this.#link.durable(base, ["ZREM", `${base}:n`, room]);
  }

  async #invitation(room: string, user: string): Promise<Invitation | null> {
    const base = this.#keys.room(room);
    const stored = await this.#link.command<string | null>(base, ["HGET", `${base}:n`, user]);
    if (stored === null) return null;
    const { by, at } = JSON.parse(stored) as { by: string; at: number };
    return { room, by, at };
  }
}
