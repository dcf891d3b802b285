/**
 * The client's session logic on top of {@linkcode ChatConnection}: log in, keep the online
 * list, drop duplicate deliveries, acknowledge what was received, and after a drop
 * reconnect by itself with backoff and resume with the token. No terminal code.
 *
 * @module
 */

import { ChatError } from "../protocol/errors.ts";
import type {
  ChatMessage,
  LoginResult,
  OfflineReason,
  ResultMap,
  UserInfo,
} from "../protocol/messages.ts";
import { ChatConnection, type ConnectOptions } from "./connection.ts";

/** What the UI is told. */
export type ClientEvent =
  | { kind: "message"; msg: ChatMessage; away: boolean }
  | { kind: "presence"; user: UserInfo; online: boolean; reason?: OfflineReason }
  | { kind: "backlog"; private: number; group: number; skipped: number }
  | { kind: "nick"; name: string; old: string; nickname: string }
  | { kind: "status"; state: "connected" | "reconnecting"; detail: string; retryInMs?: number }
  | { kind: "notice"; text: string }
  | { kind: "ended"; reason: string };

/** Options of {@linkcode ChatClient}. */
export interface ChatClientOptions extends ConnectOptions {
  /** First and longest reconnect delay, ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long received messages wait before one cumulative `ack`, ms. */
  ackDelayMs?: number;
}

const SEEN_MAX = 10_000;

/**
 * A chat session that survives drops.
 *
 * @example
 * ```ts
 * const client = new ChatClient({ host: "127.0.0.1", port: 8889 });
 * client.on((event) => console.log(event));
 * await client.login("alice", "secret123");
 * await client.send("hello");
 * ```
 */
export class ChatClient {
  readonly #options: ChatClientOptions;
  readonly #listeners = new Set<(event: ClientEvent) => void>();
  #conn: ChatConnection | null = null;
  #connecting: Promise<ChatConnection> | null = null;
  #user: UserInfo | null = null;
  #token: string | null = null;
  #online = new Map<string, UserInfo>();
  #seen = new Set<number>();
  #seenOrder: number[] = [];
  #lastGroupId = 0;
  #ackUpTo = 0;
  #ackSent = 0;
  #ackTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;
  /** Whether the current connection is logged in. */
  #live = false;
  #closed = false;

  constructor(options: ChatClientOptions) {
    this.#options = options;
  }

  /** Adds a listener; returns a function that removes it. */
  on(listener: (event: ClientEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The logged-in user, or null. */
  get user(): UserInfo | null {
    return this.#user;
  }

  /** Users online as last known, by login name. */
  get online(): ReadonlyMap<string, UserInfo> {
    return this.#online;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#conn?.isOpen ?? false;
  }

  /** Opens the connection if it is not open (also done by every request). */
  connect(): Promise<ChatConnection> {
    if (this.#conn?.isOpen) return Promise.resolve(this.#conn);
    this.#connecting ??= ChatConnection.open(this.#options).then((conn) => {
      this.#attach(conn);
      return conn;
    }).finally(() => this.#connecting = null);
    return this.#connecting;
  }

  /** Creates an account (does not log in). */
  async register(name: string, password: string, nickname: string): Promise<UserInfo> {
    return (await this.#request("register", { name, password, nickname })).user;
  }

  /** Logs in with a password. */
  async login(name: string, password: string): Promise<LoginResult> {
    const result = await this.#request("login", { name, password });
    this.#loggedIn(result);
    return result;
  }

  /** Sends to the group, or privately to `to`. */
  async send(text: string, to?: string): Promise<ResultMap["send"]> {
    const result = await this.#request("send", to === undefined ? { text } : { text, to });
    this.#markSeen(result.msgId);
    return result;
  }

  /** Online users (asks the server). */
  async users(): Promise<UserInfo[]> {
    return (await this.#request("users", {})).users;
  }

  /** Online users and sessions. */
  count(): Promise<ResultMap["count"]> {
    return this.#request("count", {});
  }

  /** Changes the nickname. */
  async nick(nickname: string): Promise<UserInfo> {
    const { user } = await this.#request("nick", { nickname });
    this.#user = user;
    this.#online.set(user.name, user);
    return user;
  }

  /** Activity rankings. */
  top(limit?: number): Promise<ResultMap["top"]> {
    return this.#request("top", limit === undefined ? {} : { limit });
  }

  /** A page of history (group, or private with `withUser`), oldest first. */
  history(options: { with?: string; limit?: number; before?: number } = {}) {
    return this.#request("history", options);
  }

  /** Logs out (revoking the resume token); the connection stays open. */
  async logout(): Promise<void> {
    this.#flushAck();
    try {
      if (this.#user && this.#conn?.isOpen) await this.#request("logout", {});
    } finally {
      this.#user = null;
      this.#token = null;
      this.#live = false;
      this.#online.clear();
    }
  }

  /** Closes for good: no reconnect. */
  close(): void {
    this.#closed = true;
    this.#flushAck();
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#ackTimer = this.#reconnectTimer = null;
    this.#conn?.close();
  }

  async #request<T extends keyof ResultMap>(
    type: T,
    fields: Parameters<ChatConnection["request"]>[1],
  ): Promise<ResultMap[T]> {
    if (this.#token && !this.#live && type !== "login" && type !== "register") {
      // Logged in, but the connection dropped: a new one would not be logged in yet.
      throw new ChatError("UNAVAILABLE", "Not connected; reconnecting");
    }
    const conn = await this.connect();
    return await conn.request(type, fields as never) as ResultMap[T];
  }

  #emit(event: ClientEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #loggedIn(result: LoginResult): void {
    this.#live = true;
    this.#user = result.user;
    this.#token = result.token;
    this.#online = new Map(result.online.map((u) => [u.name, u]));
  }

  #attach(conn: ChatConnection): void {
    this.#conn = conn;
    conn.on((event) => {
      switch (event.type) {
        case "message":
          this.#onMessage(event.msg, event.away === true);
          break;
        case "presence":
          if (event.online) this.#online.set(event.user.name, event.user);
          else this.#online.delete(event.user.name);
          this.#emit({
            kind: "presence",
            user: event.user,
            online: event.online,
            reason: event.reason,
          });
          break;
        case "backlog":
          this.#emit({
            kind: "backlog",
            private: event.private,
            group: event.group,
            skipped: event.skipped,
          });
          break;
        case "nick": {
          const known = this.#online.get(event.name);
          if (known) known.nickname = event.nickname;
          if (this.#user?.name === event.name) this.#user.nickname = event.nickname;
          this.#emit({ kind: "nick", name: event.name, old: event.old, nickname: event.nickname });
          break;
        }
        case "shutdown":
          this.#emit({ kind: "notice", text: event.message });
          break;
        case "error":
          this.#emit({ kind: "notice", text: event.message });
          break;
      }
    });
    conn.closed.then(() => {
      if (this.#conn !== conn) return;
      this.#conn = null;
      this.#live = false;
      if (!this.#closed && this.#token) this.#scheduleReconnect();
    });
  }

  #onMessage(msg: ChatMessage, away: boolean): void {
    if (msg.id > this.#ackUpTo) this.#ackUpTo = msg.id;
    this.#scheduleAck();
    if (msg.to === undefined && msg.id > this.#lastGroupId) this.#lastGroupId = msg.id;
    if (this.#seen.has(msg.id)) return;
    this.#markSeen(msg.id);
    this.#emit({ kind: "message", msg, away });
  }

  #markSeen(id: number): void {
    if (this.#seen.has(id)) return;
    this.#seen.add(id);
    this.#seenOrder.push(id);
    if (this.#seenOrder.length > SEEN_MAX) {
      this.#seen.delete(this.#seenOrder.shift()!);
    }
  }

  #scheduleAck(): void {
    if (this.#ackTimer !== null) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = null;
      this.#flushAck();
    }, this.#options.ackDelayMs ?? 100);
  }

  #flushAck(): void {
    if (this.#ackUpTo > this.#ackSent && this.#conn?.isOpen && this.#user) {
      this.#conn.notify({ type: "ack", upTo: this.#ackUpTo });
      this.#ackSent = this.#ackUpTo;
    }
  }

  #scheduleReconnect(): void {
    const min = this.#options.reconnectMinMs ?? 500;
    const max = this.#options.reconnectMaxMs ?? 15_000;
    const delay = Math.min(max, min * 2 ** this.#attempt++) * (0.75 + Math.random() * 0.5);
    this.#ackSent = 0;
    this.#emit({
      kind: "status",
      state: "reconnecting",
      detail: "Connection lost; reconnecting",
      retryInMs: Math.round(delay),
    });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#resume();
    }, delay);
  }

  async #resume(): Promise<void> {
    if (this.#closed || !this.#token) return;
    let conn: ChatConnection;
    try {
      conn = await this.connect();
    } catch {
      if (!this.#closed) this.#scheduleReconnect();
      return;
    }
    try {
      const since = this.#lastGroupId > 0 ? { since: this.#lastGroupId } : {};
      const result = await conn.request("resume", { token: this.#token, ...since });
      this.#loggedIn(result);
      this.#attempt = 0;
      this.#emit({ kind: "status", state: "connected", detail: "Reconnected" });
    } catch (error) {
      if (error instanceof ChatError && error.code === "INVALID_TOKEN") {
        this.#user = null;
        this.#token = null;
        this.#emit({ kind: "ended", reason: error.message });
        return;
      }
      conn.close();
    }
  }
}
