/**
 * What the terminal client shows a person: untrusted text made safe for a terminal, one
 * line per chat message or event, listings, and plain-language error sentences. Pure code:
 * no I/O, the clock is injected, colour is an option.
 *
 * Everything that came from the network (message text, nicknames, server messages) goes
 * through {@linkcode sanitize} before it is printed. Colour codes are only ever added here,
 * around text that has already been sanitized, so another user can never colour, move the
 * cursor, clear the screen or retitle the window of the reader.
 *
 * @module
 */

import { ConnectionClosedError } from "./connection.ts";
import { ChatError, type ErrorCode } from "../protocol/errors.ts";
import type {
  ChatMessage,
  CountResult,
  HistoryResult,
  LoginResult,
  OfflineReason,
  RankEntry,
  TopResult,
  UserInfo,
} from "../protocol/messages.ts";

// ---------------------------------------------------------------------------------------
// sanitize

/**
 * Characters a terminal could interpret: C0 controls (ESC, CR, BS, BEL, NUL...), DEL, C1
 * controls (including the 8-bit CSI U+009B), line and paragraph separators, and the bidi
 * marks, embeddings, overrides and isolates that can reorder what is displayed.
 */
const UNSAFE_RE =
  // deno-lint-ignore no-control-regex
  /\r\n|[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Shown for a line break inside a message, so that one message stays one line. */
export const NEWLINE_MARK = "\u21b5"; // ↵
/** Shown for C1 controls and bidi formatting characters. */
export const REPLACEMENT_MARK = "\ufffd"; // �

/**
 * Neutralises terminal control characters in untrusted text; the result is one line that
 * displays as the sender typed it, with every trick made visible instead of executed:
 *
 * - line breaks (`\n`, `\r\n`, U+2028, U+2029) become `↵`, so a message cannot fake
 *   extra lines;
 * - a tab becomes one space;
 * - every other C0 control becomes its Unicode "control picture": ESC → `␛`, CR → `␍`,
 *   BS → `␈`, BEL → `␇`, NUL → `␀`... An escape sequence such as `ESC [2J` therefore shows
 *   as the harmless text `␛[2J` and an OSC title sequence as `␛]0;title␇`;
 * - DEL becomes `␡`;
 * - C1 controls (U+0080–U+009F, including the single-byte CSI) and bidi controls
 *   (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) become `�`.
 *
 * Lone surrogates are replaced too (`String.prototype.toWellFormed`).
 *
 * @example
 * ```ts
 * sanitize("hi\x1b[2J"); // "hi␛[2J"
 * sanitize("one\ntwo"); // "one↵two"
 * ```
 */
export function sanitize(text: string): string {
  return text.toWellFormed().replace(UNSAFE_RE, (ch) => {
    if (ch === "\r\n" || ch === "\n" || ch === "\u2028" || ch === "\u2029") return NEWLINE_MARK;
    if (ch === "\t") return " ";
    const code = ch.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return "\u2421";
    return REPLACEMENT_MARK;
  });
}

// ---------------------------------------------------------------------------------------
// time

/** Turns a server timestamp (ms since the epoch) into the text shown in brackets. */
export type Clock = (ts: number) => string;

/**
 * A clock that shows `HH:MM` for today and `Mon D HH:MM` for older days, in the given
 * time zone (the local one when absent).
 *
 * @example
 * ```ts
 * const clock = makeClock({ timeZone: "UTC", now: () => Date.UTC(2026, 0, 2, 12) });
 * clock(Date.UTC(2026, 0, 2, 9, 5)); // "09:05"
 * clock(Date.UTC(2026, 0, 1, 9, 5)); // "Jan 1 09:05"
 * ```
 */
export function makeClock(options: { timeZone?: string; now?: () => number } = {}): Clock {
  const now = options.now ?? Date.now;
  const time = new Intl.DateTimeFormat("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: options.timeZone,
  });
  const day = new Intl.DateTimeFormat("en-US", {
    month: "short",
    day: "numeric",
    year: "numeric",
    timeZone: options.timeZone,
  });
  const dayOnly = new Intl.DateTimeFormat("en-US", {
    month: "short",
    day: "numeric",
    timeZone: options.timeZone,
  });
  return (ts) => {
    const hhmm = time.format(ts);
    return day.format(ts) === day.format(now()) ? hhmm : `${dayOnly.format(ts)} ${hhmm}`;
  };
}

// ---------------------------------------------------------------------------------------
// colour

/** ANSI styles used by the client. Only applied to text that is already sanitized. */
const STYLE = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
} as const;

type Style = keyof typeof STYLE;

/** Colours given to senders, picked by a hash of the login name so each keeps one. */
const NAME_COLOURS: readonly Style[] = ["cyan", "green", "yellow", "blue", "magenta"];

function paint(on: boolean, style: Style, text: string): string {
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

/** How human-readable lines are rendered. */
export interface FormatOptions {
  /** Add ANSI colour. */
  color: boolean;
  /** Renders message times. */
  clock: Clock;
  /** The reader's login name (their own messages read "you"). */
  me?: string;
  /** Current nickname of a login name, when known (for "you → Bob (bob)"). */
  nickOf?: (name: string) => string | undefined;
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
 * One chat message as one line.
 *
 * - group: `[12:01] <Bob (bob)> hello`
 * - private, received: `[12:01] [private] Bob (bob) → you: psst`
 * - private, sent: `[12:01] [private] you → Bob (bob): psst`
 * - stored while the reader was away: `(while away)` after the time.
 *
 * @example
 * ```ts
 * const clock = () => "12:01";
 * formatMessage({ id: 1, ts: 0, from: "bob", nick: "Bob", text: "hi" }, false, { color: false, clock });
 * // "[12:01] <Bob> hi"
 * ```
 */
export function formatMessage(msg: ChatMessage, away: boolean, o: FormatOptions): string {
  const head = stamp(msg.ts, o) + (away ? paint(o.color, "dim", " (while away)") : "");
  const text = sanitize(msg.text);
  const sender: UserInfo = { name: msg.from, nickname: msg.nick };
  if (msg.to === undefined) {
    const label = msg.from === o.me
      ? paint(o.color, "bold", `${displayName(sender)} (you)`)
      : who(sender, o);
    return `${head} <${label}> ${text}`;
  }
  const tag = paint(o.color, "magenta", "[private]");
  if (msg.from === o.me) {
    const to: UserInfo = { name: msg.to, nickname: o.nickOf?.(msg.to) ?? msg.to };
    return `${head} ${tag} you → ${who(to, o)}: ${text}`;
  }
  return `${head} ${tag} ${who(sender, o)} → you: ${text}`;
}

const OFFLINE_WORDS: Record<OfflineReason, string> = {
  logout: "logged out",
  drop: "went offline (connection dropped)",
  timeout: "went offline (timed out)",
  node_down: "went offline (their server went down)",
};

/**
 * A user came online or went offline.
 *
 * @example
 * ```ts
 * formatPresence({ name: "bob", nickname: "Bob" }, true, undefined, { color: false, clock: String });
 * // "* Bob is online"
 * ```
 */
export function formatPresence(
  user: UserInfo,
  online: boolean,
  reason: OfflineReason | undefined,
  o: FormatOptions,
): string {
  const what = online ? "is online" : OFFLINE_WORDS[reason ?? "logout"] ?? "went offline";
  return paint(o.color, "yellow", "* ") + `${who(user, o)} ${paint(o.color, "yellow", what)}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The line after the messages stored while the user was away, or `null` when there were none.
 *
 * @example
 * ```ts
 * formatBacklog(3, 12, 5, { color: false, clock: String });
 * // "— 3 private and 12 group messages while you were away (5 older skipped) —"
 * ```
 */
export function formatBacklog(
  privateCount: number,
  groupCount: number,
  skipped: number,
  o: FormatOptions,
): string | null {
  if (privateCount + groupCount + skipped === 0) return null;
  const parts = privateCount && groupCount
    ? `${privateCount} private and ${plural(groupCount, "group message")}`
    : privateCount
    ? plural(privateCount, "private message")
    : plural(groupCount, "group message");
  const more = skipped ? ` (${skipped} older skipped)` : "";
  return paint(o.color, "dim", `— ${parts} while you were away${more} —`);
}

/**
 * Someone changed nickname.
 *
 * @example
 * ```ts
 * formatNick("bob", "Bob", "Bobby", { color: false, clock: String });
 * // "* Bob (bob) is now known as Bobby"
 * ```
 */
export function formatNick(name: string, old: string, nickname: string, o: FormatOptions): string {
  const before = who({ name, nickname: old }, o);
  const self = name === o.me ? " (you)" : "";
  const after = paint(o.color, "bold", sanitize(nickname));
  const oldShown = sanitize(old).toLowerCase() === name ? `${before} (${sanitize(name)})` : before;
  return paint(o.color, "yellow", "* ") + `${oldShown}${self} is now known as ${after}`;
}

/**
 * A connection status line.
 *
 * @example
 * ```ts
 * formatStatus("reconnecting", 3000, { color: false, clock: String });
 * // "* Connection lost — reconnecting in 3s…"
 * ```
 */
export function formatStatus(
  state: "connected" | "reconnecting",
  retryInMs: number | undefined,
  o: FormatOptions,
): string {
  if (state === "connected") return paint(o.color, "green", "* Reconnected.");
  const when = retryInMs === undefined ? "" : ` in ${Math.max(1, Math.ceil(retryInMs / 1000))}s`;
  return paint(o.color, "yellow", `* Connection lost — reconnecting${when}…`);
}

/** A notice from the server (shutdown message, connection-level error). */
export function formatNotice(text: string, o: FormatOptions): string {
  return paint(o.color, "yellow", `! Server: ${sanitize(text)}`);
}

/** A sentence reporting something that went wrong, for the person at the keyboard. */
export function formatError(sentence: string, o: FormatOptions): string {
  return paint(o.color, "red", `! ${sentence}`);
}

/** A sentence confirming something the user did. */
export function formatInfo(sentence: string, o: FormatOptions): string {
  return paint(o.color, "green", `* ${sentence}`);
}

/**
 * The online list, one user a line, the reader marked `(you)`.
 *
 * @example
 * ```ts
 * formatUsers([{ name: "bob", nickname: "Bob" }], { color: false, clock: String });
 * // ["Online now (1):", "  Bob"]
 * ```
 */
export function formatUsers(users: readonly UserInfo[], o: FormatOptions): string[] {
  const sorted = [...users].sort((a, b) => a.nickname.localeCompare(b.nickname));
  return [
    `Online now (${users.length}):`,
    ...sorted.map((u) => `  ${who(u, o)}${u.name === o.me ? " (you)" : ""}`),
  ];
}

/**
 * The answer to `/count`.
 *
 * @example
 * ```ts
 * formatCount({ users: 2, sessions: 3 }); // "2 users online (3 sessions)."
 * ```
 */
export function formatCount(count: CountResult): string {
  return `${plural(count.users, "user")} online (${plural(count.sessions, "session")}).`;
}

function rankLines(entries: readonly RankEntry[], o: FormatOptions): string[] {
  if (entries.length === 0) return ["  (nobody yet)"];
  return entries.map((e, i) =>
    `  ${i + 1}. ${who({ name: e.name, nickname: e.nickname }, o)} — ${plural(e.count, "message")}`
  );
}

/**
 * The activity rankings.
 *
 * @example
 * ```ts
 * formatTop({ allTime: [], today: [], day: "2026-01-02" }, { color: false, clock: String });
 * ```
 */
export function formatTop(top: TopResult, o: FormatOptions): string[] {
  return [
    `Most active today (${sanitize(top.day)}, UTC):`,
    ...rankLines(top.today, o),
    "Most active of all time:",
    ...rankLines(top.allTime, o),
  ];
}

/**
 * A page of history, oldest first, with a hint for the previous page.
 *
 * @example
 * ```ts
 * formatHistory({ messages: [], more: false }, { limit: 20 }, { color: false, clock: String });
 * // ["No messages in the group yet."]
 * ```
 */
export function formatHistory(
  page: HistoryResult,
  query: { with?: string; limit: number },
  o: FormatOptions,
): string[] {
  const other = query.with === undefined
    ? undefined
    : displayName({ name: query.with, nickname: o.nickOf?.(query.with) ?? query.with });
  const where = other === undefined ? "the group" : `your conversation with ${other}`;
  if (page.messages.length === 0) return [`No messages in ${where} yet.`];
  const lines = [
    paint(
      o.color,
      "dim",
      `— ${plural(page.messages.length, "message")} in ${where}, oldest first —`,
    ),
    ...page.messages.map((m) => formatMessage(m, false, o)),
  ];
  if (page.more) {
    const target = query.with === undefined ? "" : ` ${sanitize(query.with)}`;
    lines.push(
      paint(
        o.color,
        "dim",
        `— older messages: /history${target} ${query.limit} before ${page.messages[0].id} —`,
      ),
    );
  }
  return lines;
}

/**
 * The welcome lines after login.
 *
 * @example
 * ```ts
 * formatWelcome({ user: { name: "al", nickname: "Al" }, token: "", tokenExpiresAt: 0, online: [] },
 *   { color: false, clock: String });
 * ```
 */
export function formatWelcome(result: LoginResult, o: FormatOptions): string[] {
  const others = result.online.filter((u) => u.name !== result.user.name);
  const list = others.length === 0
    ? "Nobody else is online right now."
    : `Online: ${others.map((u) => who(u, o)).join(", ")}.`;
  return [
    formatInfo(`Logged in as ${displayName(result.user)}.`, o),
    ...(result.notice ? [formatNotice(result.notice, o)] : []),
    list,
    paint(
      o.color,
      "dim",
      "Type a message and press Enter to send it to everyone; /help lists the commands.",
    ),
  ];
}

/** Help text of the chat screen, one command a line. */
export const CHAT_HELP: readonly string[] = [
  "Commands:",
  "  <text>                    send <text> to everyone",
  "  /msg <user> <text>        send <text> privately to <user> (login name)",
  "  /users                    who is online",
  "  /count                    how many users and sessions are online",
  "  /history [user] [n]       the last n messages of the group, or with <user>",
  "  /history [user] [n] before <id>   the n messages before message <id>",
  "  /top                      the most active users",
  "  /nick <new nickname>      change your nickname",
  "  /menu                     the numbered menu",
  "  /help                     this help",
  "  /quit                     log out (back to the main menu)",
  "  //text                    send a message that starts with '/'",
  "Ctrl-C or Ctrl-D logs out and leaves the program.",
];

// ---------------------------------------------------------------------------------------
// errors

/** Longest part of a server message quoted to the user. */
const QUOTE_MAX = 200;

function serverSentence(message: string): string {
  let text = sanitize(message).trim().slice(0, QUOTE_MAX);
  if (text && !/[.!?]$/.test(text)) text += ".";
  return text;
}

function seconds(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n) || n <= 0) return "a moment";
  return plural(Math.ceil(n), "second");
}

type Sentence = (rule: string, retryAfter: number | undefined) => string;

/** A sentence for each error code; `rule` is the server's own (sanitized) explanation. */
const ERROR_SENTENCES: Readonly<Record<string, Sentence>> = {
  BAD_FRAME: () =>
    "The server could not read what this client sent (a client bug). Please reconnect.",
  FRAME_TOO_LARGE: () => "That is too large for the server to accept.",
  BAD_REQUEST: (rule) => `The server rejected the request. ${rule}`.trim(),
  UNKNOWN_TYPE: () => "The server does not know this command; it may be an older version.",
  UNSUPPORTED_VERSION: () =>
    "This client and the server speak different protocol versions; update the client.",
  HELLO_REQUIRED: () => "The connection was not set up properly. Please try again.",
  NOT_LOGGED_IN: () => "You are not logged in. Log in first.",
  ALREADY_LOGGED_IN: () => "You are already logged in on this connection.",
  INVALID_NAME: (rule) =>
    `That login name is not allowed. ${rule || "Use 3 to 32 letters, digits, '_', '.' or '-'."}`,
  INVALID_PASSWORD: (rule) =>
    `That password is not allowed. ${rule || "Use at least 8 characters."}`,
  INVALID_NICKNAME: (rule) =>
    `That nickname is not allowed. ${rule || "Use 1 to 32 visible characters."}`,
  INVALID_TEXT: (rule) => `Message not sent. ${rule || "It is empty or too long."}`,
  NAME_TAKEN: () => "That login name is already taken. Choose another one.",
  NICK_TAKEN: () => "That nickname is already taken. Choose another one.",
  UNKNOWN_USER: () => "No such user. Check the login name (/users shows who is online).",
  WRONG_PASSWORD: () => "Wrong password. Try again.",
  INVALID_TOKEN: () => "Your session has expired or was ended. Please log in again.",
  SELF_MESSAGE: () => "You cannot send a private message to yourself.",
  RATE_LIMITED: (_rule, retryAfter) =>
    `You are sending too fast. Wait ${seconds(retryAfter)} and try again.`,
  FLOODING: () => "The server disconnected this client for sending too much too fast. Slow down.",
  LOGIN_THROTTLED: (_rule, retryAfter) =>
    `Too many failed logins. Try again in ${seconds(retryAfter)}.`,
  SLOW_CONSUMER: () => "The server disconnected this client because it was reading too slowly.",
  TIMEOUT: () => "The server closed the connection after a period of inactivity.",
  SHUTTING_DOWN: () => "The server is shutting down. Try again later.",
  UNAVAILABLE: (_rule, retryAfter) =>
    `The server is temporarily unavailable. Try again in ${seconds(retryAfter)}.`,
  INTERNAL: () => "The server ran into an internal error. Please try again.",
};

/**
 * A plain-language sentence for an error code from the server. `serverMessage` (untrusted,
 * sanitized here) is only quoted where it states a rule the user must follow, e.g. what a
 * valid name is. A code this client does not know gets the server's message.
 *
 * @example
 * ```ts
 * describeError("WRONG_PASSWORD", "Wrong password"); // "Wrong password. Try again."
 * describeError("LOGIN_THROTTLED", "", 30); // "Too many failed logins. Try again in 30 seconds."
 * ```
 */
export function describeError(
  code: ErrorCode | string,
  serverMessage: string,
  retryAfter?: number,
): string {
  const rule = serverSentence(serverMessage);
  const sentence = Object.hasOwn(ERROR_SENTENCES, code) ? ERROR_SENTENCES[code] : undefined;
  return sentence ? sentence(rule, retryAfter) : rule || "The server reported an error.";
}

/**
 * A plain-language sentence for anything thrown by a request: a {@linkcode ChatError}
 * from the server, or a failure to reach or keep the connection. Never a stack trace.
 *
 * @example
 * ```ts
 * describeConnectError(new Deno.errors.ConnectionRefused("refused"), "127.0.0.1", 8889);
 * // "Cannot reach the server at 127.0.0.1:8889 — is it running?"
 * ```
 */
export function describeConnectError(error: unknown, host: string, port: number): string {
  const at = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (error instanceof ChatError) return describeError(error.code, error.message, error.retryAfter);
  if (error instanceof ConnectionClosedError || error instanceof Deno.errors.ConnectionReset) {
    return `The connection to the server at ${at} was lost. Try again.`;
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Cannot reach the server at ${at} — is it running?`;
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return `Not allowed to connect to ${at}: run the client with --allow-net.`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.TimedOut || /timed out/i.test(message)) {
    return `The server at ${at} did not answer in time — is the address right?`;
  }
  if (
    /lookup address|name or service not known|nodename nor servname|no such host/i.test(message)
  ) {
    return `Cannot find the host "${sanitize(host)}" — check the --host setting.`;
  }
  if (/certificate|tls|handshake/i.test(message)) {
    return `Secure connection to ${at} failed: ${serverSentence(message)} ` +
      "(for a private CA, pass its certificate with --ca FILE)";
  }
  if (
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected
  ) {
    return `The connection to the server at ${at} was lost. Try again.`;
  }
  if (
    error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.NetworkUnreachable
  ) {
    return `Cannot reach the server at ${at}: the network is unreachable.`;
  }
  return `Cannot talk to the server at ${at}: ${serverSentence(message)}`;
}
