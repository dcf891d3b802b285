/**
 * The client's session logic on top of a {@linkcode Link}: log in and follow the login
 * sequence, keep positions per stream (so a resume brings no duplicates, and any duplicate
 * is dropped anyway), fill holes from history before showing newer messages, acknowledge
 * what was really received, keep the rooms and the online list, send through an outbox that
 * never loses a message, and after a drop reconnect by itself with backoff and resume with
 * the token. No terminal code: the UI and the `--json` mode listen to its events.
 *
 * @module
 */

import { ChatError } from "../protocol/errors.ts";
import {
  type ChatMessage,
  type CheckResult,
  type HelloResult,
  type InviteInfo,
  type LoginResult,
  type MemberAction,
  type OfflineReason,
  parseStream,
  type RoomInfo,
  type RoomState,
  roomStream,
  type SendResult,
  type ServerEvent,
  type StreamName,
  type UserInfo,
} from "../protocol/messages.ts";
import type { ConnectionError, Link, RequestFields, RequestType } from "./connection.ts";
import { Outbox, type OutboxEntry, type Target } from "./outbox.ts";
import { StreamPositions } from "./positions.ts";
import type { ResultMap } from "../protocol/messages.ts";

/** What the UI is told. */
export type ClientEvent =
  /** Logged in (`resumed`: again, after a drop); the login sequence follows. */
  | { kind: "ready"; login: LoginResult; resumed: boolean }
  /** The rooms of the login sequence, all of them. */
  | { kind: "rooms"; rooms: RoomState[]; resumed: boolean }
  /** Who of the users this session tracks is online (replaces what was known). */
  | { kind: "roster"; users: UserInfo[] }
  /** A message to show; `backlog` for one stored while away, `filled` when read from history. */
  | { kind: "message"; msg: ChatMessage; backlog: boolean; filled: boolean }
  /** End of the login sequence. */
  | { kind: "backlog"; messages: number; skipped: number; resumed: boolean }
  | { kind: "presence"; user: UserInfo; online: boolean; reason?: OfflineReason; away?: string }
  | { kind: "nick"; name: string; old: string; nickname: string }
  | { kind: "member"; room: string; user: UserInfo; action: MemberAction; by?: UserInfo }
  | { kind: "topic"; room: string; topic: string; by: UserInfo }
  | { kind: "invite"; room: RoomInfo; by: UserInfo }
  | { kind: "occupancy"; room: string; members: number; online: number }
  /** Messages of a stream are gone (retention) and will not be shown. */
  | { kind: "gap"; stream: StreamName; after: number; next: number }
  /** Connection state; `retryInMs` is the real delay before the next attempt. */
  | { kind: "status"; state: "connected" | "reconnecting"; retryInMs?: number; attempt?: number }
  /** A message from the server (shutdown, a connection-level error). */
  | { kind: "notice"; text: string; code?: string }
  /** The session ended and cannot be resumed; `unsent` are the messages not delivered. */
  | { kind: "ended"; code: string; reason: string; unsent: OutboxEntry[] }
  /** A message of the outbox was accepted. */
  | { kind: "sent"; entry: OutboxEntry; result: SendResult }
  /** A message waits: rate limit (`retryInMs`), store unavailable, or no connection. */
  | {
    kind: "queued";
    entry: OutboxEntry;
    reason: "rate" | "unavailable" | "offline";
    retryInMs?: number;
  }
  /** A message was refused for good; it goes back to the user. */
  | { kind: "refused"; entry: OutboxEntry; error: ChatError };

/** Options of {@linkcode ChatClient}. */
export interface ChatClientOptions {
  /** Opens a greeted connection. */
  connect(): Promise<Link>;
  /** First and longest reconnect delay, ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long received positions wait before the acknowledgements go out, ms. */
  ackDelayMs?: number;
  /** How long a hole in the private stream may stay before the client resumes to fill it. */
  gapGraceMs?: number;
  /** The clock, ms. */
  now?: () => number;
  /** Makes idempotency keys. */
  newKey?: () => string;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

/** Codes after which a send is tried again by itself. */
const RETRY_CODES = new Set(["RATE_LIMITED", "UNAVAILABLE", "INTERNAL"]);
/** Most messages one gap-filling `history` request asks for. */
const FILL_PAGE = 200;

/** A fresh random idempotency key (22 characters of base64url). */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/**
 * A chat session that survives drops.
 *
 * @example
 * ```ts
 * const client = new ChatClient({ connect: () => ChatConnection.open({ host, port }) });
 * client.on((event) => console.log(event));
 * await client.login("alice", "secret123");
 * client.send({ room: "lobby" }, "hello");
 * ```
 */
export class ChatClient {
  readonly #o: ChatClientOptions;
  readonly #now: () => number;
  readonly #listeners = new Set<(event: ClientEvent) => void>();
  readonly #positions = new StreamPositions();
  readonly #outbox = new Outbox();
  readonly #done = new Map<number, PromiseWithResolvers<SendResult>>();
  #link: Link | null = null;
  #connecting: Promise<Link> | null = null;
  #user: UserInfo | null = null;
  #token: string | null = null;
  #away: string | undefined;
  #rooms = new Map<string, RoomState>();
  #roster = new Map<string, UserInfo>();
  #invites: InviteInfo[] = [];
  #onlineTotal = 0;
  /** Events that came while a login reply was being handled. */
  #held: (ServerEvent | ConnectionError)[] | null = null;
  #sequence: { rooms: RoomState[]; roster: UserInfo[]; resumed: boolean } | null = null;
  #filling = new Set<StreamName>();
  #gapTimer: ReturnType<typeof setTimeout> | null = null;
  #ackTimer: ReturnType<typeof setTimeout> | null = null;
  #pumpTimer: ReturnType<typeof setTimeout> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;
  /** Whether the current link is logged in. */
  #live = false;
  #closed = false;

  constructor(options: ChatClientOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
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

  /** The server's `hello`, once connected. */
  get hello(): HelloResult | null {
    return this.#link?.hello ?? null;
  }

  /** The rooms the user is a member of, by name. */
  get rooms(): ReadonlyMap<string, RoomState> {
    return this.#rooms;
  }

  /** Tracked users online, by login name. */
  get roster(): ReadonlyMap<string, UserInfo> {
    return this.#roster;
  }

  /** Pending invitations. */
  get invites(): readonly InviteInfo[] {
    return this.#invites;
  }

  /** Users online in all, as last told. */
  get onlineTotal(): number {
    return this.#onlineTotal;
  }

  /** The user's own away reason. */
  get away(): string | undefined {
    return this.#away;
  }

  /** Messages not yet accepted by the server, oldest first. */
  get unsent(): readonly OutboxEntry[] {
    return this.#outbox.entries();
  }

  /** Whether a logged-in connection is open now. */
  get live(): boolean {
    return this.#live && (this.#link?.isOpen ?? false);
  }

  /** Opens the connection if it is not open. */
  connect(): Promise<Link> {
    if (this.#link?.isOpen) return Promise.resolve(this.#link);
    this.#connecting ??= this.#o.connect().then((link) => {
      this.#attach(link);
      return link;
    }).finally(() => this.#connecting = null);
    return this.#connecting;
  }

  /** Whether names are free (PROTOCOL `check`). */
  async check(fields: { name?: string; nickname?: string; room?: string }): Promise<CheckResult> {
    return await (await this.connect()).request("check", fields);
  }

  /** Creates an account (does not log in). */
  async register(name: string, password: string, nickname: string): Promise<UserInfo> {
    return (await (await this.connect()).request("register", { name, password, nickname })).user;
  }

  /** Logs in with a password; the login sequence follows as events. */
  async login(name: string, password: string): Promise<LoginResult> {
    const link = await this.connect();
    return await this.#enter(
      link,
      false,
      () => link.request("login", { name, password, positions: this.#positions.positions() }),
    );
  }

  /**
   * Queues a message; it goes out as soon as it can, in order, and a `sent` or `refused`
   * event follows. The promise settles with the same outcome.
   */
  send(target: Target, text: string, options: { action?: boolean } = {}): {
    entry: OutboxEntry;
    done: Promise<SendResult>;
  } {
    const entry = this.#outbox.add(target, text, (this.#o.newKey ?? randomKey)(), options.action);
    const done = Promise.withResolvers<SendResult>();
    done.promise.catch(() => {});
    this.#done.set(entry.ref, done);
    if (!this.live) this.#emit({ kind: "queued", entry, reason: "offline" });
    this.#pump();
    return { entry, done: done.promise };
  }

  /**
   * Any other request of the user phase, with the client's state kept in step (rooms after
   * `join`/`create`/`part`, the nickname after `nick`, the away reason after `away`).
   *
   * @throws {ChatError} with the server's code, or `UNAVAILABLE` while reconnecting.
   */
  async request<T extends Exclude<RequestType, "hello" | "login" | "resume" | "register" | "send">>(
    type: T,
    fields: RequestFields<T>,
  ): Promise<ResultMap[T]> {
    if (!this.live) throw new ChatError("UNAVAILABLE", "Not connected; reconnecting");
    const result = await this.#link!.request(type, fields);
    this.#afterRequest(type, fields as Record<string, unknown>, result as Record<string, unknown>);
    return result;
  }

  /** Logs out (revoking the resume token); the connection stays open. */
  async logout(): Promise<void> {
    this.#flushAcks();
    try {
      if (this.live) await this.#link!.request("logout", {});
    } finally {
      this.#forget();
    }
  }

  /** Closes for good: no reconnect. Unsent messages stay in {@linkcode unsent}. */
  close(): void {
    this.#closed = true;
    this.#flushAcks();
    for (const timer of [this.#ackTimer, this.#reconnectTimer, this.#pumpTimer, this.#gapTimer]) {
      if (timer !== null) clearTimeout(timer);
    }
    this.#ackTimer =
      this.#reconnectTimer =
      this.#pumpTimer =
      this.#gapTimer =
        null;
    this.#link?.close();
  }

  #emit(event: ClientEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #forget(): void {
    this.#user = null;
    this.#token = null;
    this.#live = false;
    this.#roster.clear();
    this.#rooms.clear();
  }

  /** Runs a login or resume request, holding the events that follow its reply. */
  async #enter(
    link: Link,
    resumed: boolean,
    run: () => Promise<LoginResult>,
  ): Promise<LoginResult> {
    this.#held = [];
    let result: LoginResult;
    try {
      result = await run();
    } catch (error) {
      this.#held = null;
      throw error;
    }
    const held = this.#held ?? [];
    this.#held = null;
    if (this.#link !== link) throw new ChatError("UNAVAILABLE", "The connection was lost");
    this.#live = true;
    this.#user = result.user;
    this.#token = result.token;
    this.#away = result.away;
    this.#invites = result.invites;
    this.#onlineTotal = result.onlineTotal;
    this.#positions.resetAcks();
    this.#positions.start(result.inbox);
    this.#sequence = { rooms: [], roster: [], resumed };
    this.#emit({ kind: "ready", login: result, resumed });
    for (const event of held) this.#onEvent(event);
    this.#pump();
    return result;
  }

  #attach(link: Link): void {
    this.#link = link;
    link.on((event) => {
      if (this.#link !== link) return;
      if (this.#held !== null) this.#held.push(event);
      else this.#onEvent(event);
    });
    link.closed.then(() => this.#onClosed(link));
  }

  #onEvent(event: ServerEvent | ConnectionError): void {
    switch (event.type) {
      case "message":
        this.#onMessage(event.msg, event.backlog === true, false);
        break;
      case "rooms":
        if (this.#sequence) {
          this.#sequence.rooms.push(...event.rooms);
          if (event.done) this.#setRooms(this.#sequence.rooms, this.#sequence.resumed);
        }
        break;
      case "roster":
        if (this.#sequence) {
          this.#sequence.roster.push(...event.users);
          if (event.done) this.#setRoster(this.#sequence.roster);
        } else {
          this.#setRoster(event.users);
        }
        break;
      case "backlog": {
        const resumed = this.#sequence?.resumed ?? false;
        this.#sequence = null;
        this.#emit({ kind: "backlog", messages: event.messages, skipped: event.skipped, resumed });
        break;
      }
      case "presence":
        if (event.online) this.#roster.set(event.user.name, { ...event.user, away: event.away });
        else this.#roster.delete(event.user.name);
        this.#emit({
          kind: "presence",
          user: event.user,
          online: event.online,
          ...(event.reason ? { reason: event.reason } : {}),
          ...(event.away ? { away: event.away } : {}),
        });
        break;
      case "nick": {
        const known = this.#roster.get(event.name);
        if (known) known.nickname = event.nickname;
        if (this.#user?.name === event.name) {
          this.#user = { ...this.#user, nickname: event.nickname };
        }
        this.#emit({ kind: "nick", name: event.name, old: event.old, nickname: event.nickname });
        break;
      }
      case "member":
        this.#onMember(event.room, event.user, event.action, event.by);
        break;
      case "topic": {
        const room = this.#rooms.get(event.room);
        if (room) room.topic = event.topic;
        this.#emit({ kind: "topic", room: event.room, topic: event.topic, by: event.by });
        break;
      }
      case "invite":
        this.#invites = [{ room: event.room.name, by: event.by }, ...this.#invites];
        this.#emit({ kind: "invite", room: event.room, by: event.by });
        break;
      case "occupancy": {
        const room = this.#rooms.get(event.room);
        if (room) {
          room.members = event.members;
          room.online = event.online;
        }
        this.#emit({ kind: "occupancy", ...event });
        break;
      }
      case "gap": {
        const freed = this.#positions.skipTo(event.stream, event.next - 1);
        this.#emit({ kind: "gap", stream: event.stream, after: event.after, next: event.next });
        for (const msg of freed) this.#show(msg, false, false);
        this.#scheduleAck();
        break;
      }
      case "shutdown":
        this.#emit({ kind: "notice", text: event.message, code: "SHUTTING_DOWN" });
        break;
      case "error":
        this.#emit({ kind: "notice", text: event.message, code: event.code });
        break;
      case "ping":
        break;
    }
  }

  #setRooms(rooms: RoomState[], resumed: boolean): void {
    this.#rooms = new Map(rooms.map((room) => [room.name, room]));
    for (const room of rooms) this.#positions.start(room.stream, room.skipped);
    this.#emit({ kind: "rooms", rooms, resumed });
  }

  #setRoster(users: UserInfo[]): void {
    this.#roster = new Map(users.map((user) => [user.name, user]));
    this.#emit({ kind: "roster", users });
  }

  #onMember(roomName: string, user: UserInfo, action: MemberAction, by?: UserInfo): void {
    const room = this.#rooms.get(roomName);
    const me = user.name === this.#user?.name;
    if (room && !me) {
      if (action === "join") {
        room.members++;
        room.online++;
      } else if (action === "part" || action === "kick" || action === "ban") {
        room.members = Math.max(0, room.members - 1);
        if (action === "part" || this.#roster.has(user.name)) {
          room.online = Math.max(0, room.online - 1);
        }
      }
    }
    if (room && action === "owner") {
      room.owner = user.name;
      if (me) room.role = "owner";
      else if (room.role === "owner") room.role = "member";
    }
    if (me && (action === "part" || action === "kick" || action === "ban")) {
      this.#rooms.delete(roomName);
      this.#positions.drop(roomStream(roomName));
    }
    this.#emit({ kind: "member", room: roomName, user, action, ...(by ? { by } : {}) });
  }

  #onMessage(msg: ChatMessage, backlog: boolean, filled: boolean): void {
    const offered = this.#positions.offer(msg);
    for (const m of offered.deliver) this.#show(m, backlog, filled);
    if (offered.gap) this.#fill(msg.stream);
    this.#scheduleAck();
  }

  #show(msg: ChatMessage, backlog: boolean, filled: boolean): void {
    this.#emit({ kind: "message", msg, backlog, filled });
  }

  /** Reads the missing positions of a stream before showing what is held after them. */
  #fill(stream: StreamName): void {
    if (this.#filling.has(stream)) return;
    const parsed = parseStream(stream);
    if (!parsed) return;
    if (parsed.kind === "user") {
      // History of the private stream is per conversation: resuming from the positions
      // makes the server deliver the whole range instead.
      this.#gapTimer ??= setTimeout(() => {
        this.#gapTimer = null;
        if (this.#positions.gap(stream) && this.live) this.#link!.close();
      }, this.#o.gapGraceMs ?? 1000);
      return;
    }
    this.#filling.add(stream);
    (async () => {
      try {
        for (let gap = this.#positions.gap(stream); gap && this.live;) {
          const page = await this.#link!.request("history", {
            room: parsed.name,
            after: gap.after,
            limit: Math.min(FILL_PAGE, gap.before - gap.after - 1),
          });
          for (const m of page.messages) {
            if (m.seq < gap.before) this.#onMessageFilled(m);
          }
          const still = this.#positions.gap(stream);
          if (still && still.after === gap.after) {
            // The store has nothing more there: those positions are gone.
            for (const m of this.#positions.skipTo(stream, still.before - 1)) {
              this.#show(m, false, false);
            }
            this.#emit({ kind: "gap", stream, after: still.after, next: still.before });
          }
          gap = this.#positions.gap(stream);
        }
      } catch {
        // The connection dropped or the store is away: a resume starts from the positions.
      } finally {
        this.#filling.delete(stream);
        this.#scheduleAck();
      }
    })();
  }

  #onMessageFilled(msg: ChatMessage): void {
    for (const m of this.#positions.offer(msg).deliver) this.#show(m, false, true);
  }

  #afterRequest(type: string, fields: Record<string, unknown>, result: Record<string, unknown>) {
    switch (type) {
      case "join":
      case "create": {
        const room = result.room as RoomState;
        this.#rooms.set(room.name, room);
        this.#positions.start(room.stream);
        this.#invites = this.#invites.filter((i) => i.room !== room.name);
        break;
      }
      case "part": {
        const name = String(fields.room).trim().toLowerCase();
        this.#rooms.delete(name);
        this.#positions.drop(roomStream(name));
        break;
      }
      case "nick":
        this.#user = (result as { user: UserInfo }).user;
        break;
      case "count": {
        const room = typeof fields.room === "string" ? this.#rooms.get(fields.room) : undefined;
        if (room && typeof result.members === "number" && typeof result.online === "number") {
          room.members = result.members;
          room.online = result.online;
        }
        break;
      }
      case "away":
        this.#away = (result as { away?: string }).away;
        break;
      case "topic":
      case "transfer": {
        const info = result.room as RoomInfo;
        const room = this.#rooms.get(info.name);
        if (room) Object.assign(room, info, { role: room.role, stream: room.stream });
        break;
      }
    }
  }

  /** Sends the head of the outbox when it is due. */
  #pump(): void {
    if (this.#pumpTimer !== null) {
      clearTimeout(this.#pumpTimer);
      this.#pumpTimer = null;
    }
    if (!this.live || this.#closed) return;
    const now = this.#now();
    const entry = this.#outbox.next(now);
    if (entry === null) {
      const at = this.#outbox.wakeAt();
      if (at !== null) this.#pumpTimer = setTimeout(() => this.#pump(), Math.max(0, at - now));
      return;
    }
    const link = this.#link!;
    this.#outbox.sending(entry);
    const fields = "room" in entry.target
      ? { room: entry.target.room, text: entry.text, key: entry.key }
      : { to: entry.target.to, text: entry.text, key: entry.key };
    link.request("send", entry.action ? { ...fields, action: true } : fields).then(
      (result) => {
        this.#outbox.accepted(entry);
        for (const m of this.#positions.own(result.stream, result.seq)) this.#show(m, false, false);
        this.#scheduleAck();
        this.#emit({ kind: "sent", entry, result });
        this.#settle(entry, result);
      },
      (error) => {
        if (error instanceof ChatError && RETRY_CODES.has(error.code)) {
          const delay = error.retryAfter !== undefined
            ? error.retryAfter * 1000
            : Math.min(10_000, 500 * 2 ** Math.min(entry.attempts, 5));
          this.#outbox.retryAt(entry, this.#now() + delay);
          this.#emit({
            kind: "queued",
            entry,
            reason: error.code === "RATE_LIMITED" ? "rate" : "unavailable",
            retryInMs: delay,
          });
        } else if (error instanceof ChatError) {
          this.#outbox.refused(entry);
          this.#emit({ kind: "refused", entry, error });
          this.#settle(entry, error);
        }
        // Otherwise the connection is gone: the entry is sent again after the resume.
      },
    ).finally(() => this.#pump());
  }

  #settle(entry: OutboxEntry, outcome: SendResult | ChatError): void {
    const done = this.#done.get(entry.ref);
    this.#done.delete(entry.ref);
    if (outcome instanceof ChatError) done?.reject(outcome);
    else done?.resolve(outcome);
  }

  #scheduleAck(): void {
    if (this.#ackTimer !== null) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = null;
      this.#flushAcks();
    }, this.#o.ackDelayMs ?? 100);
  }

  #flushAcks(): void {
    if (!this.live) return;
    for (const ack of this.#positions.takeAcks()) {
      this.#link!.notify({ type: "ack", stream: ack.stream, upTo: ack.upTo });
    }
  }

  #onClosed(link: Link): void {
    if (this.#link !== link) return;
    this.#link = null;
    const wasLive = this.#live;
    this.#live = false;
    this.#sequence = null;
    this.#outbox.interrupted();
    this.#positions.resetAcks();
    if (this.#closed || !this.#token) return;
    if (wasLive || this.#attempt > 0) this.#scheduleReconnect();
  }

  #scheduleReconnect(retryAfterMs?: number): void {
    const min = this.#o.reconnectMinMs ?? 500;
    const max = this.#o.reconnectMaxMs ?? 15_000;
    const jitter = 0.75 + (this.#o.random ?? Math.random)() * 0.5;
    const delay = Math.round(
      retryAfterMs ?? Math.min(max, min * 2 ** Math.min(this.#attempt, 20)) * jitter,
    );
    this.#attempt++;
    this.#emit({ kind: "status", state: "reconnecting", retryInMs: delay, attempt: this.#attempt });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#resume();
    }, delay);
  }

  async #resume(): Promise<void> {
    if (this.#closed || !this.#token) return;
    let link: Link;
    try {
      link = await this.connect();
    } catch {
      if (!this.#closed) this.#scheduleReconnect();
      return;
    }
    try {
      const token = this.#token;
      await this.#enter(
        link,
        true,
        () => link.request("resume", { token, positions: this.#positions.positions() }),
      );
      this.#attempt = 0;
      this.#emit({ kind: "status", state: "connected" });
    } catch (error) {
      if (error instanceof ChatError && error.code === "INVALID_TOKEN") {
        const unsent = this.#outbox.drain();
        this.#forget();
        for (const entry of unsent) this.#settle(entry, error);
        this.#emit({ kind: "ended", code: error.code, reason: error.message, unsent });
        link.close();
        return;
      }
      if (error instanceof ChatError && error.retryAfter !== undefined) {
        this.#link = null;
        link.close();
        this.#scheduleReconnect(error.retryAfter * 1000);
        return;
      }
      link.close();
    }
  }
}
