/**
 * The `Presence` contract on Redis. A change runs first in the user's slot (the truth, see
 * `lua_presence.ts`), which gives it the next presence version and announces it on `~user`;
 * then in the slot of each room the user is announced in (online list, and the note on the
 * room's channel when the room is small enough), then in the global slot (the system-wide
 * online list). Those later steps are guarded by the version, so they can be retried, and
 * they are: a step that fails is kept and done again on every heartbeat until it succeeds.
 *
 * A node registers the users it holds in its own slot (`p{node:<id>}:u:<incarnation>`) before
 * it brings them online, so a node that dies leaves enough for another to take them offline
 * (see `nodes.ts`).
 *
 * @module
 */

import type { OfflineReason, UserInfo } from "../../protocol/messages.ts";
import type { OnlineCounts, OnlinePage, Presence } from "../contract/presence.ts";
import type { StoreSettings } from "../contract/store.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import {
  ATTACH,
  COUNTS,
  DETACH,
  GLOBAL_PRESENCE,
  JOINED,
  PARTED,
  RENAMED,
  ROOM_ONLINE,
  ROOM_PARTED,
  ROOM_PRESENCE,
  SET_AWAY,
} from "./lua_presence.ts";

/** Users registered again at a time after a new incarnation. */
const REGISTER_BATCH = 200;

/** Which node (and which run of it) this is: its id and its incarnation. */
export interface NodeIdentity {
  readonly id: string;
  incarnation: string;
}

/** The member naming a node's incarnation in a user's where-set. */
export function memberOf(id: string, incarnation: string): string {
  return `${id}#${incarnation}`;
}

/** A user this node holds, as it would register them again. */
interface Held {
  nickname: string;
  away?: string;
  rooms: Set<string>;
}

/** Presence of users on Redis, as seen by one node. */
export class RedisPresence implements Presence {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #settings: StoreSettings;
  readonly #node: NodeIdentity;
  readonly #held = new Map<string, Held>();
  /** Steps that failed, by what they repair; retried by {@linkcode retryRepairs}. */
  readonly #repairs = new Map<string, () => Promise<void>>();
  #sessions = 0;

  constructor(link: RedisLink, keys: Keys, settings: StoreSettings, node: NodeIdentity) {
    this.#link = link;
    this.#keys = keys;
    this.#settings = settings;
    this.#node = node;
  }

  async attach(user: UserInfo, rooms: readonly string[]): Promise<{ first: boolean }> {
    this.#repairs.delete(`leave:${user.name}`);
    const held = this.#held.get(user.name);
    if (held) {
      held.nickname = user.nickname;
      for (const room of rooms) held.rooms.add(room);
    } else {
      this.#held.set(user.name, { nickname: user.nickname, rooms: new Set(rooms) });
    }
    try {
      await this.#register(user.name);
      return { first: await this.enterAs(this.#member, user, rooms) };
    } catch (error) {
      if (!held) this.#held.delete(user.name);
      throw error;
    }
  }

  async detach(name: string, reason: OfflineReason): Promise<{ last: boolean }> {
    this.#held.delete(name);
    const member = this.#member;
    const leave = async () => {
      const last = await this.leaveAs(member, name, reason);
      await this.#link.command(this.#usersKey, ["SREM", this.#usersKey, name], "node_users");
      return last;
    };
    try {
      return { last: await leave() };
    } catch (error) {
      this.#repairs.set(`leave:${name}`, async () => void await leave());
      throw error;
    }
  }

  async joined(name: string, room: string): Promise<void> {
    this.#held.get(name)?.rooms.add(room);
    const out = await this.#link.eval<string[]>(JOINED, this.#keys.user(name), [name, room]);
    if (out.length === 0) return;
    const [pv, note, entry] = out;
    await this.#spread(`room:${name}:${room}`, name, Number(pv), entry, note, [room], false);
  }

  async parted(name: string, room: string): Promise<void> {
    this.#held.get(name)?.rooms.delete(room);
    await this.#link.eval(PARTED, this.#keys.user(name), [room]);
    await this.#link.eval(ROOM_PARTED, this.#keys.room(room), [name]);
  }

  async setAway(name: string, reason: string | null): Promise<void> {
    const held = this.#held.get(name);
    if (held) {
      if (reason) held.away = reason;
      else delete held.away;
    }
    const out = await this.#link.eval<string[]>(SET_AWAY, this.#keys.user(name), [
      name,
      reason ?? "",
    ]);
    if (out.length === 0) return;
    const [pv, note, entry, ...rooms] = out;
    await this.#spread(`state:${name}`, name, Number(pv), entry, note, rooms, true);
  }

  async renamed(name: string, old: string, nickname: string): Promise<void> {
    const held = this.#held.get(name);
    if (held) held.nickname = nickname;
    const [pv, note, entry, ...rooms] = await this.#link.eval<string[]>(
      RENAMED,
      this.#keys.user(name),
      [name, old, nickname],
    );
    const online = entry !== "";
    await this.#spread(
      `state:${name}`,
      name,
      Number(pv),
      online ? entry : "-",
      note,
      rooms,
      online,
    );
  }

  async status(names: readonly string[]): Promise<Map<string, UserInfo>> {
    // Two reads of the user's slot, which go to Redis together (one batch, see `link.ts`).
    const entries = await Promise.all(names.map((name) => {
      const base = this.#keys.user(name);
      return Promise.all([
        this.#link.command<number>(base, ["SCARD", `${base}:w`]),
        this.#link.command<(string | null)[]>(base, ["HMGET", `${base}:ps`, "nick", "away"]),
      ]);
    }));
    const out = new Map<string, UserInfo>();
    names.forEach((name, i) => {
      const [holders, [nickname, away]] = entries[i];
      if (Number(holders) === 0) return;
      const info: UserInfo = { name, nickname: nickname ?? name };
      if (away !== null) info.away = away;
      out.set(name, info);
    });
    return out;
  }

  async roomOnline(room: string, limit: number): Promise<{ users: UserInfo[]; total: number }> {
    const [total, ...entries] = await this.#link.eval<[number, ...string[]]>(
      ROOM_ONLINE,
      this.#keys.room(room),
      [String(limit)],
    );
    const users = entries.map((entry) => JSON.parse(entry) as UserInfo);
    return { users, total: Number(total) };
  }

  async roomCounts(rooms: readonly string[]): Promise<Map<string, number>> {
    const counts = await Promise.all(rooms.map((room) => {
      const base = this.#keys.room(room);
      return this.#link.command<number>(base, ["ZCARD", `${base}:ol`]);
    }));
    return new Map(rooms.map((room, i) => [room, Number(counts[i])]));
  }

  async online(after: string, limit: number): Promise<OnlinePage> {
    const g = this.#keys.global;
    const [names, total] = await Promise.all([
      this.#link.command<string[]>(g, [
        "ZRANGEBYLEX",
        `${g}:on`,
        after === "" ? "-" : `(${after}`,
        "+",
        "LIMIT",
        "0",
        String(Math.max(0, limit) + 1),
      ]),
      this.#link.command<number>(g, ["ZCARD", `${g}:on`]),
    ]);
    const page = names.slice(0, Math.max(0, limit));
    const entries = page.length === 0
      ? []
      : await this.#link.command<(string | null)[]>(g, ["HMGET", `${g}:onh`, ...page]);
    const users = page.map((name, i) =>
      entries[i] ? JSON.parse(entries[i]!) as UserInfo : { name, nickname: name }
    );
    return { users, total: Number(total), more: names.length > page.length };
  }

  async setSessions(count: number): Promise<void> {
    this.#sessions = count;
    const g = this.#keys.global;
    await this.#link.command(g, ["HSET", `${g}:sess`, this.#member, String(count)], "sessions");
  }

  async counts(): Promise<OnlineCounts> {
    const [users, ...sessions] = await this.#link.eval<[number, ...string[]]>(
      COUNTS,
      this.#keys.global,
      [],
    );
    return { users: Number(users), sessions: sessions.reduce((sum, n) => sum + Number(n), 0) };
  }

  /**
   * Brings a user online as `member` (a node incarnation): the user's slot, then the rooms to
   * announce in and the global list. Returns whether the user came online now.
   */
  async enterAs(member: string, user: UserInfo, rooms: readonly string[]): Promise<boolean> {
    const [first, pv, note, entry, ...announce] = await this.#link.eval<string[]>(
      ATTACH,
      this.#keys.user(user.name),
      [member, user.name, user.nickname, ...rooms],
    );
    const came = Number(first) === 1;
    await this.#spread(`state:${user.name}`, user.name, Number(pv), entry, note, announce, came);
    return came;
  }

  /**
   * Takes `member` (a node incarnation) off a user; when it was the last, the user goes
   * offline with `reason`, announced. Returns whether it was the last.
   */
  async leaveAs(member: string, name: string, reason: OfflineReason): Promise<boolean> {
    const [last, pv, note, ...rooms] = await this.#link.eval<string[]>(
      DETACH,
      this.#keys.user(name),
      [member, name, reason],
    );
    if (Number(last) !== 1) return false;
    await this.#spread(`state:${name}`, name, Number(pv), "", note, rooms, true);
    return true;
  }

  /**
   * Registers every user this node holds again under its current incarnation (after other
   * nodes took this one for dead), with their away reasons and session count.
   */
  async reregister(): Promise<void> {
    const users = [...this.#held];
    for (let i = 0; i < users.length; i += REGISTER_BATCH) {
      await Promise.all(
        users.slice(i, i + REGISTER_BATCH).map(async ([name, held]) => {
          await this.#register(name);
          await this.enterAs(this.#member, { name, nickname: held.nickname }, [...held.rooms]);
          if (held.away !== undefined) await this.setAway(name, held.away);
        }),
      );
    }
    await this.setSessions(this.#sessions);
  }

  /** How many users this node holds. */
  get held(): number {
    return this.#held.size;
  }

  /** Retries the steps that failed; resolves when every one succeeded or failed again. */
  async retryRepairs(): Promise<void> {
    for (const [what, repair] of [...this.#repairs]) {
      try {
        await repair();
        if (this.#repairs.get(what) === repair) this.#repairs.delete(what);
      } catch (error) {
        this.#failed(`${what}: ${(error as Error).message}`, "presence_repair");
      }
    }
  }

  get #member(): string {
    return memberOf(this.#node.id, this.#node.incarnation);
  }

  get #usersKey(): string {
    return `${this.#keys.node(this.#node.id)}:u:${this.#node.incarnation}`;
  }

  async #register(name: string): Promise<void> {
    await this.#link.command(this.#usersKey, ["SADD", this.#usersKey, name], "node_users");
  }

  /**
   * The steps after the user's slot: each room's online list (and announcement), and the
   * global list when `global`. A failed step is kept under `what` and retried later.
   */
  async #spread(
    what: string,
    name: string,
    pv: number,
    entry: string,
    note: string,
    rooms: readonly string[],
    global: boolean,
  ): Promise<void> {
    const limit = String(this.#settings.presenceRoomLimit);
    const steps = rooms.map((room) => () =>
      this.#link.eval(ROOM_PRESENCE, this.#keys.room(room), [
        name,
        String(pv),
        entry,
        note,
        limit,
      ])
    );
    if (global && entry !== "-") {
      steps.push(() =>
        this.#link.eval(GLOBAL_PRESENCE, this.#keys.global, [
          name,
          String(pv),
          entry,
          String(Date.now()),
        ])
      );
    }
    const failed: (() => Promise<unknown>)[] = [];
    let failure: unknown = null;
    await Promise.all(steps.map(async (step) => {
      try {
        await step();
      } catch (error) {
        failed.push(step);
        failure ??= error;
      }
    }));
    if (failure === null) return;
    const key = `${what}:${pv}`;
    this.#repairs.set(key, async () => {
      await Promise.all(failed.map((step) => step()));
    });
    throw failure;
  }

  #failed(detail: string, op: string): void {
    this.#settings.onStatus?.({ event: "store_error", detail, op });
  }
}
