import assert from "node:assert/strict";
import {
  describeConnectError,
  describeError,
  displayName,
  formatBacklog,
  formatCount,
  formatHistory,
  formatMessage,
  formatNick,
  type FormatOptions,
  formatPresence,
  formatStatus,
  formatTop,
  formatUsers,
  makeClock,
  sanitize,
} from "../lib/client/format.ts";
import { ConnectionClosedError } from "../lib/client/connection.ts";
import { lineView } from "../lib/client/view.ts";
import { ChatError, ERROR_CODES } from "../lib/protocol/errors.ts";
import type { ChatMessage } from "../lib/protocol/messages.ts";

/** Terminal control: C0, DEL, C1, and the bidi controls that reorder text. */
// deno-lint-ignore no-control-regex
const DANGEROUS = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const ESC = "\x1b";
/** The colour codes this client adds: ESC [ n m. */
const OUR_COLOUR = new RegExp(`${ESC}\\[\\d+m`, "g");

const T0 = Date.UTC(2026, 0, 2, 9, 5);
const plain: FormatOptions = {
  color: false,
  clock: makeClock({ timeZone: "UTC", now: () => T0 }),
  me: "alice",
  nickOf: (name) => ({ bob: "Bob", carol: "Caro" } as Record<string, string>)[name],
};

function msg(fields: Partial<ChatMessage>): ChatMessage {
  return { id: 1, ts: T0, from: "bob", nick: "Bobby", text: "hi", ...fields };
}

Deno.test("sanitize: a clear-screen sequence shows as text and cannot clear the screen", () => {
  const out = sanitize("before\x1b[2J\x1b[Hafter");
  assert.equal(out, "before␛[2J␛[Hafter");
  assert.doesNotMatch(out, DANGEROUS);
});

Deno.test("sanitize: an OSC window-title sequence (BEL and ST forms) is neutralised", () => {
  const out = sanitize("\x1b]0;you are hacked\x07 and \x1b]2;again\x1b\\");
  assert.equal(out, "␛]0;you are hacked␇ and ␛]2;again␛\\");
  assert.doesNotMatch(out, DANGEROUS);
});

Deno.test("sanitize: carriage return and backspace cannot overwrite what was shown", () => {
  assert.equal(sanitize("I owe you $100\rI owe you $1"), "I owe you $100␍I owe you $1");
  assert.equal(sanitize("yes\b\b\bno"), "yes␈␈␈no");
  assert.equal(sanitize("bell\x07null\x00del\x7f"), "bell␇null␀del␡");
});

Deno.test("sanitize: a multi-line message stays on one line", () => {
  assert.equal(sanitize("one\ntwo\r\nthree\u2028four"), "one↵two↵three↵four");
  assert.equal(sanitize("a\tb"), "a b");
});

Deno.test("sanitize: bidi overrides and isolates cannot reorder the text", () => {
  const out = sanitize("file\u202Egnp.exe \u2066x\u2069 \u202Ay\u202C");
  assert.equal(out, "file�gnp.exe �x� �y�");
  assert.doesNotMatch(out, DANGEROUS);
});

Deno.test("sanitize: C1 controls, including the 8-bit CSI, are replaced", () => {
  const out = sanitize("\x9b31mred\x9d0;title\x07\x85");
  assert.equal(out, "�31mred�0;title␇�");
  assert.doesNotMatch(out, DANGEROUS);
});

Deno.test("sanitize: ordinary text, CJK, emoji and accents are unchanged", () => {
  const text = "Hello, 你好世界! café 👩‍💻 ½ — “quotes”";
  assert.equal(sanitize(text), text);
});

Deno.test("formatMessage: a group message shows time, sender and text", () => {
  assert.equal(formatMessage(msg({}), false, plain), "[09:05] <Bobby (bob)> hi");
  assert.equal(formatMessage(msg({ nick: "Bob" }), false, plain), "[09:05] <Bob> hi");
  assert.equal(
    formatMessage(msg({ from: "alice", nick: "Alice", text: "mine" }), false, plain),
    "[09:05] <Alice (you)> mine",
  );
});

Deno.test("formatMessage: private messages are marked, in both directions", () => {
  assert.equal(
    formatMessage(msg({ to: "alice", text: "psst" }), false, plain),
    "[09:05] [private] Bobby (bob) → you: psst",
  );
  assert.equal(
    formatMessage(msg({ from: "alice", nick: "Alice", to: "carol", text: "hey" }), false, plain),
    "[09:05] [private] you → Caro (carol): hey",
  );
});

Deno.test("formatMessage: messages stored while away are marked; old days show the date", () => {
  const line = formatMessage(msg({ ts: T0 - 86_400_000 }), true, plain);
  assert.equal(line, "[Jan 1 09:05] (while away) <Bobby (bob)> hi");
});

Deno.test("formatMessage: hostile text and nickname are neutralised in the line", () => {
  const line = formatMessage(
    msg({ nick: "B\x1b[31mob", text: "x\x1b]0;t\x07\r\u202Ey" }),
    false,
    { ...plain, color: true },
  );
  // Colour codes are ours (ESC [ n m); every escape the sender wrote is shown as ␛.
  assert.ok(line.includes("B␛[31mob"));
  assert.ok(line.includes("x␛]0;t␇␍�y"));
  const withoutOurColours = line.replace(OUR_COLOUR, "");
  assert.doesNotMatch(withoutOurColours, DANGEROUS);
});

Deno.test("colour: added only when asked", () => {
  assert.ok(!formatMessage(msg({}), false, plain).includes(ESC));
  assert.match(formatMessage(msg({}), false, { ...plain, color: true }), OUR_COLOUR);
});

Deno.test("presence, nick, status and backlog lines", () => {
  const bob = { name: "bob", nickname: "Bob" };
  assert.equal(formatPresence(bob, true, undefined, plain), "* Bob is online");
  assert.equal(
    formatPresence(bob, false, "drop", plain),
    "* Bob went offline (connection dropped)",
  );
  assert.equal(formatPresence(bob, false, "logout", plain), "* Bob logged out");
  assert.equal(formatNick("bob", "Bob", "Bobby", plain), "* Bob (bob) is now known as Bobby");
  assert.equal(
    formatStatus("reconnecting", 2500, plain),
    "* Connection lost — reconnecting in 3s…",
  );
  assert.equal(formatStatus("connected", undefined, plain), "* Reconnected.");
  assert.equal(
    formatBacklog(3, 12, 5, plain),
    "— 3 private and 12 group messages while you were away (5 older skipped) —",
  );
  assert.equal(formatBacklog(1, 0, 0, plain), "— 1 private message while you were away —");
  assert.equal(formatBacklog(0, 0, 0, plain), null);
});

Deno.test("listings: users, count, top, history", () => {
  assert.deepEqual(
    formatUsers([{ name: "bob", nickname: "Bob" }, { name: "alice", nickname: "Alice" }], plain),
    ["Online now (2):", "  Alice (you)", "  Bob"],
  );
  assert.equal(formatCount({ users: 1, sessions: 2 }), "1 user online (2 sessions).");
  const top = formatTop({
    day: "2026-01-02",
    today: [{ name: "bob", nickname: "Bob", count: 1 }],
    allTime: [],
  }, plain);
  assert.deepEqual(top, [
    "Most active today (2026-01-02, UTC):",
    "  1. Bob — 1 message",
    "Most active of all time:",
    "  (nobody yet)",
  ]);
  const page = formatHistory(
    { messages: [msg({ id: 40 }), msg({ id: 41, text: "later" })], more: true },
    { with: "bob", limit: 2 },
    plain,
  );
  assert.deepEqual(page, [
    "— 2 messages in your conversation with Bob, oldest first —",
    "[09:05] <Bobby (bob)> hi",
    "[09:05] <Bobby (bob)> later",
    "— older messages: /history bob 2 before 40 —",
  ]);
  assert.deepEqual(formatHistory({ messages: [], more: false }, { limit: 20 }, plain), [
    "No messages in the group yet.",
  ]);
});

Deno.test("displayName: nickname, with the login name when they differ", () => {
  assert.equal(displayName({ name: "bob", nickname: "BOB" }), "BOB");
  assert.equal(displayName({ name: "bob", nickname: "小明" }), "小明 (bob)");
});

Deno.test("describeError: every error code has its own plain sentence", () => {
  const sentences = new Set<string>();
  for (const code of ERROR_CODES) {
    const sentence = describeError(code, "server words", 7);
    assert.ok(sentence.length > 10, code);
    assert.match(sentence, /^[A-Z].*[.!?]$/, `${code}: "${sentence}"`);
    assert.doesNotMatch(sentence, /\b[A-Z]+_[A-Z_]+\b/, `${code} leaks the wire code`);
    // A specific sentence, not the fallback that repeats the server's words.
    assert.notEqual(sentence, "server words.", code);
    sentences.add(sentence);
  }
  assert.equal(sentences.size, ERROR_CODES.length, "two codes share a sentence");
});

Deno.test("describeError: the sentences a user meets most", () => {
  assert.equal(describeError("WRONG_PASSWORD", "Wrong password"), "Wrong password. Try again.");
  assert.match(describeError("UNKNOWN_USER", 'There is no user named "x"'), /^No such user\./);
  assert.match(describeError("NAME_TAKEN", ""), /already taken/);
  assert.match(describeError("NICK_TAKEN", ""), /nickname is already taken/);
  assert.equal(
    describeError("INVALID_NAME", "A login name has 3 to 32 characters"),
    "That login name is not allowed. A login name has 3 to 32 characters.",
  );
  assert.equal(
    describeError("LOGIN_THROTTLED", "Too many", 30),
    "Too many failed logins. Try again in 30 seconds.",
  );
  assert.match(describeError("RATE_LIMITED", "", 2), /too fast\. Wait 2 seconds/);
  // The server's words are sanitized before they are quoted.
  assert.ok(!describeError("INVALID_NAME", "bad\x1b[2J").includes(ESC));
  // A code from a newer server still gives a sentence.
  assert.equal(describeError("SOMETHING_NEW", "Try later"), "Try later.");
});

Deno.test("describeConnectError: refused, DNS, timeout, lost — no stack trace", () => {
  assert.equal(
    describeConnectError(new Deno.errors.ConnectionRefused("os error 111"), "127.0.0.1", 8889),
    "Cannot reach the server at 127.0.0.1:8889 — is it running?",
  );
  assert.equal(
    describeConnectError(
      new Error("failed to lookup address information: Name or service not known"),
      "chat.invalid",
      8889,
    ),
    'Cannot find the host "chat.invalid" — check the --host setting.',
  );
  assert.match(
    describeConnectError(new Error("Timed out"), "10.0.0.1", 1),
    /did not answer in time/,
  );
  assert.match(describeConnectError(new ConnectionClosedError(), "h", 1), /was lost/);
  assert.equal(
    describeConnectError(new ChatError("SHUTTING_DOWN", "bye"), "h", 1),
    "The server is shutting down. Try again later.",
  );
  assert.match(describeConnectError(new Error("invalid peer certificate"), "h", 1), /--ca FILE/);
  const odd = describeConnectError(new TypeError("weird\nthing"), "::1", 9);
  assert.equal(odd, "Cannot talk to the server at [::1]:9: weird↵thing.");
});

Deno.test("line view: one tab-separated line per event, never a raw control character", () => {
  const view = lineView();
  const evil = msg({ id: 9, ts: 0, text: "a\tb\nc\x1b[2J", nick: "B\x1b]0;x\x07" });
  assert.deepEqual(view.message(evil, "new"), [
    "MSG\t9\t1970-01-01T00:00:00.000Z\tbob\tB␛]0;x␇\tnew\ta b↵c␛[2J",
  ]);
  assert.deepEqual(view.message({ ...evil, to: "alice", text: "x" }, "away"), [
    "PM\t9\t1970-01-01T00:00:00.000Z\tbob\talice\tB␛]0;x␇\taway\tx",
  ]);
  assert.deepEqual(
    view.event({
      kind: "presence",
      user: { name: "bob", nickname: "Bob" },
      online: false,
      reason: "drop",
    }),
    ["OFFLINE\tbob\tBob\tdrop"],
  );
  assert.deepEqual(view.event({ kind: "backlog", private: 1, group: 2, skipped: 0 }), [
    "BACKLOG\t1\t2\t0",
  ]);
  assert.deepEqual(
    view.event({ kind: "status", state: "reconnecting", detail: "", retryInMs: 1200 }),
    ["STATUS\treconnecting\t2\tConnection lost; reconnecting in 2s."],
  );
  assert.deepEqual(view.error("WRONG_PASSWORD", "Wrong password. Try again."), [
    "ERROR\tWRONG_PASSWORD\tWrong password. Try again.",
  ]);
});
