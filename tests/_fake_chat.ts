/**
 * An in-memory server that speaks the documented protocol (PROTOCOL.md) to in-memory links,
 * for tests of the client's session logic and UI without a network. It implements what the
 * client uses: hello, check, register, login/resume with positions and the login sequence,
 * send with idempotency keys, ack, history, rooms and membership, members, users, count,
 * nick, away, topic, top, and server events. Tests steer it: drop links, refuse sends with
 * `RATE_LIMITED`, hold back a position to make a gap, and read what it received.
 */

import type { Link } from "../lib/client/connection.ts";
import type { ConnectionError, EventListener } from "../lib/client/connection.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import type {
  ChatMessage,
  ClientMessage,
  HelloResult,
  Positions,
  RoomState,
  ServerEvent,
  StreamState,
  UserInfo,
} from "../lib/protocol/messages.ts";
import { foldName, nicknameKey } from "../lib/protocol/rules.ts";

interface Account {
  name: string;
  nickname: string;
  password: string;
  away?: string;
  acked: Map<string, number>;
}

interface Room {
  name: string;
  title: string;
  topic: string;
  public: boolean;
  owner: string | null;
  members: Set<string>;
}

/** What a fake link received, in order. */
export type Received = ClientMessage;

/** The fake server. */
export class FakeChat {
  readonly accounts = new Map<string, Account>();
  readonly rooms = new Map<string, Room>();
  readonly streams = new Map<string, ChatMessage[]>();
  readonly links = new Set<FakeLink>();
  /** Every frame any link sent. */
  readonly received: Received[] = [];
  readonly keys = new Map<string, { stream: string; seq: number; ts: number }>();
  readonly tokens = new Map<string, string>();
  maxText = 4000;
  /** The next `n` sends are refused with RATE_LIMITED (retryAfter 1). */
  rateLimitNext = 0;
  /** The next request of this type is carried out, then the link drops before the reply. */
  loseReplyOf: string | null = null;
  /** Positions of these streams are not delivered live (a gap for the reader). */
  readonly withhold = new Set<string>();
  #clock = 1_800_000_000_000;

  constructor(options: { lobby?: boolean } = {}) {
    if (options.lobby !== false) {
      this.rooms.set("lobby", {
        name: "lobby",
        title: "lobby",
        topic: "",
        public: true,
        owner: null,
        members: new Set(),
      });
    }
  }

  /** Opens a greeted link. */
  async connect(): Promise<FakeLink> {
    const link = new FakeLink(this);
    this.links.add(link);
    link.hello = await link.request("hello", { protocol: 2, client: "test" });
    return link;
  }

  /** Adds an account (and makes it a lobby member). */
  account(name: string, nickname = name.toUpperCase(), password = "password1"): Account {
    const account: Account = { name, nickname, password, acked: new Map() };
    this.accounts.set(name, account);
    this.rooms.get("lobby")?.members.add(name);
    return account;
  }

  /** Posts a message as `from` (not through a link). */
  post(from: string, target: { room: string } | { to: string }, text: string): ChatMessage[] {
    return this.commit(from, target, text, undefined, null);
  }

  /** Drops every link of `name` (or all). */
  dropAll(name?: string): void {
    for (const link of [...this.links]) if (!name || link.user === name) link.drop();
  }

  /** Frames of type `type` received. */
  sent<T extends Received["type"]>(type: T): Extract<Received, { type: T }>[] {
    return this.received.filter((m) => m.type === type) as Extract<Received, { type: T }>[];
  }

  now(): number {
    return this.#clock++;
  }

  stream(name: string): ChatMessage[] {
    let s = this.streams.get(name);
    if (!s) this.streams.set(name, s = []);
    return s;
  }

  state(stream: string, user: Account, given?: Positions): StreamState {
    const messages = this.stream(stream);
    const head = messages.length;
    const acked = user.acked.get(stream) ?? 0;
    const mine = given?.[stream];
    const epoch = `e-${stream}`;
    const ok = mine && (mine.epoch === undefined || mine.epoch === epoch) && mine.seq <= head;
    const state: StreamState = {
      stream,
      epoch,
      head,
      acked,
      start: ok ? mine.seq : acked,
      unread: Math.max(0, head - acked),
    };
    if (mine && !ok) state.reset = true;
    return state;
  }

  roomState(room: Room, user: Account, given?: Positions): RoomState {
    return {
      ...this.roomInfo(room),
      role: room.owner === user.name ? "owner" : "member",
      stream: this.state(`#${room.name}`, user, given),
      skipped: 0,
    };
  }

  roomInfo(room: Room) {
    const online = [...room.members].filter((m) => this.isOnline(m)).length;
    return {
      name: room.name,
      title: room.title,
      topic: room.topic,
      public: room.public,
      owner: room.owner,
      members: room.members.size,
      online,
      createdAt: 0,
    };
  }

  isOnline(name: string): boolean {
    return [...this.links].some((l) => l.user === name);
  }

  resolve(token: string): Account {
    const folded = foldName(token);
    const byName = this.accounts.get(folded);
    if (byName) return byName;
    for (const account of this.accounts.values()) {
      if (nicknameKey(account.nickname) === nicknameKey(token.trim())) return account;
    }
    throw new ChatError("UNKNOWN_USER", "No such user");
  }

  userInfo(account: Account): UserInfo {
    return { name: account.name, nickname: account.nickname };
  }

  /** Commits a message; returns the copies made. Delivers to every link but `except`. */
  commit(
    from: string,
    target: { room: string } | { to: string },
    text: string,
    action: boolean | undefined,
    except: FakeLink | null,
  ): ChatMessage[] {
    const sender = this.accounts.get(from)!;
    const base = {
      ts: this.now(),
      from,
      nick: sender.nickname,
      text,
      ...(action ? { action: true as const } : {}),
    };
    if ("room" in target) {
      const room = this.rooms.get(foldName(target.room));
      if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
      if (!room.members.has(from)) throw new ChatError("NOT_A_MEMBER", "Not a member");
      const stream = `#${room.name}`;
      const msg: ChatMessage = { stream, seq: this.stream(stream).length + 1, ...base };
      this.stream(stream).push(msg);
      for (const link of this.links) {
        if (link !== except && link.user && room.members.has(link.user)) link.deliver(msg);
      }
      return [msg];
    }
    const to = this.resolve(target.to);
    if (to.name === from) throw new ChatError("SELF_MESSAGE", "Self");
    const copies: ChatMessage[] = [];
    for (const owner of [from, to.name]) {
      const stream = `@${owner}`;
      const msg: ChatMessage = {
        stream,
        seq: this.stream(stream).length + 1,
        ...base,
        to: to.name,
      };
      this.stream(stream).push(msg);
      copies.push(msg);
      for (const link of this.links) if (link !== except && link.user === owner) link.deliver(msg);
    }
    return copies;
  }

  broadcast(event: ServerEvent, who: (name: string) => boolean): void {
    for (const link of this.links) if (link.user && who(link.user)) link.emit(event);
  }
}

/** One in-memory connection. */
export class FakeLink implements Link {
  readonly #server: FakeChat;
  readonly #listeners = new Set<EventListener>();
  readonly #closed = Promise.withResolvers<void>();
  hello!: HelloResult;
  user: string | null = null;
  #open = true;
  /** Positions this session has been given, per stream (for gaps). */
  readonly #given = new Map<string, number>();

  constructor(server: FakeChat) {
    this.#server = server;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notify(message: Extract<ClientMessage, { type: "ack" | "pong" }>): void {
    if (!this.#open) return;
    this.#server.received.push(message);
    if (message.type === "ack" && this.user) {
      const account = this.#server.accounts.get(this.user)!;
      const upTo = Math.min(message.upTo, this.#given.get(message.stream) ?? 0);
      if (upTo > (account.acked.get(message.stream) ?? 0)) account.acked.set(message.stream, upTo);
    }
  }

  close(): void {
    this.drop();
  }

  /** The server side closes the connection. */
  drop(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#server.links.delete(this);
    queueMicrotask(() => this.#closed.resolve());
  }

  emit(event: ServerEvent | ConnectionError): void {
    if (!this.#open) return;
    for (const listener of this.#listeners) listener(event);
  }

  deliver(msg: ChatMessage, backlog = false): void {
    if (!backlog && this.#server.withhold.has(msg.stream)) return;
    this.#given.set(msg.stream, Math.max(this.#given.get(msg.stream) ?? 0, msg.seq));
    this.emit(backlog ? { type: "message", msg, backlog: true } : { type: "message", msg });
  }

  request<T extends keyof import("../lib/protocol/messages.ts").ResultMap>(
    type: T,
    fields: Record<string, unknown>,
  ): Promise<import("../lib/protocol/messages.ts").ResultMap[T]> {
    if (!this.#open) return Promise.reject(new Error("closed"));
    const id = this.#server.received.length + 1;
    this.#server.received.push({ ...fields, type, id } as unknown as ClientMessage);
    return new Promise((resolve, reject) => {
      // Replies come asynchronously, like frames from a socket; events after the reply
      // are emitted in the same turn, as a server writing them in one chunk would.
      queueMicrotask(() => {
        if (!this.#open) return reject(new Error("closed"));
        try {
          const result = this.#handle(type, fields);
          if (this.#server.loseReplyOf === type) {
            this.#server.loseReplyOf = null;
            this.drop();
            return reject(new Error("closed"));
          }
          resolve(result as never);
          if (type === "login" || type === "resume") {
            this.#loginSequence(fields.positions as Positions | undefined);
          }
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  #me() {
    if (!this.user) throw new ChatError("NOT_LOGGED_IN", "Not logged in");
    return this.#server.accounts.get(this.user)!;
  }

  #handle(type: string, f: Record<string, unknown>): unknown {
    const s = this.#server;
    switch (type) {
      case "hello":
        return {
          protocol: 2,
          server: "imchat/0.2.0",
          node: "fake",
          maxFrame: 65536,
          pingInterval: 30000,
          maxText: s.maxText,
          lobby: s.rooms.has("lobby") ? "lobby" : null,
        };
      case "check": {
        const out: Record<string, string> = {};
        if (typeof f.name === "string") {
          out.name = /^[a-z0-9][a-z0-9_.-]{2,31}$/.test(foldName(f.name))
            ? s.accounts.has(foldName(f.name)) ? "taken" : "free"
            : "invalid";
        }
        if (typeof f.nickname === "string") {
          const taken = [...s.accounts.values()].some((a) =>
            nicknameKey(a.nickname) === nicknameKey(String(f.nickname).trim()) &&
            a.name !== this.user
          );
          out.nickname = taken ? "taken" : "free";
        }
        return out;
      }
      case "register": {
        const name = foldName(String(f.name));
        if (s.accounts.has(name)) throw new ChatError("NAME_TAKEN", "Taken");
        const account = s.account(name, String(f.nickname), String(f.password));
        return { user: s.userInfo(account) };
      }
      case "login": {
        const account = s.accounts.get(foldName(String(f.name)));
        if (!account) throw new ChatError("UNKNOWN_USER", "No such user");
        if (account.password !== f.password) {
          throw new ChatError("WRONG_PASSWORD", "Wrong password");
        }
        const token = `t-${account.name}-${s.tokens.size}`;
        s.tokens.set(token, account.name);
        return this.#loginResult(account, token, f.positions as Positions | undefined);
      }
      case "resume": {
        const name = s.tokens.get(String(f.token));
        if (!name) throw new ChatError("INVALID_TOKEN", "Invalid token");
        return this.#loginResult(
          s.accounts.get(name)!,
          String(f.token),
          f.positions as Positions | undefined,
        );
      }
      case "logout":
        this.#me();
        this.user = null;
        return {};
      case "send": {
        const me = this.#me();
        if (s.rateLimitNext > 0) {
          s.rateLimitNext--;
          throw new ChatError("RATE_LIMITED", "Too fast", 1);
        }
        const text = String(f.text);
        if (text.trim() === "" || [...text].length > s.maxText) {
          throw new ChatError("INVALID_TEXT", "A message has at most 4000 characters");
        }
        const target: { room: string } | { to: string } = typeof f.room === "string"
          ? { room: f.room }
          : { to: String(f.to) };
        const keyId = `${me.name}/${JSON.stringify(target)}/${f.key}`;
        const known = f.key ? s.keys.get(keyId) : undefined;
        if (known) return { ...known, dup: true };
        const copies = s.commit(me.name, target, text, f.action === true, this);
        const mine = copies.find((m) => m.stream === `@${me.name}`) ?? copies[0];
        this.#given.set(mine.stream, Math.max(this.#given.get(mine.stream) ?? 0, mine.seq));
        const result: Record<string, unknown> = { stream: mine.stream, seq: mine.seq, ts: mine.ts };
        if (f.key) s.keys.set(keyId, { stream: mine.stream, seq: mine.seq, ts: mine.ts });
        if ("to" in target) {
          const to = s.resolve(target.to);
          result.online = s.isOnline(to.name);
          if (to.away) result.away = to.away;
        }
        return result;
      }
      case "history": {
        const me = this.#me();
        const stream = typeof f.room === "string" ? `#${foldName(f.room)}` : `@${me.name}`;
        let list = s.stream(stream);
        if (typeof f.with === "string") {
          const peer = s.resolve(f.with).name;
          list = list.filter((m) => m.from === peer || m.to === peer);
        }
        const limit = Number(f.limit) || 20;
        let page: ChatMessage[];
        let more: boolean;
        if (typeof f.after === "number") {
          const after = list.filter((m) => m.seq > (f.after as number));
          page = after.slice(0, limit);
          more = after.length > limit;
        } else {
          const before = typeof f.before === "number"
            ? list.filter((m) => m.seq < (f.before as number))
            : list;
          page = before.slice(-limit);
          more = before.length > limit;
        }
        return { stream, epoch: `e-${stream}`, messages: page, more };
      }
      case "join":
      case "create": {
        const me = this.#me();
        const name = foldName(String(f.room));
        let room = s.rooms.get(name);
        if (type === "create") {
          if (room) throw new ChatError("ROOM_TAKEN", "Taken");
          room = {
            name,
            title: String(f.title ?? name),
            topic: "",
            public: f.public !== false,
            owner: me.name,
            members: new Set(),
          };
          s.rooms.set(name, room);
        }
        if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
        room.members.add(me.name);
        me.acked.set(`#${name}`, s.stream(`#${name}`).length);
        this.#given.set(`#${name}`, s.stream(`#${name}`).length);
        s.broadcast(
          { type: "member", room: name, user: s.userInfo(me), action: "join" },
          (n) => room!.members.has(n) && n !== me.name,
        );
        return {
          room: {
            ...s.roomState(room, me),
            stream: { ...s.state(`#${name}`, me), start: s.stream(`#${name}`).length },
          },
        };
      }
      case "part": {
        const me = this.#me();
        const room = s.rooms.get(foldName(String(f.room)));
        if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
        if (!room.members.delete(me.name)) throw new ChatError("NOT_A_MEMBER", "Not a member");
        s.broadcast(
          { type: "member", room: room.name, user: s.userInfo(me), action: "part" },
          (n) => room.members.has(n),
        );
        return {};
      }
      case "rooms":
        return {
          rooms: [...s.rooms.values()].filter((r) => r.public).map((r) => s.roomInfo(r)),
          more: false,
        };
      case "members": {
        const room = s.rooms.get(foldName(String(f.room)));
        if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
        const members = [...room.members].sort().map((n) => {
          const a = s.accounts.get(n)!;
          return {
            ...s.userInfo(a),
            role: room.owner === n ? "owner" : "member",
            online: s.isOnline(n),
          };
        });
        return { members, total: members.length, more: false };
      }
      case "users": {
        const users = [...s.accounts.values()].filter((a) => s.isOnline(a.name)).map((a) =>
          s.userInfo(a)
        );
        return { users, total: users.length, more: false };
      }
      case "count":
        return {
          users: new Set([...s.links].map((l) => l.user).filter(Boolean)).size,
          sessions: s.links.size,
        };
      case "nick": {
        const me = this.#me();
        const old = me.nickname;
        me.nickname = String(f.nickname).trim();
        s.broadcast(
          { type: "nick", name: me.name, old, nickname: me.nickname },
          (n) => n !== me.name,
        );
        return { user: s.userInfo(me) };
      }
      case "away": {
        const me = this.#me();
        me.away = typeof f.reason === "string" && f.reason.trim() ? f.reason.trim() : undefined;
        return me.away ? { away: me.away } : {};
      }
      case "topic": {
        const me = this.#me();
        const room = s.rooms.get(foldName(String(f.room)));
        if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
        room.topic = String(f.topic);
        s.broadcast(
          { type: "topic", room: room.name, topic: room.topic, by: s.userInfo(me) },
          (n) => room.members.has(n),
        );
        return { room: s.roomInfo(room) };
      }
      case "invite": {
        const me = this.#me();
        const room = s.rooms.get(foldName(String(f.room)));
        if (!room) throw new ChatError("NO_SUCH_ROOM", "No such room");
        if (!room.members.has(me.name)) throw new ChatError("NOT_A_MEMBER", "Not a member");
        const user = s.resolve(String(f.user));
        if (room.members.has(user.name)) throw new ChatError("ALREADY_MEMBER", "Member");
        s.broadcast(
          { type: "invite", room: s.roomInfo(room), by: s.userInfo(me) },
          (n) => n === user.name,
        );
        return { user: s.userInfo(user) };
      }
      case "top":
        return { allTime: [], today: [], day: "2027-01-15" };
      case "ping":
        return {};
      default:
        throw new ChatError("UNKNOWN_TYPE", `Unknown type ${type}`);
    }
  }

  #loginResult(account: Account, token: string, positions?: Positions) {
    this.user = account.name;
    const s = this.#server;
    const inbox = s.state(`@${account.name}`, account, positions);
    const peers: Record<string, number> = {};
    for (const m of s.stream(`@${account.name}`).slice(inbox.acked)) {
      if (m.from !== account.name) peers[m.from] = (peers[m.from] ?? 0) + 1;
    }
    const rooms = [...s.rooms.values()].filter((r) => r.members.has(account.name));
    return {
      user: s.userInfo(account),
      token,
      tokenExpiresAt: s.now() + 1e9,
      inbox: { ...inbox, peers },
      rooms: rooms.length,
      invites: [],
      onlineTotal: new Set([...s.links].map((l) => l.user).filter(Boolean)).size,
      ...(account.away ? { away: account.away } : {}),
    };
  }

  #loginSequence(positions?: Positions): void {
    const s = this.#server;
    const account = s.accounts.get(this.user!)!;
    const rooms = [...s.rooms.values()].filter((r) => r.members.has(account.name));
    const states = rooms.map((r) => s.roomState(r, account, positions));
    this.emit({ type: "rooms", rooms: states, done: true });
    const roster = [...s.accounts.values()].filter((a) =>
      a.name !== account.name && s.isOnline(a.name)
    )
      .map((a) => s.userInfo(a));
    this.emit({ type: "roster", users: roster, done: true });
    let count = 0;
    const inbox = s.state(`@${account.name}`, account, positions);
    for (const m of s.stream(inbox.stream).slice(inbox.start)) {
      this.deliver(m, true);
      count++;
    }
    for (const state of states) {
      this.#given.set(state.stream.stream, state.stream.start);
      for (const m of s.stream(state.stream.stream).slice(state.stream.start)) {
        this.deliver(m, true);
        count++;
      }
    }
    this.#given.set(inbox.stream, Math.max(this.#given.get(inbox.stream) ?? 0, inbox.start));
    this.emit({ type: "backlog", messages: count, skipped: 0 });
  }
}
