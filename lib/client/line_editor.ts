/**
 * The input line's editing state: text (possibly several lines), cursor, kill ring, input
 * history, and its layout on the screen. Pure code: keys go in, state comes out, nothing is
 * drawn here.
 *
 * Every edit costs time linear in the length of the text at most, and a paste is one edit,
 * so pasting 4,000 characters is one insertion, not 4,000.
 *
 * @module
 */

import { charWidth, textWidth, wrapLine } from "./text_width.ts";

/** Most entries kept in the input history. */
export const HISTORY_MAX = 500;

/**
 * An editable buffer with a cursor (an offset in UTF-16 code units that never splits a
 * surrogate pair).
 *
 * @example
 * ```ts
 * const editor = new LineEditor();
 * editor.insert("hello");
 * editor.left();
 * editor.backspace();
 * editor.text; // "helo"
 * ```
 */
export class LineEditor {
  #text = "";
  #cursor = 0;
  #kill = "";
  #history: string[];
  /** Position while browsing history; equals the history length when not browsing. */
  #browse: number;
  #draft = "";

  constructor(history: readonly string[] = []) {
    this.#history = history.slice(-HISTORY_MAX);
    this.#browse = this.#history.length;
  }

  /** The text being edited. */
  get text(): string {
    return this.#text;
  }

  /** The cursor offset in `text`. */
  get cursor(): number {
    return this.#cursor;
  }

  /** The input history, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Replaces the whole text; the cursor goes to the end. */
  set(text: string, cursor = text.length): void {
    this.#text = text;
    this.#cursor = Math.max(0, Math.min(text.length, cursor));
  }

  /** Inserts text at the cursor. */
  insert(text: string): void {
    if (text === "") return;
    this.#text = this.#text.slice(0, this.#cursor) + text + this.#text.slice(this.#cursor);
    this.#cursor += text.length;
  }

  /** Replaces `start`…`end` with `text`, leaving the cursor after it. */
  replace(start: number, end: number, text: string): void {
    this.#text = this.#text.slice(0, start) + text + this.#text.slice(end);
    this.#cursor = start + text.length;
  }

  /** Deletes the character before the cursor. */
  backspace(): void {
    if (this.#cursor === 0) return;
    const start = prevOffset(this.#text, this.#cursor);
    this.#text = this.#text.slice(0, start) + this.#text.slice(this.#cursor);
    this.#cursor = start;
  }

  /** Deletes the character under the cursor. */
  deleteForward(): void {
    if (this.#cursor >= this.#text.length) return;
    const end = nextOffset(this.#text, this.#cursor);
    this.#text = this.#text.slice(0, this.#cursor) + this.#text.slice(end);
  }

  left(): void {
    this.#cursor = prevOffset(this.#text, this.#cursor);
  }

  right(): void {
    this.#cursor = nextOffset(this.#text, this.#cursor);
  }

  /** To the start of the current line. */
  home(): void {
    this.#cursor = this.#text.lastIndexOf("\n", this.#cursor - 1) + 1;
  }

  /** To the end of the current line. */
  end(): void {
    const nl = this.#text.indexOf("\n", this.#cursor);
    this.#cursor = nl === -1 ? this.#text.length : nl;
  }

  /** To the start of the previous word. */
  wordLeft(): void {
    this.#cursor = wordStart(this.#text, this.#cursor);
  }

  /** To the end of the next word. */
  wordRight(): void {
    let i = this.#cursor;
    while (i < this.#text.length && /\s/.test(this.#text[i])) i++;
    while (i < this.#text.length && !/\s/.test(this.#text[i])) i++;
    this.#cursor = i;
  }

  /** Cuts from the cursor to the end of the line (Ctrl-K). */
  killToEnd(): void {
    const nl = this.#text.indexOf("\n", this.#cursor);
    const end = nl === -1 ? this.#text.length : nl === this.#cursor ? nl + 1 : nl;
    this.#kill = this.#text.slice(this.#cursor, end);
    this.#text = this.#text.slice(0, this.#cursor) + this.#text.slice(end);
  }

  /** Cuts from the start of the line to the cursor (Ctrl-U). */
  killToStart(): void {
    const start = this.#text.lastIndexOf("\n", this.#cursor - 1) + 1;
    this.#kill = this.#text.slice(start, this.#cursor);
    this.#text = this.#text.slice(0, start) + this.#text.slice(this.#cursor);
    this.#cursor = start;
  }

  /** Cuts the word before the cursor (Ctrl-W). */
  killWord(): void {
    const start = wordStart(this.#text, this.#cursor);
    this.#kill = this.#text.slice(start, this.#cursor);
    this.#text = this.#text.slice(0, start) + this.#text.slice(this.#cursor);
    this.#cursor = start;
  }

  /** Pastes what was cut last (Ctrl-Y). */
  yank(): void {
    this.insert(this.#kill);
  }

  /** Whether the cursor is on the first line of a multi-line text. */
  get onFirstLine(): boolean {
    return this.#text.lastIndexOf("\n", this.#cursor - 1) === -1;
  }

  /** Whether the cursor is on the last line. */
  get onLastLine(): boolean {
    return this.#text.indexOf("\n", this.#cursor) === -1;
  }

  /** Up: the line above in a multi-line text, else the previous history entry. */
  up(): void {
    if (!this.onFirstLine) return this.#verticalMove(-1);
    if (this.#browse === 0) return;
    if (this.#browse === this.#history.length) this.#draft = this.#text;
    this.#browse--;
    this.set(this.#history[this.#browse]);
  }

  /** Down: the line below in a multi-line text, else the next history entry or the draft. */
  down(): void {
    if (!this.onLastLine) return this.#verticalMove(1);
    if (this.#browse >= this.#history.length) return;
    this.#browse++;
    this.set(this.#browse === this.#history.length ? this.#draft : this.#history[this.#browse]);
  }

  /**
   * Takes the text out for sending: it is added to the history (unless blank or the same as
   * the last entry) and the editor is emptied.
   */
  take(): string {
    const text = this.#text;
    if (text.trim() !== "" && this.#history.at(-1) !== text) {
      this.#history.push(text);
      if (this.#history.length > HISTORY_MAX) this.#history.shift();
    }
    this.#browse = this.#history.length;
    this.#draft = "";
    this.set("");
    return text;
  }

  #verticalMove(direction: -1 | 1): void {
    const lineStart = this.#text.lastIndexOf("\n", this.#cursor - 1) + 1;
    const column = this.#cursor - lineStart;
    if (direction < 0) {
      const prevStart = this.#text.lastIndexOf("\n", lineStart - 2) + 1;
      this.#cursor = Math.min(prevStart + column, lineStart - 1);
    } else {
      const nextStart = this.#text.indexOf("\n", this.#cursor) + 1;
      const nextEnd = this.#text.indexOf("\n", nextStart);
      this.#cursor = Math.min(nextStart + column, nextEnd === -1 ? this.#text.length : nextEnd);
    }
    if (isLowSurrogate(this.#text.charCodeAt(this.#cursor))) this.#cursor--;
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function prevOffset(text: string, offset: number): number {
  if (offset <= 0) return 0;
  return isLowSurrogate(text.charCodeAt(offset - 1)) && offset >= 2 ? offset - 2 : offset - 1;
}

function nextOffset(text: string, offset: number): number {
  if (offset >= text.length) return text.length;
  return isLowSurrogate(text.charCodeAt(offset + 1)) ? offset + 2 : offset + 1;
}

function wordStart(text: string, offset: number): number {
  let i = offset;
  while (i > 0 && /\s/.test(text[i - 1])) i--;
  while (i > 0 && !/\s/.test(text[i - 1])) i--;
  return i;
}

/** The input laid out on screen: rows of text and where the cursor is. */
export interface InputLayout {
  rows: string[];
  cursorRow: number;
  cursorColumn: number;
}

/**
 * Lays out `prompt` + `text` in rows `columns` wide: line breaks in the text start a new row
 * (the continuation rows are indented like the prompt), a wide character never straddles
 * two rows, control characters show as one visible symbol. Linear in the text length.
 *
 * @example
 * ```ts
 * layoutInput("> ", "hello", 5, 80); // { rows: ["> hello"], cursorRow: 0, cursorColumn: 7 }
 * ```
 */
export function layoutInput(
  prompt: string,
  promptWidth: number,
  text: string,
  cursor: number,
  columns: number,
): InputLayout {
  const width = Math.max(2, columns);
  // A prompt wider than half the row (a question) wraps; continuation rows then start at
  // the left edge instead of under the prompt.
  const promptRows = promptWidth > width / 2 ? wrapLine(prompt, width) : [prompt];
  const indentWidth = promptRows.length > 1 || promptWidth > width / 2 ? 0 : promptWidth;
  const indent = " ".repeat(indentWidth);
  const rows: string[] = promptRows.slice(0, -1);
  let row: string[] = [promptRows.at(-1)!];
  let col = promptRows.length > 1 ? textWidth(promptRows.at(-1)!) : promptWidth;
  let cursorRow = -1;
  let cursorColumn = 0;
  const breakRow = () => {
    rows.push(row.join(""));
    row = [indent];
    col = indentWidth;
  };
  for (let i = 0; i <= text.length;) {
    if (i === cursor) {
      if (col >= width) breakRow();
      cursorRow = rows.length;
      cursorColumn = col;
    }
    if (i === text.length) break;
    const cp = text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    i += n;
    if (cp === 0x0a) {
      breakRow();
      continue;
    }
    const shown = cp === 0x7f ? "\u2421" : cp < 0x20 ? String.fromCodePoint(0x2400 + cp) : null;
    const w = shown === null ? charWidth(cp) : 1;
    if (col + w > width) breakRow();
    row.push(shown ?? String.fromCodePoint(cp));
    col += w;
  }
  rows.push(row.join(""));
  return { rows, cursorRow: Math.max(0, cursorRow), cursorColumn };
}
