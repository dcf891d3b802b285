/**
 * Lays out the whole terminal screen: a title row, the current window's lines (wrapped,
 * newest at the bottom, with the unread marker), the status bar, and the input rows with
 * the cursor. Pure code: the same state and size always give the same rows, so a resize is
 * just a new layout.
 *
 * @module
 */

import { layoutInput } from "../line_editor.ts";
import { paint } from "../format.ts";
import { textWidth, truncate, wrapLine } from "../text_width.ts";
import type { ChatWindow } from "../windows.ts";

/** What is on screen. */
export interface ScreenState {
  /** Top row (already safe text). */
  title: string;
  window: ChatWindow;
  /** Rows scrolled up from the bottom (clamped to what there is). */
  scroll: number;
  /** The status bar (already safe text). */
  status: string;
  /** The input prompt and its width in columns. */
  prompt: string;
  input: string;
  cursor: number;
  /** Show the input as `*` (passwords). */
  secret: boolean;
  color: boolean;
  /** The text of the unread marker line. */
  marker: string;
}

/** The screen's rows and where the cursor goes. */
export interface Frame {
  rows: string[];
  cursorRow: number;
  cursorColumn: number;
  /** The scroll offset used, clamped to the lines there are. */
  scroll?: number;
}

/** Continuation rows of a wrapped chat line start under the text, after the time. */
const WRAP_INDENT = 8;

/**
 * Lays out `state` on a terminal of `rows` × `columns`.
 *
 * @example
 * ```ts
 * const frame = renderScreen(state, 24, 80);
 * frame.rows.length; // 24
 * ```
 */
export function renderScreen(state: ScreenState, rows: number, columns: number): Frame {
  const height = Math.max(3, rows);
  const width = Math.max(10, columns);
  const shownInput = state.secret ? maskInput(state.input, state.cursor) : {
    text: state.input,
    cursor: state.cursor,
  };
  const promptWidth = textWidth(state.prompt);
  const layout = layoutInput(state.prompt, promptWidth, shownInput.text, shownInput.cursor, width);
  const maxInput = Math.max(1, Math.floor((height - 2) / 2));
  const inputRows = Math.min(layout.rows.length, maxInput);
  const firstInput = Math.max(
    0,
    Math.min(layout.cursorRow - inputRows + 1, layout.rows.length - inputRows),
  );
  const inputShown = layout.rows.slice(firstInput, firstInput + inputRows);
  const bodyHeight = height - 2 - inputRows;
  const body = bodyRows(state, bodyHeight, width);
  const bar = (text: string) => {
    const cut = truncate(text, width);
    const padded = cut + " ".repeat(Math.max(0, width - textWidth(cut)));
    return state.color ? paint(true, "reverse", padded) : padded;
  };
  const out = [bar(state.title), ...body.rows, bar(state.status), ...inputShown];
  return {
    rows: out,
    cursorRow: 2 + bodyHeight + (layout.cursorRow - firstInput),
    cursorColumn: Math.min(layout.cursorColumn, width - 1),
    scroll: body.scroll,
  };
}

function maskInput(text: string, cursor: number): { text: string; cursor: number } {
  const before = [...text.slice(0, cursor)].length;
  return { text: "*".repeat([...text].length), cursor: before };
}

/** The window's last lines that fit, wrapped, scrolled up by `state.scroll` rows. */
function bodyRows(
  state: ScreenState,
  height: number,
  width: number,
): { rows: string[]; scroll: number } {
  const { window } = state;
  const rows: string[] = [];
  for (const lines of window.pending.values()) {
    for (const line of lines) rows.push(...wrapLine(line, width, WRAP_INDENT));
  }
  const want = height + state.scroll;
  if (window.marker === window.lines.length) rows.unshift(markerRow(state, width));
  for (let i = window.lines.length - 1; i >= 0 && rows.length < want; i--) {
    const wrapped = wrapLine(window.lines[i], width, WRAP_INDENT);
    rows.unshift(...wrapped);
    if (window.marker === i) rows.unshift(markerRow(state, width));
  }
  const scroll = Math.min(state.scroll, Math.max(0, rows.length - height));
  const end = rows.length - scroll;
  const visible = rows.slice(Math.max(0, end - height), end);
  while (visible.length < height) visible.unshift("");
  return { rows: visible, scroll };
}

function markerRow(state: ScreenState, width: number): string {
  const label = ` ${state.marker} `;
  const side = Math.max(0, Math.floor((width - textWidth(label)) / 2));
  const line = "─".repeat(side) + label + "─".repeat(Math.max(0, width - side - textWidth(label)));
  return paint(state.color, "red", truncate(line, width));
}
