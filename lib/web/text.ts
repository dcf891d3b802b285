/**
 * How message text is prepared for display: control and bidi-override characters made
 * visible, the text cut into plain runs, mentions and web links, mention detection, and
 * times. The DOM layer puts every run in as text (`textContent`): nothing here is HTML.
 *
 * @module
 */

import type { UserInfo } from "../protocol/messages.ts";

// deno-lint-ignore no-control-regex
const UNSAFE_RE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes characters that could disguise text visible: C0 controls (but tab and line feed)
 * become control pictures, C1 controls and bidirectional overrides become `\uFFFD`.
 * Unpaired surrogates become `\uFFFD` too.
 *
 * @example
 * ```ts
 * neutralize("a\x1b[2Jb"); // "a␛[2Jb"
 * neutralize("abc\u202Edef"); // "abc\uFFFDdef"
 * ```
 */
export function neutralize(text: string): string {
  return text.toWellFormed().replace(UNSAFE_RE, (ch) => {
    const code = ch.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return "\u2421";
    return "\uFFFD";
  });
}

/** One run of a message's text. */
export type Segment =
  | { kind: "text"; text: string }
  | { kind: "mention"; text: string; me: boolean }
  | { kind: "link"; text: string; href: string };

// A link starts with http:// or https:// and runs to whitespace; trailing punctuation stays out.
const LINK_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const MENTION_RE = /(^|[^\p{L}\p{N}_.@-])@([\p{L}\p{N}_.-]+)/gu;
const TRAILING_RE = /[.,;:!?)\]}]+$/;

/**
 * The address a link run may point to: only `http:` and `https:` URLs, normalised by the URL
 * parser; anything else (such as `javascript:`) is not a link.
 *
 * @example
 * ```ts
 * safeHref("https://example.com/a b"); // null (the run stops at whitespace anyway)
 * safeHref("javascript:alert(1)"); // null
 * ```
 */
export function safeHref(text: string): string | null {
  if (!/^https?:\/\//i.test(text)) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Cuts neutralised text into plain runs, `@mentions` (marked when they name `me` by login
 * name or nickname) and http(s) links.
 *
 * @example
 * ```ts
 * segments("hi @alice see https://x.example", { name: "alice", nickname: "Al" });
 * // [text "hi ", mention "@alice" (me), text " see ", link "https://x.example"]
 * ```
 */
export function segments(text: string, me: UserInfo | null): Segment[] {
  const clean = neutralize(text);
  const out: Segment[] = [];
  const pushText = (part: string) => {
    if (part === "") return;
    const last = out[out.length - 1];
    if (last?.kind === "text") last.text += part;
    else out.push({ kind: "text", text: part });
  };
  let at = 0;
  for (const match of clean.matchAll(LINK_RE)) {
    const raw = match[0].replace(TRAILING_RE, "");
    const href = safeHref(raw);
    if (href === null) continue;
    mentionRuns(clean.slice(at, match.index), me, out, pushText);
    out.push({ kind: "link", text: raw, href });
    at = match.index + raw.length;
  }
  mentionRuns(clean.slice(at), me, out, pushText);
  return out;
}

function mentionRuns(
  text: string,
  me: UserInfo | null,
  out: Segment[],
  pushText: (part: string) => void,
): void {
  let at = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    const start = match.index + match[1].length;
    const word = match[2].replace(/[.-]+$/, "");
    if (word === "") continue;
    pushText(text.slice(at, start));
    out.push({ kind: "mention", text: `@${word}`, me: me !== null && namesMe(word, me) });
    at = start + 1 + word.length;
  }
  pushText(text.slice(at));
}

function namesMe(word: string, me: UserInfo): boolean {
  const lower = word.toLowerCase();
  return lower === me.name || lower === me.nickname.toLowerCase();
}

/**
 * Whether a message's text mentions `me`: `@name` or `@nickname` (any letter case; a
 * nickname with spaces counts when it follows the `@` whole).
 *
 * @example
 * ```ts
 * mentionsMe("thanks @Alice!", { name: "alice", nickname: "Al" }); // true
 * mentionsMe("alice@example.com", { name: "alice", nickname: "Al" }); // false
 * ```
 */
export function mentionsMe(text: string, me: UserInfo): boolean {
  const lower = text.toLowerCase();
  for (const name of new Set([me.name, me.nickname.toLowerCase()])) {
    if (name === "") continue;
    let from = 0;
    for (;;) {
      const index = lower.indexOf(`@${name}`, from);
      if (index < 0) break;
      const before = index === 0 ? "" : lower[index - 1];
      const after = lower.slice(index + 1 + name.length).match(/^./u)?.[0] ?? "";
      if (!/[\p{L}\p{N}_.@-]/u.test(before) && !/[\p{L}\p{N}_]/u.test(after)) return true;
      from = index + 1;
    }
  }
  return false;
}

/**
 * `HH:MM` for a time today, `YYYY-MM-DD HH:MM` otherwise, in the time zone whose offset
 * (minutes behind UTC, as `Date#getTimezoneOffset`) `offset` gives for a time.
 *
 * @example
 * ```ts
 * formatTime(Date.UTC(2026, 0, 2, 9, 5), Date.UTC(2026, 0, 2, 12), () => 0); // "09:05"
 * formatTime(Date.UTC(2026, 0, 1, 9, 5), Date.UTC(2026, 0, 2, 12), () => 0); // "2026-01-01 09:05"
 * ```
 */
export function formatTime(ts: number, now: number, offset: (ts: number) => number): string {
  const local = new Date(ts - offset(ts) * 60_000);
  const today = new Date(now - offset(now) * 60_000);
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}`;
  const day = `${local.getUTCFullYear()}-${two(local.getUTCMonth() + 1)}-${
    two(local.getUTCDate())
  }`;
  const sameDay = local.getUTCFullYear() === today.getUTCFullYear() &&
    local.getUTCMonth() === today.getUTCMonth() && local.getUTCDate() === today.getUTCDate();
  return sameDay ? time : `${day} ${time}`;
}

/**
 * The delay before reconnect attempt `attempt` (0 first): doubling from 0.5 s up to 30 s,
 * each drawn between half and all of that so many clients do not come back at once.
 *
 * @example
 * ```ts
 * reconnectDelay(0, () => 1); // 500
 * reconnectDelay(10, () => 0); // 15000
 * ```
 */
export function reconnectDelay(attempt: number, random: () => number): number {
  const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random() / 2));
}
