/**
 * The interactive client's flows with plain values: key events in, screen frames out, the
 * in-memory fake server behind the session. No terminal, no network.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../lib/client/chat_client.ts";
import type { KeyEvent } from "../lib/client/keys.ts";
import { DEFAULT_SETTINGS, type Settings } from "../lib/client/settings.ts";
import { ChatApp } from "../lib/client/ui/chat_app.ts";
import type { Frame } from "../lib/client/ui/screen.ts";
import { texts } from "../lib/i18n/translate.ts";
import { FakeChat } from "./_fake_chat.ts";

class FakeScreen {
  rows = 24;
  columns = 80;
  frame: Frame = { rows: [], cursorRow: 0, cursorColumn: 0 };
  bells = 0;
  size() {
    return { rows: this.rows, columns: this.columns };
  }
  draw(frame: Frame) {
    if (frame.rows.length > 0) this.frame = frame;
  }
  bell() {
    this.bells++;
  }
  text(): string {
    return this.frame.rows.join("\n");
  }
}

interface Harness {
  chat: FakeChat;
  app: ChatApp;
  screen: FakeScreen;
  client: ChatClient;
  saved: { settings: Settings[]; history: string[][] };
  exited: { code: number; lines: string[] } | null;
  type(...keys: (string | KeyEvent)[]): Promise<void>;
  until(what: string, check: () => boolean): Promise<void>;
}

const key = (name: string, extra: Partial<KeyEvent & { type: "key" }> = {}): KeyEvent =>
  ({ type: "key", name, ...extra }) as KeyEvent;
const ENTER = key("enter");
const ctrl = (char: string) => key("char", { char, ctrl: true });
const alt = (char: string) => key("char", { char, alt: true });

async function start(
  options: { login?: string; lang?: "en" | "zh"; bell?: boolean; settings?: Partial<Settings> } =
    {},
): Promise<Harness> {
  const chat = new FakeChat();
  chat.account("bob", "小明");
  chat.account("alice", "Alice");
  const client = new ChatClient({ connect: () => chat.connect(), ackDelayMs: 5 });
  const screen = new FakeScreen();
  const saved = { settings: [] as Settings[], history: [] as string[][] };
  const h: Harness = {
    chat,
    screen,
    client,
    saved,
    exited: null,
    app: undefined as unknown as ChatApp,
    async type(...keys) {
      for (const k of keys) h.app.keys([typeof k === "string" ? { type: "text", text: k } : k]);
      await settle();
      h.app.drawNow();
    },
    async until(what, check) {
      const deadline = Date.now() + 3000;
      while (!check()) {
        if (Date.now() > deadline) {
          throw new Error(`Timed out waiting for ${what}:\n${screen.text()}`);
        }
        await new Promise((r) => setTimeout(r, 5));
        h.app.drawNow();
      }
    },
  };
  h.app = new ChatApp({
    client,
    screen,
    tx: texts(options.lang ?? "en"),
    color: false,
    bell: options.bell ?? true,
    clock: () => "12:00",
    host: "127.0.0.1",
    port: 1,
    digestMs: 50,
    kept: {
      settings: () => ({ ...DEFAULT_SETTINGS, ignore: [], ...options.settings }),
      history: () => ["earlier line"],
      saveSettings: (s) => saved.settings.push(structuredClone(s)),
      saveHistory: (e) => saved.history.push([...e]),
    },
    credentials: options.login ? { name: options.login, password: "password1" } : undefined,
    exit: (code, lines) => h.exited = { code, lines },
  });
  void h.app.run();
  if (options.login) await h.until("logged in", () => client.live && h.app.windows.list.length > 1);
  else {await h.until("menu", () =>
      screen.text().includes(texts(options.lang ?? "en").t("menu.choose")));}
  return h;
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 2));
}

Deno.test("registration checks the name first, confirms the password, then logs in", async () => {
  const h = await start();
  await h.type("2", ENTER, "bob", ENTER);
  await h.until("name taken", () => h.screen.text().includes('The login name "bob" is taken'));
  assert.match(h.screen.text(), /New login name/, "asked again at once, before any password");
  await h.type("carol", ENTER, "password1", ENTER, "password2", ENTER);
  await h.until("mismatch", () => h.screen.text().includes("The two passwords differ"));
  await h.type("password1", ENTER, "password1", ENTER, "小红", ENTER);
  await h.until("logged in", () => h.client.live);
  const types = h.chat.received.map((m) => m.type).filter((t) => t !== "ack");
  assert.deepEqual(types, ["hello", "check", "check", "check", "register", "login"]);
  assert.equal(h.client.user?.nickname, "小红");
  assert.ok(!h.screen.text().includes("password1"), "passwords never shown");
  h.client.close();
});

Deno.test("plain text goes to the current window: a private window's text stays private", async () => {
  const h = await start({ login: "alice" });
  h.chat.post("bob", { to: "alice" }, "晚上一起吃饭吗？");
  await h.until("query window", () => h.app.windows.find("query", "bob") !== undefined);
  await h.type(alt("3"), "好啊，几点？", ENTER);
  await h.until("sent", () => h.chat.stream("@bob").length === 2);
  assert.equal(h.chat.stream("#lobby").length, 0, "nothing leaked to the lobby");
  assert.equal(h.chat.stream("@bob")[1].text, "好啊，几点？");
  await h.type(alt("2"), "/reply on my way", ENTER);
  await h.until("reply", () => h.chat.stream("@bob").length === 3);
  h.client.close();
});

Deno.test("an over-long line is refused at once and stays in the input; 4,000 characters go", async () => {
  const h = await start({ login: "alice" });
  const long = "长".repeat(4100);
  h.app.keys([{ type: "paste", text: long }]);
  await h.type(ENTER);
  assert.match(h.screen.text(), /4100 characters; the limit is 4000/);
  assert.equal(h.app.editor.text, long);
  assert.equal(h.chat.sent("send").length, 0);
  await h.type(ctrl("a"), ctrl("k"));
  const text = "字".repeat(4000);
  const started = performance.now();
  h.app.keys([{ type: "paste", text }]);
  h.app.drawNow();
  const accepted = performance.now() - started;
  await h.type(ENTER);
  await h.until("sent", () => h.chat.stream("#lobby").length === 1);
  assert.equal(h.chat.stream("#lobby")[0].text, text);
  console.log(`  (pasting 4,000 characters and drawing: ${accepted.toFixed(1)} ms)`);
  h.client.close();
});

Deno.test("a 60-line paste is one multi-line message, sent after a confirmation", async () => {
  const h = await start({ login: "alice" });
  const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`);
  h.app.keys([{ type: "paste", text: lines.join("\n") + "\n" }]);
  await h.type(ENTER);
  assert.match(h.screen.text(), /Send these 60 lines as one message\?/);
  await h.type("n");
  assert.equal(h.chat.sent("send").length, 0, "no: nothing sent, text kept");
  assert.equal(h.app.editor.text, lines.join("\n") + "\n");
  await h.type(ENTER, "y");
  await h.until("sent", () => h.chat.stream("#lobby").length === 1);
  assert.equal(h.chat.stream("#lobby")[0].text, lines.join("\n"));
  h.client.close();
});

Deno.test("Alt-Enter adds a line break: one message of two lines", async () => {
  const h = await start({ login: "alice" });
  await h.type("one", key("newline"), "two", ENTER);
  await h.until("sent", () => h.chat.stream("#lobby").length === 1);
  assert.equal(h.chat.stream("#lobby")[0].text, "one\ntwo");
  h.client.close();
});

Deno.test("Ctrl-C with a draft asks first; a second Ctrl-C logs out and leaves", async () => {
  const h = await start({ login: "alice" });
  await h.type("half a thought", ctrl("c"));
  assert.match(h.screen.text(), /unsent draft/);
  await h.type("x");
  assert.equal(h.exited, null);
  assert.equal(h.app.editor.text, "half a thought", "the draft is kept");
  await h.type(ctrl("c"), ctrl("c"));
  await h.until("exit", () => h.exited !== null);
  assert.deepEqual(h.exited!.lines, ["Logged out.", "Bye."]);
  assert.ok(h.chat.sent("logout").length === 1);
});

Deno.test("windows: unread counts in the status bar, Alt-number, Alt-A, marker line", async () => {
  const h = await start({ login: "alice" });
  h.chat.rooms.set("rust", {
    name: "rust",
    title: "rust",
    topic: "",
    public: true,
    owner: "bob",
    members: new Set(["bob"]),
  });
  await h.type("/join rust", ENTER);
  await h.until("rust window", () => h.app.windows.current.name === "rust");
  await h.type(alt("1"));
  h.chat.post("bob", { room: "lobby" }, "in the lobby");
  h.chat.post("bob", { room: "rust" }, "alice: look at this");
  await h.until("activity", () => /Act: 2,3!/.test(h.screen.text()));
  await h.type(alt("a"));
  assert.equal(h.app.windows.current.name, "rust", "mentions first");
  assert.match(h.screen.text(), /─ new ─/);
  assert.ok(h.screen.bells >= 1, "a mention rings the bell");
  await h.type("/win 2", ENTER);
  assert.equal(h.app.windows.current.name, "lobby");
  assert.doesNotMatch(h.screen.text(), /Act:/);
  h.client.close();
});

Deno.test("--no-bell: no bell on a private message", async () => {
  const h = await start({ login: "alice", bell: false });
  h.chat.post("bob", { to: "alice" }, "psst");
  await h.until("message", () => h.app.windows.find("query", "bob") !== undefined);
  assert.equal(h.screen.bells, 0);
  h.client.close();
});

Deno.test("Tab completes nicknames at the start of a line", async () => {
  const h = await start({ login: "alice" });
  h.chat.post("bob", { room: "lobby" }, "hi");
  await h.until("message", () => h.screen.text().includes("<小明 (bob)> hi"));
  await h.type("小", key("tab"));
  assert.equal(h.app.editor.text, "小明: ");
  h.client.close();
});

Deno.test("sending too fast: the message waits, says so, and goes out by itself", async () => {
  const h = await start({ login: "alice" });
  h.chat.rateLimitNext = 1;
  await h.type("patience", ENTER);
  await h.until("notice", () => h.screen.text().includes("goes out by itself in 1 s"));
  assert.match(h.screen.text(), /patience \(sending…\)/);
  await h.until("sent", () => h.chat.stream("#lobby").length === 1);
  await h.until("shown", () => !h.screen.text().includes("(sending…)"));
  h.client.close();
});

Deno.test("offline and away receivers are told once after a private message", async () => {
  const h = await start({ login: "alice" });
  h.chat.accounts.get("bob")!.away = "at lunch";
  await h.type("/msg 小明 hello", ENTER, "/msg 小明 again", ENTER);
  await h.until("sent", () => h.chat.stream("@bob").length === 2);
  await h.until("elsewhere", () => h.screen.text().includes("-> 小明 (window 3): again"));
  const text = h.app.windows.find("query", "小明")!.lines.join("\n");
  assert.equal(text.match(/is offline; they will get the message/g)?.length, 1);
  assert.equal(text.match(/is away: at lunch/g)?.length, 1);
  h.client.close();
});

Deno.test("/ignore by nickname is kept and hides messages; input history is kept", async () => {
  const h = await start({ login: "alice" });
  h.chat.post("bob", { room: "lobby" }, "first");
  await h.until("first", () => h.screen.text().includes("first"));
  await h.type("/ignore 小明", ENTER);
  assert.deepEqual(h.saved.settings.at(-1)?.ignore, ["bob"]);
  h.chat.post("bob", { room: "lobby" }, "hidden");
  h.chat.post("alice", { room: "lobby" }, "visible");
  await h.until("visible", () => h.screen.text().includes("visible"));
  assert.ok(!h.screen.text().includes("hidden"));
  assert.deepEqual(h.saved.history.at(-1), ["earlier line", "/ignore 小明"]);
  await h.type(key("up"));
  assert.equal(h.app.editor.text, "/ignore 小明");
  h.client.close();
});

Deno.test("join floods are coalesced into one line with /set presence summary", async () => {
  const h = await start({ login: "alice" });
  for (let i = 0; i < 12; i++) {
    h.chat.broadcast({
      type: "member",
      room: "lobby",
      user: { name: `u${i}`, nickname: `U${i}` },
      action: "join",
    }, () => true);
  }
  for (let i = 0; i < 9; i++) {
    h.chat.broadcast({
      type: "member",
      room: "lobby",
      user: { name: `v${i}`, nickname: `V${i}` },
      action: "part",
    }, () => true);
  }
  await h.until("digest", () => h.screen.text().includes("12 joined"));
  const lines = h.app.windows.current.lines.filter((l) => /joined|left/.test(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /12 joined: U0, U1, U2, U3, U4 and 7 more; 9 left: V0/);
  await h.type("/set presence all", ENTER);
  for (const name of ["w1", "w2"]) {
    h.chat.broadcast({
      type: "member",
      room: "lobby",
      user: { name, nickname: name.toUpperCase() },
      action: "join",
    }, () => true);
  }
  const all = h.app.windows.current.lines.filter((l) => /W\d joined #lobby/.test(l));
  assert.equal(all.length, 2, "with /set presence all each join is a line of its own, at once");
  h.client.close();
});

Deno.test("Chinese interface: the menu and the status bar in Chinese", async () => {
  const h = await start({ lang: "zh" });
  assert.match(h.screen.text(), /输入 1、2 或 3/);
  await h.type("1", ENTER, "alice", ENTER, "password1", ENTER);
  await h.until("logged in", () => h.client.live);
  await h.until("bar", () => h.screen.text().includes("[已连接]"));
  h.client.close();
});

Deno.test("a failed login with --user/--password leaves with code 1 and says why", async () => {
  const chat = new FakeChat();
  const client = new ChatClient({ connect: () => chat.connect() });
  let exited: { code: number; lines: string[] } | null = null;
  const app = new ChatApp({
    client,
    screen: new FakeScreen(),
    tx: texts("en"),
    color: false,
    bell: false,
    clock: () => "12:00",
    host: "127.0.0.1",
    port: 1,
    kept: {
      settings: () => ({ ...DEFAULT_SETTINGS, ignore: [] }),
      history: () => [],
      saveSettings() {},
      saveHistory() {},
    },
    credentials: { name: "ghost", password: "password1" },
    exit: (code, lines) => exited = { code, lines },
  });
  await app.run();
  assert.deepEqual(exited, {
    code: 1,
    lines: ['There is no account "ghost". Check the login name, or register first.', "Bye."],
  });
});

Deno.test("resize: the same state laid out again fits the new size", async () => {
  const h = await start({ login: "alice" });
  await h.type("a draft long enough to wrap on a narrow terminal for sure, yes indeed");
  for (const [rows, columns] of [[10, 30], [40, 120], [24, 80]]) {
    h.screen.rows = rows;
    h.screen.columns = columns;
    h.app.drawNow();
    assert.equal(h.screen.frame.rows.length, rows);
    assert.equal(h.screen.frame.rows.filter((r) => r.includes("a draft")).length, 1);
  }
  h.client.close();
});
