/**
 * The Redis key layout. Every key carries a hash tag naming what it belongs to, so that each
 * Lua script touches one slot (it gets the tag's base key as `KEYS[1]` and builds the others
 * by appending a suffix) and a cluster spreads users and rooms over every master. `p` is the
 * prefix (default `im:`).
 *
 * | base            | suffixes                                                              |
 * | --------------- | --------------------------------------------------------------------- |
 * | `p{u:<name>}`   | `:a` account hash · `:c` cursors (stream → acked) · `:s` private      |
 * |                 | stream (seq → JSON) · `:h` its head {seq, epoch} · `:v:<peer>`        |
 * |                 | conversation copy · `:k` contacts (peer → position) · `:i:<to>:<key>` |
 * |                 | idempotency key · `:q` pending second writes (seq → copy) · `:x`      |
 * |                 | receiver copies stored ("from:seq" → time) · `:w` where (node ids) ·  |
 * |                 | `:pv` presence version · `:ps` presence {nick, away} · `:pr` rooms    |
 * |                 | announced · `:r` rooms (room → 1) · `:n` invitations (room → at) ·    |
 * |                 | channels `:in` (`@name`) and `:p` (`~name`)                           |
 * | `p{r:<room>}`   | `:i` record · `:m` members (lex zset) · `:b` bans · `:n` invitations  |
 * |                 | (user → {by, at}) · `:s` stream · `:h` head · `:on` online (name →    |
 * |                 | user) · `:ol` online names (lex zset) · `:pv` last presence version   |
 * |                 | per member · `:t` activity · `:t:<day>` activity of a day ·           |
 * |                 | `:k:<from>:<key>` idempotency key; the base is the channel `#room`    |
 * | `p{n:<key>}`    | a nickname reservation {name, at}                                     |
 * | `p{t:<hash>}`   | a resume token → name (with its TTL)                                  |
 * | `p{node:<id>}`  | `:hb` heartbeat (→ incarnation) · `:u:<inc>` users held · `:reap:<inc>` |
 * | `p{g}`          | `:ver` schema · `:lock` conversion lock · `:nodes` (id → incarnation) |
 * |                 | · `:sess` sessions per node · `:dir` public rooms · `:on`/`:onh`      |
 * |                 | online list · `:pv`/`:gone` its presence versions · `:act`,           |
 * |                 | `:act:<day>` overall activity                                         |
 *
 * @module
 */

import { parseStream, type StreamName } from "../../protocol/messages.ts";

/** Keys and channels under one prefix. */
export class Keys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The base key of a user's slot. */
  user(name: string): string {
    return `${this.prefix}{u:${name}}`;
  }

  /** The base key of a room's slot (also the room's channel). */
  room(name: string): string {
    return `${this.prefix}{r:${name}}`;
  }

  /** A nickname reservation. */
  nick(key: string): string {
    return `${this.prefix}{n:${key}}`;
  }

  /** A resume token. */
  token(hash: string): string {
    return `${this.prefix}{t:${hash}}`;
  }

  /** The base key of a node's slot. */
  node(id: string): string {
    return `${this.prefix}{node:${id}}`;
  }

  /** The base key of the global slot. */
  get global(): string {
    return `${this.prefix}{g}`;
  }

  /** The base key of a stream's slot (a room's or a user's); null when not a stream. */
  stream(stream: StreamName): string | null {
    const parsed = parseStream(stream);
    if (!parsed) return null;
    return parsed.kind === "room" ? this.room(parsed.name) : this.user(parsed.name);
  }

  /** The Redis channel of a bus channel (`#room`, `@user`, `~user`); null when not one. */
  channel(channel: string): string | null {
    const name = channel.slice(1);
    if (name === "") return null;
    switch (channel[0]) {
      case "#":
        return this.room(name);
      case "@":
        return `${this.user(name)}:in`;
      case "~":
        return `${this.user(name)}:p`;
      default:
        return null;
    }
  }

  /** The bus channel of a Redis channel; null when it is none of ours. */
  busChannel(channel: string): string | null {
    const p = this.prefix;
    if (!channel.startsWith(p)) return null;
    const rest = channel.slice(p.length);
    const room = /^\{r:([^}]+)\}$/.exec(rest);
    if (room) return `#${room[1]}`;
    const user = /^\{u:([^}]+)\}:(in|p)$/.exec(rest);
    if (user) return `${user[2] === "in" ? "@" : "~"}${user[1]}`;
    return null;
  }
}
