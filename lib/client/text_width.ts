/**
 * How wide text is on a terminal, and how it wraps. Pure code.
 *
 * Widths are per code point: East Asian wide and full-width characters and most emoji take
 * two columns, combining marks and invisible format characters none, everything else one.
 * ANSI SGR sequences (`ESC [ … m`, added by the client's own formatting) take none and are
 * carried over to the next row when a line wraps.
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const SGR_RE = /\x1b\[[0-9;]*m/y;
const ZERO_WIDTH_RE = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const RESET = "\x1b[0m";

/**
 * Columns a code point takes: 0, 1 or 2.
 *
 * @example
 * ```ts
 * charWidth("你".codePointAt(0)!); // 2
 * charWidth(0x61); // 1
 * ```
 */
export function charWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if (isWide(cp)) return 2;
  if (cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  const ch = String.fromCodePoint(cp);
  return ZERO_WIDTH_RE.test(ch) ? 0 : 1;
}

/** East Asian wide and full-width code points, plus emoji presentation ranges. */
function isWide(cp: number): boolean {
  return cp >= 0x1100 && (
    cp <= 0x115f || cp === 0x2329 || cp === 0x232a ||
    (cp >= 0x231a && cp <= 0x231b) || (cp >= 0x23e9 && cp <= 0x23ec) ||
    (cp >= 0x25fd && cp <= 0x25fe) || (cp >= 0x2614 && cp <= 0x2615) ||
    (cp >= 0x26aa && cp <= 0x26ab) || (cp >= 0x26bd && cp <= 0x26be) ||
    cp === 0x26a1 || cp === 0x26d4 || cp === 0x26ea || cp === 0x26f5 || cp === 0x26fd ||
    cp === 0x2705 || cp === 0x2728 || cp === 0x274c || cp === 0x2757 ||
    (cp >= 0x2795 && cp <= 0x2797) || cp === 0x27b0 || cp === 0x2b50 || cp === 0x2b55 ||
    (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x3247) ||
    (cp >= 0x3250 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0xa4c6) ||
    (cp >= 0xa960 && cp <= 0xa97c) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6b) || (cp >= 0xff01 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x16fe0 && cp <= 0x1b2ff) ||
    (cp >= 0x1f004 && cp <= 0x1f0cf) || (cp >= 0x1f18e && cp <= 0x1f19a) ||
    (cp >= 0x1f200 && cp <= 0x1f251) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f680 && cp <= 0x1f6ff) || (cp >= 0x1f7e0 && cp <= 0x1f7eb) ||
    (cp >= 0x1f90c && cp <= 0x1f9ff) || (cp >= 0x1fa70 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/**
 * Columns `text` takes, ignoring SGR colour sequences.
 *
 * @example
 * ```ts
 * textWidth("a你b"); // 4
 * textWidth("\x1b[1mhi\x1b[22m"); // 2
 * ```
 */
export function textWidth(text: string): number {
  let width = 0;
  for (let i = 0; i < text.length;) {
    if (text.charCodeAt(i) === 0x1b) {
      SGR_RE.lastIndex = i;
      const m = SGR_RE.exec(text);
      if (m) {
        i += m[0].length;
        continue;
      }
    }
    const cp = text.codePointAt(i)!;
    width += charWidth(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  return width;
}

/**
 * Cuts `text` to at most `columns` columns (a wide character that does not fit is left out).
 *
 * @example
 * ```ts
 * truncate("你好世界", 5); // "你好"
 * ```
 */
export function truncate(text: string, columns: number): string {
  let width = 0;
  let out = "";
  for (let i = 0; i < text.length;) {
    if (text.charCodeAt(i) === 0x1b) {
      SGR_RE.lastIndex = i;
      const m = SGR_RE.exec(text);
      if (m) {
        out += m[0];
        i += m[0].length;
        continue;
      }
    }
    const cp = text.codePointAt(i)!;
    const w = charWidth(cp);
    if (width + w > columns) break;
    width += w;
    const n = cp > 0xffff ? 2 : 1;
    out += text.slice(i, i + n);
    i += n;
  }
  return out;
}

interface Token {
  text: string;
  width: number;
  /** Whitespace between words, dropped at a row break. */
  space: boolean;
  /** A colour sequence: no width. */
  sgr: boolean;
}

/** Splits into words, spaces, single wide characters (which may break anywhere) and SGR. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let word = "";
  let wordWidth = 0;
  const endWord = () => {
    if (word !== "") tokens.push({ text: word, width: wordWidth, space: false, sgr: false });
    word = "";
    wordWidth = 0;
  };
  for (let i = 0; i < text.length;) {
    const code = text.charCodeAt(i);
    if (code === 0x1b) {
      SGR_RE.lastIndex = i;
      const m = SGR_RE.exec(text);
      if (m) {
        endWord();
        tokens.push({ text: m[0], width: 0, space: false, sgr: true });
        i += m[0].length;
        continue;
      }
    }
    const cp = text.codePointAt(i)!;
    const n = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + n);
    i += n;
    if (ch === " ") {
      endWord();
      tokens.push({ text: ch, width: 1, space: true, sgr: false });
    } else if (charWidth(cp) === 2) {
      endWord();
      tokens.push({ text: ch, width: 2, space: false, sgr: false });
    } else {
      word += ch;
      wordWidth += charWidth(cp);
    }
  }
  endWord();
  return tokens;
}

/**
 * Wraps one line of display text into rows of at most `columns` columns. Breaks at spaces
 * (a word that fits on a row is never cut), between wide characters, and inside a word only
 * when the word alone is wider than a row. Continuation rows start with `indent` spaces.
 * When the text holds colour, each row ends with a reset and the next row starts with the
 * colours in force, so rows can be drawn anywhere on the screen.
 *
 * @example
 * ```ts
 * wrapLine("the quick brown fox", 10); // ["the quick", "brown fox"]
 * ```
 */
export function wrapLine(text: string, columns: number, indent = 0): string[] {
  const width = Math.max(1, columns);
  const pad = indent > 0 && indent < width / 2 ? " ".repeat(indent) : "";
  const rows: string[] = [];
  let row = "";
  let rowWidth = 0;
  let sgrs = "";
  let coloured = false;
  const newRow = () => {
    rows.push(coloured ? row + RESET : row);
    row = pad + sgrs;
    rowWidth = pad.length;
  };
  const put = (piece: string, w: number) => {
    row += piece;
    rowWidth += w;
  };
  for (const token of tokenize(text)) {
    if (token.sgr) {
      coloured = true;
      sgrs = token.text === RESET ? "" : sgrs + token.text;
      row += token.text;
      continue;
    }
    if (rowWidth + token.width <= width) {
      put(token.text, token.width);
      continue;
    }
    if (token.space) {
      newRow();
      continue;
    }
    if (token.width <= width - pad.length && rowWidth > pad.length) {
      row = row.trimEnd();
      newRow();
      put(token.text, token.width);
      continue;
    }
    for (const ch of token.text) {
      const w = charWidth(ch.codePointAt(0)!);
      if (rowWidth + w > width && rowWidth > pad.length) newRow();
      put(ch, w);
    }
  }
  rows.push(coloured ? row + RESET : row);
  return rows;
}
