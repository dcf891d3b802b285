/**
 * Parses one line typed in the chat screen into a command. Pure code.
 *
 * - plain text sends to everyone, exactly as typed (spaces kept);
 * - `//text` sends `/text` literally;
 * - `/msg <user> <text>` sends privately: the text is everything after the whitespace that
 *   follows the user name, with all its spaces (the original client cut it at the first
 *   space);
 * - `/users`, `/count`, `/top [n]`, `/nick <nickname...>`, `/menu`, `/help`, `/quit`;
 * - `/history [user] [n] [before <id>]`; a user whose login name is all digits is written
 *   with a leading `@` (`/history @123`), which is accepted wherever a user is expected;
 * - blank lines give `null` (ignored); anything else starting with `/` is an `error`
 *   with a sentence for the user.
 *
 * @module
 */

/** A parsed chat input line. */
export type Command =
  | { kind: "send"; text: string; to?: string }
  | { kind: "users" }
  | { kind: "count" }
  | { kind: "top"; limit?: number }
  | { kind: "nick"; nickname: string }
  | { kind: "history"; with?: string; limit?: number; before?: number }
  | { kind: "menu" }
  | { kind: "help" }
  | { kind: "quit" }
  | { kind: "error"; message: string };

/** Command names, for the help and for "did you mean". */
export const COMMAND_NAMES = [
  "msg",
  "users",
  "count",
  "top",
  "nick",
  "history",
  "menu",
  "help",
  "quit",
] as const;

/** Most messages `/history` and `/top` ask for. */
export const LIST_MAX = 200;

const HISTORY_USAGE = "Usage: /history [user] [n] [before <id>]";

/**
 * Parses a line typed in the chat screen.
 *
 * @example
 * ```ts
 * parseCommand("/msg bob hello   there"); // { kind: "send", to: "bob", text: "hello   there" }
 * parseCommand("//shrug"); // { kind: "send", text: "/shrug" }
 * parseCommand("   "); // null
 * ```
 */
export function parseCommand(line: string): Command | null {
  if (line.trim() === "") return null;
  const start = line.trimStart();
  if (!start.startsWith("/")) return { kind: "send", text: line };
  if (start.startsWith("//")) return { kind: "send", text: start.slice(1) };
  const match = /^\/(\S+)\s*([\s\S]*)$/.exec(start)!;
  const name = match[1].toLowerCase();
  const rest = match[2];
  const args = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  switch (name) {
    case "msg":
    case "m":
    case "w":
      return parseMsg(rest);
    case "users":
    case "who":
      return noArgs({ kind: "users" }, args, name);
    case "count":
      return noArgs({ kind: "count" }, args, name);
    case "menu":
      return noArgs({ kind: "menu" }, args, name);
    case "help":
    case "?":
      return { kind: "help" };
    case "quit":
    case "exit":
    case "logout":
      return { kind: "quit" };
    case "nick": {
      const nickname = rest.trim();
      if (nickname === "") return error("Usage: /nick <new nickname>");
      return { kind: "nick", nickname };
    }
    case "top": {
      if (args.length === 0) return { kind: "top" };
      const limit = count(args[0]);
      if (args.length > 1 || limit === undefined) {
        return error(`Usage: /top [n], where n is a number from 1 to ${LIST_MAX}`);
      }
      return { kind: "top", limit };
    }
    case "history":
    case "hist":
      return parseHistory(args);
    default:
      return error(unknownCommand(name));
  }
}

function error(message: string): Command {
  return { kind: "error", message };
}

function noArgs(command: Command, args: string[], name: string): Command {
  return args.length === 0 ? command : error(`/${name} takes no arguments.`);
}

function parseMsg(rest: string): Command {
  const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
  if (!match) return error("Usage: /msg <user> <text>");
  const to = userArg(match[1]);
  const text = match[2] ?? "";
  if (text.trim() === "") return error(`Write the message after the name: /msg ${match[1]} <text>`);
  return { kind: "send", to, text };
}

function userArg(token: string): string {
  return token.startsWith("@") && token.length > 1 ? token.slice(1) : token;
}

function count(token: string): number | undefined {
  if (!/^\d{1,6}$/.test(token)) return undefined;
  const n = Number(token);
  return n >= 1 && n <= LIST_MAX ? n : undefined;
}

function parseHistory(args: string[]): Command {
  const out: { kind: "history"; with?: string; limit?: number; before?: number } = {
    kind: "history",
  };
  let i = 0;
  if (i < args.length && !/^\d+$/.test(args[i]) && args[i].toLowerCase() !== "before") {
    out.with = userArg(args[i++]);
  }
  if (i < args.length && /^\d+$/.test(args[i])) {
    const limit = count(args[i++]);
    if (limit === undefined) return error(`${HISTORY_USAGE} — n is a number from 1 to ${LIST_MAX}`);
    out.limit = limit;
  }
  if (i < args.length && args[i].toLowerCase() === "before") {
    const id = args[i + 1];
    if (id === undefined || !/^\d{1,15}$/.test(id) || Number(id) < 1) {
      return error(`${HISTORY_USAGE} — after "before" give a message id`);
    }
    out.before = Number(id);
    i += 2;
  }
  if (i < args.length) return error(HISTORY_USAGE);
  return out;
}

function unknownCommand(name: string): string {
  const guess = COMMAND_NAMES.find((c) => c.startsWith(name)) ??
    COMMAND_NAMES.find((c) => editDistance(c, name) <= (name.length > 3 ? 2 : 1));
  const hint = guess ? ` Did you mean /${guess}?` : "";
  return `Unknown command "/${name.slice(0, 30)}".${hint} Type /help for the list, ` +
    `or start with // to send a message beginning with "/".`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
