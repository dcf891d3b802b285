/** Pure command parsing and Tab completion. */

import assert from "node:assert/strict";
import { parseCommand } from "../lib/client/commands.ts";
import { applyCompletion, cycleCompletion, startCompletion } from "../lib/client/completion.ts";

Deno.test("plain text goes to the current window as typed; // escapes a slash", () => {
  assert.deepEqual(parseCommand("  hello   there "), { kind: "say", text: "  hello   there " });
  assert.deepEqual(parseCommand("//shrug"), { kind: "say", text: "/shrug" });
  assert.deepEqual(parseCommand("line 1\nline 2"), { kind: "say", text: "line 1\nline 2" });
  assert.equal(parseCommand("   "), null);
});

Deno.test("users by login name or nickname; rooms with or without #", () => {
  assert.deepEqual(parseCommand("/msg 小明 你好  吗"), {
    kind: "msg",
    to: "小明",
    text: "你好  吗",
  });
  assert.deepEqual(parseCommand("/m @123 hi"), { kind: "msg", to: "123", text: "hi" });
  assert.deepEqual(parseCommand("/msg bob"), { kind: "usage", command: "msg" });
  assert.deepEqual(parseCommand("/join #Rust"), { kind: "join", room: "rust" });
  assert.deepEqual(parseCommand("/part"), { kind: "part" });
  assert.deepEqual(parseCommand("/query 小明"), { kind: "query", user: "小明" });
  assert.deepEqual(parseCommand("/query bob hi there"), {
    kind: "query",
    user: "bob",
    text: "hi there",
  });
  assert.deepEqual(parseCommand("/reply ok"), { kind: "reply", text: "ok" });
  assert.deepEqual(parseCommand("/me waves"), { kind: "say", text: "waves", action: true });
  assert.deepEqual(parseCommand("/kick bob #rust"), {
    kind: "roomUser",
    action: "kick",
    user: "bob",
    room: "rust",
  });
  assert.deepEqual(parseCommand("/invite 小明"), {
    kind: "roomUser",
    action: "invite",
    user: "小明",
  });
});

Deno.test("room commands, windows, away, ignore, settings", () => {
  assert.deepEqual(parseCommand("/create dev private Dev team"), {
    kind: "create",
    room: "dev",
    public: false,
    title: "Dev team",
  });
  assert.deepEqual(parseCommand("/create dev"), { kind: "create", room: "dev", public: true });
  assert.deepEqual(parseCommand("/topic #rust all about Rust"), {
    kind: "topic",
    room: "rust",
    topic: "all about Rust",
  });
  assert.deepEqual(parseCommand("/topic hello world"), { kind: "topic", topic: "hello world" });
  assert.deepEqual(parseCommand("/topic"), { kind: "topic" });
  assert.deepEqual(parseCommand("/win 3"), { kind: "win", n: 3 });
  assert.deepEqual(parseCommand("/win x"), { kind: "usage", command: "win" });
  assert.deepEqual(parseCommand("/away lunch, back at 2"), {
    kind: "away",
    reason: "lunch, back at 2",
  });
  assert.deepEqual(parseCommand("/back"), { kind: "away" });
  assert.deepEqual(parseCommand("/ignore 小明"), { kind: "ignore", user: "小明" });
  assert.deepEqual(parseCommand("/set presence off"), {
    kind: "set",
    name: "presence",
    value: "off",
  });
  assert.deepEqual(parseCommand("/set bell on"), { kind: "set", name: "bell", value: true });
  assert.deepEqual(parseCommand("/set presence loud"), { kind: "usage", command: "set" });
  assert.deepEqual(parseCommand("/history 5 before 30"), { kind: "history", limit: 5, before: 30 });
  assert.deepEqual(parseCommand("/history before"), { kind: "usage", command: "history" });
  assert.deepEqual(parseCommand("/top 3 here"), { kind: "top", limit: 3, room: true });
});

Deno.test("unknown commands suggest the nearest one", () => {
  assert.deepEqual(parseCommand("/jion x"), { kind: "unknown", name: "jion", guess: "join" });
  assert.deepEqual(parseCommand("/xyzzy"), { kind: "unknown", name: "xyzzy" });
  assert.deepEqual(parseCommand("/QUIT"), { kind: "quit" });
});

const sources = {
  users: [{ name: "bob", nickname: "小明" }, { name: "alice", nickname: "Alice W." }, {
    name: "albert",
    nickname: "Al",
  }],
  rooms: ["rust", "random", "lobby"],
};

Deno.test("completion: commands, rooms, nicknames and login names; Tab cycles", () => {
  const c = startCompletion("/jo", 3, sources)!;
  assert.deepEqual(c.candidates, ["/join "]);
  const r = startCompletion("/join r", 7, sources)!;
  assert.deepEqual(r.candidates, ["random ", "rust "]);
  assert.deepEqual(applyCompletion(cycleCompletion(r)), { text: "/join rust ", cursor: 11 });
  const h = startCompletion("see #lo", 7, sources)!;
  assert.deepEqual(h.candidates, ["#lobby "]);
  const n = startCompletion("al", 2, sources)!;
  assert.deepEqual(n.candidates, ["Al: ", "albert: ", "Alice W.: ", "alice: "]);
  const m = startCompletion("/msg 小", 6, sources)!;
  assert.deepEqual(applyCompletion(m), { text: "/msg 小明 ", cursor: 8 });
  const spaced = startCompletion("/msg ali", 8, sources)!;
  assert.deepEqual(spaced.candidates, ["alice "], "a nickname with a space is given by login name");
  const mid = startCompletion("hi bo and", 5, sources)!;
  assert.deepEqual(applyCompletion(mid), { text: "hi bob  and", cursor: 7 });
  assert.equal(startCompletion("zz", 2, sources), null);
});
