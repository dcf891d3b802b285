/**
 * Handlers of rooms: `rooms`, `room`, `create`, `join`, `part`, `invite`, `kick`, `ban`,
 * `unban`, `transfer`, `topic`, `members`. The store checks permissions atomically with each
 * change; the handler then tells the node and publishes the events (room channel for members,
 * the concerned user's channel for their own sessions on every node).
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import {
  type MemberAction,
  type MemberInfo,
  type ResultMap,
  type Role,
  type RoomInfo,
  type RoomState,
  roomStream,
  userStream,
} from "../../protocol/messages.ts";
import { checkRoomName, checkTitle, checkTopic, foldName } from "../../protocol/rules.ts";
import type { ActOutcome, RoomSummary } from "../../store/contract/rooms.ts";
import type { Context, Core } from "../context.ts";
import type { MemberNote } from "../hub.ts";
import {
  fitFrame,
  pageSize,
  requireMember,
  resolveRoom,
  resolveUser,
  type Rows,
  visibleRoom,
} from "./common.ts";

const ROOMS_DEFAULT = 50;
const ROOMS_MAX = 200;
const MEMBERS_DEFAULT = 100;
const MEMBERS_MAX = 500;
const HOUR_MS = 3_600_000;

/** The rows of these handlers. */
export const ROOM_HANDLERS: Rows<
  | "rooms"
  | "room"
  | "create"
  | "join"
  | "part"
  | "invite"
  | "kick"
  | "ban"
  | "unban"
  | "transfer"
  | "topic"
  | "members"
> = {
  rooms: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["rooms"]> {
      const { core, session } = ctx;
      const limit = pageSize(message.limit, ROOMS_DEFAULT, ROOMS_MAX);
      const prefix = message.query === undefined ? "" : foldName(message.query);
      const after = message.after ?? "";
      if (message.mine) {
        const mine = (await core.store.rooms.roomsOf(session.user!.name))
          .filter((m) => m.room > after && m.room.startsWith(prefix));
        const page = mine.slice(0, limit);
        const states = await roomStates(ctx, page.map((m) => [m.room, m.role]));
        const rooms = fitFrame(core, states);
        return { rooms, more: mine.length > limit || rooms.length < states.length };
      }
      const page = await core.store.rooms.directory(prefix, after, limit);
      const online = await core.store.presence.roomCounts(page.rooms.map((r) => r.name));
      const infos = page.rooms.map((r) => infoOf(r, online.get(r.name) ?? 0));
      const rooms = fitFrame(core, infos);
      return { rooms, more: page.more || rooms.length < infos.length };
    },
  },

  room: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["room"]> {
      const { core, session } = ctx;
      const room = await visibleRoom(ctx, message.room);
      const me = session.user!.name;
      const [role, invited, online] = await Promise.all([
        core.store.rooms.roleOf(room.name, me),
        core.store.rooms.isInvited(room.name, me),
        core.store.presence.roomCounts([room.name]),
      ]);
      const result: ResultMap["room"] = {
        room: infoOf(room, online.get(room.name) ?? 0),
        member: role !== null,
        invited,
      };
      if (role !== null) result.role = role;
      return result;
    },
  },

  create: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["create"]> {
      const { core, session } = ctx;
      const name = checkRoomName(message.room);
      const title = message.title === undefined ? name : checkTitle(message.title);
      const me = session.user!.name;
      checkCreationRate(core, me);
      const outcome = await core.store.rooms.create({
        name,
        title,
        topic: "",
        public: message.public ?? true,
        owner: me,
        createdAt: core.now(),
      }, core.config.maxRooms);
      if (outcome === "taken") {
        throw new ChatError("ROOM_TAKEN", `A room named "${name}" exists already`);
      }
      if (outcome === "too_many") throw tooMany(core);
      core.roomCreations.get(me)!.push(core.now());
      core.log.info("room_created", { user: me, room: name });
      return { room: await entered(ctx, name, "owner") };
    },
  },

  join: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["join"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const me = session.user!.name;
      const outcome = await core.store.rooms.join(room.name, me, core.config.maxRooms);
      switch (outcome) {
        case "no_room":
          throw new ChatError("NO_SUCH_ROOM", `There is no room named "${room.name}"`);
        case "banned":
          throw new ChatError("BANNED", `You are banned from #${room.name}`);
        case "invite_only":
          throw new ChatError(
            "INVITE_ONLY",
            `#${room.name} is invite-only: ask a member to invite you`,
          );
        case "too_many":
          throw tooMany(core);
        case "already": {
          const role = (await core.store.rooms.roleOf(room.name, me)) ?? "member";
          const [state] = await roomStates(ctx, [[room.name, role]]);
          return { room: state };
        }
      }
      return { room: await entered(ctx, room.name, room.owner === me ? "owner" : "member") };
    },
  },

  part: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["part"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const me = session.user!;
      const outcome = await core.store.rooms.part(room.name, me.name);
      if (outcome === "no_room") {
        throw new ChatError("NO_SUCH_ROOM", `There is no room named "${room.name}"`);
      }
      if (outcome === "not_member") throw notMember(room.name);
      if (outcome === "owner") {
        throw new ChatError(
          "NOT_ALLOWED",
          `You own #${room.name}: hand ownership to another member first (transfer)`,
        );
      }
      core.hub.forgetRoom(room.name);
      await core.hub.parted(me.name, room.name);
      await announce(ctx, room, { name: me.name, nickname: me.nickname }, "part");
      return {};
    },
  },

  invite: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["invite"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const target = await resolveUser(core, message.user);
      const me = session.user!;
      const outcome = await core.store.rooms.invite(room.name, me.name, target, core.now());
      if (outcome !== "ok") throw actError(outcome, room.name, target);
      const nickname = (await core.store.accounts.nicknames([target])).get(target) ?? target;
      const online = await core.store.presence.roomCounts([room.name]);
      await core.hub.publish(userStream(target), {
        type: "invite",
        room: infoOf(room, online.get(room.name) ?? 0),
        by: { name: me.name, nickname: me.nickname },
      });
      return { user: { name: target, nickname } };
    },
  },

  kick: ownerAction("kick"),
  ban: ownerAction("ban"),
  unban: ownerAction("unban"),

  transfer: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["transfer"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const target = await resolveUser(core, message.user);
      const me = session.user!;
      if (target === me.name) throw new ChatError("NOT_ALLOWED", "You own the room already");
      const outcome = await core.store.rooms.transfer(room.name, me.name, target);
      if (outcome !== "ok") throw actError(outcome, room.name, target);
      core.hub.forgetRoom(room.name);
      core.hub.roleChanged(me.name, room.name, "member");
      core.hub.roleChanged(target, room.name, "owner");
      const nickname = (await core.store.accounts.nicknames([target])).get(target) ?? target;
      await announce(ctx, room, { name: target, nickname }, "owner");
      const updated = (await core.store.rooms.get(room.name)) ?? room;
      const online = await core.store.presence.roomCounts([room.name]);
      return { room: infoOf(updated, online.get(room.name) ?? 0) };
    },
  },

  topic: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["topic"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const topic = checkTopic(message.topic);
      const me = session.user!;
      const outcome = await core.store.rooms.setTopic(room.name, me.name, topic);
      if (outcome !== "ok") throw actError(outcome, room.name, me.name);
      core.hub.forgetRoom(room.name);
      await core.hub.publish(roomStream(room.name), {
        type: "topic",
        room: room.name,
        topic,
        by: { name: me.name, nickname: me.nickname },
      });
      const online = await core.store.presence.roomCounts([room.name]);
      return { room: infoOf({ ...room, topic }, online.get(room.name) ?? 0) };
    },
  },

  members: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["members"]> {
      const { core } = ctx;
      const room = await resolveRoom(ctx, message.room);
      if (!room.public) await requireMember(ctx, room.name);
      const limit = pageSize(message.limit, MEMBERS_DEFAULT, MEMBERS_MAX);
      const page = await core.store.rooms.members(room.name, message.after ?? "", limit);
      const names = page.members.map((m) => m.name);
      const [nicknames, online] = await Promise.all([
        core.store.accounts.nicknames(names),
        core.store.presence.status(names),
      ]);
      const members: MemberInfo[] = page.members.map(({ name, role }) => {
        const status = online.get(name);
        const info: MemberInfo = {
          name,
          nickname: status?.nickname ?? nicknames.get(name) ?? name,
          role,
          online: status !== undefined,
        };
        if (status?.away !== undefined) info.away = status.away;
        return info;
      });
      const fitted = fitFrame(core, members);
      return {
        members: fitted,
        total: page.total,
        more: page.more || fitted.length < members.length,
      };
    },
  },
};

/** `kick`, `ban`, `unban`: the owner acts on a user. */
function ownerAction(action: "kick" | "ban" | "unban") {
  return {
    access: "user" as const,
    async run(ctx: Context, message: { room: string; user: string }): Promise<ResultMap["kick"]> {
      const { core, session } = ctx;
      const room = await resolveRoom(ctx, message.room);
      const target = await resolveUser(core, message.user);
      const me = session.user!;
      if (target === me.name) throw new ChatError("NOT_ALLOWED", `You cannot ${action} yourself`);
      const outcome = await core.store.rooms[action](room.name, me.name, target);
      if (outcome !== "ok") throw actError(outcome, room.name, target);
      core.hub.forgetRoom(room.name);
      if (action !== "unban") await core.hub.parted(target, room.name);
      const nickname = (await core.store.accounts.nicknames([target])).get(target) ?? target;
      await announce(ctx, room, { name: target, nickname }, action);
      core.log.info(`room_${action}`, { user: me.name, room: room.name, target });
      return { user: { name: target, nickname } };
    },
  };
}

/**
 * The session's user became a member of `room` with `role`: their position is the stream's
 * head, this node's sessions of theirs receive it, and the change is announced.
 */
async function entered(ctx: Context, room: string, role: Role): Promise<RoomState> {
  const { core, session } = ctx;
  const me = session.user!;
  const stream = roomStream(room);
  const head = await core.store.streams.head(stream);
  await core.store.streams.setCursor(me.name, stream, head.seq);
  core.hub.forgetRoom(room);
  await core.hub.joined(me.name, room, role, head.seq);
  const summary = (await core.store.rooms.get(room))!;
  await announce(ctx, summary, { name: me.name, nickname: me.nickname }, "join", head.seq);
  const online = await core.store.presence.roomCounts([room]);
  return {
    ...infoOf(summary, online.get(room) ?? 0),
    role,
    stream: {
      stream,
      epoch: head.epoch,
      head: head.seq,
      acked: head.seq,
      start: head.seq,
      unread: 0,
    },
    skipped: 0,
  };
}

/**
 * Publishes a membership change: on the room's channel when the room is within the presence
 * limit (always for `owner`), and on the concerned user's channel for their own sessions.
 */
async function announce(
  ctx: Context,
  room: RoomSummary,
  user: { name: string; nickname: string },
  action: MemberAction,
  head?: number,
): Promise<void> {
  const { core, session } = ctx;
  const me = session.user!;
  const event: MemberNote = { type: "member", room: room.name, user, action };
  if (user.name !== me.name) event.by = { name: me.name, nickname: me.nickname };
  const publishing: Promise<void>[] = [];
  if (action === "owner" || room.members <= core.config.presenceRoomLimit) {
    publishing.push(core.hub.publish(roomStream(room.name), event, session.key));
  }
  if (action !== "owner") {
    publishing.push(
      core.hub.publish(
        userStream(user.name),
        head === undefined ? event : { ...event, head },
        session.key,
      ),
    );
  }
  await Promise.all(publishing);
}

/** `RoomState`s of rooms the user is in (for `rooms` with `mine`, and `join` of a member). */
async function roomStates(ctx: Context, rooms: [string, Role][]): Promise<RoomState[]> {
  const { core, session } = ctx;
  const names = rooms.map(([room]) => room);
  const streams = names.map(roomStream);
  const [summaries, heads, cursors, online] = await Promise.all([
    core.store.rooms.getMany(names),
    core.store.streams.heads(streams),
    core.store.streams.cursors(session.user!.name),
    core.store.presence.roomCounts(names),
  ]);
  const out: RoomState[] = [];
  for (const [room, role] of rooms) {
    const summary = summaries.get(room);
    if (!summary) continue;
    const stream = roomStream(room);
    const head = heads.get(stream)!;
    const acked = Math.min(cursors.get(stream) ?? 0, head.seq);
    const start = session.positions.covered(stream) ?? acked;
    out.push({
      ...infoOf(summary, online.get(room) ?? 0),
      role,
      stream: { stream, epoch: head.epoch, head: head.seq, acked, start, unread: head.seq - acked },
      skipped: 0,
    });
  }
  return out;
}

/** The protocol's `Room` of a summary. */
function infoOf(room: RoomSummary, online: number): RoomInfo {
  return {
    name: room.name,
    title: room.title,
    topic: room.topic,
    public: room.public,
    owner: room.owner,
    members: room.members,
    online,
    createdAt: room.createdAt,
  };
}

function checkCreationRate(core: Core, name: string): void {
  const now = core.now();
  const recent = (core.roomCreations.get(name) ?? []).filter((t) => t > now - HOUR_MS);
  core.roomCreations.set(name, recent);
  if (core.roomCreations.size > 100_000) core.roomCreations.clear();
  if (recent.length >= core.config.roomCreateLimit) {
    const wait = Math.max(1, Math.ceil((recent[0] + HOUR_MS - now) / 1000));
    throw new ChatError(
      "RATE_LIMITED",
      `You created ${recent.length} rooms within the hour; try again in ${wait} s`,
      wait,
    );
  }
}

function tooMany(core: Core): ChatError {
  return new ChatError(
    "TOO_MANY_ROOMS",
    `You are in ${core.config.maxRooms} rooms already; leave one first`,
  );
}

function notMember(room: string): ChatError {
  return new ChatError("NOT_A_MEMBER", `You are not a member of #${room}`);
}

function actError(outcome: Exclude<ActOutcome, "ok">, room: string, target: string): ChatError {
  switch (outcome) {
    case "no_room":
      return new ChatError("NO_SUCH_ROOM", `There is no room named "${room}"`);
    case "not_member":
      return notMember(room);
    case "not_owner":
      return new ChatError("NOT_OWNER", `Only the owner of #${room} can do that`);
    case "target_not_member":
      return new ChatError("NOT_A_MEMBER", `${target} is not a member of #${room}`);
    case "already_member":
      return new ChatError("ALREADY_MEMBER", `${target} is a member of #${room} already`);
    case "banned":
      return new ChatError("BANNED", `${target} is banned from #${room}`);
    case "no_owner":
      return new ChatError("NOT_ALLOWED", `#${room} has no owner: nobody can do that there`);
  }
}
