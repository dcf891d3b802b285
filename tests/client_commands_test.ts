import assert from "node:assert/strict";
import { parseCommand } from "../lib/client/commands.ts";

Deno.test("plain text goes to everyone exactly as typed", () => {
  assert.deepEqual(parseCommand("hello   world  "), { kind: "send", text: "hello   world  " });
  assert.deepEqual(parseCommand("你好 世界"), { kind: "send", text: "你好 世界" });
});

Deno.test("blank lines are ignored", () => {
  assert.equal(parseCommand(""), null);
  assert.equal(parseCommand("   \t "), null);
});

Deno.test("/msg keeps every space of the text (the old client cut at the first one)", () => {
  assert.deepEqual(parseCommand("/msg bob hello   there,  friend "), {
    kind: "send",
    to: "bob",
    text: "hello   there,  friend ",
  });
  assert.deepEqual(parseCommand("/MSG Bob  two words"), {
    kind: "send",
    to: "Bob",
    text: "two words",
  });
  assert.deepEqual(parseCommand("/msg @123 hi"), { kind: "send", to: "123", text: "hi" });
});

Deno.test("/msg without a user or text explains the usage", () => {
  const none = parseCommand("/msg");
  assert.equal(none?.kind, "error");
  assert.match((none as { message: string }).message, /Usage: \/msg <user> <text>/);
  const noText = parseCommand("/msg bob   ");
  assert.equal(noText?.kind, "error");
  assert.match((noText as { message: string }).message, /\/msg bob <text>/);
});

Deno.test("simple commands", () => {
  assert.deepEqual(parseCommand("/users"), { kind: "users" });
  assert.deepEqual(parseCommand("/count"), { kind: "count" });
  assert.deepEqual(parseCommand("/menu"), { kind: "menu" });
  assert.deepEqual(parseCommand("/help"), { kind: "help" });
  assert.deepEqual(parseCommand("/quit"), { kind: "quit" });
  assert.deepEqual(parseCommand("  /QUIT  "), { kind: "quit" });
  assert.deepEqual(parseCommand("/top"), { kind: "top" });
  assert.deepEqual(parseCommand("/top 10"), { kind: "top", limit: 10 });
  assert.equal(parseCommand("/top lots")?.kind, "error");
  assert.equal(parseCommand("/users bob")?.kind, "error");
});

Deno.test("/nick takes the whole rest of the line", () => {
  assert.deepEqual(parseCommand("/nick  Big Bob  "), { kind: "nick", nickname: "Big Bob" });
  assert.equal(parseCommand("/nick")?.kind, "error");
});

Deno.test("/history: user, count and paging in any combination", () => {
  assert.deepEqual(parseCommand("/history"), { kind: "history" });
  assert.deepEqual(parseCommand("/history 50"), { kind: "history", limit: 50 });
  assert.deepEqual(parseCommand("/history bob"), { kind: "history", with: "bob" });
  assert.deepEqual(parseCommand("/history bob 5"), { kind: "history", with: "bob", limit: 5 });
  assert.deepEqual(parseCommand("/history bob 5 before 120"), {
    kind: "history",
    with: "bob",
    limit: 5,
    before: 120,
  });
  assert.deepEqual(parseCommand("/history before 7"), { kind: "history", before: 7 });
  assert.deepEqual(parseCommand("/history @123"), { kind: "history", with: "123" });
  for (const bad of ["/history bob 0", "/history 5 before", "/history bob 5 x", "/history 9999"]) {
    assert.equal(parseCommand(bad)?.kind, "error", bad);
  }
});

Deno.test("an unknown command is an error that helps", () => {
  const result = parseCommand("/xyz now");
  assert.equal(result?.kind, "error");
  const message = (result as { message: string }).message;
  assert.match(message, /Unknown command "\/xyz"/);
  assert.match(message, /\/help/);
  assert.match((parseCommand("/usres") as { message: string }).message, /Did you mean \/users\?/);
});

Deno.test("//text sends text that starts with a slash", () => {
  assert.deepEqual(parseCommand("//shrug  ok"), { kind: "send", text: "/shrug  ok" });
  assert.deepEqual(parseCommand("//"), { kind: "send", text: "/" });
});
