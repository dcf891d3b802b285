/**
 * Handlers of messaging and lists: `send`, `ack`, `history`, `users`, `count`, `top`, `nick`,
 * `away`.
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import {
  type ContactInfo,
  type RankEntry,
  type ResultMap,
  roomStream,
  userStream,
} from "../../protocol/messages.ts";
import { CONTACTS_TRACKED } from "../hub.ts";
import { checkAway, checkKey, checkNickname, checkText, foldName } from "../../protocol/rules.ts";
import type { ActivityCount, NewMessage } from "../../store/contract/streams.ts";
import { utcDay } from "../../store/contract/store.ts";

import {
  fitFrame,
  pageSize,
  requireMember,
  resolveRoom,
  resolveUser,
  type Rows,
} from "./common.ts";

const HISTORY_DEFAULT = 20;
const HISTORY_MAX = 200;
const TOP_DEFAULT = 5;
const TOP_MAX = 50;
const USERS_MAX = 1000;
const CONTACTS_DEFAULT = 50;

/** The rows of these handlers. */
export const CHAT_HANDLERS: Rows<
  "send" | "ack" | "history" | "users" | "count" | "top" | "nick" | "away" | "contacts"
> = {
  contacts: {
    access: "user",
    async run({ core, session }, message): Promise<ResultMap["contacts"]> {
      const limit = pageSize(message.limit, CONTACTS_DEFAULT, CONTACTS_TRACKED);
      const names = await core.store.streams.contacts(session.user!.name, limit);
      const [nicknames, online] = await Promise.all([
        core.store.accounts.nicknames(names),
        core.store.presence.status(names),
      ]);
      const contacts: ContactInfo[] = names.map((name) => {
        const status = online.get(name);
        const info: ContactInfo = {
          name,
          nickname: status?.nickname ?? nicknames.get(name) ?? name,
          online: status !== undefined,
        };
        if (status?.away !== undefined) info.away = status.away;
        return info;
      });
      return { contacts: fitFrame(core, contacts) };
    },
  },

  send: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["send"]> {
      const { core, session } = ctx;
      const text = checkText(message.text, core.config.maxText);
      if ((message.room === undefined) === (message.to === undefined)) {
        throw new ChatError("BAD_REQUEST", "A send names exactly one of room and to");
      }
      const me = session.user!;
      const draft: NewMessage = { from: me.name, nick: me.nickname, ts: core.now(), text };
      if (message.key !== undefined) draft.key = checkKey(message.key);
      if (message.action) draft.action = true;
      let to: string | undefined;
      if (message.room !== undefined) {
        draft.room = foldName(message.room);
      } else {
        to = await resolveUser(core, message.to!);
        if (to === me.name) {
          throw new ChatError("SELF_MESSAGE", "You cannot send a private message to yourself");
        }
        draft.to = to;
      }
      const [[outcome], status] = await Promise.all([
        core.store.streams.append([draft], session.key),
        to === undefined ? undefined : core.store.presence.status([to]),
      ]);
      if (!outcome.ok) {
        if (outcome.error === "no_room") {
          throw new ChatError("NO_SUCH_ROOM", `There is no room named "${draft.room}"`);
        }
        if (outcome.error === "not_member") {
          throw new ChatError("NOT_A_MEMBER", `You are not a member of #${draft.room}`);
        }
        throw outcome.cause ?? new Error("The message could not be stored");
      }
      const { stream, seq, ts } = outcome.message;
      session.positions.own(stream, seq);
      const result: ResultMap["send"] = { stream, seq, ts };
      if (outcome.dup) result.dup = true;
      else core.hub.countActivity(me.name);
      if (to !== undefined) {
        core.hub.contact(me.name, to);
        const receiver = status!.get(to);
        result.online = receiver !== undefined;
        if (receiver?.away !== undefined) result.away = receiver.away;
      }
      return result;
    },
  },

  ack: {
    access: "user",
    run({ core, session }, message): void {
      const upTo = session.positions.clamp(message.stream, message.upTo);
      if (upTo > 0) core.hub.noteAck(session.user!.name, message.stream, upTo);
    },
  },

  history: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["history"]> {
      const { core, session } = ctx;
      if ((message.room === undefined) === (message.with === undefined)) {
        throw new ChatError("BAD_REQUEST", "History names exactly one of room and with");
      }
      if (message.before !== undefined && message.after !== undefined) {
        throw new ChatError("BAD_REQUEST", "History takes before or after, not both");
      }
      const limit = pageSize(message.limit, HISTORY_DEFAULT, HISTORY_MAX);
      let query;
      if (message.room !== undefined) {
        const room = await resolveRoom(ctx, message.room);
        if (!room.public) await requireMember(ctx, room.name);
        query = { stream: roomStream(room.name) };
      } else {
        const peer = await resolveUser(core, message.with!);
        query = { stream: userStream(session.user!.name), peer };
      }
      const page = await core.store.streams.page({
        ...query,
        limit,
        before: message.before,
        after: message.after,
      });
      const messages = fitFrame(core, page.messages, message.after === undefined);
      return {
        stream: query.stream,
        epoch: page.epoch,
        messages,
        more: page.more || messages.length < page.messages.length,
      };
    },
  },

  users: {
    access: "user",
    async run({ core }, message): Promise<ResultMap["users"]> {
      const limit = pageSize(message.limit, USERS_MAX, USERS_MAX);
      const page = await core.store.presence.online(message.after ?? "", limit);
      const users = fitFrame(core, page.users);
      return { users, total: page.total, more: page.more || users.length < page.users.length };
    },
  },

  count: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["count"]> {
      const { core } = ctx;
      if (message.room === undefined) return await core.store.presence.counts();
      const room = await resolveRoom(ctx, message.room);
      if (!room.public) await requireMember(ctx, room.name);
      const online = await core.store.presence.roomCounts([room.name]);
      return { room: room.name, members: room.members, online: online.get(room.name) ?? 0 };
    },
  },

  top: {
    access: "user",
    async run(ctx, message): Promise<ResultMap["top"]> {
      const { core } = ctx;
      const limit = pageSize(message.limit, TOP_DEFAULT, TOP_MAX);
      const day = utcDay(core.now());
      let room: string | undefined;
      if (message.room !== undefined) {
        const summary = await resolveRoom(ctx, message.room);
        if (!summary.public) await requireMember(ctx, summary.name);
        room = summary.name;
      }
      const { allTime, today } = await core.store.streams.top(limit, day, room);
      const names = [...new Set([...allTime, ...today].map((entry) => entry.name))];
      const nicknames = await core.store.accounts.nicknames(names);
      const rank = (list: ActivityCount[]): RankEntry[] =>
        list.map(({ name, count }) => ({ name, nickname: nicknames.get(name) ?? name, count }));
      return {
        allTime: fitFrame(core, rank(allTime)),
        today: fitFrame(core, rank(today)),
        day,
        ...(room === undefined ? {} : { room }),
      };
    },
  },

  nick: {
    access: "user",
    exclusive: true,
    async run({ core, session }, message): Promise<ResultMap["nick"]> {
      const nickname = checkNickname(message.nickname);
      const user = session.user!;
      if (nickname === user.nickname) return { user: { name: user.name, nickname } };
      const result = await core.store.accounts.setNickname(user.name, nickname);
      if (result.result !== "ok") {
        if (result.result === "unknown_user") throw new ChatError("INTERNAL", "Account not found");
        throw new ChatError("NICK_TAKEN", `The nickname "${nickname}" is already taken`);
      }
      core.hub.updateUser(user.name, { nickname });
      await core.store.presence.renamed(user.name, result.old, nickname);
      core.log.info("nick", { user: user.name, old: result.old, nickname });
      return { user: { name: user.name, nickname } };
    },
  },

  away: {
    access: "user",
    async run({ core, session }, message): Promise<ResultMap["away"]> {
      const reason = checkAway(message.reason ?? "");
      const name = session.user!.name;
      await core.store.presence.setAway(name, reason === "" ? null : reason);
      core.hub.updateUser(name, { away: reason === "" ? undefined : reason });
      return reason === "" ? {} : { away: reason };
    },
  },
};
