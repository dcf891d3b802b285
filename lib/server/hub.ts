/**
 * The node's live state: who is logged in here, which channels the node listens to (the rooms
 * of its users, their private streams, their contacts' presence), the feeds that keep every
 * stream contiguous, fan-out to local sessions, session-level fills, presence relaying,
 * rosters, room occupancy and the batching of acknowledgements and activity counts.
 *
 * Nothing here awaits a session: a slow peer is cut off by its outbox bound.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type {
  ChatMessage,
  MemberEvent,
  OfflineReason,
  Role,
  ServerEvent,
  StreamName,
  UserInfo,
} from "../protocol/messages.ts";
import { roomStream, userStream } from "../protocol/messages.ts";
import type { BusDelivery, BusEvent, Channel } from "../store/contract/bus.ts";
import type { Membership, RoomSummary } from "../store/contract/rooms.ts";
import type { Store } from "../store/contract/store.ts";
import { utcDay } from "../store/contract/store.ts";
import { Fanout } from "./fanout.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { OccupancyPace } from "./occupancy.ts";
import { type Note, PresenceRelay, type RelayedEvent } from "./presence_relay.ts";
import type { Held, Session } from "./session.ts";
import { StreamFeed } from "./stream_feed.ts";

/** A member event as carried on the bus: joins carry the stream head at joining. */
export type MemberNote = MemberEvent & { head?: number };

/** Settings of the hub. */
export interface HubOptions {
  maxFrame: number;
  presenceRoomLimit: number;
  /** Period of acknowledgement, activity and occupancy flushes, ms. */
  tickMs?: number;
  now?: () => number;
}

interface LocalUser {
  info: UserInfo;
  sessions: Set<Session>;
  rooms: Map<string, Role>;
  contacts: Set<string>;
}

interface Subscription {
  refs: number;
  ready: Promise<void>;
}

/** Messages read per store call when filling a session. */
const FILL_CHUNK = 200;
/** Every this many ticks, all room summaries of local rooms are read again. */
const FULL_REFRESH = 30;
/** Contacts whose presence a user tracks. */
export const CONTACTS_TRACKED = 200;

/** Live sessions of one node. */
export class Hub {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #options: Required<HubOptions>;
  /** Every open connection, logged in or not. */
  readonly connections = new Set<Session>();
  readonly #live = new Set<Session>();
  readonly #users = new Map<string, LocalUser>();
  readonly #roomSessions = new Map<string, Set<Session>>();
  readonly #subscriptions = new Map<Channel, Subscription>();
  readonly #feeds = new Map<StreamName, StreamFeed>();
  /** For each contact, the local users who track them. */
  readonly #contactOf = new Map<string, Set<string>>();
  readonly #rooms = new Map<string, RoomSummary>();
  /** Online counts of big rooms as read at a tick, with when (`performance.now()`). */
  readonly #counted = new Map<string, { online: number; at: number }>();
  readonly #occupancy = new OccupancyPace();
  #acks = new Map<string, Map<StreamName, number>>();
  #activity = new Map<string, number>();
  readonly #relay: PresenceRelay<Session>;
  readonly #fanout: Fanout;
  readonly #ticker: ReturnType<typeof setInterval>;
  #reportedSessions = -1;
  #reporting = false;
  #ticks = 0;
  #rosterRefresh: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(store: Store, log: Logger, metrics: Metrics, options: HubOptions) {
    this.#store = store;
    this.#log = log;
    this.#metrics = metrics;
    this.#options = { tickMs: 1000, now: Date.now, ...options };
    this.#relay = new PresenceRelay((receivers, event) => this.#relayed(receivers, event));
    this.#fanout = new Fanout({
      sessionsOf: (stream) => this.#sessionsOf(stream),
      one: (session, stream, held, origin) => this.#deliverOne(session, stream, held, origin),
    }, options.maxFrame);
    store.bus.onDelivery((channel, delivery) => this.#onDelivery(channel, delivery));
    store.bus.onRestored((channels) => this.#onRestored(channels));
    this.#ticker = setInterval(() => this.#tick(), this.#options.tickMs);
  }

  /** Logged-in sessions on this node. */
  get localSessions(): number {
    return this.#live.size;
  }

  /** Users with a session on this node. */
  get localUsers(): number {
    return this.#users.size;
  }

  /** Channels this node listens to. */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  /** Whether `name` has a session on this node. */
  isLocal(name: string): boolean {
    return this.#users.has(name);
  }

  /** The rooms of a local user (their memberships as this node knows them). */
  roomsOf(name: string): ReadonlyMap<string, Role> | undefined {
    return this.#users.get(name)?.rooms;
  }

  /** The sessions of a local user. */
  sessionsOf(name: string): ReadonlySet<Session> {
    return this.#users.get(name)?.sessions ?? new Set();
  }

  /** Encodes a message event (for the login backlog). */
  encode(message: ChatMessage, backlog = false): Uint8Array {
    return this.#fanout.encode(message, backlog);
  }

  // ---- sessions ----

  /**
   * Makes a session live for `info` with the user's rooms and contacts: every stream of it is
   * held (live messages wait) until the caller fills it; the node subscribes to the user's
   * channels before this resolves. When it is the user's first session on this node, the
   * store is told (which announces the user online when no node held them).
   */
  async attach(
    session: Session,
    info: UserInfo,
    memberships: readonly Membership[],
    contacts: readonly string[],
  ): Promise<void> {
    session.user = info;
    session.phase = "user";
    let user = this.#users.get(info.name);
    const first = user === undefined;
    if (!user) {
      user = {
        info: { ...info },
        sessions: new Set(),
        rooms: new Map(memberships.map((m) => [m.room, m.role])),
        contacts: new Set(),
      };
      this.#users.set(info.name, user);
    } else {
      for (const m of memberships) if (!user.rooms.has(m.room)) user.rooms.set(m.room, m.role);
    }
    const ready: Promise<void>[] = [];
    if (first) {
      ready.push(this.#want(userStream(info.name)));
      for (const room of user.rooms.keys()) ready.push(this.#want(roomStream(room)));
      for (const contact of contacts.slice(0, CONTACTS_TRACKED)) {
        ready.push(this.#addContact(user, info.name, contact));
      }
    }
    user.sessions.add(session);
    this.#live.add(session);
    this.#reportSessions();
    session.startFilling(userStream(info.name));
    for (const room of user.rooms.keys()) {
      this.#roomSet(room).add(session);
      session.startFilling(roomStream(room));
    }
    await Promise.all(ready);
    if (first) {
      await this.#store.presence.attach(user.info, [...user.rooms.keys()]).catch((error) =>
        this.#log.warn("presence_attach_failed", { user: info.name, error: String(error) })
      );
    }
  }

  /**
   * Removes a logged-in session at once. When it was the user's last here, writes their
   * pending acknowledgements, leaves their channels and tells the store.
   */
  async detach(session: Session, reason: OfflineReason): Promise<void> {
    const info = session.user;
    if (!info || !this.#live.delete(session)) return;
    const user = this.#users.get(info.name);
    if (!user) return;
    user.sessions.delete(session);
    for (const room of user.rooms.keys()) this.#roomSessions.get(room)?.delete(session);
    this.#reportSessions();
    // What this session acknowledged is written now, also when the user stays on another one.
    const acked = this.flushAcks(info.name);
    if (user.sessions.size > 0) return await acked;
    this.#users.delete(info.name);
    for (const room of user.rooms.keys()) {
      if (this.#roomSessions.get(room)?.size === 0) {
        this.#roomSessions.delete(room);
        this.#occupancy.forget(room);
        this.#counted.delete(room);
      }
      this.#unwant(roomStream(room));
    }
    this.#unwant(userStream(info.name));
    for (const contact of user.contacts) {
      const watchers = this.#contactOf.get(contact);
      watchers?.delete(info.name);
      if (watchers?.size === 0) this.#contactOf.delete(contact);
      this.#unwant(`~${contact}`);
    }
    await acked;
    try {
      await this.#store.presence.detach(info.name, reason);
    } catch (error) {
      this.#log.warn("presence_detach_failed", { user: info.name, error: String(error) });
    }
  }

  /** A local user joined a room (at `head`): their sessions receive it from then on. */
  async joined(name: string, room: string, role: Role, head: number): Promise<void> {
    const user = this.#users.get(name);
    if (!user || user.rooms.has(room)) return;
    user.rooms.set(room, role);
    const ready = this.#want(roomStream(room));
    for (const session of user.sessions) {
      this.#roomSet(room).add(session);
      session.positions.start(roomStream(room), head);
    }
    await ready;
    await this.#store.presence.joined(name, room).catch(() => {});
  }

  /** A local user left (or was removed from) a room. */
  async parted(name: string, room: string): Promise<void> {
    const user = this.#users.get(name);
    if (!user || !user.rooms.delete(room)) return;
    const stream = roomStream(room);
    for (const session of user.sessions) {
      this.#roomSessions.get(room)?.delete(session);
      session.positions.stop(stream);
      session.takeHeld(stream, true);
    }
    if (this.#roomSessions.get(room)?.size === 0) {
      this.#roomSessions.delete(room);
      this.#occupancy.forget(room);
      this.#counted.delete(room);
    }
    this.#unwant(stream);
    await this.#store.presence.parted(name, room).catch(() => {});
  }

  /** A local user's role in a room changed. */
  roleChanged(name: string, room: string, role: Role): void {
    const user = this.#users.get(name);
    if (user?.rooms.has(room)) user.rooms.set(room, role);
  }

  /** `name` now exchanges private messages with `peer`: track the peer's presence. */
  contact(name: string, peer: string): void {
    const user = this.#users.get(name);
    if (user && !user.contacts.has(peer) && user.contacts.size < CONTACTS_TRACKED) {
      this.#addContact(user, name, peer).catch(() => {});
    }
  }

  /** A local user's nickname or away state changed (for the node's own lists). */
  updateUser(name: string, change: Partial<UserInfo>): void {
    const user = this.#users.get(name);
    if (!user) return;
    Object.assign(user.info, change);
    if (change.away === undefined && "away" in change) delete user.info.away;
    for (const session of user.sessions) if (session.user) Object.assign(session.user, user.info);
  }

  // ---- filling ----

  /**
   * Writes `stream` to a session from its position on: first `initial` (already read, marked
   * as backlog when `backlog`), then whatever was held meanwhile, reading from the store what
   * is missing in between; ends the hold. Paced by the session's outbox. Returns how many
   * messages were written.
   */
  async fill(
    session: Session,
    stream: StreamName,
    initial: readonly ChatMessage[] = [],
    backlog = false,
  ): Promise<number> {
    let written = 0;
    let pending: Held[] = initial.map((message) => ({
      message,
      frame: this.encode(message, backlog),
    }));
    for (;;) {
      for (const held of pending) {
        if (session.closed) return written;
        if (session.positions.offer(stream, held.message.seq) !== "write") continue;
        if (session.outbox.queuedBytes + held.frame.length > session.outbox.maxBytes / 2) {
          await session.outbox.drained();
        }
        if (session.write(held.frame, 1)) written++;
      }
      const held = session.takeHeld(stream);
      const at = session.positions.covered(stream);
      if (at === undefined || session.closed) {
        session.takeHeld(stream, true);
        return written;
      }
      const next = held[0]?.message.seq;
      if (next === undefined) {
        session.takeHeld(stream, true);
        return written;
      }
      if (next <= at + 1) {
        pending = held;
        continue;
      }
      const range = await this.#readRetrying(
        session,
        stream,
        at,
        Math.min(FILL_CHUNK, next - at - 1),
      );
      if (range === null) return written;
      if (range.first > at + 1) {
        const upTo = Math.min(range.first, next);
        session.send({ type: "gap", stream, after: at, next: upTo });
        session.positions.skip(stream, upTo - 1);
      }
      pending = [
        ...range.messages.filter((m) => m.seq < next).map((message) => ({
          message,
          frame: this.encode(message),
        })),
        ...held,
      ];
    }
  }

  async #readRetrying(session: Session, stream: StreamName, after: number, limit: number) {
    for (let wait = 50; !session.closed; wait = Math.min(wait * 2, 5000)) {
      try {
        return await this.#store.streams.read(stream, after, limit);
      } catch (error) {
        this.#storeFailed("fill", error);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    return null;
  }

  // ---- presence ----

  /**
   * The online users `name` tracks: members of their rooms within the presence limit and their
   * private contacts, sorted by name, without `name`.
   */
  async roster(name: string): Promise<UserInfo[]> {
    const user = this.#users.get(name);
    if (!user) return [];
    const limit = this.#options.presenceRoomLimit;
    const sizes = await this.roomSummaries([...user.rooms.keys()]);
    const found = new Map<string, UserInfo>();
    await Promise.all([...user.rooms.keys()].map(async (room) => {
      if ((sizes.get(room)?.members ?? 0) > limit) return;
      for (const info of (await this.#store.presence.roomOnline(room, limit)).users) {
        found.set(info.name, info);
      }
    }));
    for (const [contact, info] of await this.#store.presence.status([...user.contacts])) {
      found.set(contact, info);
    }
    found.delete(name);
    const list = [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const info of list) this.#relay.know(info.name, true, info.nickname, info.away);
    return list;
  }

  /** Room summaries (cached; counts refreshed every tick for rooms with local members). */
  async roomSummaries(rooms: readonly string[]): Promise<Map<string, RoomSummary>> {
    const out = new Map<string, RoomSummary>();
    const missing: string[] = [];
    for (const room of rooms) {
      const cached = this.#rooms.get(room);
      if (cached) out.set(room, cached);
      else missing.push(room);
    }
    if (missing.length > 0) {
      for (const [room, summary] of await this.#store.rooms.getMany(missing)) {
        this.#rooms.set(room, summary);
        out.set(room, summary);
      }
    }
    return out;
  }

  /**
   * Summaries and online counts of rooms for a login. A room above the presence limit whose
   * counts a tick read lately is not read again (its counts may lag by up to a second); the
   * others are read now.
   */
  async roomCounts(
    rooms: readonly string[],
  ): Promise<{ summaries: Map<string, RoomSummary>; online: Map<string, number> }> {
    const summaries = new Map<string, RoomSummary>();
    const online = new Map<string, number>();
    const missing: string[] = [];
    const now = performance.now();
    for (const room of rooms) {
      const summary = this.#rooms.get(room);
      const counted = this.#counted.get(room);
      if (
        summary && counted && summary.members > this.#options.presenceRoomLimit &&
        now - counted.at <= this.#options.tickMs * 1.5
      ) {
        summaries.set(room, summary);
        online.set(room, counted.online);
      } else {
        missing.push(room);
      }
    }
    if (missing.length > 0) {
      const [fresh, counts] = await Promise.all([
        this.#store.rooms.getMany(missing),
        this.#store.presence.roomCounts(missing),
      ]);
      for (const [room, summary] of fresh) summaries.set(room, summary);
      for (const [room, count] of counts) online.set(room, count);
    }
    return { summaries, online };
  }

  /** Drops a cached room summary (after a change made here). */
  forgetRoom(room: string): void {
    this.#rooms.delete(room);
    this.#counted.delete(room);
  }

  /** Publishes a room or user event on the bus. */
  async publish(channel: Channel, event: BusEvent | MemberNote, origin?: string): Promise<void> {
    await this.#store.bus.publish(channel, event as BusEvent, origin);
  }

  // ---- acknowledgements and activity ----

  /** Notes that `name` acknowledged `stream` up to `upTo`. */
  noteAck(name: string, stream: StreamName, upTo: number): void {
    let streams = this.#acks.get(name);
    if (!streams) this.#acks.set(name, streams = new Map());
    if ((streams.get(stream) ?? 0) < upTo) streams.set(stream, upTo);
  }

  /** Counts one message sent by `name` towards the overall ranking. */
  countActivity(name: string): void {
    this.#activity.set(name, (this.#activity.get(name) ?? 0) + 1);
  }

  /** Writes the acknowledgements noted so far (of one user, or all). */
  async flushAcks(name?: string): Promise<void> {
    let batch: Map<string, Map<StreamName, number>>;
    if (name === undefined) {
      batch = this.#acks;
      this.#acks = new Map();
    } else {
      const mine = this.#acks.get(name);
      if (!mine) return;
      this.#acks.delete(name);
      batch = new Map([[name, mine]]);
    }
    if (batch.size === 0) return;
    try {
      await this.#store.streams.acknowledge(batch);
    } catch (error) {
      for (const [user, streams] of batch) {
        for (const [stream, upTo] of streams) this.noteAck(user, stream, upTo);
      }
      this.#storeFailed("acknowledge", error);
    }
  }

  /** Delivers what the fan-out is still batching (at shutdown). */
  flush(): void {
    this.#fanout.flush();
  }

  /** Stops the timers and writes what is pending. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    clearTimeout(this.#rosterRefresh);
    this.#fanout.flush();
    this.#relay.close();
    for (const feed of this.#feeds.values()) feed.close();
    await this.flushAcks();
    await this.#flushActivity();
  }

  // ---- internals ----

  #sessionsOf(stream: StreamName): Iterable<Session> {
    if (stream[0] === "#") return this.#roomSessions.get(stream.slice(1)) ?? [];
    return this.#users.get(stream.slice(1))?.sessions ?? [];
  }

  #roomSet(room: string): Set<Session> {
    let set = this.#roomSessions.get(room);
    if (!set) this.#roomSessions.set(room, set = new Set());
    return set;
  }

  #deliverOne(session: Session, stream: StreamName, held: Held, origin: string | undefined): void {
    if (origin === session.key) {
      session.positions.own(stream, held.message.seq);
      return;
    }
    if (session.isFilling(stream)) {
      session.hold(stream, held);
      return;
    }
    switch (session.positions.offer(stream, held.message.seq)) {
      case "write":
        session.write(held.frame, 1);
        return;
      case "gap":
        session.startFilling(stream);
        session.hold(stream, held);
        this.fill(session, stream).catch((error) =>
          this.#log.warn("fill_failed", { user: session.user?.name, error: String(error) })
        );
        return;
    }
  }

  async #addContact(user: LocalUser, name: string, contact: string): Promise<void> {
    if (user.contacts.has(contact)) return;
    user.contacts.add(contact);
    let watchers = this.#contactOf.get(contact);
    if (!watchers) this.#contactOf.set(contact, watchers = new Set());
    watchers.add(name);
    await this.#want(`~${contact}`);
  }

  /** Subscribes to a channel (once per node); stream channels get a feed. */
  #want(channel: Channel): Promise<void> {
    const existing = this.#subscriptions.get(channel);
    if (existing) {
      existing.refs++;
      return existing.ready;
    }
    const isStream = channel[0] === "#" || channel[0] === "@";
    let feed: StreamFeed | undefined;
    if (isStream) {
      feed = new StreamFeed(
        channel,
        (stream, after, limit) => this.#store.streams.read(stream, after, limit),
        {
          pass: (message, origin) => this.#passed(message, origin),
          gone: (stream, after, next) => this.#gone(stream, after, next),
          failed: (_, error) => this.#storeFailed("feed", error),
        },
      );
      this.#feeds.set(channel, feed);
    }
    const ready = (async () => {
      await this.#store.bus.subscribe([channel]);
      if (feed) feed.start((await this.#store.streams.head(channel)).seq);
    })();
    const subscription = { refs: 1, ready };
    this.#subscriptions.set(channel, subscription);
    ready.catch((error) => {
      // The session still works; the channel is tried again by the next one who wants it.
      if (this.#subscriptions.get(channel) === subscription) this.#subscriptions.delete(channel);
      if (feed && this.#feeds.get(channel) === feed) this.#feeds.delete(channel);
      this.#storeFailed("subscribe", error);
    });
    return ready.catch(() => {});
  }

  #unwant(channel: Channel): void {
    const subscription = this.#subscriptions.get(channel);
    if (!subscription || --subscription.refs > 0) return;
    this.#subscriptions.delete(channel);
    this.#feeds.get(channel)?.close();
    this.#feeds.delete(channel);
    this.#store.bus.unsubscribe([channel]).catch(() => {});
  }

  #passed(message: ChatMessage, origin: string | undefined): void {
    if (message.stream[0] === "@") {
      const owner = message.stream.slice(1);
      this.contact(owner, message.from === owner ? message.to! : message.from);
    }
    this.#fanout.add(message, origin);
  }

  #gone(stream: StreamName, after: number, next: number): void {
    this.#fanout.flush();
    for (const session of this.#sessionsOf(stream)) {
      if (session.isFilling(stream) || session.positions.covered(stream) !== after) continue;
      session.send({ type: "gap", stream, after, next });
      session.positions.skip(stream, next - 1);
    }
  }

  #onDelivery(channel: Channel, delivery: BusDelivery): void {
    if (delivery.kind === "message") {
      this.#feeds.get(channel)?.offer(delivery.message, delivery.origin);
      return;
    }
    const event = delivery.event as BusEvent | MemberNote;
    switch (event.type) {
      case "presence":
      case "nick":
        this.#offerNote(channel, event, delivery.origin);
        return;
      case "member":
        this.#onMember(channel, event, delivery.origin);
        return;
      case "topic": {
        const cached = this.#rooms.get(event.room);
        if (cached) cached.topic = event.topic;
        this.#broadcast(this.#roomSessions.get(event.room) ?? [], event);
        return;
      }
      case "invite":
        this.#broadcast(this.#users.get(channel.slice(1))?.sessions ?? [], event);
        return;
    }
  }

  #offerNote(channel: Channel, note: Note, origin: string | undefined): void {
    const subject = note.type === "presence" ? note.user.name : note.name;
    const receivers: Session[] = [];
    if (channel[0] === "#") {
      for (const s of this.#roomSessions.get(channel.slice(1)) ?? []) {
        if (s.user?.name !== subject) receivers.push(s);
      }
    } else if (channel[0] === "~") {
      for (const name of this.#contactOf.get(subject) ?? []) {
        for (const s of this.#users.get(name)?.sessions ?? []) receivers.push(s);
      }
    } else if (channel === userStream(subject)) {
      // The user's own other sessions learn of their away state and nickname.
      if (note.type === "presence" && !note.online) return;
      if (note.type === "nick") this.updateUser(subject, { nickname: note.nickname });
      else this.updateUser(subject, { away: note.away });
      for (const s of this.#users.get(subject)?.sessions ?? []) {
        if (s.key !== origin) receivers.push(s);
      }
    }
    this.#relay.offer(note, receivers);
  }

  #relayed(receivers: ReadonlySet<Session>, event: RelayedEvent): void {
    this.#fanout.flush();
    this.#broadcast(receivers, event);
  }

  #onMember(channel: Channel, event: MemberNote, origin: string | undefined): void {
    const { head: _, ...visible } = event;
    const cached = this.#rooms.get(event.room);
    const concerned = event.user.name;
    if (channel[0] === "@") {
      const sessions = [...(this.#users.get(concerned)?.sessions ?? [])];
      if (event.action === "join" && event.head !== undefined) {
        this.joined(concerned, event.room, "member", event.head).catch(() => {});
      } else if (event.action === "part" || event.action === "kick" || event.action === "ban") {
        this.parted(concerned, event.room).catch(() => {});
      }
      this.#broadcast(sessions.filter((s) => s.key !== origin), visible);
      return;
    }
    if (cached) {
      if (event.action === "join") cached.members++;
      else if (event.action !== "unban" && event.action !== "owner") {
        cached.members = Math.max(0, cached.members - 1);
      }
      if (event.action === "owner") cached.owner = concerned;
    }
    if (event.action === "owner") {
      this.roleChanged(concerned, event.room, "owner");
      if (event.by) this.roleChanged(event.by.name, event.room, "member");
    }
    const receivers = [...(this.#roomSessions.get(event.room) ?? [])].filter((s) =>
      event.action === "owner" || s.user?.name !== concerned
    );
    this.#broadcast(receivers, visible);
  }

  #broadcast(sessions: Iterable<Session>, event: ServerEvent): void {
    let frame: Uint8Array | null = null;
    let n = 0;
    for (const session of sessions) {
      if (session.closed || session.phase !== "user") continue;
      frame ??= encodeMessage(event, this.#options.maxFrame);
      session.outbox.push(frame);
      n++;
    }
    if (n > 0) this.#metrics.frameOut(event.type, n);
  }

  #onRestored(channels: Channel[]): void {
    for (const channel of channels) this.#feeds.get(channel)?.restore();
    this.#log.info("channels_restored", { channels: channels.length });
    clearTimeout(this.#rosterRefresh);
    this.#rosterRefresh = setTimeout(() => this.#refreshRosters(), 100);
  }

  /** Sends every session a new roster (after events may have been missed). */
  async #refreshRosters(): Promise<void> {
    for (const [name, user] of this.#users) {
      let users: UserInfo[];
      try {
        users = await this.roster(name);
      } catch (error) {
        this.#storeFailed("roster", error);
        this.#onRestored([]);
        return;
      }
      for (const session of user.sessions) sendRoster(session, users, this.#options.maxFrame);
    }
  }

  /** Tells the store how many sessions this node holds (once per turn of changes). */
  #reportSessions(): void {
    if (this.#reporting) return;
    this.#reporting = true;
    queueMicrotask(() => {
      this.#reporting = false;
      if (this.#live.size === this.#reportedSessions) return;
      this.#reportedSessions = this.#live.size;
      this.#store.presence.setSessions(this.#live.size).catch((error) => {
        // Tried again at the next tick.
        this.#reportedSessions = -1;
        this.#storeFailed("sessions", error);
      });
    });
  }

  async #tick(): Promise<void> {
    this.#relay.sweep();
    if (this.#live.size !== this.#reportedSessions) this.#reportSessions();
    await Promise.all([this.flushAcks(), this.#flushActivity(), this.#pushOccupancy()]);
  }

  async #flushActivity(): Promise<void> {
    if (this.#activity.size === 0) return;
    const counts = this.#activity;
    this.#activity = new Map();
    try {
      await this.#store.streams.addActivity(utcDay(this.#options.now()), counts);
    } catch (error) {
      for (const [name, n] of counts) this.#activity.set(name, (this.#activity.get(name) ?? 0) + n);
      this.#storeFailed("activity", error);
    }
  }

  /**
   * Tells members of big rooms when their counts changed. Big rooms' summaries are read every
   * tick; the others follow member events, and are read again every {@linkcode FULL_REFRESH}
   * ticks (so that a room growing past the limit is noticed).
   */
  async #pushOccupancy(): Promise<void> {
    const limit = this.#options.presenceRoomLimit;
    const full = ++this.#ticks % FULL_REFRESH === 0;
    const rooms = [...this.#roomSessions.keys()].filter((room) =>
      full || (this.#rooms.get(room)?.members ?? limit + 1) > limit
    );
    if (rooms.length === 0) return;
    try {
      const fresh = await this.#store.rooms.getMany(rooms);
      for (const [room, summary] of fresh) this.#rooms.set(room, summary);
      const big = rooms.filter((r) => (fresh.get(r)?.members ?? 0) > limit);
      if (big.length === 0) return;
      const online = await this.#store.presence.roomCounts(big);
      const now = performance.now();
      for (const room of big) {
        const members = fresh.get(room)!.members;
        const count = online.get(room) ?? 0;
        this.#counted.set(room, { online: count, at: now });
        const local = this.#roomSessions.get(room)?.size ?? 0;
        if (!this.#occupancy.due(room, { members, online: count }, local, now)) continue;
        this.#broadcast(this.#roomSessions.get(room) ?? [], {
          type: "occupancy",
          room,
          members,
          online: count,
        });
      }
    } catch (error) {
      this.#storeFailed("occupancy", error);
    }
  }

  #storeFailed(op: string, error: unknown): void {
    this.#metrics.storeError(op);
    this.#log.error("store_failed", { op, error: String(error) });
  }
}

/** Sends a roster in as many events as the frame limit needs. */
export function sendRoster(session: Session, users: readonly UserInfo[], maxFrame: number): void {
  for (const chunk of chunks(users, maxFrame)) {
    session.send({ type: "roster", users: chunk.items, done: chunk.last });
  }
}

/**
 * Splits a list into runs whose JSON fits a frame with 1024 bytes to spare; at least one
 * (possibly empty) run.
 */
export function chunks<T>(items: readonly T[], maxFrame: number): { items: T[]; last: boolean }[] {
  const budget = maxFrame - 1024;
  const out: { items: T[]; last: boolean }[] = [];
  let run: T[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = utf8.encode(JSON.stringify(item)).length + 1;
    if (run.length > 0 && size + bytes > budget) {
      out.push({ items: run, last: false });
      run = [];
      size = 0;
    }
    run.push(item);
    size += bytes;
  }
  out.push({ items: run, last: true });
  return out;
}

const utf8 = new TextEncoder();
