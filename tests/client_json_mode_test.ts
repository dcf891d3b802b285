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
import { startFakeTcp } from "./_fake_tcp.ts";

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

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("the client program in --json mode: stdin commands, stdout events, no noise on stderr", async () => {
  await using fake = startFakeTcp();
  fake.chat.account("bob");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-sys",
      "client.ts",
      "--port",
      String(fake.port),
    ],
    cwd: ROOT,
    env: { IM_USER: "bob", IM_PASSWORD: "password1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode('{"cmd":"send","room":"lobby","text":"from a pipe","ref":1}\n'),
  );
  await writer.close();
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 0);
  assert.equal(stderr, "");
  const events = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(events.some((e) => e.event === "sent" && e.ref === 1));
  assert.equal(events.at(-1).event, "bye");
  assert.equal(fake.chat.stream("#lobby")[0].text, "from a pipe");
});

Deno.test("the example bot answers private messages and stops on a signal", async () => {
  await using fake = startFakeTcp();
  fake.chat.account("bob", "小明");
  const bot = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--allow-run",
      "--allow-env",
      "--allow-read",
      "scripts/echo_bot.ts",
      "--port",
      String(fake.port),
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
  await until("the bot online", () => fake.chat.isOnline("helper"));
  fake.chat.post("bob", { to: "Helper" }, "ping");
  fake.chat.post("bob", { room: "lobby" }, "ping (not for the bot)");
  await until("the answer", () => fake.chat.stream("@bob").some((m) => m.from === "helper"));
  const answers = fake.chat.stream("@bob").filter((m) => m.from === "helper");
  assert.deepEqual(answers.map((m) => m.text), ["pong"]);
  assert.equal(fake.chat.stream("#lobby").filter((m) => m.from === "helper").length, 0);
  bot.kill("SIGTERM");
  const status = await bot.status;
  assert.equal(status.code, 0);
  assert.equal(await stderr, "");
  assert.ok(fake.chat.sent("logout").length >= 1);
});
