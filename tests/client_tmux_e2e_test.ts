/**
 * End to end, as a person uses the client: the real client program in a real terminal
 * (tmux), against a chat server over real TCP, with a second user on a plain protocol
 * connection who sends and receives. Assertions are on the screen and on what the other user
 * (that is, the server) received.
 */

import assert from "node:assert/strict";
import { ChatConnection } from "../lib/client/connection.ts";
import type { ChatMessage, ServerEvent } from "../lib/protocol/messages.ts";
import { parseServerConfig } from "../lib/config/server_config.ts";
import { createLogger } from "../lib/server/log.ts";
import { startServer } from "../lib/server/server.ts";
import { startChatServer } from "./_e2e_server.ts";
import { freePort } from "./_redis.ts";
import { TmuxClient } from "./_tmux.ts";

/** A second user on a plain protocol connection. */
async function peer(port: number, name: string, nickname: string) {
  const conn = await ChatConnection.open({ host: "127.0.0.1", port, clientName: "peer" });
  const events: ServerEvent[] = [];
  conn.on((e) => events.push(e as ServerEvent));
  await conn.request("register", { name, password: "password1", nickname }).catch((e) => {
    if (e.code !== "NAME_TAKEN") throw e;
  });
  await conn.request("login", { name, password: "password1" });
  let key = 0;
  return {
    conn,
    /** Sends as this user. */
    send(target: { room: string } | { to: string }, text: string) {
      return conn.request("send", { ...target, text, key: `${name}-${++key}` });
    },
    /** Waits for a message matching `test`. */
    async received(what: string, test: (msg: ChatMessage) => boolean, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const found = events.find((e): e is Extract<ServerEvent, { type: "message" }> =>
          e.type === "message" && test(e.msg)
        );
        if (found) return found.msg;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`${name} did not receive ${what}`);
    },
    messages(): ChatMessage[] {
      return events.flatMap((e) => e.type === "message" ? [e.msg] : []);
    },
  };
}

/** Registers `name` through the menu, as a new user would, and waits for the lobby. */
async function registerThroughMenu(c: TmuxClient, name: string, nickname: string, asked = false) {
  if (!asked) {
    await c.waitForText("Choose 1, 2 or 3");
    await c.type("2");
    await c.keys("Enter");
  }
  await c.waitForText("New login name");
  await c.type(name);
  await c.keys("Enter");
  await c.waitForText("Password (at least 8");
  await c.type("password1");
  await c.keys("Enter");
  await c.waitForText("The same password again");
  await c.type("password1");
  await c.keys("Enter");
  await c.waitForText("Nickname shown to others");
  await c.type(nickname);
  await c.keys("Enter");
  await c.waitFor("the lobby window", (s) => /\[2:#lobby\]/.test(s));
}

Deno.test("tmux: register, chat in the lobby, a private reply stays private, windows and Tab", async () => {
  await using server = await startChatServer();
  const bob = await peer(server.port, "bob", "小明");
  await using c = await TmuxClient.start({ port: server.port });
  await c.waitForText("Choose 1, 2 or 3");
  await c.type("2");
  await c.keys("Enter");
  await c.type("bob");
  await c.keys("Enter");
  await c.waitForText('The login name "bob" is taken');
  assert.doesNotMatch(await c.screen(), /Password \(at least/, "the name is checked first");
  await registerThroughMenu(c, "alice", "Alice W.", true);

  await c.type("hello everyone 你好");
  await c.keys("Enter");
  await bob.received(
    "the lobby message",
    (m) => m.text === "hello everyone 你好" && m.stream === "#lobby",
  );
  await c.waitForText("<Alice W.> hello everyone 你好");

  await bob.send({ to: "alice" }, "晚上一起吃饭吗？");
  await c.waitFor("activity in window 3", (s) => /Act: 3!/.test(s));
  await c.keys("M-a");
  await c.waitFor(
    "the private window",
    (s) => /\[3:小明 \(bob\)\]/.test(s) && s.includes("晚上一起吃饭吗？"),
  );
  await c.type("好啊，几点？");
  await c.keys("Enter");
  const reply = await bob.received("the reply", (m) => m.text === "好啊，几点？");
  assert.equal(reply.to, "bob");
  assert.equal(reply.stream, "@bob", "the reply is private");
  assert.ok(!bob.messages().some((m) => m.stream === "#lobby" && m.text === "好啊，几点？"));

  await c.keys("M-2");
  await c.waitFor("the lobby again", (s) => /\[2:#lobby\]/.test(s));
  await c.type("小");
  await c.keys("Tab");
  await c.waitFor(
    "the completed nickname",
    (s) => s.split("\n").some((l) => l.trimEnd() === "[#lobby] 小明:"),
  );
  await c.keys("C-u");
  await c.type("/win 3");
  await c.keys("Enter");
  await c.waitFor("window 3 by command", (s) => /\[3:小明 \(bob\)\]/.test(s));
  bob.conn.close();
});

Deno.test("tmux: a 4,000-character paste is accepted fast and sent whole; 4,100 is refused and kept", async () => {
  await using server = await startChatServer();
  const bob = await peer(server.port, "bob", "Bob");
  await using c = await TmuxClient.start({ port: server.port, columns: 120, rows: 40 });
  await registerThroughMenu(c, "alice", "Alice");
  const long = "长文本 mixed text ".repeat(300).slice(0, 4000);
  const started = performance.now();
  await c.paste(long);
  await c.waitFor("the paste in the input", (s) => /\[\d{3,4}\/4000\]|\[4000\/4000\]/.test(s));
  const accepted = performance.now() - started;
  await c.keys("Enter");
  const msg = await bob.received("the long message", (m) => m.text.length > 1000);
  const delivered = performance.now() - started;
  assert.equal(msg.text, long);
  console.log(
    `  paste of 4,000 characters: on screen after ${accepted.toFixed(0)} ms, delivered after ${
      delivered.toFixed(0)
    } ms`,
  );

  await c.paste("x".repeat(4100));
  await c.keys("Enter");
  await c.waitForText("This message has 4100 characters; the limit is 4000");
  assert.match(await c.screen(), /\[4100\/4000\]/, "the text stays in the input");
  assert.equal(bob.messages().filter((m) => m.text.startsWith("xxx")).length, 0);
  bob.conn.close();
});

Deno.test("tmux: a 60-line paste becomes one message after a confirmation", async () => {
  await using server = await startChatServer();
  const bob = await peer(server.port, "bob", "Bob");
  await using c = await TmuxClient.start({ port: server.port });
  await registerThroughMenu(c, "alice", "Alice");
  const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1} of the paste`);
  await c.paste(lines.join("\n") + "\n");
  await c.keys("Enter");
  await c.waitForText("Send these 60 lines as one message?");
  await c.type("y");
  const msg = await bob.received("the pasted lines", (m) => m.text.startsWith("line 1 "));
  assert.equal(msg.text, lines.join("\n"));
  await c.waitForText("line 60 of the paste");
  assert.equal(bob.messages().filter((m) => m.text.includes("of the paste")).length, 1);
  bob.conn.close();
});

Deno.test("tmux: 50 quickly typed messages all arrive, in order", async () => {
  await using server = await startChatServer();
  const bob = await peer(server.port, "bob", "Bob");
  await using c = await TmuxClient.start({ port: server.port });
  await registerThroughMenu(c, "alice", "Alice");
  for (let i = 1; i <= 50; i++) {
    await c.type(`quick ${i}`);
    await c.keys("Enter");
  }
  await bob.received("the 50th", (m) => m.text === "quick 50", 30_000);
  const got = bob.messages().filter((m) => m.text.startsWith("quick ")).map((m) => m.text);
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `quick ${i + 1}`));
  bob.conn.close();
});

Deno.test("tmux: resizing with a wrapped draft redraws it once and keeps the lines", async () => {
  await using server = await startChatServer();
  const bob = await peer(server.port, "bob", "Bob");
  await using c = await TmuxClient.start({ port: server.port });
  await registerThroughMenu(c, "alice", "Alice");
  await bob.send({ room: "lobby" }, "a line from bob before the resize");
  await c.waitForText("a line from bob before the resize");
  const draft = "this draft is long enough to wrap over several rows of a narrow terminal window";
  await c.type(draft);
  for (const [columns, rows] of [[40, 15], [70, 20], [100, 30]]) {
    await c.resize(columns, rows);
    const screen = await c.waitFor(`a ${columns}-column layout`, (s) => {
      const widest = Math.max(...s.split("\n").map((l) => l.length));
      return widest <= columns && s.includes("this draft");
    });
    assert.equal(screen.split("this draft").length - 1, 1, `the draft shows once at ${columns}`);
    assert.match(screen.replace(/\n\s*/g, " "), /a line from bob/);
  }
  bob.conn.close();
});

Deno.test("tmux: Ctrl-C with a draft asks; confirming logs out and says so; history is kept", async () => {
  await using server = await startChatServer();
  await using c = await TmuxClient.start({ port: server.port });
  await registerThroughMenu(c, "alice", "Alice");
  await c.type("remember me");
  await c.keys("Enter");
  await c.waitForText("<Alice> remember me");
  await c.type("unfinished");
  await c.keys("C-c");
  await c.waitForText("You have an unsent draft");
  await c.type("n");
  await c.waitFor("the draft back", (s) => s.includes("[#lobby] unfinished"));
  await c.keys("C-c");
  await c.waitForText("You have an unsent draft");
  await c.keys("C-c");
  assert.equal(await c.exited(), 0);
  const after = await c.screen();
  assert.match(after, /Logged out\./);
  assert.match(after, /Bye\./);

  await using again = await TmuxClient.start({
    port: server.port,
    stateDir: c.stateDir,
    args: ["--user", "alice", "--password", "password1"],
  });
  await again.waitFor("the lobby", (s) => /\[2:#lobby\]/.test(s));
  await again.keys("Up");
  await again.waitFor("the kept history", (s) => s.includes("[#lobby] remember me"));
});

Deno.test("tmux: the interface in Chinese", async () => {
  await using server = await startChatServer();
  await using c = await TmuxClient.start({ port: server.port, env: { LANG: "zh_CN.UTF-8" } });
  await c.waitForText("输入 1、2 或 3");
  await c.type("2");
  await c.keys("Enter");
  await c.waitForText("新登录名");
  await c.type("xiaohong");
  await c.keys("Enter");
  await c.type("password1");
  await c.keys("Enter");
  await c.type("password1");
  await c.keys("Enter");
  await c.type("小红");
  await c.keys("Enter");
  await c.waitFor("the lobby", (s) => s.includes("[已连接]") && s.includes("#lobby"));
  await c.type("/frobnicate");
  await c.keys("Enter");
  await c.waitForText("未知命令");
});

Deno.test("tmux: a server restart: the status bar counts down, a message typed meanwhile goes out after", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const start = () =>
    startServer(
      parseServerConfig(
        ["--host", "127.0.0.1", "--port", String(port), "--no-http", "--kv", `${dir}/c.kv`],
        () => undefined,
        "test",
      ),
      { log: createLogger("silent") },
    );
  let server = await start();
  try {
    await using c = await TmuxClient.start({ port });
    await registerThroughMenu(c, "alice", "Alice");
    await c.type("a draft kept across the restart");
    await server.shutdown();
    await c.waitFor("the countdown", (s) => /\[reconnecting (in \d+ s|now)\]/.test(s));
    assert.match(await c.screen(), /\[#lobby\] a draft kept across the restart/);
    await c.keys("Enter");
    await c.waitForText("(sending…)");
    server = await start();
    await c.waitFor("reconnected", (s) => s.includes("[connected]") && s.includes("Reconnected."));
    await c.waitFor("sent", (s) => !s.includes("(sending…)"));
    const bob = await peer(port, "bob", "Bob");
    const history = await bob.conn.request("history", { room: "lobby" });
    assert.deepEqual(history.messages.map((m) => m.text), ["a draft kept across the restart"]);
    bob.conn.close();
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
