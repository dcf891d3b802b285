/**
 * What the terminal client shows a person: untrusted text made safe for a terminal, chat
 * and system lines, listings, and plain-language error sentences, in the user's language.
 * Pure code: no I/O, the clock is injected, colour is an option.
 *
 * Everything that came from the network (message text, nicknames, topics, server messages)
 * goes through {@linkcode sanitize} before it is shown. Colour codes are only ever added
 * here, around text that has already been sanitized, so another user can never colour, move
 * the cursor, clear the screen or retitle the window of the reader.
 *
 * @module
 */

import { ConnectionClosedError } from "./connection.ts";
import type { ErrorCode } from "../protocol/errors.ts";
import { ChatError } from "../protocol/errors.ts";
import type { MessageKey, Texts } from "../i18n/translate.ts";
import type {
  ChatMessage,
  MemberAction,
  MemberInfo,
  OfflineReason,
  RankEntry,
  RoomInfo,
  TopResult,
  UserInfo,
} from "../protocol/messages.ts";

// ---------------------------------------------------------------------------------------
// sanitize

/**
 * Characters a terminal could interpret: C0 controls, DEL, C1 controls (including the
 * 8-bit CSI U+009B), line and paragraph separators, and the bidi marks, embeddings,
 * overrides and isolates that can reorder what is displayed.
 */
const UNSAFE_RE =
  // deno-lint-ignore no-control-regex
  /\r\n|[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Shown for a line break inside one-line text (topics, names). */
export const NEWLINE_MARK = "\u21b5"; // ↵

/** Bidi controls by their Unicode abbreviation, shown in place of the invisible character. */
const BIDI_NAMES: Readonly<Record<number, string>> = {
  0x061c: "ALM",
  0x200e: "LRM",
  0x200f: "RLM",
  0x202a: "LRE",
  0x202b: "RLE",
  0x202c: "PDF",
  0x202d: "LRO",
  0x202e: "RLO",
  0x2066: "LRI",
  0x2067: "RLI",
  0x2068: "FSI",
  0x2069: "PDI",
};

/**
 * Neutralises terminal control characters in untrusted text; the result is one line that
 * displays as the sender typed it, with every trick made visible instead of executed:
 *
 * - line breaks (`\n`, `\r\n`, U+2028, U+2029) become `↵`;
 * - a tab becomes one space;
 * - every other C0 control becomes its Unicode "control picture": ESC → `␛`, CR → `␍`,
 *   BEL → `␇`…, so `ESC [2J` shows as the harmless text `␛[2J`; DEL becomes `␡`;
 * - C1 controls (U+0080–U+009F) show as `<U+009B>`;
 * - bidi controls show as their name in brackets, e.g. `⟨RLO⟩` for U+202E, so a reader
 *   sees that the text was meant to be reordered.
 *
 * Lone surrogates are replaced too (`String.prototype.toWellFormed`).
 *
 * @example
 * ```ts
 * sanitize("hi\x1b[2J"); // "hi␛[2J"
 * sanitize("one\ntwo"); // "one↵two"
 * sanitize("abc\u202edef"); // "abc⟨RLO⟩def"
 * ```
 */
export function sanitize(text: string): string {
  return text.toWellFormed().replace(UNSAFE_RE, (ch) => {
    if (ch === "\r\n" || ch === "\n" || ch === "\u2028" || ch === "\u2029") return NEWLINE_MARK;
    if (ch === "\t") return " ";
    const code = ch.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return "\u2421";
    const bidi = BIDI_NAMES[code];
    if (bidi) return `\u27e8${bidi}\u27e9`;
    return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
  });
}

/**
 * Like {@linkcode sanitize}, but keeps line breaks: the text split into its lines, each
 * sanitized (for multi-line messages, shown as several rows).
 *
 * @example
 * ```ts
 * sanitizeLines("a\r\nb\x1b"); // ["a", "b␛"]
 * ```
 */
export function sanitizeLines(text: string): string[] {
  return text.split(/\r\n|\n|\r|\u2028|\u2029/).map(sanitize);
}

// ---------------------------------------------------------------------------------------
// time

/** Turns a timestamp (ms since the epoch) into the text shown in brackets. */
export type Clock = (ts: number) => string;

/**
 * A clock that shows `HH:MM` for today and `MM-DD HH:MM` for older days, in the given time
 * zone (the local one when absent).
 *
 * @example
 * ```ts
 * const clock = makeClock({ timeZone: "UTC", now: () => Date.UTC(2026, 0, 2, 12) });
 * clock(Date.UTC(2026, 0, 2, 9, 5)); // "09:05"
 * clock(Date.UTC(2026, 0, 1, 9, 5)); // "01-01 09:05"
 * ```
 */
export function makeClock(options: { timeZone?: string; now?: () => number } = {}): Clock {
  const now = options.now ?? Date.now;
  const parts = new Intl.DateTimeFormat("en-GB", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: options.timeZone,
  });
  const pick = (ts: number) => {
    const p = Object.fromEntries(parts.formatToParts(ts).map((x) => [x.type, x.value]));
    return {
      day: `${p.year}-${p.month}-${p.day}`,
      md: `${p.month}-${p.day}`,
      hm: `${p.hour}:${p.minute}`,
    };
  };
  return (ts) => {
    const at = pick(ts);
    return at.day === pick(now()).day ? at.hm : `${at.md} ${at.hm}`;
  };
}

// ---------------------------------------------------------------------------------------
// colour

/** ANSI styles used by the client. Only applied to text that is already sanitized. */
const STYLE = {
  bold: [1, 22],
  dim: [2, 22],
  reverse: [7, 27],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
} as const;

/** A style name. */
export type Style = keyof typeof STYLE;

/** Colours given to senders, picked by a hash of the login name so each keeps one. */
const NAME_COLOURS: readonly Style[] = ["cyan", "green", "yellow", "blue", "magenta"];

/** Wraps sanitized text in a style when colour is on. */
export function paint(on: boolean, style: Style, text: string): string {
  if (!on) return text;
  const [open, close] = STYLE[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

function nameColour(name: string): Style {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)!) >>> 0;
  return NAME_COLOURS[hash % NAME_COLOURS.length];
}

// ---------------------------------------------------------------------------------------
// lines

/** How lines are rendered. */
export interface FormatOptions {
  /** Add ANSI colour. */
  color: boolean;
  /** Renders times. */
  clock: Clock;
  /** The texts of the user's language. */
  tx: Texts;
  /** The reader's login name. */
  me?: string;
}

/**
 * `Nick (name)`, or just `Nick` when the nickname is the login name in another case.
 *
 * @example
 * ```ts
 * displayName({ name: "bob", nickname: "Bobby" }); // "Bobby (bob)"
 * displayName({ name: "bob", nickname: "Bob" }); // "Bob"
 * ```
 */
export function displayName(user: UserInfo): string {
  const nick = sanitize(user.nickname);
  const name = sanitize(user.name);
  return nick.toLowerCase() === name ? nick : `${nick} (${name})`;
}

function who(user: UserInfo, o: FormatOptions): string {
  return paint(o.color, nameColour(user.name), paint(o.color, "bold", displayName(user)));
}

function stamp(ts: number, o: FormatOptions): string {
  return paint(o.color, "dim", `[${o.clock(ts)}]`);
}

/**
 * Whether a message mentions the reader: their nickname or login name as a whole word,
 * in any letter case.
 *
 * @example
 * ```ts
 * mentions("hey alice, look", { name: "alice", nickname: "Al" }); // true
 * mentions("malice", { name: "alice", nickname: "Al" }); // false
 * ```
 */
export function mentions(text: string, me: UserInfo): boolean {
  const lower = text.toLowerCase();
  for (const word of [me.nickname, me.name]) {
    const w = word.toLowerCase();
    if (w === "") continue;
    for (let i = lower.indexOf(w); i !== -1; i = lower.indexOf(w, i + 1)) {
      const before = lower.slice(0, i).at(-1);
      const after = lower[i + w.length];
      if (!isWordChar(before) && !isWordChar(after)) return true;
    }
  }
  return false;
}

function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /[\p{L}\p{N}_]/u.test(ch) && !/[\p{Script=Han}]/u.test(ch);
}

/**
 * A chat message as display lines (one per line of its text; later ones indented).
 *
 * - `[12:01] <Bob> hello`, an action `[12:01] * Bob waves`;
 * - the reader's own nickname in bold, a line that mentions the reader highlighted.
 *
 * @example
 * ```ts
 * const tx = texts("en");
 * formatMessage({ stream: "#lobby", seq: 1, ts: 0, from: "bob", nick: "Bob", text: "hi" },
 *   { color: false, clock: () => "12:01", tx });
 * // ["[12:01] <Bob> hi"]
 * ```
 */
export function formatMessage(
  msg: ChatMessage,
  o: FormatOptions,
  highlight = false,
): string[] {
  const sender: UserInfo = { name: msg.from, nickname: msg.nick };
  const mine = msg.from === o.me;
  const name = mine ? paint(o.color, "bold", sanitize(msg.nick)) : who(sender, o);
  const lines = sanitizeLines(msg.text);
  const head = msg.action ? `* ${name} ` : `<${name}> `;
  const first = `${stamp(msg.ts, o)} ${head}${
    highlight ? paint(o.color, "yellow", lines[0]) : lines[0]
  }`;
  const rest = lines.slice(1).map((line) =>
    `        ${highlight ? paint(o.color, "yellow", line) : line}`
  );
  return [first, ...rest];
}

/** A system line: time, a marker, the sentence (already safe). */
export function formatSystem(ts: number, text: string, o: FormatOptions, marker = "-!-"): string {
  return `${stamp(ts, o)} ${paint(o.color, "blue", marker)} ${text}`;
}

/** An error line for the user. */
export function formatError(ts: number, text: string, o: FormatOptions): string {
  return `${stamp(ts, o)} ${paint(o.color, "red", "!!!")} ${paint(o.color, "red", text)}`;
}

const OFFLINE_KEYS: Record<OfflineReason, MessageKey> = {
  logout: "presence.logout",
  drop: "presence.drop",
  timeout: "presence.timeout",
  node_down: "presence.node_down",
};

/** A user came online, went offline, or changed away state. */
export function formatPresence(
  user: UserInfo,
  online: boolean,
  reason: OfflineReason | undefined,
  away: string | undefined,
  o: FormatOptions,
): string {
  const name = who(user, o);
  if (!online) return o.tx.t(OFFLINE_KEYS[reason ?? "logout"] ?? "presence.logout", { name });
  if (away) return o.tx.t("presence.away", { name, reason: sanitize(away) });
  return o.tx.t("presence.online", { name });
}

const MEMBER_KEYS: Record<MemberAction, MessageKey> = {
  join: "member.join",
  part: "member.part",
  kick: "member.kick",
  ban: "member.ban",
  unban: "member.unban",
  owner: "member.owner",
};

/** A membership change in a room. */
export function formatMember(
  room: string,
  user: UserInfo,
  action: MemberAction,
  by: UserInfo | undefined,
  o: FormatOptions,
): string {
  const you = user.name === o.me;
  const key = you ? `${MEMBER_KEYS[action]}.you` as MessageKey : MEMBER_KEYS[action];
  return o.tx.t(key, {
    name: who(user, o),
    room: `#${sanitize(room)}`,
    by: by ? who(by, o) : "?",
  });
}

/** Summary of coalesced joins and leaves. */
export function formatDigest(
  joined: readonly UserInfo[],
  left: readonly UserInfo[],
  o: FormatOptions,
  kind: "member" | "presence",
): string {
  const names = (users: readonly UserInfo[]) => {
    const shown = users.slice(0, 5).map((u) => sanitize(u.nickname)).join(", ");
    return users.length > 5 ? o.tx.t("digest.more", { names: shown, n: users.length - 5 }) : shown;
  };
  const parts: string[] = [];
  if (joined.length > 0) {
    parts.push(o.tx.t(kind === "member" ? "digest.joined" : "digest.online", {
      n: joined.length,
      names: names(joined),
    }));
  }
  if (left.length > 0) {
    parts.push(o.tx.t(kind === "member" ? "digest.left" : "digest.offline", {
      n: left.length,
      names: names(left),
    }));
  }
  return parts.join("; ");
}

/** One room as a list line. */
export function formatRoom(room: RoomInfo, o: FormatOptions): string {
  const kind = room.public ? "" : ` ${o.tx.t("room.private")}`;
  const topic = room.topic ? ` — ${sanitize(room.topic)}` : "";
  const title = room.title && room.title !== room.name ? ` (${sanitize(room.title)})` : "";
  return `  ${paint(o.color, "bold", `#${sanitize(room.name)}`)}${title}${kind} ` +
    o.tx.t("room.counts", { members: room.members, online: room.online }) + topic;
}

/** A member list line. */
export function formatMemberLine(m: MemberInfo, o: FormatOptions): string {
  const role = m.role === "owner" ? "@" : " ";
  const state = m.online
    ? (m.away ? o.tx.t("members.away", { reason: sanitize(m.away) }) : o.tx.t("members.online"))
    : o.tx.t("members.offline");
  return `  ${role}${displayName(m)} ${paint(o.color, "dim", state)}`;
}

/** A user list line (`/users`). */
export function formatUserLine(u: UserInfo, o: FormatOptions): string {
  const away = u.away
    ? ` ${paint(o.color, "dim", o.tx.t("members.away", { reason: sanitize(u.away) }))}`
    : "";
  return `  ${displayName(u)}${away}`;
}

/** The activity rankings. */
export function formatTop(top: TopResult, o: FormatOptions): string[] {
  const list = (entries: RankEntry[]) =>
    entries.length === 0
      ? [`  ${o.tx.t("top.none")}`]
      : entries.map((e, i) =>
        `  ${i + 1}. ${displayName(e)} — ${o.tx.t("top.count", { n: e.count })}`
      );
  const where = top.room ? ` #${sanitize(top.room)}` : "";
  return [
    o.tx.t("top.today", { day: top.day, where }),
    ...list(top.today),
    o.tx.t("top.all", { where }),
    ...list(top.allTime),
  ];
}

// ---------------------------------------------------------------------------------------
// errors

/** Longest part of a server message quoted to the user. */
const QUOTE_MAX = 200;

function serverSentence(message: string): string {
  let text = sanitize(message).trim().slice(0, QUOTE_MAX);
  if (text && !/[.!?。！？]$/.test(text)) text += ".";
  return text;
}

/** Codes whose sentence quotes the server's rule. */
const QUOTES_RULE = new Set([
  "BAD_REQUEST",
  "INVALID_NAME",
  "INVALID_PASSWORD",
  "INVALID_NICKNAME",
  "INVALID_TEXT",
  "INVALID_ROOM",
  "INVALID_TITLE",
  "INVALID_TOPIC",
]);

/**
 * A plain-language sentence for an error code from the server. The server's message
 * (untrusted, sanitized here) is quoted only where it states a rule the user must follow
 * (English servers: shown after the sentence); a code this client does not know gets it.
 *
 * @example
 * ```ts
 * describeError(texts("en"), "WRONG_PASSWORD", "Wrong password"); // "Wrong password. Try again."
 * ```
 */
export function describeError(
  tx: Texts,
  code: ErrorCode | string,
  serverMessage: string,
  retryAfter?: number,
): string {
  const key = `error.${code}` as MessageKey;
  const known = tx.t(key) !== key;
  const rule = serverSentence(serverMessage);
  if (!known) return rule || tx.t("error.unknown");
  const sentence = tx.t(key, { n: Math.max(1, Math.ceil(retryAfter ?? 1)) });
  return QUOTES_RULE.has(code) && rule ? `${sentence} (${rule})` : sentence;
}

/**
 * A plain-language sentence for anything thrown by a request: a {@linkcode ChatError}
 * from the server, or a failure to reach or keep the connection. Never a stack trace.
 */
export function describeFailure(tx: Texts, error: unknown, host: string, port: number): string {
  const at = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (error instanceof ChatError) {
    return describeError(tx, error.code, error.message, error.retryAfter);
  }
  if (error instanceof ConnectionClosedError || error instanceof Deno.errors.ConnectionReset) {
    return tx.t("connect.lost", { at });
  }
  if (error instanceof Deno.errors.ConnectionRefused) return tx.t("connect.refused", { at });
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return tx.t("connect.permission", { at });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.TimedOut || /timed out/i.test(message)) {
    return tx.t("connect.timeout", { at });
  }
  if (
    /lookup address|name or service not known|nodename nor servname|no such host/i.test(message)
  ) {
    return tx.t("connect.host", { host: sanitize(host) });
  }
  if (/certificate|tls|handshake/i.test(message)) {
    return tx.t("connect.tls", { at, why: serverSentence(message) });
  }
  if (
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected
  ) {
    return tx.t("connect.lost", { at });
  }
  return tx.t("connect.other", { at, why: serverSentence(message) });
}
