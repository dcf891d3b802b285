/**
 * The web client's session logic, apart from the page: connecting and greeting, register
 * and login, `resume` with positions after a drop (with backoff), resending unconfirmed
 * messages with their keys, acknowledgements, history pages and room requests. Sockets,
 * storage, clock, randomness and timers are passed in, so it runs against a real server
 * under Deno in tests and against fakes in unit tests.
 *
 * The resume token lives in the tab's `sessionStorage` (see {@linkcode ClientEnv.storage}).
 *
 * @module
 */

import { ChatError, FATAL_CODES } from "../protocol/errors.ts";
import {
  type CheckResult,
  type HelloResult,
  type LoginResult,
  PROTOCOL_VERSION,
  type RegisterResult,
  type RoomInfo,
  type RoomState,
  type UserInfo,
} from "../protocol/messages.ts";
import {
  Connection,
  ConnectionClosed,
  type ConnectionEvent,
  type SocketFactory,
} from "./connection.ts";
import {
  ChatModel,
  dmView,
  type MessageOutcome,
  parseView,
  roomView,
  type ViewKey,
  viewTarget,
} from "./model.ts";
import { newKey, Outbox, type OutboxEntry, retryable } from "./outbox.ts";
import type { SavedPositions } from "./positions.ts";
import { reconnectDelay } from "./text.ts";

/** `Storage` as far as it is used. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Everything the client needs from its surroundings. */
export interface ClientEnv {
  /** The WebSocket URL (`ws://host/ws`). */
  url: string;
  socket: SocketFactory;
  /**
   * Where the session is kept across page loads. The page passes `sessionStorage`: it
   * survives a reload but not the tab, so a shared computer does not stay logged in for the
   * token's week, and each tab is one session with its own positions (tabs sharing
   * `localStorage` would overwrite each other's positions).
   */
  storage: KeyValueStore;
  now(): number;
  random(): number;
  randomBytes(length: number): Uint8Array;
  /** Runs `run` after `ms`; returns a handle for `clearTimer`. */
  setTimer(run: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Where the client stands. */
export type Status =
  /** Not logged in. */
  | "signedOut"
  /** Opening a connection, logging in or resuming. */
  | "connecting"
  /** Logged in, receiving the login sequence. */
  | "syncing"
  /** Logged in and up to date. */
  | "online"
  /** Disconnected; the next attempt is at `retryAt`. */
  | "waiting";

/** The storage key of the session. */
export const SESSION_KEY = "imchat.session";

/** What is saved in storage for one tab. */
export interface SavedSession {
  v: 1;
  user: UserInfo;
  token: string;
  expiresAt: number;
  positions: SavedPositions;
  outbox: OutboxEntry[];
  active: ViewKey | null;
}

/**
 * Reads a saved session; null when absent, unreadable, or expired at `now`.
 *
 * @example
 * ```ts
 * parseSession(null, Date.now()); // null
 * ```
 */
export function parseSession(text: string | null, now: number): SavedSession | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as SavedSession;
    if (
      value?.v !== 1 || typeof value.token !== "string" || typeof value.user?.name !== "string" ||
      typeof value.expiresAt !== "number" || value.expiresAt <= now
    ) return null;
    return {
      ...value,
      positions: value.positions ?? {},
      outbox: Array.isArray(value.outbox) ? value.outbox : [],
      active: typeof value.active === "string" ? value.active : null,
    };
  } catch {
    return null;
  }
}

const HISTORY_PAGE = 50;
/** After a failed history request, the view waits this long before loading again, ms. */
const HISTORY_RETRY = 5000;
/** Views with fewer messages than this load a history page when opened. */
const FILL = 30;

/**
 * One user's chat session in one tab.
 *
 * @example
 * ```ts
 * const client = new ChatClient(env);
 * client.onChange(() => render(client));
 * client.start();
 * await client.login("alice", "password1");
 * client.send("hello");
 * ```
 */
export class ChatClient {
  readonly model: ChatModel;
  readonly outbox: Outbox;
  status: Status = "signedOut";
  /** When `waiting`: the time of the next attempt. */
  retryAt = 0;
  /** The last problem worth telling the user (a refused resume, a server shutdown). */
  problem: ChatError | null = null;
  /** The login's `notice`, when the server sent one. */
  notice: string | null = null;
  hello: HelloResult | null = null;

  readonly #env: ClientEnv;
  #conn: Connection | null = null;
  #opening: Promise<Connection> | null = null;
  #token: string | null = null;
  #expiresAt = 0;
  #attempt = 0;
  #retryTimer: unknown = null;
  #flushTimer: unknown = null;
  #watchTimer: unknown = null;
  #lastFrame = 0;
  #early: ConnectionEvent[] | null = null;
  #flushing = false;
  #stopped = false;
  #changeQueued = false;
  readonly #loading = new Set<ViewKey>();
  readonly #historyFailed = new Map<ViewKey, number>();
  readonly #listeners = new Set<() => void>();
  readonly #messageListeners = new Set<(outcome: MessageOutcome, text: string) => void>();

  constructor(env: ClientEnv) {
    this.#env = env;
    const saved = parseSession(env.storage.getItem(SESSION_KEY), env.now());
    this.model = new ChatModel(saved ? { positions: saved.positions } : undefined);
    const keys = () => newKey(env.randomBytes(16));
    this.outbox = new Outbox(keys, saved?.outbox ?? []);
    if (saved) {
      this.#token = saved.token;
      this.#expiresAt = saved.expiresAt;
      this.model.me = { ...saved.user };
      this.model.active = saved.active;
    }
  }

  /** Calls `listener` (once per batch) after anything changed; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` for every new message delivered (for notifications). */
  onMessage(listener: (outcome: MessageOutcome, text: string) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  /** Whether a saved session will be resumed (or is logged in). */
  get hasSession(): boolean {
    return this.#token !== null;
  }

  /** Resumes the saved session, if there is one. */
  start(): void {
    if (this.#token !== null) void this.#resume();
  }

  /** Asks whether names are free (opens a guest connection when needed). */
  async check(fields: { name?: string; nickname?: string; room?: string }): Promise<CheckResult> {
    const conn = await this.#greeted();
    return await conn.request("check", fields);
  }

  /** Creates an account (does not log in). */
  async register(name: string, password: string, nickname: string): Promise<RegisterResult> {
    const conn = await this.#greeted();
    return await conn.request("register", { name, password, nickname });
  }

  /** Logs in with name and password. */
  async login(name: string, password: string): Promise<void> {
    this.problem = null;
    const conn = await this.#greeted();
    this.#early = [];
    try {
      const result = await conn.request("login", { name, password });
      if (this.model.me && this.model.me.name !== result.user.name) {
        this.model.signOut();
        for (const entry of [...this.outbox.entries]) this.outbox.discard(entry.key);
      }
      this.#loggedIn(conn, result);
    } finally {
      this.#early = null;
    }
  }

  /** Logs out: the token is revoked and forgotten, unsent messages are dropped. */
  async logout(): Promise<void> {
    const conn = this.#conn;
    this.#token = null;
    this.#cancelTimers();
    if (conn?.isOpen) await conn.request("logout", {}).catch(() => undefined);
    conn?.close();
    this.#conn = null;
    this.model.signOut();
    for (const entry of [...this.outbox.entries]) this.outbox.discard(entry.key);
    this.status = "signedOut";
    this.#changed();
  }

  /**
   * Sends `text` to the active view (`/me text` as an action). The message waits in the
   * outbox until the server confirms it; null when no view is open or the text is blank.
   */
  send(text: string): OutboxEntry | null {
    const view = this.model.active;
    const target = view === null ? null : viewTarget(view);
    if (target === null || text.trim() === "") return null;
    const action = text.startsWith("/me ");
    const entry = this.outbox.add(target, action ? text.slice(4) : text, action, this.#env.now());
    this.#changed();
    void this.#flush();
    return entry;
  }

  /** Drops a message the server refused. */
  discard(key: string): void {
    this.outbox.discard(key);
    this.#changed();
  }

  /** Shows a view and loads what it needs (history, members). */
  open(view: ViewKey): void {
    this.model.open(view);
    this.#changed();
    this.#fill(view);
    const parsed = parseView(view);
    if (parsed?.kind === "room" && !this.model.rooms.get(parsed.name)?.memberList) {
      void this.loadMembers(parsed.name);
    }
  }

  /** Shows no view (the phone layout went back to the lists). */
  closeView(): void {
    this.model.active = null;
    this.#changed();
  }

  /** Opens the private conversation with the user of login name `name`, if one exists. */
  async openConversation(name: string): Promise<boolean> {
    const folded = name.trim().toLowerCase();
    if (folded === this.model.me?.name) return false;
    if (!this.model.conversations.has(folded)) {
      const result = await this.check({ name: folded });
      if (result.name !== "taken") return false;
    }
    this.open(dmView(folded));
    return true;
  }

  /** Loads the next older history page of a view (the active one by default). */
  async loadOlder(view: ViewKey | null = this.model.active): Promise<void> {
    if (view === null || this.#loading.has(view)) return;
    const timeline = this.model.timeline(view);
    const parsed = parseView(view);
    const conn = this.#conn;
    if (!timeline || timeline.complete || !parsed || !conn || !this.#loggedInNow()) return;
    const failed = this.#historyFailed.get(view);
    if (failed !== undefined && this.#env.now() - failed < HISTORY_RETRY) return;
    this.#loading.add(view);
    this.#changed();
    try {
      const oldest = timeline.oldest();
      const result = await conn.request("history", {
        ...(parsed.kind === "room" ? { room: parsed.name } : { with: parsed.name }),
        limit: HISTORY_PAGE,
        ...(oldest === undefined ? {} : { before: oldest }),
      });
      this.#historyFailed.delete(view);
      const added = this.model.history(view, result);
      // A page that brings nothing older cannot be followed by another one.
      if (added === 0 && timeline.oldest() === oldest) timeline.complete = true;
    } catch (error) {
      this.#historyFailed.set(view, this.#env.now());
      this.#problem(error);
    } finally {
      this.#loading.delete(view);
      this.#changed();
    }
  }

  /** Whether a history page of `view` is being loaded. */
  loading(view: ViewKey): boolean {
    return this.#loading.has(view);
  }

  /** Public rooms whose name starts with `query`. */
  async searchRooms(query: string): Promise<RoomInfo[]> {
    const conn = this.#userConn();
    const result = await conn.request("rooms", { query: query.trim(), limit: 50 });
    return result.rooms;
  }

  /** Joins a room and opens it. */
  async join(room: string): Promise<void> {
    const result = await this.#userConn().request("join", { room });
    this.model.joined(result.room, 0, result.room.stream.head);
    this.model.dropInvite(result.room.name);
    this.open(roomView(result.room.name));
  }

  /** Creates a room and opens it. */
  async create(room: string, title: string, isPublic: boolean): Promise<void> {
    const result = await this.#userConn().request("create", {
      room,
      ...(title.trim() === "" ? {} : { title }),
      public: isPublic,
    });
    this.model.joined(result.room, 0, result.room.stream.head);
    this.open(roomView(result.room.name));
  }

  /** Leaves a room. */
  async leave(room: string): Promise<void> {
    await this.#userConn().request("part", { room });
    this.model.left(room);
    this.#changed();
  }

  /** Sets a room's topic. */
  async setTopic(room: string, topic: string): Promise<void> {
    const result = await this.#userConn().request("topic", { room, topic });
    this.model.roomInfo(result.room);
    this.#changed();
  }

  /** Loads a room's member list. */
  async loadMembers(room: string): Promise<void> {
    const conn = this.#conn;
    if (!conn || !this.#loggedInNow()) return;
    try {
      const result = await conn.request("members", { room, limit: 500 });
      this.model.setMembers(room, result);
      this.#changed();
    } catch (error) {
      this.#problem(error);
    }
  }

  /** The page became visible or hidden. */
  setVisible(visible: boolean): void {
    this.model.setVisible(visible);
    this.#changed();
  }

  /** Closes the connection and stops reconnecting; the saved session stays (page unload). */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimers();
    this.#save();
    this.#conn?.close();
  }

  /** Tries to reconnect at once (the browser came back online). */
  retryNow(): void {
    if (this.status !== "waiting") return;
    this.#cancelRetry();
    void this.#resume();
  }

  // ---- connection

  #userConn(): Connection {
    if (!this.#conn || !this.#loggedInNow()) {
      throw new ChatError("NOT_LOGGED_IN", "Not connected");
    }
    return this.#conn;
  }

  #loggedInNow(): boolean {
    return this.status === "online" || this.status === "syncing";
  }

  /** The open connection, or a new one that has said hello. */
  #greeted(): Promise<Connection> {
    if (this.#conn?.isOpen) return Promise.resolve(this.#conn);
    this.#opening ??= (async () => {
      const conn = await Connection.open(() => this.#env.socket(this.#env.url));
      conn.onEvent = (event) => this.#onEvent(conn, event);
      conn.onFrame = () => this.#lastFrame = this.#env.now();
      this.#conn = conn;
      conn.closed.then(() => this.#onClosed(conn));
      this.hello = await conn.request("hello", {
        protocol: PROTOCOL_VERSION,
        client: "imchat-web",
      });
      return conn;
    })().finally(() => this.#opening = null);
    return this.#opening;
  }

  async #resume(): Promise<void> {
    const token = this.#token;
    if (token === null) return;
    this.status = "connecting";
    this.#changed();
    try {
      const conn = await this.#greeted();
      this.#early = [];
      const result = await conn.request("resume", {
        token,
        positions: this.model.positions.positions(),
      });
      this.#loggedIn(conn, result);
    } catch (error) {
      if (this.#token !== token) return;
      if (error instanceof ChatError && error.code === "INVALID_TOKEN") {
        this.#signedOut(error);
      } else if (error instanceof ChatError && error.code === "LOGIN_THROTTLED") {
        this.#scheduleRetry((error.retryAfter ?? 1) * 1000);
      } else {
        if (error instanceof ChatError) this.problem = error;
        this.#conn?.close();
        this.#scheduleRetry();
      }
    } finally {
      this.#early = null;
    }
  }

  #loggedIn(conn: Connection, result: LoginResult): void {
    this.#token = result.token;
    this.#expiresAt = result.tokenExpiresAt;
    this.notice = result.notice ?? null;
    this.problem = null;
    this.#attempt = 0;
    this.model.login(result);
    this.status = "syncing";
    this.#lastFrame = this.#env.now();
    this.#watch();
    const early = this.#early ?? [];
    this.#early = null;
    for (const event of early) this.#onEvent(conn, event);
    this.#changed();
  }

  #signedOut(problem: ChatError | null): void {
    this.#token = null;
    this.#cancelTimers();
    this.model.signOut();
    this.status = "signedOut";
    this.problem = problem;
    this.#changed();
  }

  #onClosed(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    this.outbox.requeue();
    this.#loading.clear();
    if (this.#token === null) {
      this.status = "signedOut";
    } else if (this.#stopped) {
      this.status = "waiting";
    } else if (this.status !== "connecting") {
      this.#scheduleRetry();
    }
    this.#changed();
  }

  #scheduleRetry(delay?: number): void {
    this.#cancelRetry();
    if (this.#stopped) return;
    const ms = delay ?? reconnectDelay(this.#attempt++, this.#env.random);
    this.status = "waiting";
    this.retryAt = this.#env.now() + ms;
    this.#retryTimer = this.#env.setTimer(() => {
      this.#retryTimer = null;
      void this.#resume();
    }, ms);
    this.#changed();
  }

  #cancelRetry(): void {
    if (this.#retryTimer !== null) this.#env.clearTimer(this.#retryTimer);
    this.#retryTimer = null;
  }

  #cancelTimers(): void {
    this.#cancelRetry();
    if (this.#flushTimer !== null) this.#env.clearTimer(this.#flushTimer);
    if (this.#watchTimer !== null) this.#env.clearTimer(this.#watchTimer);
    this.#flushTimer = null;
    this.#watchTimer = null;
  }

  /** Closes a connection that stayed silent past two ping intervals (a dead network). */
  #watch(): void {
    if (this.#watchTimer !== null) this.#env.clearTimer(this.#watchTimer);
    const interval = this.hello?.pingInterval ?? 30_000;
    this.#watchTimer = this.#env.setTimer(() => {
      this.#watchTimer = null;
      if (!this.#conn || !this.#loggedInNow()) return;
      if (this.#env.now() - this.#lastFrame > interval * 2.5) this.#conn.close();
      else this.#watch();
    }, interval);
  }

  // ---- events

  #onEvent(conn: Connection, event: ConnectionEvent): void {
    if (conn !== this.#conn) return;
    if (this.#early !== null) {
      this.#early.push(event);
      return;
    }
    const model = this.model;
    switch (event.type) {
      case "message": {
        const outcome = model.message(event.msg, event.backlog === true);
        if (outcome.added) {
          for (const listener of this.#messageListeners) listener(outcome, event.msg.text);
        }
        break;
      }
      case "rooms":
        model.roomsEvent(event);
        break;
      case "roster":
        model.roster(event);
        break;
      case "backlog":
        model.backlog(event);
        this.status = "online";
        void this.#flush();
        if (model.active !== null) this.#refresh(model.active);
        break;
      case "presence":
        model.presence(event);
        break;
      case "nick":
        model.nick(event);
        break;
      case "occupancy":
        model.occupancy(event);
        break;
      case "member":
        if (
          event.action === "join" && event.user.name === model.me?.name &&
          !model.rooms.has(event.room)
        ) {
          void this.#fetchRoom(event.room);
        } else {
          model.member(event);
        }
        break;
      case "invite":
        model.invite(event);
        break;
      case "topic":
        model.topic(event);
        break;
      case "gap":
        model.gap(event);
        break;
      case "shutdown":
        this.problem = new ChatError("SHUTTING_DOWN", event.message);
        break;
      case "ping":
        conn.notify({ type: "pong" });
        break;
      case "error":
        if (FATAL_CODES.has(event.code)) this.problem = new ChatError(event.code, event.message);
        break;
    }
    this.#changed();
  }

  async #fetchRoom(room: string): Promise<void> {
    try {
      const result = await this.#userConn().request("rooms", { mine: true, query: room });
      const state = result.rooms.find((r) => r.name === room) as RoomState | undefined;
      if (state) this.model.joined(state, 0, state.stream.head);
      this.#changed();
    } catch (error) {
      this.#problem(error);
    }
  }

  /** After a login sequence: the open view's history and member list. */
  #refresh(view: ViewKey): void {
    this.#fill(view);
    const parsed = parseView(view);
    if (parsed?.kind === "room") void this.loadMembers(parsed.name);
  }

  /** Loads history into a view that shows too little. */
  #fill(view: ViewKey): void {
    const timeline = this.model.timeline(view);
    if (timeline && !timeline.complete && timeline.size < FILL) void this.loadOlder(view);
  }

  // ---- sending

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      for (;;) {
        const conn = this.#conn;
        const entry = this.outbox.queued()[0];
        if (!entry || !conn || this.status !== "online") return;
        this.outbox.sending(entry.key);
        this.#changed();
        try {
          const result = await conn.request("send", {
            ...entry.target,
            text: entry.text,
            key: entry.key,
            ...(entry.action ? { action: true } : {}),
          });
          this.model.sent(entry, result);
          this.outbox.settle(entry.key);
        } catch (error) {
          if (error instanceof ChatError && !retryable(error.code)) {
            this.outbox.fail(entry.key, error.code);
          } else {
            this.outbox.requeue(entry.key);
            if (error instanceof ChatError) {
              this.#retryFlush((error.retryAfter ?? 2) * 1000);
              return;
            }
            if (!(error instanceof ConnectionClosed)) throw error;
            return;
          }
        } finally {
          this.#changed();
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #retryFlush(ms: number): void {
    if (this.#flushTimer !== null) return;
    this.#flushTimer = this.#env.setTimer(() => {
      this.#flushTimer = null;
      void this.#flush();
    }, ms);
  }

  // ---- changes

  #problem(error: unknown): void {
    if (error instanceof ChatError) this.problem = error;
    else if (!(error instanceof ConnectionClosed)) throw error;
  }

  /** Saves, acknowledges and tells the listeners, once per batch of changes. */
  #changed(): void {
    if (this.#changeQueued) return;
    this.#changeQueued = true;
    queueMicrotask(() => {
      this.#changeQueued = false;
      this.#save();
      const conn = this.#conn;
      if (conn && this.#loggedInNow()) {
        for (const ack of this.model.acks()) conn.notify({ type: "ack", ...ack });
      }
      for (const listener of this.#listeners) listener();
    });
  }

  #save(): void {
    const me = this.model.me;
    if (this.#token === null || me === null) {
      this.#env.storage.removeItem(SESSION_KEY);
      return;
    }
    const saved: SavedSession = {
      v: 1,
      user: me,
      token: this.#token,
      expiresAt: this.#expiresAt,
      positions: this.model.positions.positions(),
      outbox: this.outbox.toJSON(),
      active: this.model.active,
    };
    this.#env.storage.setItem(SESSION_KEY, JSON.stringify(saved));
  }
}
