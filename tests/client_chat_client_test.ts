/**
 * The client's session logic against the in-memory fake server: the login sequence,
 * positions and dedupe across reconnects, acks, gap filling, and the outbox.
 */

import assert from "node:assert/strict";
import { ChatClient, type ClientEvent } from "../lib/client/chat_client.ts";
import { FakeChat } from "./_fake_chat.ts";

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(chat = new FakeChat()) {
  const events: ClientEvent[] = [];
  let keys = 0;
  const client = new ChatClient({
    connect: () => chat.connect(),
    reconnectMinMs: 10,
    reconnectMaxMs: 40,
    ackDelayMs: 5,
    gapGraceMs: 20,
    newKey: () => `k${++keys}`,
  });
  client.on((e) => events.push(e));
  const messages = () =>
    events.flatMap((e) =>
      e.kind === "message" ? [`${e.msg.stream}:${e.msg.seq}:${e.msg.text}`] : []
    );
  return { chat, client, events, messages };
}

Deno.test("login sequence: ready, rooms, roster, backlog messages in order, then backlog", async () => {
  const { chat, client, events, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  chat.post("bob", { room: "lobby" }, "anyone here?");
  chat.post("bob", { to: "alice" }, "welcome!");
  await client.login("alice", "password1");
  await until("backlog", () => events.some((e) => e.kind === "backlog"));
  assert.deepEqual(events.map((e) => e.kind), [
    "ready",
    "rooms",
    "roster",
    "message",
    "message",
    "backlog",
  ]);
  assert.deepEqual(messages(), ["@alice:1:welcome!", "#lobby:1:anyone here?"]);
  assert.equal(client.rooms.get("lobby")?.members, 2);
  client.close();
});

Deno.test("acks per stream, batched, only up to what was received", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  for (let i = 1; i <= 3; i++) chat.post("bob", { room: "lobby" }, `m${i}`);
  chat.post("bob", { to: "alice" }, "pm");
  await until("messages", () => events.filter((e) => e.kind === "message").length === 4);
  await until("acks", () => chat.sent("ack").length >= 2);
  const acks = chat.sent("ack").map((a) => `${a.stream}:${a.upTo}`).sort();
  assert.deepEqual(acks, ["#lobby:3", "@alice:1"]);
  client.close();
});

Deno.test("after a drop the client resumes from its positions: nothing repeated, nothing missed", async () => {
  const { chat, client, events, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  chat.post("bob", { room: "lobby" }, "before");
  await until("first", () => messages().length === 1);
  chat.dropAll("alice");
  await until(
    "reconnecting",
    () => events.some((e) => e.kind === "status" && e.state === "reconnecting"),
  );
  chat.post("bob", { room: "lobby" }, "while away");
  await until(
    "reconnected",
    () => events.some((e) => e.kind === "status" && e.state === "connected"),
  );
  await until("missed one", () => messages().length === 2);
  assert.deepEqual(messages(), ["#lobby:1:before", "#lobby:2:while away"]);
  const resume = chat.sent("resume")[0];
  assert.deepEqual(resume.positions?.["#lobby"], { seq: 1, epoch: "e-#lobby" });
  const status = events.find((e) => e.kind === "status" && e.state === "reconnecting");
  assert.ok(status && status.kind === "status" && typeof status.retryInMs === "number");
  client.close();
});

Deno.test("a duplicate delivery is dropped by (stream, seq)", async () => {
  const { chat, client, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  const [msg] = chat.post("bob", { room: "lobby" }, "once");
  const link = [...chat.links].find((l) => l.user === "alice")!;
  link.deliver(msg);
  link.deliver(msg, true);
  chat.post("bob", { room: "lobby" }, "next");
  // Events are handled in order: once "next" is shown, the repeats before it were handled.
  await until("the next message", () => messages().includes("#lobby:2:next"));
  assert.deepEqual(messages(), ["#lobby:1:once", "#lobby:2:next"]);
  client.close();
});

Deno.test("a jump in a room stream is filled from history before the newer message is shown", async () => {
  const { chat, client, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  chat.withhold.add("#lobby");
  chat.post("bob", { room: "lobby" }, "one");
  chat.post("bob", { room: "lobby" }, "two");
  chat.withhold.clear();
  chat.post("bob", { room: "lobby" }, "three");
  await until("three", () => messages().length === 3);
  assert.deepEqual(messages(), ["#lobby:1:one", "#lobby:2:two", "#lobby:3:three"]);
  const history = chat.sent("history")[0];
  assert.equal(history.room, "lobby");
  assert.equal(history.after, 0);
  client.close();
});

Deno.test("a jump in the private stream makes the client resume from its position", async () => {
  const { chat, client, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  chat.withhold.add("@alice");
  chat.post("bob", { to: "alice" }, "lost live");
  chat.withhold.clear();
  chat.post("bob", { to: "alice" }, "next");
  await until("both", () => messages().length === 2);
  assert.deepEqual(messages(), ["@alice:1:lost live", "@alice:2:next"]);
  assert.equal(chat.sent("resume").length, 1);
  client.close();
});

Deno.test("outbox: a RATE_LIMITED send waits retryAfter and goes out by itself, in order", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  chat.rateLimitNext = 1;
  const sends = ["a", "b", "c"].map((t) => client.send({ room: "lobby" }, t).done);
  const results = await Promise.all(sends);
  assert.deepEqual(results.map((r) => r.seq), [1, 2, 3]);
  assert.deepEqual(chat.stream("#lobby").map((m) => m.text), ["a", "b", "c"]);
  const queued = events.find((e) => e.kind === "queued");
  assert.ok(
    queued && queued.kind === "queued" && queued.reason === "rate" && queued.retryInMs === 1000,
  );
  const keys = chat.sent("send").map((s) => s.key);
  assert.deepEqual(keys, ["k1", "k1", "k2", "k3"], "the retry keeps its key");
  client.close();
});

Deno.test("outbox: a send cut off by a drop is resent with the same key and stored once", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  // The server commits but the connection drops before the reply reaches the client.
  chat.loseReplyOf = "send";
  const { done } = client.send({ room: "lobby" }, "exactly once");
  const result = await done;
  assert.equal(result.dup, true);
  assert.deepEqual(chat.stream("#lobby").map((m) => m.text), ["exactly once"]);
  assert.deepEqual(chat.sent("send").map((s) => s.key), ["k1", "k1"]);
  assert.ok(events.some((e) => e.kind === "sent"));
  client.close();
});

Deno.test("outbox: messages written while offline wait and go out after the resume", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  await client.login("alice", "password1");
  chat.dropAll();
  await until("offline", () => !client.live);
  const a = client.send({ room: "lobby" }, "queued 1").done;
  const b = client.send({ room: "lobby" }, "queued 2").done;
  assert.ok(events.some((e) => e.kind === "queued" && e.reason === "offline"));
  await Promise.all([a, b]);
  assert.deepEqual(chat.stream("#lobby").map((m) => m.text), ["queued 1", "queued 2"]);
  client.close();
});

Deno.test("outbox: a refusal no resend can cure gives the message back", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  await client.login("alice", "password1");
  const { done } = client.send({ to: "nobody" }, "hello?");
  await assert.rejects(done, (e: Error & { code?: string }) => e.code === "UNKNOWN_USER");
  const refused = events.find((e) => e.kind === "refused");
  assert.ok(refused && refused.kind === "refused" && refused.entry.text === "hello?");
  assert.equal(client.unsent.length, 0);
  client.close();
});

Deno.test("an invalid token at resume ends the session and hands back unsent messages", async () => {
  const { chat, client, events } = setup();
  chat.account("alice");
  await client.login("alice", "password1");
  chat.tokens.clear();
  chat.dropAll();
  await until("offline", () => !client.live);
  client.send({ room: "lobby" }, "stranded");
  await until("ended", () => events.some((e) => e.kind === "ended"));
  const ended = events.find((e) => e.kind === "ended");
  assert.ok(ended && ended.kind === "ended");
  assert.deepEqual(ended.unsent.map((e) => e.text), ["stranded"]);
  client.close();
});

Deno.test("join and part keep rooms and positions in step", async () => {
  const { chat, client, messages } = setup();
  chat.account("alice");
  chat.account("bob");
  await client.login("alice", "password1");
  chat.rooms.set("rust", {
    name: "rust",
    title: "Rust",
    topic: "",
    public: true,
    owner: "bob",
    members: new Set(["bob"]),
  });
  chat.post("bob", { room: "rust" }, "old");
  const { room } = await client.request("join", { room: "rust" });
  assert.equal(room.stream.start, 1);
  assert.ok(client.rooms.has("rust"));
  chat.post("bob", { room: "rust" }, "new");
  await until("new", () => messages().includes("#rust:2:new"));
  assert.ok(!messages().includes("#rust:1:old"), "joining does not replay history");
  await client.request("part", { room: "rust" });
  assert.ok(!client.rooms.has("rust"));
  client.close();
});
