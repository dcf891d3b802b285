/**
 * The chat screen's terminal: an input line (`node:readline`, with editing and history)
 * under a scrolling log. Lines printed while the user is typing appear ABOVE the input
 * line, and the partly typed text and cursor position are restored after them, even when
 * the input wraps or holds wide (CJK) characters.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import type { LineSource } from "./prompter.ts";

/** Streams of the terminal (the process's own by default; tests may pass others). */
export interface TtyOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** The normal prompt, e.g. `"> "`. */
  prompt?: string;
  /**
   * Whether an entered line is wiped from the screen (e.g. a chat message, which is shown
   * again once the server has accepted it). Otherwise it stays above the new prompt.
   */
  erase?: (line: string) => boolean;
}

/**
 * An input line under a scrolling log. Ctrl-C and Ctrl-D (on an empty line) end the input:
 * pending and later reads answer `null`.
 *
 * @example
 * ```ts
 * const tty = new TtyLines({ prompt: "> " });
 * tty.print(["* Bob is online"]);
 * const line = await tty.read();
 * tty.close();
 * ```
 */
export class TtyLines implements LineSource {
  readonly #rl: readline.Interface;
  readonly #output: NodeJS.WritableStream;
  readonly #queue: string[] = [];
  #waiter: ((line: string | null) => void) | null = null;
  #prompt: string;
  #status: string | null = null;
  #asking: string | null = null;
  #ended = false;
  #closed = false;

  constructor(options: TtyOptions = {}) {
    this.#output = options.output ?? process.stdout;
    this.#prompt = options.prompt ?? "> ";
    this.#rl = readline.createInterface({
      input: options.input ?? process.stdin,
      output: this.#output,
      terminal: true,
      historySize: 200,
      prompt: this.#prompt,
    });
    const erase = options.erase ?? (() => false);
    this.#rl.on("line", (line: string) => {
      if (this.#asking === null && erase(line)) this.#eraseEntered(this.#currentPrompt() + line);
      if (this.#waiter) {
        const waiter = this.#waiter;
        this.#waiter = null;
        this.#asking = null;
        waiter(line);
      } else {
        this.#queue.push(line);
      }
      if (!this.#closed) this.#render(false);
    });
    // Ctrl-C: end the input (the chat logs out); without this listener readline would
    // only clear the line.
    this.#rl.on("SIGINT", () => this.#end());
    // Ctrl-D on an empty line closes the interface itself.
    this.#rl.on("close", () => {
      if (!this.#closed) this.#clearInput();
      this.#closed = true;
      this.#end();
    });
    this.#render(false);
  }

  /** Reads the next line; `prompt` replaces the normal prompt until it is answered. */
  read(prompt?: string, signal?: AbortSignal): Promise<string | null> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    if (this.#ended) return Promise.resolve(null);
    if (prompt !== undefined) {
      this.#asking = prompt;
      this.#redraw();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (this.#waiter === done) this.#waiter = null;
        if (this.#asking !== null) {
          this.#asking = null;
          this.#redraw();
        }
        reject(signal!.reason);
      };
      const done = (line: string | null) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(line);
      };
      this.#waiter = done;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Prints lines above the input line, keeping what is being typed. */
  print(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    if (this.#closed) {
      this.#output.write(text);
      return;
    }
    this.#clearInput();
    this.#output.write(text);
    this.#render(true);
  }

  /** Shows a status (e.g. `reconnecting in 3s`) in front of the prompt; `null` removes it. */
  setStatus(status: string | null): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#redraw();
  }

  /** Puts `text` into the input line for editing, unless the user is typing something. */
  restoreInput(text: string): void {
    if (this.#closed || this.#rl.line !== "") return;
    this.#rl.write(text);
  }

  /** Stops reading the terminal. Pending reads answer `null`. */
  close(): void {
    if (this.#closed) return;
    this.#clearInput();
    this.#closed = true;
    this.#rl.close();
    this.#end();
  }

  #end(): void {
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.(null);
  }

  #currentPrompt(): string {
    if (this.#asking !== null) return this.#asking;
    return this.#status === null ? this.#prompt : `(${this.#status}) ${this.#prompt}`;
  }

  #redraw(): void {
    if (this.#closed) return;
    this.#clearInput();
    this.#render(true);
  }

  /** Moves to the first row of the prompt and erases it and everything below. */
  #clearInput(): void {
    const rows = this.#rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(this.#output, 0, -rows);
    readline.cursorTo(this.#output, 0);
    readline.clearScreenDown(this.#output);
    // readline remembers on which row of the prompt its cursor was, to move up that far on
    // its next redraw; the input is now erased and the cursor is on the first row.
    (this.#rl as unknown as { prevRows: number }).prevRows = 0;
  }

  /** Erases an entered line; readline has just moved the cursor to the row below it. */
  #eraseEntered(shown: string): void {
    const columns = (this.#output as { columns?: number }).columns ?? 80;
    readline.moveCursor(this.#output, 0, -(displayRows(shown, columns) + 1));
    readline.cursorTo(this.#output, 0);
    readline.clearScreenDown(this.#output);
  }

  #render(preserveCursor: boolean): void {
    this.#rl.setPrompt(this.#currentPrompt());
    this.#rl.prompt(preserveCursor);
  }
}

// deno-lint-ignore no-control-regex
const ANSI_RE = /\x1b\[[0-9;]*[A-Za-z]/g;
const ZERO_WIDTH_RE = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;

/**
 * Rows below the first that `text` takes on a terminal `columns` wide, computed the way
 * `node:readline` lays out its prompt (a wide character never straddles two rows).
 *
 * @example
 * ```ts
 * displayRows("> hello", 80); // 0
 * displayRows("> " + "你".repeat(40), 80); // 1
 * ```
 */
export function displayRows(text: string, columns: number): number {
  let offset = 0;
  for (const ch of text.replace(ANSI_RE, "")) {
    if (ZERO_WIDTH_RE.test(ch)) continue;
    if (isWide(ch.codePointAt(0)!)) {
      if ((offset + 1) % columns === 0) offset++;
      offset += 2;
    } else {
      offset += 1;
    }
  }
  return Math.floor(offset / columns);
}

/** East Asian wide and full-width code points (as in `is-fullwidth-code-point`), plus emoji. */
function isWide(cp: number): boolean {
  return cp >= 0x1100 && (
    cp <= 0x115f || cp === 0x2329 || cp === 0x232a ||
    (cp >= 0x2e80 && cp <= 0x3247 && cp !== 0x303f) ||
    (cp >= 0x3250 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0xa4c6) ||
    (cp >= 0xa960 && cp <= 0xa97c) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6b) || (cp >= 0xff01 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1b000 && cp <= 0x1b001) ||
    (cp >= 0x1f200 && cp <= 0x1f251) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
