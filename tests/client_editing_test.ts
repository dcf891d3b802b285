/** Pure parts of the input line: width, wrapping, the line editor, layout, key decoding. */

import assert from "node:assert/strict";
import { KeyDecoder } from "../lib/client/keys.ts";
import { layoutInput, LineEditor } from "../lib/client/line_editor.ts";
import { textWidth, truncate, wrapLine } from "../lib/client/text_width.ts";

Deno.test("text width: CJK and emoji take two columns, marks none, colour codes none", () => {
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("你好"), 4);
  assert.equal(textWidth("😀"), 2);
  assert.equal(textWidth("e\u0301"), 1);
  assert.equal(textWidth("\x1b[1mhi\x1b[22m"), 2);
  assert.equal(truncate("你好世界", 5), "你好");
});

Deno.test("wrapping breaks at spaces, never inside a word that fits on a row", () => {
  assert.deepEqual(wrapLine("the quick brown fox jumps", 10), ["the quick", "brown fox", "jumps"]);
  assert.deepEqual(wrapLine("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
  assert.deepEqual(wrapLine("你好世界你好", 5), ["你好", "世界", "你好"]);
  assert.deepEqual(wrapLine("aaaa bbbb cccc", 9, 2), ["aaaa bbbb", "  cccc"]);
  for (const row of wrapLine("word ".repeat(200), 37, 8)) assert.ok(textWidth(row) <= 37);
});

Deno.test("wrapping keeps colour across rows", () => {
  const rows = wrapLine("\x1b[33mhello world\x1b[39m", 6);
  assert.equal(rows.length, 2);
  assert.ok(rows[0].endsWith("\x1b[0m"));
  assert.ok(rows[1].startsWith("\x1b[33m"));
});

Deno.test("line editor: insert, move by code point, kill and yank, words", () => {
  const e = new LineEditor();
  e.insert("hello 😀 world");
  e.left();
  e.left();
  e.left();
  e.left();
  e.left();
  e.left();
  e.backspace();
  assert.equal(e.text, "hello  world");
  e.end();
  e.killWord();
  assert.equal(e.text, "hello  ");
  e.yank();
  assert.equal(e.text, "hello  world");
  e.home();
  e.killToEnd();
  assert.equal(e.text, "");
});

Deno.test("line editor: history up and down keeps the draft; multi-line moves between lines", () => {
  const e = new LineEditor(["one", "two"]);
  e.insert("draft");
  e.up();
  assert.equal(e.text, "two");
  e.up();
  assert.equal(e.text, "one");
  e.down();
  e.down();
  assert.equal(e.text, "draft");
  e.set("ab\ncd", 4);
  e.up();
  assert.equal(e.cursor, 1);
  e.down();
  assert.equal(e.cursor, 4);
  assert.equal(e.take(), "ab\ncd");
  assert.deepEqual(e.history, ["one", "two", "ab\ncd"]);
});

Deno.test("a 4,000-character paste is one linear insert and layout", () => {
  const e = new LineEditor();
  const text = "长".repeat(2000) + "x".repeat(2000);
  const start = performance.now();
  e.insert(text);
  const layout = layoutInput("> ", 2, e.text, e.cursor, 80);
  const elapsed = performance.now() - start;
  assert.equal(e.text.length, 4000);
  assert.equal(
    layout.rows.length,
    Math.ceil((4000 + 2000) / 78),
    "78 columns a row after the prompt or its indent",
  );
  for (const row of layout.rows) assert.ok(textWidth(row) <= 80);
  assert.ok(elapsed < 1000, `took ${elapsed} ms`);
});

Deno.test("input layout: wide characters never straddle rows, line breaks start rows", () => {
  const l = layoutInput("> ", 2, "你".repeat(5), 5, 7);
  assert.deepEqual(l.rows, ["> 你你", "  你你", "  你"]);
  assert.equal(l.cursorRow, 2);
  assert.equal(l.cursorColumn, 4);
  const m = layoutInput("> ", 2, "a\nb", 3, 80);
  assert.deepEqual(m.rows, ["> a", "  b"]);
  assert.deepEqual([m.cursorRow, m.cursorColumn], [1, 3]);
  assert.deepEqual(layoutInput("> ", 2, "\x1b", 1, 80).rows, ["> \u241b"]);
});

Deno.test("keys: text runs, arrows, Alt, Ctrl, split escape sequences", () => {
  const k = new KeyDecoder();
  assert.deepEqual(k.push("hi\x1b[D\x01"), [
    { type: "text", text: "hi" },
    { type: "key", name: "left" },
    { type: "key", name: "char", char: "a", ctrl: true },
  ]);
  assert.deepEqual(k.push("\x1b"), []);
  assert.deepEqual(k.push("2"), [{ type: "key", name: "char", char: "2", alt: true }]);
  assert.deepEqual(k.push("\x1b["), []);
  assert.deepEqual(k.push("1;5C"), [{ type: "key", name: "right", ctrl: true }]);
  assert.deepEqual(k.push("\x1b"), []);
  assert.deepEqual(k.flush(), [{ type: "key", name: "escape" }]);
  assert.deepEqual(k.push("\x1b[3~\x7f\t\x1b[Z"), [
    { type: "key", name: "delete" },
    { type: "key", name: "backspace" },
    { type: "key", name: "tab" },
    { type: "key", name: "backtab" },
  ]);
});

Deno.test("keys: a bracketed paste is one event across reads, line breaks kept", () => {
  const k = new KeyDecoder();
  const paste = "\x1b[200~line 1\r\nline 2\rline 3\x1b[201~";
  for (let cut = 1; cut < paste.length; cut++) {
    const d = new KeyDecoder();
    const events = [...d.push(paste.slice(0, cut)), ...d.push(paste.slice(cut) + "x")];
    assert.deepEqual(events, [
      { type: "paste", text: "line 1\nline 2\nline 3" },
      { type: "text", text: "x" },
    ], `cut at ${cut}`);
  }
  assert.deepEqual(k.push("a\rb\r"), [
    { type: "text", text: "a" },
    { type: "key", name: "enter" },
    { type: "text", text: "b" },
    { type: "key", name: "enter" },
  ], "keys typed quickly stay separate lines");
  const line = "x".repeat(40);
  assert.equal(k.push(`${line}\r${line}\r`).filter((e) => e.type === "key").length, 2);
});
