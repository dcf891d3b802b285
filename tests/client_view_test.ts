/** Pure parts of what is shown: formatting, windows, presence coalescing, the screen layout. */

import assert from "node:assert/strict";
import {
  describeError,
  displayName,
  formatMessage,
  makeClock,
  mentions,
  sanitize,
  sanitizeLines,
} from "../lib/client/format.ts";
import { PresenceDigest } from "../lib/client/presence_digest.ts";
import { renderScreen } from "../lib/client/ui/screen.ts";
import { textWidth } from "../lib/client/text_width.ts";
import { WindowList } from "../lib/client/windows.ts";
import { texts } from "../lib/i18n/translate.ts";

const en = texts("en");
const zh = texts("zh");
const o = { color: false, clock: () => "12:01", tx: en, me: "alice" };

Deno.test("sanitize: controls become visible symbols, bidi controls are named", () => {
  assert.equal(sanitize("hi\x1b[2J\x07"), "hi\u241b[2J\u2407");
  assert.equal(sanitize("one\ntwo\tthree"), "one\u21b5two three");
  assert.equal(sanitize("abc\u202edef"), "abc\u27e8RLO\u27e9def");
  assert.equal(sanitize("\x9b31m"), "<U+009B>31m");
  assert.deepEqual(sanitizeLines("a\r\nb\x1b"), ["a", "b\u241b"]);
});

Deno.test("names: no doubled parentheses, own nickname plain", () => {
  assert.equal(displayName({ name: "bob", nickname: "小明" }), "小明 (bob)");
  assert.equal(displayName({ name: "bob", nickname: "Bob" }), "Bob");
  const own = formatMessage({
    stream: "#l",
    seq: 1,
    ts: 0,
    from: "alice",
    nick: "Alice",
    text: "hi",
  }, o);
  assert.deepEqual(own, ["[12:01] <Alice> hi"]);
});

Deno.test("messages: actions, multi-line text as rows, mentions", () => {
  const m = { stream: "#l", seq: 1, ts: 0, from: "bob", nick: "小明", text: "waves" };
  assert.deepEqual(formatMessage({ ...m, action: true }, o), ["[12:01] * 小明 (bob) waves"]);
  assert.deepEqual(formatMessage({ ...m, text: "a\nb" }, o), [
    "[12:01] <小明 (bob)> a",
    "        b",
  ]);
  const me = { name: "alice", nickname: "小红" };
  assert.ok(mentions("hey Alice!", me));
  assert.ok(mentions("小红你好", me));
  assert.ok(!mentions("malice", me));
});

Deno.test("errors in plain words, with the real wait, in both languages", () => {
  assert.equal(describeError(en, "WRONG_PASSWORD", "x"), "Wrong password. Try again.");
  assert.equal(describeError(en, "RATE_LIMITED", "", 5), "Too fast: wait 5 s.");
  assert.equal(describeError(zh, "RATE_LIMITED", "", 5), "太快了：请等 5 秒。");
  assert.equal(describeError(en, "NEW_CODE", "Something odd"), "Something odd.");
  assert.match(describeError(en, "INVALID_TEXT", "At most 4000"), /\(At most 4000\.\)$/);
});

Deno.test("clock: time today, date before", () => {
  const clock = makeClock({ timeZone: "UTC", now: () => Date.UTC(2026, 0, 2, 12) });
  assert.equal(clock(Date.UTC(2026, 0, 2, 9, 5)), "09:05");
  assert.equal(clock(Date.UTC(2026, 0, 1, 9, 5)), "01-01 09:05");
});

Deno.test("windows: unread counts and marker, next with unread, mentions first", () => {
  const w = new WindowList();
  w.ensure("room", "lobby");
  w.ensure("room", "rust");
  w.ensure("query", "bob");
  w.select(2);
  w.add("room", "rust", "a", { message: true });
  w.add("room", "rust", "b", { message: true });
  w.add("query", "bob", "psst", { message: true, mention: true });
  w.add("room", "lobby", "here", { message: true });
  assert.deepEqual(w.activity(), [{ n: 3, mention: false }, { n: 4, mention: true }]);
  assert.equal(w.nextUnread(), 4);
  w.select(3);
  assert.equal(w.current.marker, 0);
  assert.equal(w.current.unread, 0);
  w.select(1);
  assert.equal(w.list[2].marker, null, "leaving a window clears its marker");
  w.close(w.list[3]);
  assert.equal(w.list.length, 3);
});

Deno.test("windows: a query window opened by nickname is merged into the login name's", () => {
  const w = new WindowList();
  const byNick = w.ensure("query", "小明");
  w.add("query", "小明", "sent");
  w.select(2);
  w.rename(byNick, "bob");
  assert.equal(w.current.name, "bob");
  assert.deepEqual(w.current.lines, ["sent"]);
});

Deno.test("presence digest: one line per scope per window; join+leave cancels", () => {
  const d = new PresenceDigest(3000);
  const u = (n: string) => ({ name: n, nickname: n });
  for (let i = 0; i < 12; i++) d.add("#lobby", "join", u(`j${i}`), 100);
  for (let i = 0; i < 9; i++) d.add("#lobby", "leave", u(`l${i}`), 200);
  d.add("#lobby", "join", u("x"), 300);
  d.add("#lobby", "leave", u("x"), 400);
  assert.deepEqual(d.due(3000), []);
  assert.equal(d.nextDue(), 3100);
  const [digest] = d.due(3100);
  assert.equal(digest.joined.length, 12);
  assert.equal(digest.left.length, 9);
});

Deno.test("screen: every row fits, input at the bottom, the marker shown, resize relayouts", () => {
  const w = new WindowList();
  w.ensure("room", "lobby");
  for (let i = 0; i < 50; i++) {
    w.add("room", "lobby", `[12:00] <bob> message ${i} ` + "词".repeat(i), { message: true });
  }
  w.select(2);
  w.add("room", "lobby", "x");
  const state = {
    title: " #lobby",
    window: w.current,
    scroll: 0,
    status: " [alice] [2:#lobby]",
    prompt: "[#lobby] ",
    input: "draft that wraps ".repeat(10),
    cursor: 10,
    secret: false,
    color: false,
    marker: "new",
  };
  for (const [rows, cols] of [[24, 80], [10, 30], [40, 120]]) {
    const frame = renderScreen(state, rows, cols);
    assert.equal(frame.rows.length, rows);
    for (const row of frame.rows) assert.ok(textWidth(row) <= cols, `row too wide at ${cols}`);
    assert.ok(frame.rows.some((r) => r.startsWith("[#lobby] draft")));
    assert.equal(
      frame.rows.filter((r) => r.startsWith("[#lobby]")).length,
      1,
      "the draft shows once",
    );
    assert.ok(frame.cursorRow < rows);
  }
  const secret = renderScreen({ ...state, input: "hunter22", cursor: 8, secret: true }, 24, 80);
  assert.equal(secret.rows.at(-1), "[#lobby] ********");
  const top = renderScreen({ ...state, input: "", scroll: 10_000 }, 24, 80);
  assert.ok(top.scroll! < 10_000, "scrolling stops at the first line");
  assert.match(top.rows[1], /─ new ─/, "the marker above the first unread line");
  assert.ok(top.rows[2].includes("message 0 "));
});
