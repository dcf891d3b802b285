/**
 * `--json` mode: parsing and events with plain values, the mode itself against the
 * in-memory server, and the real client program and the example bot as subprocesses
 * against the fake server over TCP.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../lib/client/chat_client.ts";
import { eventJson, parseJsonCommand, runJsonMode } from "../lib/client/json_mode.ts";
import { answer, react } from "../scripts/echo_bot.ts";
import { FakeChat } from "./_fake_chat.ts";
import { startTestServer } from "./_harness.ts";

const ROOT = new URL("..", import.meta.url);

Deno.test("json commands: send, requests passed through, clear errors for bad lines", () => {
  assert.deepEqual(parseJsonCommand('{"cmd":"send","room":"lobby","text":"hi","ref":"a"}'), {
    cmd: "send",
    room: "lobby",
    text: "hi",
    ref: "a",
  });
  assert.deepEqual(parseJsonCommand('{"cmd":"history","room":"lobby","after":3}'), {
    cmd: "request",
    type: "history",
    fields: { room: "lobby", after: 3 },
  });
  assert.throws(() => parseJsonCommand("hello"), /not JSON/);
  assert.throws(() => parseJsonCommand("[1]"), /not a JSON object/);
  assert.throws(
    () => parseJsonCommand('{"cmd":"send","text":"x"}'),
    /exactly one of "room" and "to"/,
  );
  assert.throws(() => parseJsonCommand('{"cmd":"frobnicate"}'), /Unknown command "frobnicate"/);
  assert.deepEqual(
    eventJson({ kind: "status", state: "reconnecting", retryInMs: 500, attempt: 1 }, () => 0),
    { event: "status", state: "reconnecting", retryInMs: 500, attempt: 1 },
  );
});

Deno.test("json mode: log in from credentials, events out, refs echoed, waits for the outbox at end of input", async () => {
  const chat = new FakeChat();
  chat.account("bob");
  chat.post("bob", { room: "lobby" }, "stored");
  const client = new ChatClient({ connect: () => chat.connect(), ackDelayMs: 5 });
  const out: Record<string, unknown>[] = [];
  chat.rateLimitNext = 1;
  async function* lines() {
    yield '{"cmd":"send","room":"lobby","text":"one","ref":"r1"}';
    yield "not json";
    yield '{"cmd":"members","room":"lobby","ref":7}';
    yield '{"cmd":"send","to":"nobody","text":"lost?","ref":"r2"}';
  }
  const code = await runJsonMode({
    client,
    lines: lines(),
    write: (line) => out.push(JSON.parse(line)),
    credentials: { name: "bot", password: "password1", register: { nickname: "Bot" } },
    stay: false,
  });
  assert.equal(code, 0);
  const kinds = out.map((e) => e.event);
  assert.equal(kinds[0], "connected");
  assert.ok(kinds.indexOf("ready") < kinds.indexOf("backlog"));
  assert.ok(
    out.some((e) => e.event === "message" && (e.msg as { text: string }).text === "stored"),
  );
  assert.ok(out.some((e) => e.event === "queued" && e.ref === "r1" && e.reason === "rate"));
  assert.ok(out.some((e) => e.event === "sent" && e.ref === "r1" && e.seq === 2));
  assert.ok(out.some((e) => e.event === "error" && e.code === "BAD_INPUT"));
  assert.ok(out.some((e) => e.event === "result" && e.ref === 7 && e.total === 2));
  assert.ok(out.some((e) => e.event === "refused" && e.ref === "r2" && e.code === "UNKNOWN_USER"));
  assert.equal(kinds.at(-1), "bye");
  assert.ok(!JSON.stringify(out).includes('"token"'), "the resume token is not printed");
  assert.equal(chat.sent("logout").length, 1);
});

Deno.test("the example bot's answers", () => {
  assert.equal(answer("ping", "Bob"), "pong");
  assert.equal(answer("你好", "小明"), "小明, you said: 你好");
  assert.match(answer("time", "x", () => 0), /1970-01-01T00:00:00.000Z/);
  const me = { name: null as string | null };
  assert.equal(react('{"event":"ready","user":{"name":"helper","nickname":"H"}}', me), null);
  assert.equal(me.name, "helper");
  const pm = '{"event":"message","msg":{"from":"bob","nick":"Bob","to":"helper","text":"ping"}}';
  assert.deepEqual(JSON.parse(react(pm, me)!), { cmd: "send", to: "bob", text: "pong" });
  const own = '{"event":"message","msg":{"from":"helper","nick":"H","to":"bob","text":"x"}}';
  assert.equal(react(own, me), null);
  const room = '{"event":"message","msg":{"from":"bob","nick":"Bob","text":"ping"}}';
  assert.equal(react(room, me), null);
});

Deno.test("the client program in --json mode against the server: stdin commands, stdout events, nothing on stderr even with an empty Deno cache", async () => {
  await using server = await startTestServer({ kind: "kv" });
  const bob = await server.user("bob");
  const denoDir = await Deno.makeTempDir({ prefix: "imchat-deno-dir-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "client.ts",
      "--port",
      String(server.port),
      "--register",
    ],
    cwd: ROOT,
    env: { IM_USER: "jsonbot", IM_PASSWORD: "password1", DENO_DIR: denoDir },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      '{"cmd":"send","room":"lobby","text":"from a pipe","ref":1}\n' +
        '{"cmd":"send","to":"BOB","text":"privately","ref":2}\n' +
        '{"cmd":"count","ref":3}\n',
    ),
  );
  await writer.close();
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  await Deno.remove(denoDir, { recursive: true });
  assert.equal(stderr, "");
  assert.equal(status.code, 0);
  const events = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(events.some((e) => e.event === "sent" && e.ref === 1 && e.stream === "#lobby"));
  assert.ok(events.some((e) => e.event === "sent" && e.ref === 2 && e.stream === "@jsonbot"));
  assert.ok(events.some((e) => e.event === "result" && e.ref === 3 && e.users >= 1));
  assert.equal(events.at(-1).event, "bye");
  await bob.next("message", (e) => e.msg.text === "from a pipe");
  await bob.next("message", (e) => e.msg.text === "privately" && e.msg.from === "jsonbot");
});

Deno.test("the example bot answers private messages on the server and stops on a signal", async () => {
  await using server = await startTestServer({ kind: "kv" });
  const bob = await server.user("bob");
  const bot = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--allow-run",
      "--allow-env",
      "--allow-read",
      "scripts/echo_bot.ts",
      "--port",
      String(server.port),
      "--register",
      "--nick",
      "Helper",
    ],
    cwd: ROOT,
    env: { IM_USER: "helper", IM_PASSWORD: "bot password" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(bot.stderr).text();
  for (const deadline = Date.now() + 15_000; (await bob.request("count", {})).users! < 2;) {
    if (Date.now() > deadline) throw new Error("The bot did not log in");
    await new Promise((r) => setTimeout(r, 50));
  }
  await bob.request("send", { to: "Helper", text: "ping", key: "b1" });
  await bob.request("send", { room: "lobby", text: "ping (not for the bot)", key: "b2" });
  const answer = await bob.next("message", (e) => e.msg.from === "helper", 15_000);
  assert.equal(answer.msg.text, "pong");
  assert.equal(answer.msg.to, "bob");
  await bob.request("send", { to: "helper", text: "你好", key: "b3" });
  await bob.next("message", (e) => e.msg.from === "helper" && e.msg.text === "BOB, you said: 你好");
  bot.kill("SIGTERM");
  const status = await bot.status;
  assert.equal(status.code, 0);
  assert.equal(await stderr, "");
  assert.equal(
    bob.messages().filter((e) => e.msg.from === "helper" && e.msg.stream === "#lobby").length,
    0,
  );
});
