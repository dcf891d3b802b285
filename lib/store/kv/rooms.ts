/**
 * The `Rooms` contract on Deno KV. Mutations run one at a time in the owner process (the only
 * writer of the file), so each checks and writes without racing another; records, member
 * counts and roles read once are cached.
 *
 * Keys: `["room", room]` → {@linkcode RoomRecord}; `["memc", room]` → member count;
 * `["mem", room, user]` and `["umem", user, room]` → role; `["ban", room, user]`;
 * `["inv", room, user]` and `["uinv", user, room]` → {by, at}; `["dir", room]` for public rooms.
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
import type { Serial } from "./serial.ts";

/** Sorts after every character allowed in a room name. */
const NAME_END = "~";

/** Rooms in a KV file. */
export class KvRooms implements Rooms {
  readonly #kv: Deno.Kv;
  readonly #records = new Map<string, RoomRecord>();
  readonly #counts = new Map<string, number>();
  /** Roles known per room (null: known not to be a member). */
  readonly #roles = new Map<string, Map<string, Role | null>>();
  readonly #userRooms = new Map<string, Map<string, Role>>();
  readonly #serialQueue: Serial;

  constructor(kv: Deno.Kv, serial: Serial) {
    this.#kv = kv;
    this.#serialQueue = serial;
  }

  create(room: RoomRecord, maxRooms: number): Promise<"ok" | "taken" | "too_many"> {
    return this.#serial(async () => {
      if (await this.#record(room.name)) return "taken";
      const op = this.#kv.atomic()
        .check({ key: ["room", room.name], versionstamp: null })
        .set(["room", room.name], room)
        .set(["memc", room.name], room.owner === null ? 0 : 1);
      if (room.public) op.set(["dir", room.name], true);
      if (room.owner !== null) {
        if ((await this.#roomsOf(room.owner)).size >= maxRooms) return "too_many";
        op.set(["mem", room.name, room.owner], "owner").set(
          ["umem", room.owner, room.name],
          "owner",
        );
      }
      if (!(await op.commit()).ok) return "taken";
      this.#records.set(room.name, room);
      this.#counts.set(room.name, room.owner === null ? 0 : 1);
      if (room.owner !== null) this.#setRole(room.name, room.owner, "owner");
      return "ok";
    });
  }

  async get(name: string): Promise<RoomSummary | null> {
    const record = await this.#record(name);
    return record ? { ...record, members: await this.#count(name) } : null;
  }

  async getMany(names: readonly string[]): Promise<Map<string, RoomSummary>> {
    const out = new Map<string, RoomSummary>();
    for (const name of names) {
      const room = await this.get(name);
      if (room) out.set(name, room);
    }
    return out;
  }

  /** Member counts of rooms (0 for unknown ones). */
  async sizes(names: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const name of names) out.set(name, await this.#count(name));
    return out;
  }

  join(room: string, user: string, maxRooms: number): Promise<JoinOutcome> {
    return this.#serial(async () => {
      const record = await this.#record(room);
      if (!record) return "no_room";
      if (await this.roleOf(room, user)) return "already";
      if (await this.isBanned(room, user)) return "banned";
      const invited = await this.isInvited(room, user);
      if (!record.public && record.owner !== user && !invited) return "invite_only";
      if ((await this.#roomsOf(user)).size >= maxRooms) return "too_many";
      const role: Role = record.owner === user ? "owner" : "member";
      const count = await this.#count(room);
      const op = this.#kv.atomic()
        .set(["mem", room, user], role)
        .set(["umem", user, room], role)
        .set(["memc", room], count + 1)
        .delete(["inv", room, user])
        .delete(["uinv", user, room]);
      await commit(op);
      this.#counts.set(room, count + 1);
      this.#setRole(room, user, role);
      return "joined";
    });
  }

  part(room: string, user: string): Promise<PartOutcome> {
    return this.#serial(async () => {
      if (!await this.#record(room)) return "no_room";
      const role = await this.roleOf(room, user);
      if (!role) return "not_member";
      const count = await this.#count(room);
      if (role === "owner" && count > 1) return "owner";
      await this.#removeMember(room, user, count);
      if (count === 1) await this.#dropInvitations(room);
      return "ok";
    });
  }

  invite(room: string, by: string, user: string, at: number): Promise<ActOutcome> {
    return this.#serial(async () => {
      if (!await this.#record(room)) return "no_room";
      if (!await this.roleOf(room, by)) return "not_member";
      if (await this.roleOf(room, user)) return "already_member";
      if (await this.isBanned(room, user)) return "banned";
      const invitation = { by, at };
      await commit(
        this.#kv.atomic().set(["inv", room, user], invitation).set(
          ["uinv", user, room],
          invitation,
        ),
      );
      return "ok";
    });
  }

  kick(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#serial(async () => {
      const denied = await this.#ownerCheck(room, by);
      if (denied) return denied;
      if (!await this.roleOf(room, user)) return "target_not_member";
      await this.#removeMember(room, user, await this.#count(room));
      return "ok";
    });
  }

  ban(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#serial(async () => {
      const denied = await this.#ownerCheck(room, by);
      if (denied) return denied;
      if (await this.roleOf(room, user)) {
        await this.#removeMember(room, user, await this.#count(room));
      }
      await commit(
        this.#kv.atomic().set(["ban", room, user], true).delete(["inv", room, user])
          .delete(["uinv", user, room]),
      );
      return "ok";
    });
  }

  unban(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#serial(async () => {
      const denied = await this.#ownerCheck(room, by);
      if (denied) return denied;
      await this.#kv.delete(["ban", room, user]);
      return "ok";
    });
  }

  transfer(room: string, by: string, user: string): Promise<ActOutcome> {
    return this.#serial(async () => {
      const denied = await this.#ownerCheck(room, by);
      if (denied) return denied;
      if (!await this.roleOf(room, user)) return "target_not_member";
      const record = { ...(await this.#record(room))!, owner: user };
      await commit(
        this.#kv.atomic().set(["room", room], record)
          .set(["mem", room, by], "member").set(["umem", by, room], "member")
          .set(["mem", room, user], "owner").set(["umem", user, room], "owner"),
      );
      this.#records.set(room, record);
      this.#setRole(room, by, "member");
      this.#setRole(room, user, "owner");
      return "ok";
    });
  }

  setTopic(room: string, by: string, topic: string): Promise<ActOutcome> {
    return this.#serial(async () => {
      const current = await this.#record(room);
      if (!current) return "no_room";
      if (!await this.roleOf(room, by)) return "not_member";
      const record = { ...current, topic };
      await this.#kv.set(["room", room], record);
      this.#records.set(room, record);
      return "ok";
    });
  }

  async roleOf(room: string, user: string): Promise<Role | null> {
    const known = this.#roles.get(room)?.get(user);
    if (known !== undefined) return known;
    const role = (await this.#kv.get<Role>(["mem", room, user])).value;
    this.#knownRoles(room).set(user, role);
    return role;
  }

  async isBanned(room: string, user: string): Promise<boolean> {
    return (await this.#kv.get(["ban", room, user])).versionstamp !== null;
  }

  async roomsOf(user: string): Promise<Membership[]> {
    const rooms = await this.#roomsOf(user);
    return [...rooms].sort(([a], [b]) => (a < b ? -1 : 1)).map(([room, role]) => ({ room, role }));
  }

  async invitesOf(user: string, limit: number): Promise<Invitation[]> {
    const out: Invitation[] = [];
    for await (
      const entry of this.#kv.list<{ by: string; at: number }>({ prefix: ["uinv", user] })
    ) {
      out.push({ room: entry.key[2] as string, by: entry.value.by, at: entry.value.at });
    }
    return out.sort((a, b) => b.at - a.at).slice(0, limit);
  }

  async isInvited(room: string, user: string): Promise<boolean> {
    return (await this.#kv.get(["inv", room, user])).versionstamp !== null;
  }

  async members(room: string, after: string, limit: number): Promise<MemberPage> {
    const list = this.#kv.list<Role>(
      after === ""
        ? { prefix: ["mem", room] }
        : { prefix: ["mem", room], start: ["mem", room, after] },
      { limit: limit + 2 },
    );
    const members: { name: string; role: Role }[] = [];
    for await (const entry of list) {
      const name = entry.key[2] as string;
      if (name > after) members.push({ name, role: entry.value });
    }
    return {
      members: members.slice(0, limit),
      total: await this.#count(room),
      more: members.length > limit,
    };
  }

  async directory(prefix: string, after: string, limit: number): Promise<RoomPage> {
    const from = after > prefix ? after : prefix;
    const selector: Deno.KvListSelector = prefix === ""
      ? (from === "" ? { prefix: ["dir"] } : { prefix: ["dir"], start: ["dir", from] })
      : { start: ["dir", from], end: ["dir", prefix + NAME_END] };
    const names: string[] = [];
    for await (const entry of this.#kv.list(selector, { limit: limit + 2 })) {
      const name = entry.key[1] as string;
      if (name > after && name.startsWith(prefix)) names.push(name);
    }
    const rooms: RoomSummary[] = [];
    for (const name of names.slice(0, limit)) {
      const room = await this.get(name);
      if (room) rooms.push(room);
    }
    return { rooms, more: names.length > limit };
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#serialQueue.run(work);
  }

  async #ownerCheck(room: string, by: string): Promise<ActOutcome | null> {
    const record = await this.#record(room);
    if (!record) return "no_room";
    if (record.owner === null) return "no_owner";
    if (record.owner !== by) return (await this.roleOf(room, by)) ? "not_owner" : "not_member";
    return null;
  }

  async #removeMember(room: string, user: string, count: number): Promise<void> {
    await commit(
      this.#kv.atomic().delete(["mem", room, user]).delete(["umem", user, room])
        .set(["memc", room], Math.max(0, count - 1)),
    );
    this.#counts.set(room, Math.max(0, count - 1));
    this.#knownRoles(room).set(user, null);
    this.#userRooms.get(user)?.delete(room);
  }

  async #dropInvitations(room: string): Promise<void> {
    for await (const entry of this.#kv.list({ prefix: ["inv", room] })) {
      const user = entry.key[2] as string;
      await commit(this.#kv.atomic().delete(entry.key).delete(["uinv", user, room]));
    }
  }

  async #record(name: string): Promise<RoomRecord | null> {
    const cached = this.#records.get(name);
    if (cached) return cached;
    const record = (await this.#kv.get<RoomRecord>(["room", name])).value;
    if (record) this.#records.set(name, record);
    return record;
  }

  async #count(name: string): Promise<number> {
    const cached = this.#counts.get(name);
    if (cached !== undefined) return cached;
    const count = (await this.#kv.get<number>(["memc", name])).value ?? 0;
    this.#counts.set(name, count);
    return count;
  }

  async #roomsOf(user: string): Promise<Map<string, Role>> {
    let rooms = this.#userRooms.get(user);
    if (rooms) return rooms;
    rooms = new Map();
    for await (const entry of this.#kv.list<Role>({ prefix: ["umem", user] })) {
      rooms.set(entry.key[2] as string, entry.value);
    }
    if (this.#userRooms.size > 100_000) this.#userRooms.clear();
    this.#userRooms.set(user, rooms);
    return rooms;
  }

  #knownRoles(room: string): Map<string, Role | null> {
    let roles = this.#roles.get(room);
    if (!roles) this.#roles.set(room, roles = new Map());
    return roles;
  }

  #setRole(room: string, user: string, role: Role): void {
    this.#knownRoles(room).set(user, role);
    this.#userRooms.get(user)?.set(room, role);
  }
}

async function commit(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("A KV write of the rooms store was refused");
}
