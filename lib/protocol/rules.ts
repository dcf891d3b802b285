/**
 * The rules for login names, passwords, nicknames and message text. Pure functions that
 * return a normalised value or throw a {@linkcode ChatError} with a specific code.
 *
 * @module
 */

import { ChatError } from "./errors.ts";

/** Login names: 3 to 32 of `a-z 0-9 _ . -`, starting with a letter or digit. */
const NAME_RE = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
/** Password length bounds, in characters. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
/** Nickname length bound, in characters after trimming. */
export const NICKNAME_MAX = 32;
/** Control and invisible format characters (C0, C1, bidi overrides, zero-width). */
const CONTROL_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Casefolds a login name. Names are case-insensitive: `Alice` and `alice` are one account.
 *
 * @example
 * ```ts
 * foldName(" Alice "); // "alice"
 * ```
 */
export function foldName(name: string): string {
  return name.trim().toLowerCase();
}

/**
 * Validates and casefolds a login name.
 *
 * @throws {ChatError} `INVALID_NAME`
 */
export function checkName(name: string): string {
  const folded = foldName(name);
  if (!NAME_RE.test(folded)) {
    throw new ChatError(
      "INVALID_NAME",
      "A login name has 3 to 32 characters: letters a-z, digits, '_', '.' or '-', starting with a letter or digit",
    );
  }
  return folded;
}

/**
 * Validates a password (it is never altered).
 *
 * @throws {ChatError} `INVALID_PASSWORD`
 */
export function checkPassword(password: string): string {
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX || /[\p{Cc}]/u.test(password)) {
    throw new ChatError(
      "INVALID_PASSWORD",
      `A password has ${PASSWORD_MIN} to ${PASSWORD_MAX} characters and no control characters`,
    );
  }
  return password;
}

/**
 * Validates a nickname and returns it trimmed and in Unicode NFC form.
 *
 * @throws {ChatError} `INVALID_NICKNAME`
 */
export function checkNickname(nickname: string): string {
  const clean = nickname.normalize("NFC").trim();
  const length = [...clean].length;
  if (length < 1 || length > NICKNAME_MAX || CONTROL_RE.test(clean)) {
    throw new ChatError(
      "INVALID_NICKNAME",
      `A nickname has 1 to ${NICKNAME_MAX} characters and no control or invisible characters`,
    );
  }
  return clean;
}

/**
 * The key under which a nickname is unique: case and compatibility forms fold together,
 * so `Ａlice` (full-width) and `alice` collide.
 *
 * @example
 * ```ts
 * nicknameKey("Alice"); // "alice"
 * ```
 */
export function nicknameKey(nickname: string): string {
  return nickname.normalize("NFKC").toLowerCase();
}

/**
 * Validates message text: not blank and at most `maxLength` characters (code points).
 *
 * @throws {ChatError} `INVALID_TEXT`
 */
export function checkText(text: string, maxLength: number): string {
  if (text.trim().length === 0) {
    throw new ChatError("INVALID_TEXT", "A message cannot be empty");
  }
  // UTF-16 length bounds the code point count from above: count only when it may exceed.
  if (text.length > maxLength && [...text].length > maxLength) {
    throw new ChatError("INVALID_TEXT", `A message has at most ${maxLength} characters`);
  }
  return text;
}

/**
 * Validates and folds a room name (the login-name rules).
 *
 * @throws {ChatError} `INVALID_ROOM`
 *
 * @example
 * ```ts
 * checkRoomName(" Tea-Time "); // "tea-time"
 * ```
 */
export function checkRoomName(name: string): string {
  const folded = foldName(name);
  if (!NAME_RE.test(folded)) {
    throw new ChatError(
      "INVALID_ROOM",
      "A room name has 3 to 32 characters: letters a-z, digits, '_', '.' or '-', starting with a letter or digit",
    );
  }
  return folded;
}

/** Longest room title, topic and away reason, in code points. */
export const TITLE_MAX = 64;
export const TOPIC_MAX = 300;
export const AWAY_MAX = 200;

/** NFC, trimmed, within `min`…`max` code points, no control or invisible characters. */
function cleanLine(text: string, min: number, max: number): string | null {
  const clean = text.normalize("NFC").trim();
  const length = [...clean].length;
  return length < min || length > max || CONTROL_RE.test(clean) ? null : clean;
}

/**
 * Validates a room title.
 *
 * @throws {ChatError} `INVALID_TITLE`
 */
export function checkTitle(title: string): string {
  const clean = cleanLine(title, 1, TITLE_MAX);
  if (clean === null) {
    throw new ChatError(
      "INVALID_TITLE",
      `A room title has 1 to ${TITLE_MAX} characters and no control or invisible characters`,
    );
  }
  return clean;
}

/**
 * Validates a topic (empty clears it).
 *
 * @throws {ChatError} `INVALID_TOPIC`
 */
export function checkTopic(topic: string): string {
  const clean = cleanLine(topic, 0, TOPIC_MAX);
  if (clean === null) {
    throw new ChatError(
      "INVALID_TOPIC",
      `A topic has at most ${TOPIC_MAX} characters on one line, with no control characters`,
    );
  }
  return clean;
}

/**
 * Validates an away reason; empty means back.
 *
 * @throws {ChatError} `INVALID_TEXT`
 */
export function checkAway(reason: string): string {
  const clean = cleanLine(reason, 0, AWAY_MAX);
  if (clean === null) {
    throw new ChatError(
      "INVALID_TEXT",
      `An away reason has at most ${AWAY_MAX} characters on one line, with no control characters`,
    );
  }
  return clean;
}

const KEY_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Validates an idempotency key of `send`.
 *
 * @throws {ChatError} `BAD_REQUEST`
 */
export function checkKey(key: string): string {
  if (!KEY_RE.test(key)) {
    throw new ChatError("BAD_REQUEST", "A send key has 1 to 64 of A-Z a-z 0-9 _ -");
  }
  return key;
}
