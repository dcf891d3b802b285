/**
 * The two ways the client renders what happens: {@linkcode humanView} for a person at a
 * terminal (built on `format.ts`, optional colour) and {@linkcode lineView} for line mode
 * (stdin not a terminal), where every event is exactly one line that a script can parse.
 * Both are pure: they return lines, the caller prints them.
 *
 * ## Line mode format (stable)
 *
 * Every line is a PREFIX followed by fields, all separated by one TAB (`\t`). Fields never
 * contain a TAB or a line break (text from the network is passed through `sanitize`, which
 * turns a tab into a space and a line break into `↵`), and free text is always the last
 * field. `<time>` is ISO 8601 in UTC (`2026-11-22T06:31:13.000Z`); `<nick>` is the
 * sender's nickname; `-` stands for an absent value.
 *
 * ```text
 * ASK      <question>                         waiting for one input line (menus, prompts)
 * OK       <command> <sentence>               a command succeeded
 * ERROR    <CODE> <sentence>                  a command failed; CODE is a server error code
 *                                             (WRONG_PASSWORD, UNKNOWN_USER...) or one of
 *                                             CONNECT (server unreachable or lost), OFFLINE
 *                                             (reconnecting, nothing sent), USAGE (bad input)
 * MSG      <id> <time> <from> <nick> <flag> <text>        group message
 * PM       <id> <time> <from> <to> <nick> <flag> <text>   private message
 *                                             flag: new (live), away (stored while you were
 *                                             away), sent (your own, echoed), history
 * ONLINE   <name> <nick>                      a user came online
 * OFFLINE  <name> <nick> <reason>             logout | drop | timeout | node_down
 * BACKLOG  <private> <group> <skipped>        end of the messages stored while away
 * NICK     <name> <old> <new>                 a nickname changed
 * STATUS   <state> <seconds> <sentence>       connected | reconnecting; seconds until retry
 * NOTICE   <sentence>                         a message from the server (e.g. shutdown)
 * ENDED    <sentence>                         the session ended; back to the main menu
 * USER     <name> <nick>                      one online user (/users)
 * COUNT    <users> <sessions>                 (/count)
 * TOP      <today|all> <rank> <name> <nick> <count>       (/top)
 * HELP     <text>                             one line of help (/help)
 * ```
 *
 * Each command line gets exactly one final `OK` or `ERROR` line; its data lines (`USER`,
 * `COUNT`, `TOP`, `HELP`, history as `MSG`/`PM` with flag `history`, the echo of a sent
 * message) come before it. Events (`MSG`/`PM` new or away, `ONLINE`, `OFFLINE`, `BACKLOG`,
 * `NICK`, `STATUS`, `NOTICE`, `ENDED`) may come at any time, each as one whole line.
 *
 * @module
 */

import type { ClientEvent } from "./chat_client.ts";
import {
  CHAT_HELP,
  displayName,
  formatBacklog,
  formatCount,
  formatError,
  formatHistory,
  formatInfo,
  formatMessage,
  formatNick,
  formatNotice,
  type FormatOptions,
  formatPresence,
  formatStatus,
  formatTop,
  formatUsers,
  formatWelcome,
  sanitize,
} from "./format.ts";
import type {
  ChatMessage,
  CountResult,
  HistoryResult,
  LoginResult,
  TopResult,
  UserInfo,
} from "../protocol/messages.ts";

/** How a message came to be shown. */
export type MessageFlag = "new" | "away" | "sent" | "history";

/** Renders client events and command results as lines. */
export interface View {
  /** Lines for an event of the chat session (none for an empty backlog in human view). */
  event(event: ClientEvent): string[];
  /** One message (received, echoed after sending, or from history). */
  message(msg: ChatMessage, flag: MessageFlag): string[];
  welcome(result: LoginResult): string[];
  users(users: readonly UserInfo[]): string[];
  count(count: CountResult): string[];
  top(top: TopResult): string[];
  /** A history page; `limit` is what was asked (for the "older messages" hint). */
  history(page: HistoryResult, query: { with?: string; limit: number }): string[];
  help(): string[];
  /** The final line of a command that succeeded. Empty in human view when nothing to say. */
  ok(command: string, sentence: string): string[];
  /** The final line of a command that failed. */
  error(code: string, sentence: string): string[];
}

/** Commands whose output already shows the result; no confirmation line for a person. */
const QUIET_IN_HUMAN_VIEW: ReadonlySet<string> = new Set([
  "send",
  "users",
  "count",
  "top",
  "history",
  "help",
  "menu",
]);

/**
 * Lines for a person: times, names, colour when asked.
 *
 * @example
 * ```ts
 * const view = humanView({ color: false, clock: () => "12:00", me: "alice" });
 * view.error("USAGE", "Unknown command"); // ["! Unknown command"]
 * ```
 */
export function humanView(o: FormatOptions): View {
  return {
    event(event) {
      switch (event.kind) {
        case "message":
          return [formatMessage(event.msg, event.away, o)];
        case "presence":
          return [formatPresence(event.user, event.online, event.reason, o)];
        case "backlog": {
          const line = formatBacklog(event.private, event.group, event.skipped, o);
          return line === null ? [] : [line];
        }
        case "nick":
          return [formatNick(event.name, event.old, event.nickname, o)];
        case "status":
          return [formatStatus(event.state, event.retryInMs, o)];
        case "notice":
          return [formatNotice(event.text, o)];
        case "ended":
          return [formatError(`Your session ended: ${sanitize(event.reason)}`, o)];
      }
    },
    message: (msg, flag) => [formatMessage(msg, flag === "away", o)],
    welcome: (result) => formatWelcome(result, o),
    users: (users) => formatUsers(users, o),
    count: (count) => [formatCount(count)],
    top: (top) => formatTop(top, o),
    history: (page, query) => formatHistory(page, query, o),
    help: () => [...CHAT_HELP],
    ok: (command, sentence) =>
      sentence && !QUIET_IN_HUMAN_VIEW.has(command) ? [formatInfo(sentence, o)] : [],
    error: (_code, sentence) => [formatError(sentence, o)],
  };
}

/** Joins fields with TAB, each sanitized (so none holds a TAB or a line break). */
export function lineOf(prefix: string, ...fields: (string | number | undefined)[]): string {
  return [prefix, ...fields.map((f) => f === undefined ? "-" : sanitize(String(f)))].join("\t");
}

function iso(ts: number): string {
  const date = new Date(ts);
  return Number.isNaN(date.getTime()) ? "-" : date.toISOString();
}

/**
 * One-line-per-event rendering for line mode (see the module documentation for the format).
 *
 * @example
 * ```ts
 * lineView().message({ id: 7, ts: 0, from: "bob", nick: "Bob", text: "hi" }, "new");
 * // ["MSG\t7\t1970-01-01T00:00:00.000Z\tbob\tBob\tnew\thi"]
 * ```
 */
export function lineView(): View {
  const message = (m: ChatMessage, flag: MessageFlag): string[] => [
    m.to === undefined
      ? lineOf("MSG", m.id, iso(m.ts), m.from, m.nick, flag, m.text)
      : lineOf("PM", m.id, iso(m.ts), m.from, m.to, m.nick, flag, m.text),
  ];
  return {
    event(event) {
      switch (event.kind) {
        case "message":
          return message(event.msg, event.away ? "away" : "new");
        case "presence":
          return [
            event.online
              ? lineOf("ONLINE", event.user.name, event.user.nickname)
              : lineOf("OFFLINE", event.user.name, event.user.nickname, event.reason ?? "logout"),
          ];
        case "backlog":
          return [lineOf("BACKLOG", event.private, event.group, event.skipped)];
        case "nick":
          return [lineOf("NICK", event.name, event.old, event.nickname)];
        case "status": {
          const secs = event.retryInMs === undefined
            ? undefined
            : Math.ceil(event.retryInMs / 1000);
          const sentence = event.state === "connected"
            ? "Reconnected."
            : `Connection lost; reconnecting${secs === undefined ? "" : ` in ${secs}s`}.`;
          return [lineOf("STATUS", event.state, secs, sentence)];
        }
        case "notice":
          return [lineOf("NOTICE", event.text)];
        case "ended":
          return [lineOf("ENDED", `Your session ended: ${event.reason}`)];
      }
    },
    message,
    welcome: (result) => [
      lineOf("OK", "login", `Logged in as ${displayName(result.user)}.`),
      ...(result.notice ? [lineOf("NOTICE", result.notice)] : []),
    ],
    users: (users) => users.map((u) => lineOf("USER", u.name, u.nickname)),
    count: (c) => [lineOf("COUNT", c.users, c.sessions)],
    top: (top) => [
      ...top.today.map((e, i) => lineOf("TOP", "today", i + 1, e.name, e.nickname, e.count)),
      ...top.allTime.map((e, i) => lineOf("TOP", "all", i + 1, e.name, e.nickname, e.count)),
    ],
    history: (page) => page.messages.flatMap((m) => message(m, "history")),
    help: () => CHAT_HELP.map((line) => lineOf("HELP", line)),
    ok: (command, sentence) => [lineOf("OK", command, sentence || "Done.")],
    error: (code, sentence) => [lineOf("ERROR", code, sentence)],
  };
}
