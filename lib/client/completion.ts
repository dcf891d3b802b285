/**
 * Tab completion of commands, rooms, nicknames and login names. Pure code: the editor's
 * text and cursor go in, the replacement comes out; pressing Tab again cycles.
 *
 * @module
 */

import { COMMAND_NAMES } from "./commands.ts";

/** What can be completed. */
export interface CompletionSources {
  /** Known users: nickname and login name of each. */
  users: readonly { name: string; nickname: string }[];
  /** Known room names (without `#`). */
  rooms: readonly string[];
}

/** A completion in progress: the word being completed and its candidates. */
export interface Completion {
  /** Where the completed word starts in the text. */
  start: number;
  /** Candidates, each already with its suffix (`": "` or `" "`). */
  candidates: string[];
  /** Index of the candidate now in the text. */
  index: number;
  /** The text after the completed word (kept as is). */
  after: string;
  /** The text before the completed word. */
  before: string;
}

/** Commands whose first argument is a room. */
const ROOM_COMMANDS = new Set(["join", "j", "part", "leave", "members", "names", "count", "topic"]);
/** Commands whose first argument is a user. */
const USER_COMMANDS = new Set([
  "msg",
  "m",
  "w",
  "query",
  "q",
  "invite",
  "kick",
  "ban",
  "unban",
  "transfer",
  "ignore",
  "unignore",
]);

/**
 * Starts a completion for the word before `cursor`; `null` when nothing matches.
 *
 * - the first word, starting with `/`: command names;
 * - a word starting with `#`, or the argument of `/join`, `/part`, `/members`…: rooms;
 * - otherwise users, by nickname and login name (a user at the very start of the line gets
 *   `": "` after it, as people address each other in chat).
 *
 * @example
 * ```ts
 * const c = startCompletion("/jo", 3, { users: [], rooms: [] });
 * c?.candidates; // ["/join "]
 * ```
 */
export function startCompletion(
  text: string,
  cursor: number,
  sources: CompletionSources,
): Completion | null {
  const before = text.slice(0, cursor);
  const start = Math.max(before.lastIndexOf(" "), before.lastIndexOf("\n")) + 1;
  const word = before.slice(start);
  const head = before.slice(0, start);
  const after = text.slice(cursor);
  const firstWord = head.trim() === "";
  const command = /^\/(\S+)\s+$/.exec(head)?.[1]?.toLowerCase();
  let candidates: string[];
  if (firstWord && word.startsWith("/")) {
    const prefix = word.slice(1).toLowerCase();
    candidates = COMMAND_NAMES.filter((c) => c.startsWith(prefix)).map((c) => `/${c} `);
  } else if (word.startsWith("#") || (command !== undefined && ROOM_COMMANDS.has(command))) {
    const hash = word.startsWith("#");
    const prefix = (hash ? word.slice(1) : word).toLowerCase();
    candidates = [...new Set(sources.rooms)].filter((r) => r.startsWith(prefix)).sort()
      .map((r) => `${hash ? "#" : ""}${r} `);
  } else {
    const prefix = word.replace(/^@/, "").toLowerCase();
    const userArgument = command !== undefined && USER_COMMANDS.has(command);
    if (prefix === "" && !userArgument) return null;
    const suffix = firstWord && command === undefined ? ": " : " ";
    const seen = new Set<string>();
    candidates = [];
    const users = [...sources.users].sort((a, b) => a.nickname.localeCompare(b.nickname));
    for (const user of users) {
      for (const option of [user.nickname, user.name]) {
        // A nickname with spaces cannot be one argument: the login name stands for it.
        const spaced = command !== undefined && /\s/.test(option);
        if (!spaced && option.toLowerCase().startsWith(prefix) && !seen.has(option)) {
          seen.add(option);
          candidates.push(option + suffix);
        }
      }
    }
  }
  if (candidates.length === 0) return null;
  return { start, candidates, index: 0, after, before: head };
}

/**
 * The text and cursor with the completion's current candidate in place.
 *
 * @example
 * ```ts
 * const c = startCompletion("hi al", 5, { users: [{ name: "alice", nickname: "Al" }], rooms: [] })!;
 * applyCompletion(c); // { text: "hi Al ", cursor: 6 }
 * ```
 */
export function applyCompletion(c: Completion): { text: string; cursor: number } {
  const chosen = c.candidates[c.index];
  return { text: c.before + chosen + c.after, cursor: c.before.length + chosen.length };
}

/** The same completion on its next candidate (Tab again), or the previous one (Shift-Tab). */
export function cycleCompletion(c: Completion, step: 1 | -1 = 1): Completion {
  const n = c.candidates.length;
  return { ...c, index: (c.index + step + n) % n };
}
