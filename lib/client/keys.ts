/**
 * Turns the characters a terminal in raw mode sends into key events. Pure code; feed it the
 * decoded text of each read, in order.
 *
 * - runs of printable characters come out as one `text` event per chunk (so a paste that
 *   arrives unbracketed is still one insertion per read, not one per character);
 * - a bracketed paste (`ESC [200~ … ESC [201~`, switched on by the UI) is one `paste` event,
 *   however many reads it spans;
 * - Enter is always the Enter key, also when more text follows in the same read: keys typed
 *   while the program was busy arrive together and must stay separate messages, so a paste
 *   is recognised only by its brackets (a terminal without bracketed paste sends a
 *   multi-line paste as several messages, in order);
 * - a lone ESC at the end of a read is held until the next read, or {@linkcode KeyDecoder.flush}
 *   (called by the terminal shell after a short pause) turns it into the Escape key.
 *
 * @module
 */

/** Names of the special keys. */
export type KeyName =
  | "enter"
  | "newline"
  | "tab"
  | "backtab"
  | "backspace"
  | "delete"
  | "up"
  | "down"
  | "left"
  | "right"
  | "home"
  | "end"
  | "pageup"
  | "pagedown"
  | "escape"
  | "char";

/** One key press, typed text, or a paste. */
export type KeyEvent =
  | { type: "text"; text: string }
  | { type: "paste"; text: string }
  | {
    type: "key";
    name: KeyName;
    /** For `char`: the character (with `ctrl` or `alt`). */
    char?: string;
    ctrl?: boolean;
    alt?: boolean;
  };

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

const CSI_KEYS: Record<string, KeyName> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  Z: "backtab",
  "1~": "home",
  "7~": "home",
  "4~": "end",
  "8~": "end",
  "3~": "delete",
  "5~": "pageup",
  "6~": "pagedown",
};

/**
 * A stateful decoder of terminal input.
 *
 * @example
 * ```ts
 * const keys = new KeyDecoder();
 * keys.push("hi\x1b[D"); // [{ type: "text", text: "hi" }, { type: "key", name: "left" }]
 * ```
 */
export class KeyDecoder {
  #pending = "";
  #paste: string[] | null = null;

  /** Whether a lone ESC (or a partial sequence) is held. */
  get pending(): boolean {
    return this.#pending !== "";
  }

  /** Decodes one read. */
  push(chunk: string): KeyEvent[] {
    const events: KeyEvent[] = [];
    let input = this.#pending + chunk;
    this.#pending = "";
    if (this.#paste !== null) {
      const end = input.indexOf(PASTE_END);
      if (end === -1) {
        // Keep a possible partial end marker for the next read.
        const keep = partialSuffix(input, PASTE_END);
        this.#paste.push(input.slice(0, input.length - keep));
        this.#pending = input.slice(input.length - keep);
        return events;
      }
      this.#paste.push(input.slice(0, end));
      events.push({ type: "paste", text: normalisePaste(this.#paste.join("")) });
      this.#paste = null;
      input = input.slice(end + PASTE_END.length);
    }
    this.#decode(input, events);
    return events;
  }

  /** Ends a held ESC: returns it as the Escape key. */
  flush(): KeyEvent[] {
    if (this.#paste !== null || this.#pending === "") return [];
    const held = this.#pending;
    this.#pending = "";
    return held === "\x1b" ? [{ type: "key", name: "escape" }] : this.push(held);
  }

  #decode(input: string, events: KeyEvent[]): void {
    let text = "";
    const endText = () => {
      if (text !== "") events.push({ type: "text", text });
      text = "";
    };
    let i = 0;
    while (i < input.length) {
      const ch = input[i];
      const code = input.charCodeAt(i);
      if (code >= 0x20 && code !== 0x7f) {
        // Fast path: a run of printable characters.
        let j = i + 1;
        while (j < input.length) {
          const c = input.charCodeAt(j);
          if (c < 0x20 || c === 0x7f) break;
          j++;
        }
        text += input.slice(i, j);
        i = j;
        continue;
      }
      endText();
      if (ch === "\x1b") {
        const consumed = this.#escape(input, i, events);
        if (consumed === 0) {
          this.#pending = input.slice(i);
          return;
        }
        if (this.#paste !== null) {
          // A paste started: the rest of this read belongs to it.
          const rest = input.slice(i + consumed);
          const more = this.push(rest);
          events.push(...more);
          return;
        }
        i += consumed;
        continue;
      }
      i++;
      if (ch === "\r") {
        if (input[i] === "\n") i++;
        events.push({ type: "key", name: "enter" });
      } else if (ch === "\n") events.push({ type: "key", name: "newline" });
      else if (ch === "\t") events.push({ type: "key", name: "tab" });
      else if (code === 0x7f || code === 0x08) events.push({ type: "key", name: "backspace" });
      else {
        events.push({
          type: "key",
          name: "char",
          char: String.fromCharCode(code + 0x60),
          ctrl: true,
        });
      }
    }
    endText();
  }

  /** Decodes an escape sequence at `i`; returns the characters used, 0 when incomplete. */
  #escape(input: string, i: number, events: KeyEvent[]): number {
    if (i + 1 >= input.length) return 0;
    const next = input[i + 1];
    if (next === "[" || next === "O") {
      let j = i + 2;
      while (j < input.length && /[0-9;]/.test(input[j])) j++;
      if (j >= input.length) return 0;
      const body = input.slice(i + 2, j + 1);
      const len = j + 1 - i;
      if (next === "[" && input.startsWith(PASTE_START, i)) {
        this.#paste = [];
        return PASTE_START.length;
      }
      const params = body.slice(0, -1).split(";");
      const final = body.at(-1)!;
      const mod = params.length > 1 ? Number(params[1]) - 1 : 0;
      const key: KeyName | undefined = final === "~" ? CSI_KEYS[`${params[0]}~`] : CSI_KEYS[final];
      if (key) {
        const event: KeyEvent = { type: "key", name: key };
        if (mod & 4) event.ctrl = true;
        if (mod & 2) event.alt = true;
        events.push(event);
      }
      return len;
    }
    if (next === "\x1b") {
      events.push({ type: "key", name: "escape" });
      return 1;
    }
    if (next === "\r") {
      events.push({ type: "key", name: "newline" });
      return 2;
    }
    if (next === "\x7f" || next === "\b") {
      events.push({ type: "key", name: "backspace", alt: true });
      return 2;
    }
    const cp = input.codePointAt(i + 1)!;
    const char = String.fromCodePoint(cp);
    if (cp < 0x20) {
      events.push({
        type: "key",
        name: "char",
        char: String.fromCharCode(cp + 0x60),
        ctrl: true,
        alt: true,
      });
    } else events.push({ type: "key", name: "char", char, alt: true });
    return 1 + char.length;
  }
}

/** Line breaks of a paste become `\n`. */
function normalisePaste(text: string): string {
  return text.replace(/\r\n?/g, "\n");
}

/** How many characters at the end of `text` are the start of `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}
