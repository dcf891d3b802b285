/**
 * The thin I/O shell around the terminal: raw-mode stdin decoded into key events, frames
 * drawn on the alternate screen (only the rows that changed), resize and bell. All decisions
 * are made by pure code (`keys.ts`, `screen.ts`); this module only moves bytes.
 *
 * Why not `node:readline`: the screen is laid out as a whole (windows, status bar, input
 * that may span rows), and readline owns only its prompt line, redraws it per keystroke
 * with a quadratic cost on long input, cannot tell a paste from typing and knows no
 * Alt-number keys. Own raw-mode input keeps every edit linear and every layout testable.
 *
 * @module
 */

import { KeyDecoder, type KeyEvent } from "../keys.ts";
import type { Frame } from "./screen.ts";

const ENTER = "\x1b[?1049h\x1b[?2004h\x1b[H\x1b[2J";
const LEAVE = "\x1b[?2004l\x1b[?1049l\x1b[?25h";
/** How long a lone ESC waits for the rest of a sequence, ms. */
const ESC_WAIT_MS = 30;

/** The terminal as the app sees it. */
export interface Screen {
  size(): { rows: number; columns: number };
  draw(frame: Frame): void;
  bell(): void;
}

/**
 * The process's own terminal.
 *
 * @example
 * ```ts
 * const term = new Terminal();
 * term.start((keys) => console.log(keys), () => {}, () => {});
 * ```
 */
export class Terminal implements Screen {
  readonly #encoder = new TextEncoder();
  readonly #keys = new KeyDecoder();
  #last: string[] = [];
  #started = false;
  #escTimer: ReturnType<typeof setTimeout> | null = null;
  #onResize: (() => void) | null = null;
  #reading: Promise<void> | null = null;

  /** Enters raw mode and the alternate screen, and starts reading keys. */
  start(onKeys: (events: KeyEvent[]) => void, onResize: () => void, onEnd: () => void): void {
    Deno.stdin.setRaw(true);
    this.#write(ENTER);
    this.#started = true;
    this.#onResize = () => {
      this.#last = [];
      this.#write("\x1b[2J");
      onResize();
    };
    Deno.addSignalListener("SIGWINCH", this.#onResize);
    this.#reading = this.#read(onKeys, onEnd);
  }

  size(): { rows: number; columns: number } {
    try {
      return Deno.consoleSize();
    } catch {
      return { rows: 24, columns: 80 };
    }
  }

  /** Draws a frame, writing only the rows that differ from the last one. */
  draw(frame: Frame): void {
    if (!this.#started) return;
    let out = "\x1b[?25l";
    for (let i = 0; i < frame.rows.length; i++) {
      if (this.#last[i] === frame.rows[i]) continue;
      out += `\x1b[${i + 1};1H${frame.rows[i]}\x1b[0m\x1b[K`;
    }
    for (let i = frame.rows.length; i < this.#last.length; i++) out += `\x1b[${i + 1};1H\x1b[K`;
    out += `\x1b[${frame.cursorRow + 1};${frame.cursorColumn + 1}H\x1b[?25h`;
    this.#last = frame.rows.slice();
    this.#write(out);
  }

  bell(): void {
    this.#write("\x07");
  }

  /** Leaves the alternate screen and raw mode; `after` is printed on the normal screen. */
  async stop(after: string[] = []): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    if (this.#onResize) Deno.removeSignalListener("SIGWINCH", this.#onResize);
    if (this.#escTimer !== null) clearTimeout(this.#escTimer);
    this.#write(LEAVE + after.map((l) => l + "\n").join(""));
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin is gone
    }
    // The read in progress ends when the process exits; do not wait for it.
    void this.#reading;
    await Promise.resolve();
  }

  async #read(onKeys: (events: KeyEvent[]) => void, onEnd: () => void): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await Deno.stdin.read(buffer);
      } catch {
        n = null;
      }
      if (!this.#started) return;
      if (n === null) {
        onEnd();
        return;
      }
      const events = this.#keys.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
      if (this.#escTimer !== null) clearTimeout(this.#escTimer);
      this.#escTimer = null;
      if (this.#keys.pending) {
        this.#escTimer = setTimeout(() => {
          this.#escTimer = null;
          const held = this.#keys.flush();
          if (held.length > 0) onKeys(held);
        }, ESC_WAIT_MS);
      }
      if (events.length > 0) onKeys(events);
    }
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += Deno.stdout.writeSync(bytes.subarray(offset));
      }
    } catch {
      // the terminal is gone
    }
  }
}
