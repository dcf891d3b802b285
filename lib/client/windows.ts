/**
 * The chat windows: one status window, one per room and one per private conversation, each
 * with its lines, unread and mention counts, and the marker line where unread lines start.
 * Pure code.
 *
 * @module
 */

/** What a window shows. */
export type WindowKind = "status" | "room" | "query";

/** One window. */
export interface ChatWindow {
  kind: WindowKind;
  /** Room name, the peer's login name (or, until it is known, what the user typed), or "". */
  name: string;
  /** Display lines (already formatted). */
  lines: string[];
  /** Chat messages added while the window was not shown. */
  unread: number;
  /** Of them, messages that mention the user (or private messages). */
  mentions: number;
  /** Index in `lines` of the first line added while away, or null. */
  marker: number | null;
  /** Rows scrolled up from the bottom. */
  scroll: number;
  /** Lines of own messages not yet accepted by the server, by outbox ref (shown last). */
  pending: Map<number, string[]>;
}

/** Most lines a window keeps. */
export const WINDOW_LINES = 2000;

/** The key of a window. */
export function windowKey(kind: WindowKind, name: string): string {
  return kind === "status" ? "status" : `${kind === "room" ? "#" : "@"}${name}`;
}

/**
 * The list of windows and which one is shown. Window 1 is the status window.
 *
 * @example
 * ```ts
 * const w = new WindowList();
 * w.ensure("room", "lobby");
 * w.add("room", "lobby", "<bob> hi", { message: true });
 * w.list[1].unread; // 1
 * w.select(2);
 * w.list[1].unread; // 0
 * ```
 */
export class WindowList {
  readonly list: ChatWindow[] = [newWindow("status", "")];
  #current = 0;

  /** The index (0-based) of the window shown. */
  get currentIndex(): number {
    return this.#current;
  }

  /** The window shown. */
  get current(): ChatWindow {
    return this.list[this.#current];
  }

  /** The window of `kind`/`name`, or undefined. */
  find(kind: WindowKind, name: string): ChatWindow | undefined {
    if (kind === "status") return this.list[0];
    return this.list.find((w) => w.kind === kind && w.name === name);
  }

  /** The window of `kind`/`name`, created at the end when missing. */
  ensure(kind: WindowKind, name: string): ChatWindow {
    let window = this.find(kind, name);
    if (!window) {
      window = newWindow(kind, name);
      this.list.push(window);
    }
    return window;
  }

  /**
   * Adds lines to a window (created when missing). `message` lines count as unread when the
   * window is not shown, `mention` ones as mentions too.
   */
  add(
    kind: WindowKind,
    name: string,
    lines: string | readonly string[],
    flags: { message?: boolean; mention?: boolean } = {},
  ): ChatWindow {
    const window = this.ensure(kind, name);
    const added = typeof lines === "string" ? [lines] : lines;
    const shown = window === this.current;
    if (!shown && flags.message) {
      if (window.marker === null) window.marker = window.lines.length;
      window.unread++;
      if (flags.mention) window.mentions++;
    }
    window.lines.push(...added);
    if (shown && window.scroll > 0) window.scroll += added.length;
    const excess = window.lines.length - WINDOW_LINES;
    if (excess > 0) {
      window.lines.splice(0, excess);
      if (window.marker !== null) window.marker = Math.max(0, window.marker - excess);
    }
    return window;
  }

  /**
   * Shows window `n` (1-based); returns false when there is none. The window left loses its
   * marker; the one shown keeps it (where its unread lines start) until it is left.
   */
  select(n: number): boolean {
    const index = n - 1;
    if (index < 0 || index >= this.list.length) return false;
    if (index === this.#current) return true;
    this.current.marker = null;
    this.current.scroll = 0;
    this.#current = index;
    this.current.unread = 0;
    this.current.mentions = 0;
    return true;
  }

  /** Shows the window of `kind`/`name` (created when missing). */
  show(kind: WindowKind, name: string): ChatWindow {
    const window = this.ensure(kind, name);
    this.select(this.list.indexOf(window) + 1);
    return window;
  }

  /**
   * The number (1-based) of the next window with unread messages after the current one,
   * windows with mentions first; null when none has any.
   */
  nextUnread(): number | null {
    const n = this.list.length;
    for (const wanted of ["mentions", "unread"] as const) {
      for (let step = 1; step < n; step++) {
        const i = (this.#current + step) % n;
        if (this.list[i][wanted] > 0) return i + 1;
      }
    }
    return null;
  }

  /** Closes a window (not the status window); the one before it is shown if it was. */
  close(window: ChatWindow): void {
    const index = this.list.indexOf(window);
    if (index <= 0) return;
    const wasCurrent = index === this.#current;
    this.list.splice(index, 1);
    if (wasCurrent) {
      this.#current = index - 1;
      this.current.unread = 0;
      this.current.mentions = 0;
    } else if (index < this.#current) this.#current--;
  }

  /** Renames a query window (a nickname turned out to belong to a login name). */
  rename(window: ChatWindow, name: string): void {
    const existing = this.find(window.kind, name);
    if (existing && existing !== window) {
      existing.lines.push(...window.lines);
      for (const [ref, lines] of window.pending) existing.pending.set(ref, lines);
      existing.unread += window.unread;
      existing.mentions += window.mentions;
      const wasCurrent = window === this.current;
      this.close(window);
      if (wasCurrent) this.select(this.list.indexOf(existing) + 1);
      return;
    }
    window.name = name;
  }

  /** Windows with unread messages: their numbers, and whether each has mentions. */
  activity(): { n: number; mention: boolean }[] {
    return this.list.flatMap((w, i) => w.unread > 0 ? [{ n: i + 1, mention: w.mentions > 0 }] : []);
  }
}

function newWindow(kind: WindowKind, name: string): ChatWindow {
  return {
    kind,
    name,
    lines: [],
    unread: 0,
    mentions: 0,
    marker: null,
    scroll: 0,
    pending: new Map(),
  };
}
