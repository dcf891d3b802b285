/**
 * Message types of protocol version 1. Client-to-server and server-to-client messages are
 * separate discriminated unions on `type`. See docs/PROTOCOL.md for the contract.
 *
 * @module
 */

import type { ErrorCode } from "./errors.ts";

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** A request id chosen by the client and echoed as `re` in the reply. */
export type RequestId = number;

/** A user as others see them. */
export interface UserInfo {
  /** Login name, lower case, unique. */
  name: string;
  /** Display name, unique case-insensitively. */
  nickname: string;
}

/** A chat message as stored and delivered. */
export interface ChatMessage {
  /** Server-assigned id, increasing in commit order across the whole system. */
  id: number;
  /** Server time of acceptance, milliseconds since the Unix epoch. */
  ts: number;
  /** Sender login name. */
  from: string;
  /** Sender nickname at the time of sending. */
  nick: string;
  /** Receiver login name for a private message; absent for the group. */
  to?: string;
  /** The text as sent. */
  text: string;
}

/** One entry of an activity ranking. */
export interface RankEntry {
  name: string;
  nickname: string;
  count: number;
}

// ---- client to server ----

/** Opens the conversation; must be the first frame. */
export interface HelloRequest {
  type: "hello";
  id: RequestId;
  protocol: number;
  client?: string;
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
  since?: number;
}

/** Logs in again with a resume token from an earlier login. */
export interface ResumeRequest {
  type: "resume";
  id: RequestId;
  token: string;
  since?: number;
}

/** Ends the login and revokes its resume token. */
export interface LogoutRequest {
  type: "logout";
  id: RequestId;
}

/** Sends a message to the group, or privately when `to` is given. */
export interface SendRequest {
  type: "send";
  id: RequestId;
  to?: string;
  text: string;
}

/** Acknowledges every delivered message with an id up to `upTo`. No reply. */
export interface AckNotice {
  type: "ack";
  upTo: number;
}

/** Lists online users (at most `limit`, default and maximum 1000, fewer if the frame is full). */
export interface UsersRequest {
  type: "users";
  id: RequestId;
  limit?: number;
}

/** Counts online users and sessions. */
export interface CountRequest {
  type: "count";
  id: RequestId;
}

/** Changes the nickname. */
export interface NickRequest {
  type: "nick";
  id: RequestId;
  nickname: string;
}

/** Asks for the activity rankings. */
export interface TopRequest {
  type: "top";
  id: RequestId;
  limit?: number;
}

/** Pages backwards through the group conversation or a private one. */
export interface HistoryRequest {
  type: "history";
  id: RequestId;
  with?: string;
  limit?: number;
  before?: number;
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
  | RegisterRequest
  | LoginRequest
  | ResumeRequest
  | LogoutRequest
  | SendRequest
  | AckNotice
  | UsersRequest
  | CountRequest
  | NickRequest
  | TopRequest
  | HistoryRequest
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
  /** Users online (at most 200, sorted by name). */
  online: UserInfo[];
  /** How many users are online in all. */
  onlineTotal: number;
  /** Why the previous connection of this user was closed by the server, if it was. */
  notice?: string;
}

/** Result of `send`. */
export interface SendResult {
  msgId: number;
  ts: number;
}

/** Result of `users`. */
export interface UsersResult {
  /** Online users sorted by name; `total` says how many there are in all. */
  users: UserInfo[];
  total: number;
}

/** Result of `count`. */
export interface CountResult {
  users: number;
  sessions: number;
}

/** Result of `nick`. */
export interface NickResult {
  user: UserInfo;
}

/** Result of `top`. */
export interface TopResult {
  allTime: RankEntry[];
  today: RankEntry[];
  day: string;
}

/** Result of `history`. */
export interface HistoryResult {
  messages: ChatMessage[];
  more: boolean;
}

/** Maps each request type to the fields of its `ok` reply. */
export interface ResultMap {
  hello: HelloResult;
  register: RegisterResult;
  login: LoginResult;
  resume: LoginResult;
  logout: Record<string, never>;
  send: SendResult;
  users: UsersResult;
  count: CountResult;
  nick: NickResult;
  top: TopResult;
  history: HistoryResult;
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

/** A delivered chat message. `away` marks one stored while the receiver was away. */
export interface MessageEvent {
  type: "message";
  msg: ChatMessage;
  away?: boolean;
}

/** Why a user went offline. */
export type OfflineReason = "logout" | "drop" | "timeout" | "node_down";

/** A user came online or went offline. */
export interface PresenceEvent {
  type: "presence";
  user: UserInfo;
  online: boolean;
  reason?: OfflineReason;
}

/** Ends the delivery of what was stored while the user was away. */
export interface BacklogEvent {
  type: "backlog";
  private: number;
  group: number;
  skipped: number;
}

/** A user changed nickname. */
export interface NickEvent {
  type: "nick";
  name: string;
  old: string;
  nickname: string;
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
  | PresenceEvent
  | BacklogEvent
  | NickEvent
  | ShutdownEvent
  | PingEvent;

/** Server frames that are events (not replies). */
export type ServerEvent = Exclude<ServerMessage, OkReply | ErrorReply>;
