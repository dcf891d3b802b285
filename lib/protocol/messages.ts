/**
 * Message types of protocol version 2. Client-to-server and server-to-client messages are
 * separate discriminated unions on `type`. See docs/PROTOCOL.md for the contract.
 *
 * @module
 */

import type { ErrorCode } from "./errors.ts";

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 2;

/** A request id chosen by the client and echoed as `re` in the reply. */
export type RequestId = number;

/** A user as others see them; `away` appears in lists that show presence. */
export interface UserInfo {
  /** Login name, lower case, unique. */
  name: string;
  /** Display name, unique case-insensitively. */
  nickname: string;
  /** Away reason, when the user is online and away. */
  away?: string;
}

/** A stream name: `#<room>` for a room, `@<user>` for a user's private stream. */
export type StreamName = string;

/** A chat message as stored and delivered. */
export interface ChatMessage {
  /** The stream it belongs to. */
  stream: StreamName;
  /** Its position in the stream: one more than the message before it. */
  seq: number;
  /** Server time of acceptance, milliseconds since the Unix epoch. */
  ts: number;
  /** Sender login name. */
  from: string;
  /** Sender nickname at the time of sending. */
  nick: string;
  /** Receiver login name; only for private messages. */
  to?: string;
  /** The text as sent. */
  text: string;
  /** Present (true) for an action ("/me waves"). */
  action?: true;
}

/** One entry of an activity ranking. */
export interface RankEntry {
  name: string;
  nickname: string;
  count: number;
}

/** A room as listed. */
export interface RoomInfo {
  name: string;
  title: string;
  topic: string;
  public: boolean;
  /** Login name of the owner; null for the lobby. */
  owner: string | null;
  members: number;
  online: number;
  createdAt: number;
}

/** Where a stream stands for the session that is told. */
export interface StreamState {
  stream: StreamName;
  epoch: string;
  /** Newest position (0 when empty). */
  head: number;
  /** Position the user has acknowledged. */
  acked: number;
  /** This session's delivery starts after this position. */
  start: number;
  /** `head - acked`, at least 0. */
  unread: number;
  /** The position the client gave did not match the stream (another epoch, or ahead of it). */
  reset?: true;
}

/** A member's role in a room. */
export type Role = "owner" | "member";

/** A room the user is a member of, with its stream. */
export interface RoomState extends RoomInfo {
  role: Role;
  stream: StreamState;
  /** Messages after `start` the login sequence leaves out (backlog limit). */
  skipped: number;
}

/** The private stream's state, with unread counts per peer. */
export interface InboxState extends StreamState {
  /** Unread messages after `acked` by sender. */
  peers: Record<string, number>;
}

/** A client's position in one stream, as sent with `login`/`resume`. */
export interface ClientPosition {
  seq: number;
  epoch?: string;
}

/** Positions by stream name. */
export type Positions = Record<StreamName, ClientPosition>;

/** A member as listed by `members`. */
export interface MemberInfo extends UserInfo {
  role: Role;
  online: boolean;
}

/** An invitation waiting to be used. */
export interface InviteInfo {
  room: string;
  by: UserInfo;
}

/** Availability of a name, as answered by `check`. */
export type Availability = "free" | "taken" | "invalid";

// ---- client to server ----

/** Opens the conversation; must be the first frame. */
export interface HelloRequest {
  type: "hello";
  id: RequestId;
  protocol: number;
  client?: string;
}

/** Asks whether names are free. */
export interface CheckRequest {
  type: "check";
  id: RequestId;
  name?: string;
  nickname?: string;
  room?: string;
}

/** Creates an account. Does not log in. */
export interface RegisterRequest {
  type: "register";
  id: RequestId;
  name: string;
  password: string;
  nickname: string;
}

/** Logs in with name and password. */
export interface LoginRequest {
  type: "login";
  id: RequestId;
  name: string;
  password: string;
  positions?: Positions;
}

/** Logs in again with a resume token from an earlier login. */
export interface ResumeRequest {
  type: "resume";
  id: RequestId;
  token: string;
  positions?: Positions;
}

/** Ends the login and revokes its resume token. */
export interface LogoutRequest {
  type: "logout";
  id: RequestId;
}

/** Sends a message to a room or privately. */
export interface SendRequest {
  type: "send";
  id: RequestId;
  room?: string;
  to?: string;
  text: string;
  key?: string;
  action?: boolean;
}

/** Acknowledges a stream up to a position. No reply. */
export interface AckNotice {
  type: "ack";
  stream: StreamName;
  upTo: number;
}

/** Lists online users, sorted by name, in pages. */
export interface UsersRequest {
  type: "users";
  id: RequestId;
  limit?: number;
  after?: string;
}

/** Counts online users and sessions, or a room's members. */
export interface CountRequest {
  type: "count";
  id: RequestId;
  room?: string;
}

/** Changes the nickname. */
export interface NickRequest {
  type: "nick";
  id: RequestId;
  nickname: string;
}

/** Sets or clears the away reason. */
export interface AwayRequest {
  type: "away";
  id: RequestId;
  reason?: string;
}

/** Asks for the activity rankings, overall or of one room. */
export interface TopRequest {
  type: "top";
  id: RequestId;
  limit?: number;
  room?: string;
}

/** Pages through a room's stream or a private conversation. */
export interface HistoryRequest {
  type: "history";
  id: RequestId;
  room?: string;
  with?: string;
  limit?: number;
  before?: number;
  after?: number;
}

/** Lists public rooms, or the user's own. */
export interface RoomsRequest {
  type: "rooms";
  id: RequestId;
  query?: string;
  limit?: number;
  after?: string;
  mine?: boolean;
}

/** Describes one room. */
export interface RoomRequest {
  type: "room";
  id: RequestId;
  room: string;
}

/** Creates a room. */
export interface CreateRequest {
  type: "create";
  id: RequestId;
  room: string;
  title?: string;
  public?: boolean;
}

/** Joins a room. */
export interface JoinRequest {
  type: "join";
  id: RequestId;
  room: string;
}

/** Leaves a room. */
export interface PartRequest {
  type: "part";
  id: RequestId;
  room: string;
}

/** Room actions on one user: invite (any member), kick/ban/unban/transfer (the owner). */
export interface RoomUserRequest {
  type: "invite" | "kick" | "ban" | "unban" | "transfer";
  id: RequestId;
  room: string;
  user: string;
}

/** Sets a room's topic. */
export interface TopicRequest {
  type: "topic";
  id: RequestId;
  room: string;
  topic: string;
}

/** Lists a room's members in pages. */
export interface MembersRequest {
  type: "members";
  id: RequestId;
  room: string;
  limit?: number;
  after?: string;
}

/** Lists the users you most recently exchanged private messages with. */
export interface ContactsRequest {
  type: "contacts";
  id: RequestId;
  limit?: number;
}

/** Liveness check; answered with `ok`. */
export interface PingRequest {
  type: "ping";
  id: RequestId;
}

/** Answer to a server `ping` event. No reply. */
export interface PongNotice {
  type: "pong";
}

/** Any message a client may send. */
export type ClientMessage =
  | HelloRequest
  | CheckRequest
  | RegisterRequest
  | LoginRequest
  | ResumeRequest
  | LogoutRequest
  | SendRequest
  | AckNotice
  | UsersRequest
  | CountRequest
  | NickRequest
  | AwayRequest
  | TopRequest
  | HistoryRequest
  | RoomsRequest
  | RoomRequest
  | CreateRequest
  | JoinRequest
  | PartRequest
  | (RoomUserRequest & { type: "invite" })
  | (RoomUserRequest & { type: "kick" })
  | (RoomUserRequest & { type: "ban" })
  | (RoomUserRequest & { type: "unban" })
  | (RoomUserRequest & { type: "transfer" })
  | TopicRequest
  | MembersRequest
  | ContactsRequest
  | PingRequest
  | PongNotice;

/** The `type` of any client message. */
export type ClientType = ClientMessage["type"];

/** Client messages that carry an `id` and get a reply. */
export type ClientRequest = Extract<ClientMessage, { id: RequestId }>;

// ---- results carried by `ok` replies ----

/** Result of `hello`. */
export interface HelloResult {
  protocol: number;
  server: string;
  node: string;
  maxFrame: number;
  pingInterval: number;
  maxText: number;
  lobby: string | null;
  /** Which worker of the node serves this connection (nodes run with `--workers`). */
  worker?: number;
}

/** Result of `check`. */
export interface CheckResult {
  name?: Availability;
  nickname?: Availability;
  room?: Availability;
}

/** Result of `register`. */
export interface RegisterResult {
  user: UserInfo;
}

/** Result of `login` and `resume`. */
export interface LoginResult {
  user: UserInfo;
  token: string;
  tokenExpiresAt: number;
  inbox: InboxState;
  /** How many rooms the `rooms` events of the login sequence list. */
  rooms: number;
  invites: InviteInfo[];
  onlineTotal: number;
  away?: string;
  /** Why the previous connection of this user was closed by the server, if it was. */
  notice?: string;
}

/** Result of `send`. */
export interface SendResult {
  stream: StreamName;
  seq: number;
  ts: number;
  dup?: true;
  /** Private messages: whether the receiver has a session. */
  online?: boolean;
  /** Private messages: the receiver's away reason. */
  away?: string;
}

/** Result of `users`. */
export interface UsersResult {
  users: UserInfo[];
  total: number;
  more: boolean;
}

/** Result of `count`. */
export interface CountResult {
  users?: number;
  sessions?: number;
  room?: string;
  members?: number;
  online?: number;
}

/** Result of `nick`. */
export interface NickResult {
  user: UserInfo;
}

/** Result of `away`. */
export interface AwayResult {
  away?: string;
}

/** Result of `top`. */
export interface TopResult {
  allTime: RankEntry[];
  today: RankEntry[];
  day: string;
  room?: string;
}

/** Result of `history`. */
export interface HistoryResult {
  stream: StreamName;
  epoch: string;
  messages: ChatMessage[];
  more: boolean;
}

/** Result of `rooms`. */
export interface RoomsResult {
  rooms: (RoomInfo | RoomState)[];
  more: boolean;
}

/** Result of `room`. */
export interface RoomResult {
  room: RoomInfo;
  member: boolean;
  role?: Role;
  invited: boolean;
}

/** Result of `create` and `join`. */
export interface JoinResult {
  room: RoomState;
}

/** Result of `invite`, `kick`, `ban`, `unban`. */
export interface UserResult {
  user: UserInfo;
}

/** Result of `transfer` and `topic`. */
export interface RoomInfoResult {
  room: RoomInfo;
}

/** Result of `members`. */
export interface MembersResult {
  members: MemberInfo[];
  total: number;
  more: boolean;
}

/** A private contact as listed by `contacts`. */
export interface ContactInfo extends UserInfo {
  online: boolean;
}

/** Result of `contacts`. */
export interface ContactsResult {
  contacts: ContactInfo[];
}

/** Maps each request type to the fields of its `ok` reply. */
export interface ResultMap {
  hello: HelloResult;
  check: CheckResult;
  register: RegisterResult;
  login: LoginResult;
  resume: LoginResult;
  logout: Record<string, never>;
  send: SendResult;
  users: UsersResult;
  count: CountResult;
  nick: NickResult;
  away: AwayResult;
  top: TopResult;
  history: HistoryResult;
  rooms: RoomsResult;
  room: RoomResult;
  create: JoinResult;
  join: JoinResult;
  part: Record<string, never>;
  invite: UserResult;
  kick: UserResult;
  ban: UserResult;
  unban: UserResult;
  transfer: RoomInfoResult;
  topic: RoomInfoResult;
  members: MembersResult;
  contacts: ContactsResult;
  ping: Record<string, never>;
}

// ---- server to client ----

/** Successful reply to request `re`. */
export type OkReply<T extends keyof ResultMap = keyof ResultMap> =
  & { type: "ok"; re: RequestId }
  & ResultMap[T];

/** Failed request, or (without `re`) a connection-level error. */
export interface ErrorReply {
  type: "error";
  re?: RequestId;
  code: ErrorCode;
  message: string;
  retryAfter?: number;
}

/** A delivered chat message. `backlog` marks one of the login sequence. */
export interface MessageEvent {
  type: "message";
  msg: ChatMessage;
  backlog?: true;
}

/** The user's rooms, in the login sequence. */
export interface RoomsEvent {
  type: "rooms";
  rooms: RoomState[];
  done: boolean;
}

/** Online users the session tracks. */
export interface RosterEvent {
  type: "roster";
  users: UserInfo[];
  done: boolean;
}

/** Ends the login sequence. */
export interface BacklogEvent {
  type: "backlog";
  messages: number;
  skipped: number;
}

/** Why a user went offline. */
export type OfflineReason = "logout" | "drop" | "timeout" | "node_down";

/** A tracked user came online, went offline or changed away state. */
export interface PresenceEvent {
  type: "presence";
  user: UserInfo;
  online: boolean;
  reason?: OfflineReason;
  away?: string;
}

/** A user changed nickname. */
export interface NickEvent {
  type: "nick";
  name: string;
  old: string;
  nickname: string;
}

/** Member and online counts of a room above the presence limit. */
export interface OccupancyEvent {
  type: "occupancy";
  room: string;
  members: number;
  online: number;
}

/** What happened to a member. */
export type MemberAction = "join" | "part" | "kick" | "ban" | "unban" | "owner";

/** A membership change. */
export interface MemberEvent {
  type: "member";
  room: string;
  user: UserInfo;
  action: MemberAction;
  by?: UserInfo;
}

/** The user was invited to a room. */
export interface InviteEvent {
  type: "invite";
  room: RoomInfo;
  by: UserInfo;
}

/** A room's topic changed. */
export interface TopicEvent {
  type: "topic";
  room: string;
  topic: string;
  by: UserInfo;
}

/** Positions `after + 1` … `next - 1` of a stream are gone and will not be delivered. */
export interface GapEvent {
  type: "gap";
  stream: StreamName;
  after: number;
  next: number;
}

/** The server is going away; the connection closes next. */
export interface ShutdownEvent {
  type: "shutdown";
  message: string;
}

/** Liveness probe; answer with `pong`. */
export interface PingEvent {
  type: "ping";
}

/** Any frame the server sends. */
export type ServerMessage =
  | OkReply
  | ErrorReply
  | MessageEvent
  | RoomsEvent
  | RosterEvent
  | BacklogEvent
  | PresenceEvent
  | NickEvent
  | OccupancyEvent
  | MemberEvent
  | InviteEvent
  | TopicEvent
  | GapEvent
  | ShutdownEvent
  | PingEvent;

/** Server frames that are events (not replies). */
export type ServerEvent = Exclude<ServerMessage, OkReply | ErrorReply>;

/** The stream of a room. */
export function roomStream(room: string): StreamName {
  return `#${room}`;
}

/** The private stream of a user. */
export function userStream(name: string): StreamName {
  return `@${name}`;
}

/**
 * The message a client's own `send` became, from the `ok` it got: its position and time, with
 * the sender and text the client knows.
 */
export function ownMessage(
  result: SendResult,
  me: { name: string; nickname: string },
  text: string,
  action?: boolean,
): ChatMessage {
  const msg: ChatMessage = {
    stream: result.stream,
    seq: result.seq,
    ts: result.ts,
    from: me.name,
    nick: me.nickname,
    text,
  };
  if (action) msg.action = true;
  return msg;
}

/**
 * Splits a stream name into its kind and name; null when it is not one.
 *
 * @example
 * ```ts
 * parseStream("#lobby"); // { kind: "room", name: "lobby" }
 * ```
 */
export function parseStream(stream: string): { kind: "room" | "user"; name: string } | null {
  const kind = stream[0] === "#" ? "room" : stream[0] === "@" ? "user" : null;
  if (kind === null || stream.length < 2) return null;
  return { kind, name: stream.slice(1) };
}
