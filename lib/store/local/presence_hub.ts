/**
 * Presence of the embedded store: who is online on which attached node, kept in the memory of
 * the process that owns the store, with the announcements of the `Presence` contract published
 * on its {@linkcode BusHub}.
 *
 * @module
 */

import type { OfflineReason, UserInfo } from "../../protocol/messages.ts";
import { roomStream, userStream } from "../../protocol/messages.ts";
import type { BusEvent, NickNote, PresenceNote } from "../contract/bus.ts";
import type { OnlineCounts, OnlinePage, Presence } from "../contract/presence.ts";
import type { BusHub } from "./bus_hub.ts";

interface Entry {
  nickname: string;
  away?: string;
  nodes: Set<string>;
  rooms: Set<string>;
}

/** Member counts of rooms, to tell rooms within the presence limit. */
export type RoomSizes = (rooms: readonly string[]) => Promise<Map<string, number>>;

/**
 * In-memory presence shared by the nodes of one process.
 *
 * @example
 * ```ts
 * const presence = new PresenceHub(new BusHub(), async () => new Map(), 500).forNode("a");
 * await presence.attach({ name: "alice", nickname: "Alice" }, ["lobby"]);
 * ```
 */
export class PresenceHub {
  readonly #bus: BusHub;
  readonly #sizes: RoomSizes;
  readonly #limit: number;
  readonly #users = new Map<string, Entry>();
  readonly #rooms = new Map<string, Map<string, UserInfo>>();
  /** Online names, sorted. */
  readonly #sorted: string[] = [];
  readonly #sessions = new Map<string, number>();
  /** Presence versions only grow, also across restarts of the process. */
  #pv = Date.now() * 1000;
  /** Announcements go out in the order the changes were made. */
  #announcing: Promise<void> = Promise.resolve();

  constructor(bus: BusHub, sizes: RoomSizes, presenceRoomLimit: number) {
    this.#bus = bus;
    this.#sizes = sizes;
    this.#limit = presenceRoomLimit;
  }

  /** The `Presence` contract as seen by one node; `drop()` takes the node's users offline. */
  forNode(nodeId: string): Presence & { drop(reason?: OfflineReason): Promise<number> } {
    return {
      attach: (user, rooms) => Promise.resolve({ first: this.#attach(nodeId, user, rooms) }),
      detach: (name, reason) => Promise.resolve({ last: this.#detach(nodeId, name, reason) }),
      joined: (name, room) => Promise.resolve(this.#joined(name, room)),
      parted: (name, room) => Promise.resolve(this.#parted(name, room)),
      setAway: (name, reason) => Promise.resolve(this.#setAway(name, reason)),
      renamed: (name, old, nickname) => Promise.resolve(this.#renamed(name, old, nickname)),
      status: (names) => Promise.resolve(this.status(names)),
      roomOnline: (room, limit) => Promise.resolve(this.#roomOnline(room, limit)),
      roomCounts: (rooms) =>
        Promise.resolve(new Map(rooms.map((room) => [room, this.#rooms.get(room)?.size ?? 0]))),
      online: (after, limit) => Promise.resolve(this.#online(after, limit)),
      setSessions: (count) => {
        this.#sessions.set(nodeId, count);
        return Promise.resolve();
      },
      counts: () => Promise.resolve(this.#counts()),
      drop: (reason = "node_down") => {
        this.#sessions.delete(nodeId);
        let dropped = 0;
        for (const [name, entry] of [...this.#users]) {
          if (entry.nodes.has(nodeId) && this.#detach(nodeId, name, reason)) dropped++;
        }
        return this.#announcing.then(() => dropped);
      },
    };
  }

  /** Resolves once every announcement made so far is published. */
  settled(): Promise<void> {
    return this.#announcing;
  }

  /** The online ones among `names`. */
  status(names: readonly string[]): Map<string, UserInfo> {
    const out = new Map<string, UserInfo>();
    for (const name of names) {
      const entry = this.#users.get(name);
      if (entry) out.set(name, infoOf(name, entry));
    }
    return out;
  }

  #attach(nodeId: string, user: UserInfo, rooms: readonly string[]): boolean {
    let entry = this.#users.get(user.name);
    if (entry) {
      entry.nodes.add(nodeId);
      for (const room of rooms) if (!entry.rooms.has(room)) this.#joined(user.name, room);
      return false;
    }
    entry = { nickname: user.nickname, nodes: new Set([nodeId]), rooms: new Set(rooms) };
    this.#users.set(user.name, entry);
    insertSorted(this.#sorted, user.name);
    const info = infoOf(user.name, entry);
    for (const room of rooms) this.#roomSet(room).set(user.name, info);
    this.#announce(entry.rooms, user.name, this.#note(info, true), false);
    return true;
  }

  #detach(nodeId: string, name: string, reason: OfflineReason): boolean {
    const entry = this.#users.get(name);
    if (!entry || !entry.nodes.delete(nodeId) || entry.nodes.size > 0) return false;
    this.#users.delete(name);
    removeSorted(this.#sorted, name);
    for (const room of entry.rooms) this.#leaveRoom(room, name);
    const note = this.#note({ name, nickname: entry.nickname }, false, reason);
    this.#announce(entry.rooms, name, note, false);
    return true;
  }

  #joined(name: string, room: string): void {
    const entry = this.#users.get(name);
    if (!entry || entry.rooms.has(room)) return;
    entry.rooms.add(room);
    const info = infoOf(name, entry);
    this.#roomSet(room).set(name, info);
    this.#announce(new Set([room]), name, this.#note(info, true), false, false);
  }

  #parted(name: string, room: string): void {
    const entry = this.#users.get(name);
    if (!entry || !entry.rooms.delete(room)) return;
    this.#leaveRoom(room, name);
  }

  #setAway(name: string, reason: string | null): void {
    const entry = this.#users.get(name);
    if (!entry) return;
    if (reason === null || reason === "") delete entry.away;
    else entry.away = reason;
    this.#refresh(name, entry);
    this.#announce(entry.rooms, name, this.#note(infoOf(name, entry), true), true);
  }

  #renamed(name: string, old: string, nickname: string): void {
    const entry = this.#users.get(name);
    if (entry) {
      entry.nickname = nickname;
      this.#refresh(name, entry);
    }
    const note: NickNote = { type: "nick", name, old, nickname, pv: ++this.#pv };
    this.#announce(entry?.rooms ?? new Set(), name, note, true);
  }

  /** Updates the room lists' copies of a user's info. */
  #refresh(name: string, entry: Entry): void {
    const info = infoOf(name, entry);
    for (const room of entry.rooms) this.#rooms.get(room)?.set(name, info);
  }

  #note(user: UserInfo, online: boolean, reason?: OfflineReason): PresenceNote {
    const note: PresenceNote = { type: "presence", user, online, pv: ++this.#pv };
    if (reason !== undefined) note.reason = reason;
    if (online && user.away !== undefined) {
      note.away = user.away;
      note.user = { name: user.name, nickname: user.nickname };
    }
    return note;
  }

  /**
   * Publishes on the small rooms among `rooms`, on `~name` (contacts) unless `contacts` is
   * false, and on `@name` (own sessions) when `own`.
   */
  #announce(
    rooms: ReadonlySet<string>,
    name: string,
    event: BusEvent,
    own: boolean,
    contacts = true,
  ): void {
    const list = [...rooms];
    this.#announcing = this.#announcing.then(async () => {
      const sizes = list.length === 0 ? new Map<string, number>() : await this.#sizes(list);
      for (const room of list) {
        if ((sizes.get(room) ?? 0) <= this.#limit) this.#bus.publishEvent(roomStream(room), event);
      }
      if (contacts) this.#bus.publishEvent(`~${name}`, event);
      if (own) this.#bus.publishEvent(userStream(name), event);
    }).catch(() => {});
  }

  #roomSet(room: string): Map<string, UserInfo> {
    let set = this.#rooms.get(room);
    if (!set) this.#rooms.set(room, set = new Map());
    return set;
  }

  #leaveRoom(room: string, name: string): void {
    const set = this.#rooms.get(room);
    set?.delete(name);
    if (set?.size === 0) this.#rooms.delete(room);
  }

  #roomOnline(room: string, limit: number): { users: UserInfo[]; total: number } {
    const set = this.#rooms.get(room);
    if (!set) return { users: [], total: 0 };
    const users = [...set.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).slice(0, limit);
    return { users, total: set.size };
  }

  #online(after: string, limit: number): OnlinePage {
    let start = 0;
    if (after !== "") {
      start = lowerBound(this.#sorted, after);
      if (this.#sorted[start] === after) start++;
    }
    const names = this.#sorted.slice(start, start + limit);
    const users = names.map((name) => infoOf(name, this.#users.get(name)!));
    return { users, total: this.#sorted.length, more: start + limit < this.#sorted.length };
  }

  #counts(): OnlineCounts {
    let sessions = 0;
    for (const count of this.#sessions.values()) sessions += count;
    return { users: this.#users.size, sessions };
  }
}

function infoOf(name: string, entry: Entry): UserInfo {
  const info: UserInfo = { name, nickname: entry.nickname };
  if (entry.away !== undefined) info.away = entry.away;
  return info;
}

function lowerBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: string[], value: string): void {
  sorted.splice(lowerBound(sorted, value), 0, value);
}

function removeSorted(sorted: string[], value: string): void {
  const i = lowerBound(sorted, value);
  if (sorted[i] === value) sorted.splice(i, 1);
}
