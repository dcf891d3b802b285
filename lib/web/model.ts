/**
 * What the web client knows: rooms and private conversations with their messages, unread
 * counts, mentions, who is online, member lists, positions per stream and what to
 * acknowledge. Server frames are applied to it as plain values; it does no I/O, so every
 * rule here is tested without a browser or a server.
 *
 * @module
 */

import type {
  BacklogEvent,
  ChatMessage,
  GapEvent,
  HistoryResult,
  InviteEvent,
  InviteInfo,
  LoginResult,
  MemberEvent,
  MemberInfo,
  MembersResult,
  NickEvent,
  OccupancyEvent,
  PresenceEvent,
  RoomInfo,
  RoomsEvent,
  RoomState,
  RosterEvent,
  SendResult,
  StreamName,
  TopicEvent,
  UserInfo,
} from "../protocol/messages.ts";
import { ownMessage } from "../protocol/messages.ts";
import type { OutboxEntry, Target } from "./outbox.ts";
import { PositionBook, type SavedPositions } from "./positions.ts";
import { mentionsMe } from "./text.ts";
import { Timeline } from "./timeline.ts";

/** A view: `#<room>` for a room, `dm:<login name>` for a private conversation. */
export type ViewKey = string;

/** The view of a room. */
export function roomView(room: string): ViewKey {
  return `#${room}`;
}

/** The view of the private conversation with `peer`. */
export function dmView(peer: string): ViewKey {
  return `dm:${peer}`;
}

/**
 * What a view key names.
 *
 * @example
 * ```ts
 * parseView("#lobby"); // { kind: "room", name: "lobby" }
 * parseView("dm:bob"); // { kind: "dm", name: "bob" }
 * ```
 */
export function parseView(view: ViewKey): { kind: "room" | "dm"; name: string } | null {
  if (view.startsWith("#") && view.length > 1) return { kind: "room", name: view.slice(1) };
  if (view.startsWith("dm:") && view.length > 3) return { kind: "dm", name: view.slice(3) };
  return null;
}

/** The send target of a view. */
export function viewTarget(view: ViewKey): Target | null {
  const parsed = parseView(view);
  if (!parsed) return null;
  return parsed.kind === "room" ? { room: parsed.name } : { to: parsed.name };
}

/** The view a send target belongs to. */
export function targetView(target: Target): ViewKey {
  return "room" in target ? roomView(target.room) : dmView(target.to);
}

/** A line in a view that is not a message (a join, a topic change, messages gone). */
export interface Notice {
  id: number;
  /** Shown after the message at this position (0: before all). */
  afterSeq: number;
  kind: "join" | "part" | "kick" | "ban" | "unban" | "owner" | "topic" | "gap" | "skipped";
  user?: string;
  by?: string;
  text?: string;
  count?: number;
}

/** A room the user is a member of. */
export interface RoomEntry extends RoomInfo {
  role: RoomState["role"];
  epoch: string;
  /** Newest position known. */
  head: number;
  /** Position up to which the user has read (acknowledged, or seen here). */
  readUpTo: number;
  /** An unread message mentions the user. */
  mentioned: boolean;
  timeline: Timeline;
  notices: Notice[];
  /** The member list, once loaded. */
  memberList?: { list: MemberInfo[]; total: number; more: boolean };
}

/** A private conversation. */
export interface ConversationEntry {
  peer: string;
  nickname: string;
  /** Time of the newest message, for ordering. */
  lastTs: number;
  timeline: Timeline;
  notices: Notice[];
}

/** What applying a `message` event did. */
export interface MessageOutcome {
  view: ViewKey;
  /** False when the message was shown already (a duplicate). */
  added: boolean;
  /** It mentions the user. */
  mention: boolean;
  /** Worth a desktop notification: new, live, from someone else, private or a mention. */
  notify: boolean;
}

/** What the model keeps between page loads of one tab. */
export interface SavedModel {
  positions: SavedPositions;
}

/**
 * The client's state. Methods named after server frames apply them.
 *
 * @example
 * ```ts
 * const model = new ChatModel();
 * model.login(loginResult);
 * model.rooms(roomsEvent);
 * model.message(messageEvent.msg, false);
 * model.unread(roomView("lobby")); // 1
 * ```
 */
export class ChatModel {
  me: UserInfo | null = null;
  readonly rooms = new Map<string, RoomEntry>();
  readonly conversations = new Map<string, ConversationEntry>();
  /** Tracked users who are online, by login name. */
  online = new Map<string, UserInfo>();
  invites: InviteInfo[] = [];
  /** The view on screen. */
  active: ViewKey | null = null;
  /** Whether the page is visible (messages in the active view count as read). */
  visible = true;
  /** Between the `ok` of login/resume and the `backlog` event. */
  syncing = false;
  positions: PositionBook;

  #inboxEpoch = "";
  #inboxAcked = 0;
  #inboxHead = 0;
  /** Unread messages per peer whose positions this page never saw. */
  #hiddenUnread = new Map<string, number>();
  /** Positions in the private stream of unread messages, with their sender. */
  #unreadSeqs = new Map<number, string>();
  /** Positions acknowledged to the server (or read from it), per stream. */
  readonly #acked = new Map<StreamName, number>();
  #roomsBatch: RoomState[] | null = null;
  #rosterBatch: UserInfo[] | null = null;
  #noticeId = 0;

  constructor(saved?: SavedModel) {
    this.positions = PositionBook.from(saved?.positions);
  }

  /** The user's private stream. */
  get inbox(): StreamName {
    return this.me ? `@${this.me.name}` : "@";
  }

  /** What to keep across a page reload. */
  save(): SavedModel {
    return { positions: this.positions.positions() };
  }

  /** The `ok` of `login` or `resume`: the login sequence follows. */
  login(result: LoginResult): void {
    if (this.me && this.me.name !== result.user.name) this.#reset();
    this.me = { ...result.user };
    this.syncing = true;
    this.invites = result.invites.slice();
    const inbox = result.inbox;
    if (this.#inboxEpoch !== "" && this.#inboxEpoch !== inbox.epoch) {
      for (const conversation of this.conversations.values()) conversation.timeline.clear();
      this.#unreadSeqs.clear();
    }
    this.#inboxEpoch = inbox.epoch;
    this.#inboxAcked = inbox.acked;
    this.#inboxHead = inbox.head;
    this.#acked.set(this.inbox, Math.max(this.#acked.get(this.inbox) ?? 0, inbox.acked));
    this.positions.start(this.inbox, inbox.epoch, inbox.start);
    const known = new Map<string, number>();
    for (const [seq, peer] of this.#unreadSeqs) {
      if (seq <= inbox.acked) this.#unreadSeqs.delete(seq);
      else known.set(peer, (known.get(peer) ?? 0) + 1);
    }
    this.#hiddenUnread.clear();
    for (const [peer, count] of Object.entries(inbox.peers)) {
      this.#conversation(peer);
      const hidden = count - (known.get(peer) ?? 0);
      if (hidden > 0) this.#hiddenUnread.set(peer, hidden);
    }
  }

  /** A `rooms` event of the login sequence; the last one replaces the room list. */
  roomsEvent(event: RoomsEvent): void {
    (this.#roomsBatch ??= []).push(...event.rooms);
    if (!event.done) return;
    const batch = this.#roomsBatch;
    this.#roomsBatch = null;
    const names = new Set(batch.map((room) => room.name));
    for (const name of [...this.rooms.keys()]) if (!names.has(name)) this.#dropRoom(name);
    for (const state of batch) this.joined(state, state.skipped);
  }

  /** A `roster` event; the last one replaces who is online. */
  roster(event: RosterEvent): void {
    (this.#rosterBatch ??= []).push(...event.users);
    if (!event.done) return;
    this.online = new Map(this.#rosterBatch.map((user) => [user.name, { ...user }]));
    this.#rosterBatch = null;
    for (const room of this.rooms.values()) {
      for (const member of room.memberList?.list ?? []) {
        if (member.name !== this.me?.name) member.online = this.online.has(member.name);
      }
    }
  }

  /** The `backlog` event: the login sequence is over. */
  backlog(_event: BacklogEvent): void {
    this.syncing = false;
  }

  /**
   * A room joined, created, or listed at login (with the backlog's `skipped`); delivery to
   * this session starts after `start` (the stream's `start` unless given).
   */
  joined(state: RoomState, skipped = 0, start = state.stream.start): RoomEntry {
    const stream = `#${state.name}`;
    let entry = this.rooms.get(state.name);
    const sameEpoch = entry !== undefined && entry.epoch === state.stream.epoch;
    if (entry && !sameEpoch) {
      entry.timeline.clear();
      entry.readUpTo = 0;
      entry.head = 0;
      this.#acked.delete(stream);
    }
    const info: RoomInfo = {
      name: state.name,
      title: state.title,
      topic: state.topic,
      public: state.public,
      owner: state.owner,
      members: state.members,
      online: state.online,
      createdAt: state.createdAt,
    };
    if (!entry) {
      entry = {
        ...info,
        role: state.role,
        epoch: state.stream.epoch,
        head: state.stream.head,
        readUpTo: state.stream.acked,
        mentioned: false,
        timeline: new Timeline(),
        notices: [],
      };
      this.rooms.set(state.name, entry);
    } else {
      Object.assign(entry, info, { role: state.role, epoch: state.stream.epoch });
      entry.head = Math.max(entry.head, state.stream.head);
      entry.readUpTo = Math.max(entry.readUpTo, state.stream.acked);
    }
    this.#acked.set(stream, Math.max(this.#acked.get(stream) ?? 0, state.stream.acked));
    this.positions.start(stream, state.stream.epoch, start + skipped);
    if (skipped > 0) {
      this.#notice(entry.notices, entry.timeline, { kind: "skipped", count: skipped });
    }
    if (this.active === roomView(state.name)) this.markRead();
    return entry;
  }

  /** The user left a room (or was removed from it). */
  left(room: string): void {
    this.#dropRoom(room);
  }

  /** A `message` event (or one of the login backlog). */
  message(msg: ChatMessage, backlog: boolean): MessageOutcome {
    const me = this.me;
    this.positions.mark(msg.stream, msg.seq);
    const fromMe = me !== null && msg.from === me.name;
    const mention = !fromMe && me !== null && mentionsMe(msg.text, me);
    if (msg.stream.startsWith("#")) {
      const view = roomView(msg.stream.slice(1));
      const room = this.rooms.get(msg.stream.slice(1));
      if (!room) return { view, added: false, mention, notify: false };
      const added = room.timeline.add(msg);
      room.head = Math.max(room.head, msg.seq);
      if (fromMe && room.readUpTo === msg.seq - 1) room.readUpTo = msg.seq;
      if (mention && msg.seq > room.readUpTo) room.mentioned = true;
      if (this.active === view) this.markRead();
      return { view, added, mention, notify: added && !backlog && mention };
    }
    const peer = fromMe ? msg.to ?? "" : msg.from;
    const view = dmView(peer);
    const conversation = this.#conversation(peer);
    if (!fromMe) conversation.nickname = msg.nick;
    conversation.lastTs = Math.max(conversation.lastTs, msg.ts);
    const added = conversation.timeline.add(msg);
    if (added && !fromMe && msg.seq > this.#inboxAcked && !this.#unreadSeqs.has(msg.seq)) {
      const hidden = this.#hiddenUnread.get(peer) ?? 0;
      if (msg.seq <= this.#inboxHead && hidden > 1) this.#hiddenUnread.set(peer, hidden - 1);
      else if (msg.seq <= this.#inboxHead) this.#hiddenUnread.delete(peer);
      this.#unreadSeqs.set(msg.seq, peer);
    }
    if (this.active === view) this.markRead();
    return { view, added, mention, notify: added && !backlog && !fromMe };
  }

  /** The `ok` of an own `send`: the message takes its place in its view. */
  sent(entry: OutboxEntry, result: SendResult): ViewKey {
    const me = this.me!;
    this.positions.mark(result.stream, result.seq);
    const msg = ownMessage(result, me, entry.text, entry.action);
    if ("room" in entry.target) {
      const room = this.rooms.get(entry.target.room);
      const view = roomView(entry.target.room);
      if (room) {
        room.timeline.add(msg);
        room.head = Math.max(room.head, result.seq);
        if (room.readUpTo === result.seq - 1) room.readUpTo = result.seq;
      }
      if (this.active === view) this.markRead();
      return view;
    }
    msg.to = entry.target.to;
    const conversation = this.#conversation(entry.target.to);
    conversation.timeline.add(msg);
    conversation.lastTs = Math.max(conversation.lastTs, result.ts);
    return dmView(entry.target.to);
  }

  /** A `history` page of a view. */
  history(view: ViewKey, result: HistoryResult): number {
    const timeline = this.timeline(view);
    if (!timeline) return 0;
    const parsed = parseView(view)!;
    const messages = parsed.kind === "room"
      ? result.messages
      : result.messages.filter((msg) => msg.from === parsed.name || msg.to === parsed.name);
    const added = timeline.addPage(messages, result.more);
    if (parsed.kind === "room") {
      const room = this.rooms.get(parsed.name)!;
      const newest = messages[messages.length - 1]?.seq ?? 0;
      room.head = Math.max(room.head, newest);
    }
    return added;
  }

  /** Shows a view (a conversation is made when new). */
  open(view: ViewKey): void {
    const parsed = parseView(view);
    if (parsed?.kind === "dm") this.#conversation(parsed.name);
    this.active = view;
    this.markRead();
  }

  /** The page became visible or hidden. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible) this.markRead();
  }

  /** Counts everything in the active view as read (when the page is visible). */
  markRead(): void {
    if (!this.visible || this.active === null) return;
    const parsed = parseView(this.active);
    if (!parsed) return;
    if (parsed.kind === "room") {
      const room = this.rooms.get(parsed.name);
      if (!room) return;
      room.readUpTo = Math.max(room.readUpTo, this.positions.upTo(roomView(room.name)));
      room.mentioned = false;
      return;
    }
    this.#hiddenUnread.delete(parsed.name);
    for (const [seq, peer] of this.#unreadSeqs) {
      if (peer === parsed.name) this.#unreadSeqs.delete(seq);
    }
  }

  /** Unread messages of a view. */
  unread(view: ViewKey): number {
    const parsed = parseView(view);
    if (!parsed) return 0;
    if (parsed.kind === "room") {
      const room = this.rooms.get(parsed.name);
      return room ? Math.max(0, room.head - room.readUpTo) : 0;
    }
    let count = this.#hiddenUnread.get(parsed.name) ?? 0;
    for (const peer of this.#unreadSeqs.values()) if (peer === parsed.name) count++;
    return count;
  }

  /** Unread messages of every view together. */
  totalUnread(): number {
    let total = 0;
    for (const name of this.rooms.keys()) total += this.unread(roomView(name));
    for (const peer of this.conversations.keys()) total += this.unread(dmView(peer));
    return total;
  }

  /**
   * The acknowledgements to send now (each stream at most once, only forward). The private
   * stream is acknowledged up to the first unread message of any conversation.
   */
  acks(): { stream: StreamName; upTo: number }[] {
    const out: { stream: StreamName; upTo: number }[] = [];
    const push = (stream: StreamName, upTo: number) => {
      if (upTo > (this.#acked.get(stream) ?? 0)) {
        this.#acked.set(stream, upTo);
        out.push({ stream, upTo });
      }
    };
    for (const room of this.rooms.values()) {
      push(roomView(room.name), Math.min(room.readUpTo, this.positions.upTo(roomView(room.name))));
    }
    if (this.me && this.#hiddenUnread.size === 0) {
      let upTo = this.positions.upTo(this.inbox);
      for (const seq of this.#unreadSeqs.keys()) upTo = Math.min(upTo, seq - 1);
      push(this.inbox, upTo);
    }
    return out;
  }

  /** The timeline of a view. */
  timeline(view: ViewKey): Timeline | undefined {
    const parsed = parseView(view);
    if (!parsed) return undefined;
    return parsed.kind === "room"
      ? this.rooms.get(parsed.name)?.timeline
      : this.conversations.get(parsed.name)?.timeline;
  }

  /** The notices of a view. */
  notices(view: ViewKey): readonly Notice[] {
    const parsed = parseView(view);
    if (!parsed) return [];
    return (parsed.kind === "room"
      ? this.rooms.get(parsed.name)?.notices
      : this.conversations.get(parsed.name)?.notices) ?? [];
  }

  /** Conversations, the newest first. */
  conversationList(): ConversationEntry[] {
    return [...this.conversations.values()].sort((a, b) =>
      b.lastTs - a.lastTs || a.peer.localeCompare(b.peer)
    );
  }

  /** Rooms by name, the lobby first. */
  roomList(lobby: string | null): RoomEntry[] {
    return [...this.rooms.values()].sort((a, b) =>
      (a.name === lobby ? -1 : b.name === lobby ? 1 : 0) || a.name.localeCompare(b.name)
    );
  }

  /** The loaded member list of a room (from `members`). */
  setMembers(room: string, result: MembersResult): void {
    const entry = this.rooms.get(room);
    if (!entry) return;
    const list = result.members.map((member) => ({ ...member }));
    entry.memberList = { list, total: result.total, more: result.more };
  }

  /** A `presence` event. */
  presence(event: PresenceEvent): void {
    const user: UserInfo = { name: event.user.name, nickname: event.user.nickname };
    if (event.online && event.away) user.away = event.away;
    if (event.online) this.online.set(user.name, user);
    else this.online.delete(user.name);
    for (const room of this.rooms.values()) {
      const member = room.memberList?.list.find((m) => m.name === user.name);
      if (member) {
        member.online = event.online;
        member.nickname = user.nickname;
        if (user.away) member.away = user.away;
        else delete member.away;
        if (!room.memberList!.more) {
          room.online = room.memberList!.list.filter((m) => m.online).length;
        }
      }
    }
  }

  /** A `nick` event. */
  nick(event: NickEvent): void {
    if (this.me?.name === event.name) this.me.nickname = event.nickname;
    const online = this.online.get(event.name);
    if (online) online.nickname = event.nickname;
    const conversation = this.conversations.get(event.name);
    if (conversation) conversation.nickname = event.nickname;
    for (const room of this.rooms.values()) {
      const member = room.memberList?.list.find((m) => m.name === event.name);
      if (member) member.nickname = event.nickname;
    }
  }

  /** A `member` event. Returns true when the user was removed from the room. */
  member(event: MemberEvent): boolean {
    const room = this.rooms.get(event.room);
    if (!room) return false;
    const name = event.user.name;
    const list = room.memberList;
    if (event.action === "join") {
      room.members++;
      if (list && !list.list.some((m) => m.name === name)) {
        list.list.push({ ...event.user, role: "member", online: true });
        list.list.sort((a, b) => a.name.localeCompare(b.name));
        list.total++;
      }
    } else if (event.action === "part" || event.action === "kick" || event.action === "ban") {
      room.members = Math.max(0, room.members - 1);
      if (list && list.list.some((m) => m.name === name)) {
        list.list = list.list.filter((member) => member.name !== name);
        list.total = Math.max(0, list.total - 1);
      }
      if (this.me?.name === name) {
        this.#dropRoom(event.room);
        return true;
      }
    } else if (event.action === "owner") {
      room.owner = name;
      for (const member of list?.list ?? []) {
        member.role = member.name === name ? "owner" : "member";
      }
      room.role = this.me?.name === name ? "owner" : "member";
    }
    this.#notice(room.notices, room.timeline, {
      kind: event.action,
      user: event.user.nickname,
      by: event.by?.nickname,
    });
    return false;
  }

  /** A `topic` event. */
  topic(event: TopicEvent): void {
    const room = this.rooms.get(event.room);
    if (!room) return;
    room.topic = event.topic;
    this.#notice(room.notices, room.timeline, {
      kind: "topic",
      by: event.by.nickname,
      text: event.topic,
    });
  }

  /** A room's fields changed (the reply to `topic` or `transfer`). */
  roomInfo(info: RoomInfo): void {
    const room = this.rooms.get(info.name);
    if (room) Object.assign(room, info);
  }

  /** An `occupancy` event. */
  occupancy(event: OccupancyEvent): void {
    const room = this.rooms.get(event.room);
    if (!room) return;
    room.members = event.members;
    room.online = event.online;
  }

  /** An `invite` event. */
  invite(event: InviteEvent): void {
    this.invites = [
      { room: event.room.name, by: event.by },
      ...this.invites.filter((invite) => invite.room !== event.room.name),
    ];
  }

  /** An invitation was used or declined. */
  dropInvite(room: string): void {
    this.invites = this.invites.filter((invite) => invite.room !== room);
  }

  /** A `gap` event. */
  gap(event: GapEvent): void {
    this.positions.skip(event.stream, event.after, event.next);
    if (event.stream.startsWith("#")) {
      const room = this.rooms.get(event.stream.slice(1));
      if (room) {
        room.head = Math.max(room.head, event.next - 1);
        this.#notice(room.notices, room.timeline, {
          kind: "gap",
          count: event.next - event.after - 1,
        });
      }
    }
  }

  /** Forgets the user (logout, or a resume token the server refused). */
  signOut(): void {
    this.#reset();
  }

  #reset(): void {
    this.me = null;
    this.rooms.clear();
    this.conversations.clear();
    this.online.clear();
    this.invites = [];
    this.active = null;
    this.syncing = false;
    this.positions = new PositionBook();
    this.#inboxEpoch = "";
    this.#inboxAcked = 0;
    this.#inboxHead = 0;
    this.#hiddenUnread.clear();
    this.#unreadSeqs.clear();
    this.#acked.clear();
    this.#roomsBatch = null;
    this.#rosterBatch = null;
  }

  #conversation(peer: string): ConversationEntry {
    let conversation = this.conversations.get(peer);
    if (!conversation) {
      const online = this.online.get(peer);
      conversation = {
        peer,
        nickname: online?.nickname ?? peer,
        lastTs: 0,
        timeline: new Timeline(),
        notices: [],
      };
      this.conversations.set(peer, conversation);
    }
    return conversation;
  }

  #dropRoom(name: string): void {
    this.rooms.delete(name);
    this.positions.forget(roomView(name));
    this.#acked.delete(roomView(name));
    if (this.active === roomView(name)) this.active = null;
  }

  #notice(list: Notice[], timeline: Timeline, fields: Omit<Notice, "id" | "afterSeq">): void {
    list.push({ id: ++this.#noticeId, afterSeq: timeline.newest() ?? 0, ...fields });
    if (list.length > 200) list.splice(0, list.length - 200);
  }
}
