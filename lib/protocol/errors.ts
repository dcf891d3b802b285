/**
 * Error codes shared by server and client. Each code has one meaning on the wire; the
 * server sends it in an `error` frame and the client maps it back to plain words.
 *
 * @module
 */

/** Every error code the server may send. */
export const ERROR_CODES = [
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "BAD_REQUEST",
  "UNKNOWN_TYPE",
  "UNSUPPORTED_VERSION",
  "HELLO_REQUIRED",
  "NOT_LOGGED_IN",
  "ALREADY_LOGGED_IN",
  "INVALID_NAME",
  "INVALID_PASSWORD",
  "INVALID_NICKNAME",
  "INVALID_TEXT",
  "INVALID_ROOM",
  "INVALID_TITLE",
  "INVALID_TOPIC",
  "NAME_TAKEN",
  "NICK_TAKEN",
  "ROOM_TAKEN",
  "UNKNOWN_USER",
  "WRONG_PASSWORD",
  "INVALID_TOKEN",
  "SELF_MESSAGE",
  "NO_SUCH_ROOM",
  "NOT_A_MEMBER",
  "ALREADY_MEMBER",
  "BANNED",
  "INVITE_ONLY",
  "NOT_OWNER",
  "NOT_ALLOWED",
  "TOO_MANY_ROOMS",
  "RATE_LIMITED",
  "FLOODING",
  "LOGIN_THROTTLED",
  "SLOW_CONSUMER",
  "TIMEOUT",
  "SHUTTING_DOWN",
  "UNAVAILABLE",
  "INTERNAL",
] as const;

/** A stable error code, as sent in the `code` field of an `error` frame. */
export type ErrorCode = typeof ERROR_CODES[number];

const CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

/** Whether `value` is a known error code. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODE_SET.has(value);
}

/** Codes after which the server closes the connection. */
export const FATAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "BAD_FRAME",
  "FRAME_TOO_LARGE",
  "UNSUPPORTED_VERSION",
  "SLOW_CONSUMER",
  "FLOODING",
  "TIMEOUT",
  "SHUTTING_DOWN",
]);

/**
 * An error with a wire code. Handlers throw it; the server turns it into an `error` frame.
 *
 * @example
 * ```ts
 * throw new ChatError("UNKNOWN_USER", "No user named bob");
 * ```
 */
export class ChatError extends Error {
  /** The wire code. */
  readonly code: ErrorCode;
  /** Seconds after which a throttled request may be retried. */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, retryAfter?: number) {
    super(message);
    this.name = "ChatError";
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}
