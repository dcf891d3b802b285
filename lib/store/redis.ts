/**
 * The Redis store, through the official node-redis client: one command connection and one
 * subscriber connection per node. Appends are group-committed: one script call stores,
 * trims, counts and publishes a whole batch.
 *
 * @module
 */

import { createClient } from "redis";
import type { ChatMessage, UserInfo } from "../protocol/messages.ts";
import { nicknameKey } from "../protocol/rules.ts";
import { Batcher } from "./batcher.ts";
import { ACKNOWLEDGE, APPEND, REGISTER, SET_NICKNAME } from "./redis_scripts.ts";
import {
  type ActivityCount,
  type Backlog,
  type BacklogOptions,
  type CreateUserResult,
  DEFAULT_RETENTION,
  type FeedListener,
  type HistoryPage,
  type HistoryQuery,
  type NewMessage,
  pairOf,
  type Retention,
  type SetNicknameResult,
  type Store,
  type UserRecord,
  utcDay,
} from "./store.ts";

type Client = ReturnType<typeof createClient>;

interface Appending {
  message: NewMessage;
  origin: string | undefined;
}

/** Options of {@linkcode openRedisStore}. */
export interface RedisStoreOptions {
  /** `redis://host:port` (or `rediss://` for TLS). */
  url: string;
  /** This node's id: names its feed channel. */
  nodeId: string;
  /** Prefix of every key and channel. */
  prefix?: string;
  retention?: Retention;
  /** Called with a line for the log when the connection drops or comes back. */
  onStatus?: (event: "redis_down" | "redis_up", detail: string) => void;
}

const BATCH = 256;

/**
 * Connects to Redis and opens the store. Rejects when Redis cannot be reached.
 *
 * @example
 * ```ts
 * await using store = await openRedisStore({ url: "redis://127.0.0.1:6379", nodeId: "a" });
 * ```
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  const onStatus = options.onStatus ?? (() => {});
  const connect = async (role: string): Promise<Client> => {
    let ready = false;
    const client = createClient({
      url: options.url,
      RESP: 2,
      socket: {
        connectTimeout: 5000,
        reconnectStrategy: (retries: number, cause: Error) => {
          if (!ready) return cause;
          return Math.min(100 * 2 ** Math.min(retries, 5), 2000);
        },
      },
    });
    client.on("error", (error: Error) => {
      if (ready) onStatus("redis_down", `${role}: ${error.message}`);
    });
    client.on("ready", () => {
      if (ready) onStatus("redis_up", role);
    });
    await client.connect();
    ready = true;
    return client as Client;
  };
  const commands = await connect("commands");
  let subscriber: Client;
  try {
    subscriber = await connect("subscriber");
  } catch (error) {
    commands.destroy();
    throw error;
  }
  const store = new RedisStore(commands, subscriber, options);
  try {
    await store.start();
  } catch (error) {
    commands.destroy();
    subscriber.destroy();
    throw error;
  }
  return store;
}

/** {@linkcode Store} on Redis. Create it with {@linkcode openRedisStore}. */
export class RedisStore implements Store {
  readonly backend = "redis" as const;
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #retention: Retention;
  readonly #listeners: FeedListener[] = [];
  readonly #shas = new Map<string, string>();
  readonly #batcher = new Batcher<Appending, ChatMessage>((items) => this.#commit(items), BATCH);
  #closed = false;

  constructor(client: Client, subscriber: Client, options: RedisStoreOptions) {
    this.#client = client;
    this.#subscriber = subscriber;
    this.#prefix = options.prefix ?? "im:";
    this.#nodeId = options.nodeId;
    this.#retention = options.retention ?? DEFAULT_RETENTION;
  }

  /** Subscribes to this node's feed channels. */
  async start(): Promise<void> {
    const onMessage = (payload: string) => {
      // The payload is the origin tag, a newline, and the message JSON.
      const newline = payload.indexOf("\n");
      const origin = newline > 0 ? payload.slice(0, newline) : undefined;
      const message = JSON.parse(payload.slice(newline + 1)) as ChatMessage;
      for (const listener of this.#listeners) listener(message, origin);
    };
    await this.#subscriber.subscribe(
      [`${this.#prefix}feed:group`, `${this.#prefix}feed:node:${this.#nodeId}`],
      onMessage,
    );
  }

  #key(...parts: string[]): string {
    return this.#prefix + parts.join(":");
  }

  async #script<T>(source: string, args: string[]): Promise<T> {
    let sha = this.#shas.get(source);
    if (sha === undefined) {
      sha = await this.#client.sendCommand<string>(["SCRIPT", "LOAD", source]);
      this.#shas.set(source, sha);
    }
    try {
      return await this.#client.sendCommand<T>(["EVALSHA", sha, "0", this.#prefix, ...args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      this.#shas.delete(source);
      return await this.#client.sendCommand<T>(["EVAL", source, "0", this.#prefix, ...args]);
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
    const fields = await this.#client.sendCommand<string[]>([
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
        this.#client.sendCommand<(string | null)[]>([
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

  async setNickname(name: string, nickname: string): Promise<SetNicknameResult> {
    for (;;) {
      const user = await this.getUser(name);
      if (!user) return "unknown_user";
      const result = await this.#script<SetNicknameResult | "retry">(SET_NICKNAME, [
        name,
        user.nickname,
        nicknameKey(user.nickname),
        nickname,
        nicknameKey(nickname),
      ]);
      if (result !== "retry") return result;
    }
  }

  async saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void> {
    await this.#client.sendCommand([
      "SET",
      this.#key("token", tokenHash),
      name,
      "PX",
      String(ttlMs),
    ]);
  }

  async lookupToken(tokenHash: string): Promise<string | null> {
    return await this.#client.sendCommand<string | null>(["GET", this.#key("token", tokenHash)]);
  }

  async revokeToken(tokenHash: string): Promise<void> {
    await this.#client.sendCommand(["DEL", this.#key("token", tokenHash)]);
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

  async route(name: string, here: boolean): Promise<void> {
    await this.#client.sendCommand([
      here ? "SADD" : "SREM",
      this.#key("where", name),
      this.#nodeId,
    ]);
  }

  async backlog(name: string, options: BacklogOptions): Promise<Backlog> {
    const cursor = options.since ??
      Number(
        await this.#client.sendCommand<string | null>(["HGET", this.#key("cursor"), name]) ?? 0,
      );
    const after = `(${cursor}`;
    const [inbox, newest, total] = await this.#client.multi()
      .addCommand(["ZRANGE", this.#key("inbox", name), "0", String(this.#retention.inboxMax - 1)])
      .addCommand([
        "ZREVRANGEBYSCORE",
        this.#key("group"),
        "+inf",
        after,
        "LIMIT",
        "0",
        String(options.groupLimit),
      ])
      .addCommand(["ZCOUNT", this.#key("group"), after, "+inf"])
      .exec() as unknown as [string[], string[], number];
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
    const rows = await this.#client.sendCommand<string[]>([
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
      const rows = await this.#client.sendCommand<string[]>([
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
        const tied = await this.#client.sendCommand<string[]>([
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
    await this.#client.sendCommand(["PING"]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#batcher.drained();
    await Promise.allSettled([this.#subscriber.quit(), this.#client.quit()]);
  }
}

function parse(json: string): ChatMessage {
  return JSON.parse(json) as ChatMessage;
}
