/**
 * The Redis store, through the official node-redis client: one command connection and one
 * subscriber connection per node. Appends are group-committed: one script call stores,
 * trims, counts and publishes a whole batch.
 *
 * @module
 */

import { openRedisLink, type RedisLink } from "./redis_link.ts";
import type { ChatMessage, OfflineReason, UserInfo } from "../protocol/messages.ts";
import { nicknameKey } from "../protocol/rules.ts";
import { Batcher } from "./batcher.ts";
import { ACKNOWLEDGE, APPEND, JOIN, LEAVE, REAP, REGISTER, SET_NICKNAME } from "./redis_scripts.ts";
import {
  type ActivityCount,
  type Backlog,
  type BacklogOptions,
  type ClusterEvent,
  type ClusterListener,
  type CreateUserResult,
  DEFAULT_RETENTION,
  type FeedListener,
  type HistoryPage,
  type HistoryQuery,
  type NewMessage,
  type OnlineCounts,
  type OnlineList,
  pairOf,
  type Retention,
  type SetNicknameResult,
  type Store,
  type TokenInfo,
  type UserRecord,
  utcDay,
} from "./store.ts";

interface Appending {
  message: NewMessage;
  origin: string | undefined;
}

/** Options of {@linkcode openRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://host:port` (or `rediss://` for TLS). */
  url: string;
  /** This node's id: names its feed channel and its heartbeat key. */
  nodeId: string;
  /**
   * Prefix of every key and channel. In a cluster it is made a hash tag (`{im}:`), so that
   * the scripts' keys and channels share one slot.
   */
  prefix?: string;
  /** Connect to a Redis Cluster through `url` as a seed node. */
  cluster?: boolean;
  retention?: Retention;
  /**
   * A node whose heartbeat is older than this is taken for dead and its users are shown
   * offline, ms. Heartbeats are sent every third of it.
   */
  nodeTtlMs?: number;
  /** Called with a line for the log when something notable happens to the connection. */
  onStatus?: (event: RedisStatus, detail: string) => void;
}

/** Connection events worth a log line. */
export type RedisStatus = "redis_down" | "redis_up" | "node_reaped" | "feed_recovered";

const BATCH = 256;
/** Read-back attempts after the subscriber reconnects, and the pause between them. */
const RECOVERY_ATTEMPTS = 50;
const RECOVERY_PAUSE_MS = 200;
const DEFAULT_NODE_TTL = 10_000;

/**
 * Connects to Redis (or a Redis Cluster) and opens the store. Rejects when Redis cannot be
 * reached.
 *
 * @example
 * ```ts
 * await using store = await openRedisStore({ url: "redis://127.0.0.1:6379", nodeId: "a" });
 * ```
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const link = await openRedisLink({
    url: options.url,
    cluster: options.cluster,
    onStatus: options.onStatus,
  });
  const store = new RedisStore(link, options);
  try {
    await store.start();
  } catch (error) {
    link.destroy();
    throw error;
  }
  return store;
}

/** {@linkcode Store} on Redis. Create it with {@linkcode openRedisStore}. */
export class RedisStore implements Store {
  readonly backend = "redis" as const;
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #retention: Retention;
  readonly #nodeTtlMs: number;
  readonly #onStatus: (event: RedisStatus, detail: string) => void;
  readonly #listeners: FeedListener[] = [];
  readonly #eventListeners: ClusterListener[] = [];
  readonly #shas = new Map<string, string>();
  readonly #batcher = new Batcher<Appending, ChatMessage>((items) => this.#commit(items), BATCH);
  /** Users this node holds, with their nickname (re-registered after an outage). */
  readonly #joined = new Map<string, string>();
  /** Users whose leave has not reached Redis yet, with the reason. */
  readonly #leaving = new Map<string, OfflineReason>();
  #started = false;
  #sessions = 0;
  /** Highest message id passed to feed listeners; the feed resumes after it. */
  #lastFeedId = 0;
  /** Feed messages that arrive while the feed catches up after an outage. */
  #feedHeld: { message: ChatMessage; origin: string | undefined }[] | null = null;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(link: RedisLink, options: RedisStoreOptions) {
    this.#link = link;
    const prefix = options.prefix ?? "im:";
    this.#prefix = link.cluster && !prefix.includes("{")
      ? `{${prefix.replace(/:$/, "")}}:`
      : prefix;
    this.#nodeId = options.nodeId;
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.#nodeTtlMs = options.nodeTtlMs ?? DEFAULT_NODE_TTL;
    this.#onStatus = options.onStatus ?? (() => {});
  }

  /** Whether Redis is reachable now. */
  get available(): boolean {
    return this.#link.ready;
  }

  /**
   * Clears what an earlier run of this node left behind, registers the node, subscribes to
   * its channels and starts the heartbeat.
   */
  async start(): Promise<void> {
    await this.#script(REAP, [this.#nodeId]);
    this.#lastFeedId = Number(
      await this.#link.command<string | null>(["GET", this.#key("seq")]) ?? 0,
    );
    await this.#link.subscribe(
      [`${this.#prefix}feed:group`, `${this.#prefix}feed:node:${this.#nodeId}`],
      (payload) => this.#onFeed(payload),
    );
    await this.#link.subscribe(
      [`${this.#prefix}feed:events`],
      (payload) => this.#onEvent(payload),
    );
    await this.#beat();
    this.#started = true;
    this.#heartbeat = setInterval(() => this.#beat().catch(() => {}), this.#nodeTtlMs / 3);
    this.#link.onReconnect(() => this.#rejoin().catch(() => {}));
    this.#link.onResubscribe(() => this.#recoverFeed().catch(() => {}));
  }

  /** Refreshes this node's heartbeat and removes nodes whose heartbeat expired. */
  async #beat(): Promise<void> {
    if (this.#closed) return;
    const [, added, nodes] = await this.#link.multi<[unknown, number, string[]]>([
      ["SET", this.#key("node", this.#nodeId), String(Date.now()), "PX", String(this.#nodeTtlMs)],
      ["SADD", this.#key("nodes"), this.#nodeId],
      ["SMEMBERS", this.#key("nodes")],
    ]);
    if (Number(added) === 1 && this.#started) {
      // Another node took this one for dead (a stall longer than the TTL) and removed its
      // users: register them again.
      await this.#registerUsers();
    } else if (this.#leaving.size > 0) {
      await this.#retryLeaves();
    }
    for (const node of nodes) {
      if (node === this.#nodeId) continue;
      const alive = await this.#link.command<number>(["EXISTS", this.#key("node", node)]);
      if (alive) continue;
      const users = await this.#script<number>(REAP, [node]);
      this.#onStatus("node_reaped", `${node} (${users} users)`);
    }
  }

  /** After a reconnect: the node and its users may have been reaped meanwhile. */
  async #rejoin(): Promise<void> {
    if (this.#closed) return;
    await this.#beat();
    await this.#registerUsers();
  }

  async #registerUsers(): Promise<void> {
    await this.#retryLeaves();
    for (const [name, nickname] of this.#joined) await this.join({ name, nickname });
    await this.setSessions(this.#sessions);
  }

  /** Leaves that failed (Redis was down) are done again, or the users would stay online. */
  async #retryLeaves(): Promise<void> {
    for (const [name, reason] of this.#leaving) {
      if (this.#joined.has(name)) {
        this.#leaving.delete(name);
        continue;
      }
      await this.#script(LEAVE, [this.#nodeId, name, reason]);
      this.#leaving.delete(name);
    }
  }

  #onFeed(payload: string): void {
    // The payload is the origin tag, a newline, and the message JSON.
    const newline = payload.indexOf("\n");
    const origin = newline > 0 ? payload.slice(0, newline) : undefined;
    const message = JSON.parse(payload.slice(newline + 1)) as ChatMessage;
    if (this.#feedHeld) this.#feedHeld.push({ message, origin });
    else this.#emit(message, origin);
  }

  #emit(message: ChatMessage, origin: string | undefined): void {
    if (message.id <= this.#lastFeedId) return;
    this.#lastFeedId = message.id;
    for (const listener of this.#listeners) {
      try {
        listener(message, origin);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  /**
   * After the subscriber reconnects: what was published meanwhile was not received. Reads
   * it back from the group log and the inboxes of the users held here, and passes it on in
   * id order before the messages that arrived since.
   */
  async #recoverFeed(): Promise<void> {
    if (this.#closed || this.#feedHeld) return;
    this.#feedHeld = [];
    try {
      const after = `(${this.#lastFeedId}`;
      const keys = [
        this.#key("group"),
        ...[...this.#joined.keys()].map((n) => this.#key("inbox", n)),
      ];
      // The command connection may come back after the subscriber: retry the read-back
      // (live messages keep being held meanwhile) rather than skip what was missed.
      for (let attempt = 1;; attempt++) {
        try {
          const rows = await Promise.all(
            keys.map((key) => this.#link.command<string[]>(["ZRANGEBYSCORE", key, after, "+inf"])),
          );
          const missed = rows.flat().map(parse).sort((a, b) => a.id - b.id);
          for (const message of missed) this.#emit(message, undefined);
          this.#onStatus("feed_recovered", `${missed.length} messages`);
          break;
        } catch (error) {
          if (this.#closed || attempt >= RECOVERY_ATTEMPTS) throw error;
          await new Promise((resolve) => setTimeout(resolve, RECOVERY_PAUSE_MS));
        }
      }
    } finally {
      const held = this.#feedHeld ?? [];
      this.#feedHeld = null;
      held.sort((a, b) => a.message.id - b.message.id);
      for (const { message, origin } of held) this.#emit(message, origin);
    }
  }

  #onEvent(payload: string): void {
    const newline = payload.indexOf("\n");
    const origin = newline > 0 ? payload.slice(0, newline) : undefined;
    const event = JSON.parse(payload.slice(newline + 1)) as ClusterEvent;
    for (const listener of this.#eventListeners) {
      try {
        listener(event, origin);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  async join(user: UserInfo): Promise<void> {
    this.#joined.set(user.name, user.nickname);
    const event: ClusterEvent = { type: "presence", user, online: true };
    await this.#script(JOIN, [this.#nodeId, user.name, user.nickname, JSON.stringify(event)]);
  }

  async leave(name: string, reason: OfflineReason): Promise<void> {
    this.#joined.delete(name);
    this.#leaving.set(name, reason);
    await this.#script(LEAVE, [this.#nodeId, name, reason]);
    this.#leaving.delete(name);
  }

  onEvent(listener: ClusterListener): void {
    this.#eventListeners.push(listener);
  }

  async online(limit: number): Promise<OnlineList> {
    const key = this.#key("online");
    const total = Number(await this.#link.command<number>(["HLEN", key]));
    const users: UserInfo[] = [];
    const take = (rows: string[]) => {
      for (let i = 0; i < rows.length; i += 2) users.push({ name: rows[i], nickname: rows[i + 1] });
    };
    if (total <= limit) {
      take(await this.#link.command<string[]>(["HGETALL", key]));
    } else {
      // A large list: scan just enough of it instead of reading every entry.
      let cursor = "0";
      do {
        const [next, rows] = await this.#link.command<[string, string[]]>([
          "HSCAN",
          key,
          cursor,
          "COUNT",
          String(limit),
        ]);
        take(rows);
        cursor = next;
      } while (cursor !== "0" && users.length < limit);
    }
    users.sort((a, b) => (a.name < b.name ? -1 : 1));
    return { users: users.slice(0, limit), total };
  }

  async setSessions(count: number): Promise<void> {
    this.#sessions = count;
    await this.#link.command(["HSET", this.#key("sessions"), this.#nodeId, String(count)]);
  }

  async counts(): Promise<OnlineCounts> {
    const [users, sessions] = await this.#link.multi<[number, string[]]>([
      ["HLEN", this.#key("online")],
      ["HVALS", this.#key("sessions")],
    ]);
    return { users: Number(users), sessions: sessions.reduce((sum, n) => sum + Number(n), 0) };
  }

  #key(...parts: string[]): string {
    return this.#prefix + parts.join(":");
  }

  /**
   * Runs a script by its SHA (loading it first), falling back to EVAL after a Redis restart
   * forgot it. One key is declared: every key and channel of the scripts shares its prefix,
   * so it routes the call to the right shard in a cluster. In a cluster, scripts publish with
   * SPUBLISH (sharded pub/sub).
   */
  async #script<T>(base: string, args: string[]): Promise<T> {
    const source = this.#link.cluster ? base.replaceAll("'PUBLISH'", "'SPUBLISH'") : base;
    const route = this.#key("seq");
    let sha = this.#shas.get(source);
    if (sha === undefined) {
      sha = await this.#link.command<string>(["SCRIPT", "LOAD", source], route);
      this.#shas.set(source, sha);
    }
    try {
      return await this.#link.command<T>(
        ["EVALSHA", sha, "1", route, this.#prefix, ...args],
        route,
      );
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      this.#shas.delete(source);
      return await this.#link.command<T>(
        ["EVAL", source, "1", route, this.#prefix, ...args],
        route,
      );
    }
  }

  async createUser(user: UserRecord): Promise<CreateUserResult> {
    return await this.#script<CreateUserResult>(REGISTER, [
      user.name,
      nicknameKey(user.nickname),
      user.nickname,
      user.passwordHash,
      String(user.createdAt),
    ]);
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const fields = await this.#link.command<string[]>([
      "HMGET",
      this.#key("user", name),
      "name",
      "nickname",
      "passwordHash",
      "createdAt",
    ]);
    if (fields[0] === null) return null;
    return {
      name: fields[0],
      nickname: fields[1],
      passwordHash: fields[2],
      createdAt: Number(fields[3]),
    };
  }

  async getUsers(names: readonly string[]): Promise<UserInfo[]> {
    const replies = await Promise.all(
      names.map((name) =>
        this.#link.command<(string | null)[]>([
          "HMGET",
          this.#key("user", name),
          "name",
          "nickname",
        ])
      ),
    );
    const out: UserInfo[] = [];
    for (const [name, nickname] of replies) {
      if (name !== null && nickname !== null) out.push({ name, nickname });
    }
    return out;
  }

  async setNickname(name: string, nickname: string, origin?: string): Promise<SetNicknameResult> {
    for (;;) {
      const user = await this.getUser(name);
      if (!user) return "unknown_user";
      const result = await this.#script<SetNicknameResult | "retry">(SET_NICKNAME, [
        name,
        user.nickname,
        nicknameKey(user.nickname),
        nickname,
        nicknameKey(nickname),
        origin ?? "",
      ]);
      if (result === "ok" && this.#joined.has(name)) this.#joined.set(name, nickname);
      if (result !== "retry") return result;
    }
  }

  async saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void> {
    await this.#link.command([
      "SET",
      this.#key("token", tokenHash),
      name,
      "PX",
      String(ttlMs),
    ]);
  }

  async lookupToken(tokenHash: string): Promise<TokenInfo | null> {
    const key = this.#key("token", tokenHash);
    const [name, ttl] = await this.#link.multi<[string | null, number]>([
      ["GET", key],
      ["PTTL", key],
    ]);
    if (name === null || Number(ttl) <= 0) return null;
    return { name, expiresAt: Date.now() + Number(ttl) };
  }

  async revokeToken(tokenHash: string): Promise<void> {
    await this.#link.command(["DEL", this.#key("token", tokenHash)]);
  }

  append(messages: readonly NewMessage[], origin?: string): Promise<ChatMessage[]> {
    if (this.#closed) return Promise.reject(new Error("Store is closed"));
    return Promise.all(messages.map((message) => this.#batcher.add({ message, origin })));
  }

  async #commit(items: Appending[]): Promise<ChatMessage[]> {
    const { groupMax, privateMax, inboxMax } = this.#retention;
    const args = [String(groupMax), String(privateMax), String(inboxMax)];
    for (const { message, origin } of items) {
      // The JSON after the id: the script prepends `{"id":N`.
      const tail = JSON.stringify(message).slice(1);
      args.push(message.to ?? "", message.from, utcDay(message.ts), origin ?? "", "," + tail);
    }
    const ids = await this.#script<number[]>(APPEND, args);
    return items.map(({ message }, i) => ({ id: Number(ids[i]), ...message }));
  }

  onCommitted(listener: FeedListener): void {
    this.#listeners.push(listener);
  }

  async backlog(name: string, options: BacklogOptions): Promise<Backlog> {
    const cursor = options.since ??
      Number(
        await this.#link.command<string | null>(["HGET", this.#key("cursor"), name]) ?? 0,
      );
    const after = `(${cursor}`;
    const [inbox, newest, total] = await this.#link.multi<[string[], string[], number]>([
      ["ZRANGE", this.#key("inbox", name), "0", String(this.#retention.inboxMax - 1)],
      [
        "ZREVRANGEBYSCORE",
        this.#key("group"),
        "+inf",
        after,
        "LIMIT",
        "0",
        String(options.groupLimit),
      ],
      ["ZCOUNT", this.#key("group"), after, "+inf"],
    ]);
    const group = newest.map(parse).reverse();
    return { private: inbox.map(parse), group, skipped: Number(total) - group.length };
  }

  async acknowledge(acks: ReadonlyMap<string, number>): Promise<void> {
    if (acks.size === 0) return;
    const args: string[] = [];
    for (const [name, upTo] of acks) args.push(name, String(upTo));
    await this.#script(ACKNOWLEDGE, args);
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const key = query.between ? this.#key("dm", ...pairOf(...query.between)) : this.#key("group");
    const before = query.before === undefined ? "+inf" : `(${query.before}`;
    const rows = await this.#link.command<string[]>([
      "ZREVRANGEBYSCORE",
      key,
      before,
      "-inf",
      "LIMIT",
      "0",
      String(query.limit + 1),
    ]);
    const messages = rows.slice(0, query.limit).map(parse);
    return { messages, more: rows.length > query.limit };
  }

  async top(
    limit: number,
    day: string,
  ): Promise<{ allTime: ActivityCount[]; today: ActivityCount[] }> {
    const read = async (key: string) => {
      if (limit <= 0) return [];
      const rows = await this.#link.command<string[]>([
        "ZREVRANGE",
        key,
        "0",
        String(limit - 1),
        "WITHSCORES",
      ]);
      let out: ActivityCount[] = [];
      for (let i = 0; i < rows.length; i += 2) {
        out.push({ name: rows[i], count: Number(rows[i + 1]) });
      }
      if (out.length === limit) {
        // ZREVRANGE orders equal counts by name descending; ties at the cut go to the
        // first names instead, as in the sort below (and the KV store).
        const lowest = rows[rows.length - 1];
        const tied = await this.#link.command<string[]>([
          "ZRANGEBYSCORE",
          key,
          lowest,
          lowest,
          "LIMIT",
          "0",
          String(limit),
        ]);
        const count = Number(lowest);
        out = [
          ...out.filter((entry) => entry.count > count),
          ...tied.map((name) => ({ name, count })),
        ].slice(0, limit);
      }
      return out.sort((x, y) => y.count - x.count || (x.name < y.name ? -1 : 1));
    };
    const [allTime, today] = await Promise.all([
      read(this.#key("top", "all")),
      read(this.#key("top", "day", day)),
    ]);
    return { allTime, today };
  }

  async ping(): Promise<void> {
    await this.#link.command(["PING"], this.#key("seq"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await this.#batcher.drained();
    if (this.#link.ready) {
      // Leave as a clean node: users still held go offline, the heartbeat key goes away.
      await this.#script(REAP, [this.#nodeId]).catch(() => {});
      await this.#link.command(["DEL", this.#key("node", this.#nodeId)]).catch(() => {});
    }
    await this.#link.close();
  }
}

function parse(json: string): ChatMessage {
  return JSON.parse(json) as ChatMessage;
}
