import assert from "node:assert/strict";
import {
  formatTime,
  mentionsMe,
  neutralize,
  reconnectDelay,
  safeHref,
  segments,
} from "../lib/web/text.ts";

const alice = { name: "alice", nickname: "Alice W." };

Deno.test("text: control and bidi characters are made visible", () => {
  assert.equal(neutralize("a\x1b[2Jb"), "a\u241b[2Jb");
  assert.equal(neutralize("tab\tand\nline"), "tab\tand\nline");
  assert.equal(neutralize("abc\u202edef\u2066"), "abc\ufffddef\ufffd");
  assert.equal(neutralize("\x7f\x85"), "\u2421\ufffd");
  assert.equal(neutralize("lone \ud800"), "lone \ufffd");
  assert.equal(neutralize("家族 👨‍👩‍👧"), "家族 👨‍👩‍👧");
});

Deno.test("text: only http(s) links become links", () => {
  assert.equal(safeHref("javascript:alert(1)"), null);
  assert.equal(safeHref("JAVASCRIPT:alert(1)"), null);
  assert.equal(safeHref("data:text/html,<script>"), null);
  assert.equal(safeHref("https://example.com/a?b=1"), "https://example.com/a?b=1");
  assert.equal(safeHref("http://"), null);
  assert.deepEqual(segments("go javascript:alert(1) now", null), [
    { kind: "text", text: "go javascript:alert(1) now" },
  ]);
  assert.deepEqual(segments("see https://example.com/x.", null), [
    { kind: "text", text: "see " },
    { kind: "link", text: "https://example.com/x", href: "https://example.com/x" },
    { kind: "text", text: "." },
  ]);
});

Deno.test("text: hostile HTML stays plain text runs", () => {
  const hostile = `<img src=x onerror=alert(1)><script>alert(1)</script>`;
  assert.deepEqual(segments(hostile, alice), [{ kind: "text", text: hostile }]);
  const quoted = `https://example.com/"><b>x</b>`;
  const parts = segments(quoted, null);
  assert.equal(parts.map((p) => p.text).join(""), quoted);
  assert.equal(parts[0].kind, "link");
  assert.equal((parts[0] as { href: string }).href, "https://example.com/");
});

Deno.test("text: mentions are found by name and nickname", () => {
  assert.equal(mentionsMe("hi @alice", alice), true);
  assert.equal(mentionsMe("hi @ALICE!", alice), true);
  assert.equal(mentionsMe("hi @alice w. how are you", alice), true);
  assert.equal(mentionsMe("hi @alicea", alice), false);
  assert.equal(mentionsMe("mail alice@example.com", alice), false);
  assert.equal(mentionsMe("hi alice", alice), false);
  assert.deepEqual(segments("@alice and @bob: hi", alice), [
    { kind: "mention", text: "@alice", me: true },
    { kind: "text", text: " and " },
    { kind: "mention", text: "@bob", me: false },
    { kind: "text", text: ": hi" },
  ]);
  assert.deepEqual(segments("a@b.c @... x", alice), [{ kind: "text", text: "a@b.c @... x" }]);
  assert.deepEqual(segments("你好 @小明。", alice), [
    { kind: "text", text: "你好 " },
    { kind: "mention", text: "@小明", me: false },
    { kind: "text", text: "。" },
  ]);
});

Deno.test("text: times show the day when it is not today", () => {
  const now = Date.UTC(2026, 0, 2, 12);
  assert.equal(formatTime(Date.UTC(2026, 0, 2, 9, 5), now, () => 0), "09:05");
  assert.equal(formatTime(Date.UTC(2026, 0, 1, 23, 59), now, () => 0), "2026-01-01 23:59");
  // UTC+8: 2026-01-01 20:00 UTC is 04:00 on Jan 2 there, the same day as now.
  assert.equal(formatTime(Date.UTC(2026, 0, 1, 20), now, () => -480), "04:00");
});

Deno.test("text: reconnect delays double up to 30 s, with jitter", () => {
  assert.equal(reconnectDelay(0, () => 1), 500);
  assert.equal(reconnectDelay(0, () => 0), 250);
  assert.equal(reconnectDelay(3, () => 1), 4000);
  assert.equal(reconnectDelay(20, () => 1), 30_000);
  assert.equal(reconnectDelay(1000, () => 0), 15_000);
});
