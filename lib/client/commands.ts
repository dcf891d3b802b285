/**
 * Parses one line typed in the chat screen into a command. Pure code, no wording: a bad
 * line gives a `usage` or `unknown` result that the UI puts into the user's language.
 *
 * - plain text goes to the current window, exactly as typed (spaces and line breaks kept);
 * - `//text` sends `/text` literally;
 * - wherever a user is named, a login name or a nickname may be given (the server resolves
 *   both); wherever a room is named, a leading `#` is allowed;
 * - commands are listed in {@linkcode COMMANDS} with their aliases.
 *
 * @module
 */

/** Presence display modes of `/set presence`. */
export type PresenceMode = "off" | "summary" | "all";

/** A parsed chat input line. */
export type Command =
  | { kind: "say"; text: string; action?: boolean }
  | { kind: "msg"; to: string; text: string }
  | { kind: "query"; user: string; text?: string }
  | { kind: "reply"; text?: string }
  | { kind: "join"; room: string }
  | { kind: "part"; room?: string }
  | { kind: "rooms"; query?: string }
  | { kind: "create"; room: string; public: boolean; title?: string }
  | {
    kind: "roomUser";
    action: "invite" | "kick" | "ban" | "unban" | "transfer";
    user: string;
    room?: string;
  }
  | { kind: "topic"; topic?: string; room?: string }
  | { kind: "members"; room?: string }
  | { kind: "win"; n: number }
  | { kind: "next" }
  | { kind: "close" }
  | { kind: "away"; reason?: string }
  | { kind: "ignore"; user?: string }
  | { kind: "unignore"; user: string }
  | { kind: "set"; name: "presence"; value: PresenceMode }
  | { kind: "set"; name: "bell"; value: boolean }
  | { kind: "users" }
  | { kind: "count"; room?: string }
  | { kind: "top"; limit?: number; room?: boolean }
  | { kind: "nick"; nickname: string }
  | { kind: "history"; limit?: number; before?: number }
  | { kind: "windows" }
  | { kind: "clear" }
  | { kind: "help"; topic?: string }
  | { kind: "quit" }
  | { kind: "usage"; command: CommandName }
  | { kind: "unknown"; name: string; guess?: CommandName };

/** Every command with its aliases; the first name is the one shown in help. */
export const COMMANDS = {
  msg: ["m", "w"],
  query: ["q"],
  reply: ["r"],
  me: [],
  join: ["j"],
  part: ["leave"],
  rooms: ["list"],
  create: [],
  invite: [],
  kick: [],
  ban: [],
  unban: [],
  transfer: [],
  topic: [],
  members: ["names"],
  win: ["window"],
  next: [],
  windows: [],
  close: [],
  away: [],
  back: [],
  ignore: [],
  unignore: [],
  set: [],
  users: ["who"],
  count: [],
  top: [],
  nick: [],
  history: ["hist"],
  clear: [],
  help: ["?"],
  quit: ["exit", "logout"],
} as const satisfies Record<string, readonly string[]>;

/** A command's main name. */
export type CommandName = keyof typeof COMMANDS;

/** Command names for completion: main names first. */
export const COMMAND_NAMES: readonly CommandName[] = Object.keys(COMMANDS) as CommandName[];

const ALIASES: ReadonlyMap<string, CommandName> = new Map(
  COMMAND_NAMES.flatMap((name) => [
    [name, name] as const,
    ...COMMANDS[name].map((alias) => [alias, name] as const),
  ]),
);

/** Most messages `/history` and `/top` ask for. */
export const LIST_MAX = 200;

/**
 * Parses a line typed in the chat screen; `null` for a blank line.
 *
 * @example
 * ```ts
 * parseCommand("/msg bob hello   there"); // { kind: "msg", to: "bob", text: "hello   there" }
 * parseCommand("//shrug"); // { kind: "say", text: "/shrug" }
 * parseCommand("/join #rust"); // { kind: "join", room: "rust" }
 * ```
 */
export function parseCommand(line: string): Command | null {
  if (line.trim() === "") return null;
  const start = line.trimStart();
  if (!start.startsWith("/")) return { kind: "say", text: line };
  if (start.startsWith("//")) return { kind: "say", text: start.slice(1) };
  const match = /^\/(\S+)(?:[ \t]+([\s\S]*))?$/.exec(start.trimEnd());
  if (!match) return { kind: "say", text: line };
  const typed = match[1].toLowerCase();
  const rest = match[2] ?? "";
  const args = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  const name = ALIASES.get(typed);
  if (name === undefined) return unknown(typed);
  const usage: Command = { kind: "usage", command: name };
  switch (name) {
    case "msg": {
      const m = /^(\S+)\s+([\s\S]*\S[\s\S]*)$/.exec(rest);
      return m ? { kind: "msg", to: userArg(m[1]), text: m[2] } : usage;
    }
    case "query": {
      const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
      if (!m) return usage;
      const text = m[2]?.trim() ? m[2] : undefined;
      return text === undefined ? { kind: "query", user: userArg(m[1]) } : {
        kind: "query",
        user: userArg(m[1]),
        text,
      };
    }
    case "reply":
      return rest.trim() === "" ? { kind: "reply" } : { kind: "reply", text: rest };
    case "me":
      return rest.trim() === "" ? usage : { kind: "say", text: rest, action: true };
    case "join":
      return args.length === 1 ? { kind: "join", room: roomArg(args[0]) } : usage;
    case "part":
      if (args.length > 1) return usage;
      return args.length === 0 ? { kind: "part" } : { kind: "part", room: roomArg(args[0]) };
    case "rooms":
      if (args.length > 1) return usage;
      return args.length === 0 ? { kind: "rooms" } : { kind: "rooms", query: roomArg(args[0]) };
    case "create": {
      if (args.length === 0) return usage;
      let isPublic = true;
      const words = args.slice(1);
      if (words[0] === "private" || words[0] === "invite-only" || words[0] === "-p") {
        isPublic = false;
        words.shift();
      }
      const title = words.join(" ");
      const out: Command = { kind: "create", room: roomArg(args[0]), public: isPublic };
      return title === "" ? out : { ...out, title };
    }
    case "invite":
    case "kick":
    case "ban":
    case "unban":
    case "transfer": {
      if (args.length < 1 || args.length > 2) return usage;
      const out: Command = { kind: "roomUser", action: name, user: userArg(args[0]) };
      return args.length === 2 ? { ...out, room: roomArg(args[1]) } : out;
    }
    case "topic": {
      if (rest.trim() === "") return { kind: "topic" };
      const m = /^#(\S+)(?:\s+([\s\S]*))?$/.exec(rest.trim());
      if (m) return { kind: "topic", room: m[1].toLowerCase(), topic: m[2] ?? "" };
      return { kind: "topic", topic: rest.trim() };
    }
    case "members":
      if (args.length > 1) return usage;
      return args.length === 0 ? { kind: "members" } : { kind: "members", room: roomArg(args[0]) };
    case "win": {
      const n = args.length === 1 && /^\d{1,3}$/.test(args[0]) ? Number(args[0]) : 0;
      return n >= 1 ? { kind: "win", n } : usage;
    }
    case "next":
      return { kind: "next" };
    case "windows":
      return { kind: "windows" };
    case "close":
      return { kind: "close" };
    case "away":
      return rest.trim() === "" ? { kind: "away" } : { kind: "away", reason: rest.trim() };
    case "back":
      return { kind: "away" };
    case "ignore":
      if (args.length > 1) return usage;
      return args.length === 0 ? { kind: "ignore" } : { kind: "ignore", user: userArg(args[0]) };
    case "unignore":
      return args.length === 1 ? { kind: "unignore", user: userArg(args[0]) } : usage;
    case "set":
      return parseSet(args) ?? usage;
    case "users":
      return { kind: "users" };
    case "count":
      if (args.length > 1) return usage;
      return args.length === 0 ? { kind: "count" } : { kind: "count", room: roomArg(args[0]) };
    case "top": {
      let limit: number | undefined;
      let room = false;
      for (const arg of args) {
        if (arg === "here" || arg === "room") room = true;
        else if (limit === undefined && count(arg) !== undefined) limit = count(arg);
        else return usage;
      }
      const out: Command = { kind: "top" };
      if (limit !== undefined) out.limit = limit;
      if (room) out.room = true;
      return out;
    }
    case "nick":
      return rest.trim() === "" ? usage : { kind: "nick", nickname: rest.trim() };
    case "history":
      return parseHistory(args) ?? usage;
    case "clear":
      return { kind: "clear" };
    case "help":
      return args.length === 0
        ? { kind: "help" }
        : { kind: "help", topic: args[0].replace(/^\//, "") };
    case "quit":
      return { kind: "quit" };
  }
}

function parseSet(args: string[]): Command | null {
  if (args.length !== 2) return null;
  const [name, value] = [args[0].toLowerCase(), args[1].toLowerCase()];
  if (name === "presence" && (value === "off" || value === "summary" || value === "all")) {
    return { kind: "set", name, value };
  }
  if (name === "bell" && /^(on|off)$/.test(value)) {
    return { kind: "set", name, value: value === "on" };
  }
  return null;
}

function parseHistory(args: string[]): Command | null {
  const out: { kind: "history"; limit?: number; before?: number } = { kind: "history" };
  let i = 0;
  if (i < args.length && /^\d+$/.test(args[i])) {
    const limit = count(args[i++]);
    if (limit === undefined) return null;
    out.limit = limit;
  }
  if (i < args.length && args[i].toLowerCase() === "before") {
    const seq = args[i + 1];
    if (seq === undefined || !/^\d{1,15}$/.test(seq) || Number(seq) < 1) return null;
    out.before = Number(seq);
    i += 2;
  }
  return i === args.length ? out : null;
}

function userArg(token: string): string {
  return token.startsWith("@") && token.length > 1 ? token.slice(1) : token;
}

function roomArg(token: string): string {
  return (token.startsWith("#") && token.length > 1 ? token.slice(1) : token).toLowerCase();
}

function count(token: string): number | undefined {
  if (!/^\d{1,6}$/.test(token)) return undefined;
  const n = Number(token);
  return n >= 1 && n <= LIST_MAX ? n : undefined;
}

function unknown(name: string): Command {
  const guess = COMMAND_NAMES.find((c) => c.startsWith(name)) ??
    COMMAND_NAMES.find((c) => editDistance(c, name) <= (name.length > 3 ? 2 : 1));
  const shown = name.slice(0, 30);
  return guess ? { kind: "unknown", name: shown, guess } : { kind: "unknown", name: shown };
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
