/**
 * Converts Redis data of protocol version 1 (one global group log and id sequence, one cursor
 * per user; keys `im:seq`, `im:user:<name>`, …, under `{im}:` in cluster mode) to the layout
 * of `keys.ts`, as docs/PROTOCOL.md §13 describes. Runs once, before the node serves: under a
 * lock, so that of several nodes starting at once one converts and the others wait; the
 * schema version is written last, so an interrupted conversion runs again (it rewrites the
 * same keys). The old keys are left untouched.
 *
 * @module
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import { roomStream, userStream } from "../../protocol/messages.ts";
import { type StoreSettings, utcDay } from "../contract/store.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { newEpoch } from "./streams.ts";

/** The schema version this code writes. */
export const SCHEMA_VERSION = "2";

interface V1Message {
  id: number;
  ts: number;
  from: string;
  nick: string;
  to?: string;
  text: string;
  action?: true;
}

const DAY_MS = 86_400_000;
const LOCK_MS = 30_000;
const WAIT_LIMIT_MS = 300_000;
const CHUNK = 500;

/** Brings the database to {@linkcode SCHEMA_VERSION}, converting version 1 data once. */
export async function migrateV1(
  link: RedisLink,
  keys: Keys,
  settings: StoreSettings,
  now = Date.now(),
): Promise<void> {
  const version = `${keys.global}:ver`;
  const lock = `${keys.global}:lock`;
  const me = newEpoch();
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    if (await link.command<string | null>(version, ["GET", version]) === SCHEMA_VERSION) return;
    const locked = await link.command(lock, ["SET", lock, me, "NX", "PX", String(LOCK_MS)]);
    if (locked !== null) break;
    if (Date.now() > deadline) {
      throw new Error("Gave up waiting for another node to convert the version 1 data");
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    if (await link.command<string | null>(version, ["GET", version]) === SCHEMA_VERSION) return;
    const converter = new Converter(
      link,
      keys,
      settings,
      oldPrefix(keys.prefix, link.cluster),
      now,
    );
    const renew = () => link.command(lock, ["PEXPIRE", lock, String(LOCK_MS)]);
    const detail = await converter.run(renew);
    await link.command(version, ["SET", version, SCHEMA_VERSION]);
    if (detail !== null) settings.onStatus?.({ event: "migrated", detail });
  } finally {
    await link.command(lock, ["DEL", lock]).catch(() => {});
  }
}

/** The prefix version 1 used: as given standalone, made a hash tag in cluster mode. */
function oldPrefix(prefix: string, cluster: boolean): string {
  return cluster && !prefix.includes("{") ? `{${prefix.replace(/:$/, "")}}:` : prefix;
}

/** One conversion run. */
class Converter {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #settings: StoreSettings;
  readonly #old: string;
  readonly #now: number;
  #writes: Promise<unknown>[] = [];
  #renew: () => Promise<unknown> = () => Promise.resolve();

  constructor(link: RedisLink, keys: Keys, settings: StoreSettings, old: string, now: number) {
    this.#link = link;
    this.#keys = keys;
    this.#settings = settings;
    this.#old = old;
    this.#now = now;
  }

  /** Converts; returns a sentence for the log, or null when there was nothing to convert. */
  async run(renew: () => Promise<unknown>): Promise<string | null> {
    this.#renew = renew;
    const users = await this.#accounts();
    const hasLog = Number(await this.#read(["EXISTS", `${this.#old}seq`])) === 1;
    if (users.length === 0 && !hasLog) return null;
    await this.#simple("nick:*", async (key, nick) => {
      const name = await this.#read<string | null>(["GET", key]);
      if (name !== null) {
        const target = this.#keys.nick(nick);
        this.#write(target, ["HSET", target, "name", name, "at", String(this.#now)]);
      }
    });
    await this.#simple("token:*", async (key, hash) => {
      const [name, ttl] = await Promise.all([
        this.#read<string | null>(["GET", key]),
        this.#read<number>(["PTTL", key]),
      ]);
      const target = this.#keys.token(hash);
      if (name !== null && Number(ttl) > 0) {
        this.#write(target, ["SET", target, name, "PX", String(ttl)]);
      } else if (name !== null && Number(ttl) === -1) this.#write(target, ["SET", target, name]);
    });
    const cursors = await this.#hash(`${this.#old}cursor`);
    const groupIds = await this.#group(users, cursors);
    const privates = await this.#privates(users);
    await this.#activity();
    await this.#flush();
    return `converted version 1 data: ${users.length} accounts, ${groupIds} group messages` +
      (this.#settings.lobby === null
        ? " (no lobby: not kept)"
        : ` into "${this.#settings.lobby}"`) +
      `, private messages of ${privates} users`;
  }

  /** Accounts: copied to their users' slots. Returns the names. */
  async #accounts(): Promise<string[]> {
    const names: string[] = [];
    await this.#simple("user:*", async (key) => {
      const fields = await this.#hash(key);
      const name = fields.get("name");
      if (!name) return;
      names.push(name);
      const target = `${this.#keys.user(name)}:a`;
      this.#write(target, ["DEL", target]);
      this.#write(target, [
        "HSET",
        target,
        "name",
        name,
        "nickname",
        fields.get("nickname") ?? name,
        "passwordHash",
        fields.get("passwordHash") ?? "",
        "createdAt",
        fields.get("createdAt") ?? "0",
      ]);
    });
    return names;
  }

  /**
   * The group log becomes the lobby's stream (every account a member, lobby activity counted
   * from the log); each user's acknowledged position in it is the number of group messages
   * with an id up to their old cursor. Returns how many messages the log had.
   */
  async #group(users: string[], cursors: Map<string, string>): Promise<number> {
    const lobby = this.#settings.lobby;
    if (lobby === null) return 0;
    const log = (await this.#read<string[]>(["ZRANGE", `${this.#old}group`, "0", "-1"]))
      .map((row) => JSON.parse(row) as V1Message).sort((a, b) => a.id - b.id);
    const base = this.#keys.room(lobby);
    const stream = roomStream(lobby);
    for (const suffix of [":i", ":m", ":s", ":h", ":t"]) this.#write(base, ["DEL", base + suffix]);
    this.#write(base, [
      "HSET",
      `${base}:i`,
      "name",
      lobby,
      "title",
      lobby,
      "topic",
      "",
      "public",
      "1",
      "owner",
      "",
      "createdAt",
      String(this.#now),
    ]);
    const dir = `${this.#keys.global}:dir`;
    this.#write(dir, ["ZADD", dir, "0", lobby]);
    for (const name of users) {
      this.#write(base, ["ZADD", `${base}:m`, "0", name]);
      const mine = this.#keys.user(name);
      this.#write(mine, ["HSET", `${mine}:r`, lobby, "1"]);
    }
    const kept = log.slice(-this.#settings.retention.roomMax);
    const firstKept = log.length - kept.length + 1;
    kept.forEach((old, i) => {
      const message = converted(old, stream, firstKept + i);
      this.#write(base, ["ZADD", `${base}:s`, String(message.seq), JSON.stringify(message)]);
    });
    this.#write(base, ["HSET", `${base}:h`, "seq", String(log.length), "epoch", newEpoch()]);
    const days = new Map<string, Map<string, number>>();
    for (const old of log) {
      this.#write(base, ["ZINCRBY", `${base}:t`, "1", old.from]);
      const day = utcDay(old.ts);
      if (!days.has(day)) days.set(day, new Map());
      days.get(day)!.set(old.from, (days.get(day)!.get(old.from) ?? 0) + 1);
    }
    for (const [day, counts] of days) {
      const expires = Date.parse(day) + 8 * DAY_MS;
      if (expires <= this.#now) continue;
      const key = `${base}:t:${day}`;
      this.#write(base, ["DEL", key]);
      for (const [name, count] of counts) this.#write(base, ["ZADD", key, String(count), name]);
      this.#write(base, ["PEXPIREAT", key, String(expires)]);
    }
    for (const name of users) {
      const cursor = Number(cursors.get(name) ?? 0);
      const read = log.filter((old) => old.id <= cursor).length;
      const mine = this.#keys.user(name);
      if (read > 0) this.#write(mine, ["HSET", `${mine}:c`, stream, String(read)]);
    }
    await this.#flush();
    return log.length;
  }

  /**
   * Each user's private messages (both directions, from the old conversation logs) become
   * their stream and conversation copies, in the old id order; their acknowledged position
   * is everything before the first message still in their old inbox. Returns how many users
   * had private messages.
   */
  async #privates(users: string[]): Promise<number> {
    const byUser = new Map<string, V1Message[]>();
    await this.#simple("dm:*", async (key) => {
      const rows = await this.#read<string[]>(["ZRANGE", key, "0", "-1"]);
      for (const row of rows) {
        const old = JSON.parse(row) as V1Message;
        for (const name of new Set([old.from, old.to!])) {
          if (!byUser.has(name)) byUser.set(name, []);
          byUser.get(name)!.push(old);
        }
      }
    });
    const { inboxMax, privateMax } = this.#settings.retention;
    for (const name of new Set([...users, ...byUser.keys()])) {
      const list = (byUser.get(name) ?? []).sort((a, b) => a.id - b.id);
      if (list.length === 0) continue;
      const base = this.#keys.user(name);
      const stream = userStream(name);
      const inbox = new Set(
        (await this.#read<string[]>(["ZRANGE", `${this.#old}inbox:${name}`, "0", "-1"]))
          .map((row) => (JSON.parse(row) as V1Message).id),
      );
      this.#write(base, ["DEL", `${base}:s`, `${base}:h`, `${base}:k`]);
      const peers = new Map<string, ChatMessage[]>();
      let read = list.length;
      list.forEach((old, i) => {
        const message = converted(old, stream, i + 1);
        const peer = old.from === name ? old.to! : old.from;
        if (!peers.has(peer)) peers.set(peer, []);
        peers.get(peer)!.push(message);
        if (i >= list.length - inboxMax) {
          this.#write(base, ["ZADD", `${base}:s`, String(message.seq), JSON.stringify(message)]);
        }
        this.#write(base, ["ZADD", `${base}:k`, String(message.seq), peer]);
        if (inbox.has(old.id) && read === list.length) read = i;
      });
      for (const [peer, messages] of peers) {
        const key = `${base}:v:${peer}`;
        this.#write(base, ["DEL", key]);
        for (const message of messages.slice(-privateMax)) {
          this.#write(base, ["ZADD", key, String(message.seq), JSON.stringify(message)]);
        }
      }
      this.#write(base, ["ZREMRANGEBYRANK", `${base}:k`, "0", "-201"]);
      this.#write(base, ["HSET", `${base}:h`, "seq", String(list.length), "epoch", newEpoch()]);
      if (read > 0) this.#write(base, ["HSET", `${base}:c`, stream, String(read)]);
      await this.#flushIfFull();
    }
    await this.#flush();
    return byUser.size;
  }

  /** Overall activity: all time, and the days still kept (with their remaining lifetime). */
  async #activity(): Promise<void> {
    const g = this.#keys.global;
    const all = await this.#read<string[]>([
      "ZRANGE",
      `${this.#old}top:all`,
      "0",
      "-1",
      "WITHSCORES",
    ]);
    this.#write(g, ["DEL", `${g}:act`]);
    for (let i = 0; i < all.length; i += 2) {
      this.#write(g, ["ZADD", `${g}:act`, all[i + 1], all[i]]);
    }
    await this.#simple("top:day:*", async (key, day) => {
      const [rows, ttl] = await Promise.all([
        this.#read<string[]>(["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        this.#read<number>(["PTTL", key]),
      ]);
      if (Number(ttl) === -2) return;
      const target = `${g}:act:${day}`;
      this.#write(g, ["DEL", target]);
      for (let i = 0; i < rows.length; i += 2) {
        this.#write(g, ["ZADD", target, rows[i + 1], rows[i]]);
      }
      if (Number(ttl) > 0) this.#write(g, ["PEXPIRE", target, String(ttl)]);
    });
  }

  /** Calls `each` for every old key `<prefix><pattern>` with the part after the pattern's `*`. */
  async #simple(
    pattern: string,
    each: (key: string, rest: string) => Promise<void>,
  ): Promise<void> {
    const start = this.#old.length + pattern.indexOf("*");
    for await (
      const batch of this.#link.scan(`${this.#old}seq`, `${escape(this.#old)}${pattern}`)
    ) {
      for (const key of batch) await each(key, key.slice(start));
      await this.#flushIfFull();
    }
  }

  async #hash(key: string): Promise<Map<string, string>> {
    const rows = await this.#read<string[]>(["HGETALL", key]);
    const out = new Map<string, string>();
    for (let i = 0; i < rows.length; i += 2) out.set(rows[i], rows[i + 1]);
    return out;
  }

  /** A read of old keys (all in the old tag's slot). */
  #read<T>(args: string[]): Promise<T> {
    return this.#link.command<T>(`${this.#old}seq`, args, "migrate");
  }

  /** Queues a write of a new key (sent at once, awaited in chunks). */
  #write(key: string, args: string[]): void {
    this.#writes.push(this.#link.command(key, args, "migrate"));
  }

  async #flushIfFull(): Promise<void> {
    if (this.#writes.length >= CHUNK) await this.#flush();
  }

  async #flush(): Promise<void> {
    const writes = this.#writes;
    this.#writes = [];
    await Promise.all(writes);
    await this.#renew();
  }
}

function converted(old: V1Message, stream: string, seq: number): ChatMessage {
  return {
    stream,
    seq,
    ts: old.ts,
    from: old.from,
    nick: old.nick,
    ...(old.to === undefined ? {} : { to: old.to }),
    text: old.text,
    ...(old.action ? { action: true as const } : {}),
  };
}

/** Escapes the glob characters of a key prefix for `SCAN MATCH`. */
function escape(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
