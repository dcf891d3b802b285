/**
 * What the client keeps across restarts: the input history, the ignore list, and the
 * presence and bell settings. Pure code: parsing never throws (a damaged file gives the
 * defaults), the caller reads and writes the files (`ui/state_dir.ts`).
 *
 * @module
 */

import type { PresenceMode } from "./commands.ts";
import { HISTORY_MAX } from "./line_editor.ts";

/** The kept settings. */
export interface Settings {
  /** Login names (or nickname keys, for users not known by login name) not shown. */
  ignore: string[];
  presence: PresenceMode;
  bell: boolean;
}

/** Settings of a first start. */
export const DEFAULT_SETTINGS: Settings = { ignore: [], presence: "summary", bell: true };

/**
 * Reads settings from JSON text; unknown or bad fields take their defaults.
 *
 * @example
 * ```ts
 * parseSettings('{"ignore":["bob"]}').ignore; // ["bob"]
 * parseSettings("not json").presence; // "summary"
 * ```
 */
export function parseSettings(text: string | null): Settings {
  let value: unknown;
  try {
    value = text === null ? {} : JSON.parse(text);
  } catch {
    value = {};
  }
  const o = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const ignore = Array.isArray(o.ignore)
    ? [...new Set(o.ignore.filter((x): x is string => typeof x === "string" && x !== ""))]
    : [];
  const presence = o.presence === "off" || o.presence === "all" || o.presence === "summary"
    ? o.presence
    : DEFAULT_SETTINGS.presence;
  const bell = typeof o.bell === "boolean" ? o.bell : DEFAULT_SETTINGS.bell;
  return { ignore, presence, bell };
}

/** Settings as JSON text. */
export function formatSettings(settings: Settings): string {
  return JSON.stringify(settings, null, 2) + "\n";
}

/**
 * Reads the input history: one JSON string per line (so multi-line entries survive), the
 * newest last; bad lines are skipped.
 *
 * @example
 * ```ts
 * parseHistory('"hi"\n"two\\nlines"\n'); // ["hi", "two\nlines"]
 * ```
 */
export function parseHistory(text: string | null): string[] {
  if (text === null) return [];
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const value = JSON.parse(line);
      if (typeof value === "string") out.push(value);
    } catch {
      // a damaged line: skip it
    }
  }
  return out.slice(-HISTORY_MAX);
}

/** The input history as file text. */
export function formatHistory(entries: readonly string[]): string {
  return entries.slice(-HISTORY_MAX).map((e) => JSON.stringify(e) + "\n").join("");
}

/**
 * The directory for kept state: `$XDG_STATE_HOME/imchat`, else `~/.local/state/imchat`;
 * null when neither is known.
 *
 * @example
 * ```ts
 * stateDir((n) => n === "HOME" ? "/home/al" : undefined); // "/home/al/.local/state/imchat"
 * ```
 */
export function stateDir(env: (name: string) => string | undefined): string | null {
  const xdg = env("XDG_STATE_HOME");
  if (xdg) return `${xdg}/imchat`;
  const home = env("HOME") ?? env("USERPROFILE");
  return home ? `${home}/.local/state/imchat` : null;
}
