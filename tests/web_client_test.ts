import assert from "node:assert/strict";
import { startTestServer } from "./_harness.ts";
import { MemoryStorage, signUp, until, webClient } from "./_web.ts";
import { SESSION_KEY } from "../lib/web/client.ts";
import { dmView, roomView } from "../lib/web/model.ts";

const HTTP = ["--http-port", "0", "--http-host", "127.0.0.1", "--rate", "0"];

function texts(
  client: { model: { timeline(v: string): { messages: readonly { text: string }[] } | undefined } },
  view: string,
): string[] {
  return client.model.timeline(view)?.messages.map((m) => m.text) ?? [];
}

Deno.test("web client: rooms, private messages and a terminal user over one server", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  using alice = webClient(port);
  using bob = webClient(port);
  assert.deepEqual(await alice.check({ name: "alice", nickname: "A" }), {
    name: "free",
    nickname: "free",
  });
  await signUp(alice, "alice");
  await signUp(bob, "bob");
  assert.equal((await bob.check({ name: "alice" })).name, "taken");
  const carol = await server.user("carol");
  alice.open(roomView("lobby"));
  bob.open(roomView("lobby"));
  alice.send("hello from the web");
  await until(() => texts(bob, "#lobby").includes("hello from the web"), "bob gets it");
  await carol.next("message", (e) => e.msg.text === "hello from the web");
  await carol.request("send", { room: "lobby", text: "hello from the terminal" });
  await until(() => texts(alice, "#lobby").includes("hello from the terminal"), "alice gets it");
  assert.deepEqual(alice.outbox.entries, []);
  assert.deepEqual(texts(alice, "#lobby"), ["hello from the web", "hello from the terminal"]);

  bob.open(roomView("lobby"));
  assert.equal(await bob.openConversation("alice"), true);
  assert.equal(await bob.openConversation("nobody-here"), false);
  bob.send("psst");
  await until(() => alice.model.unread(dmView("bob")) === 1, "alice's unread private message");
  await carol.request("send", { to: "alice", text: "from carol" });
  await until(() => alice.model.unread(dmView("carol")) === 1, "carol's private message");
  alice.open(dmView("bob"));
  assert.equal(alice.model.unread(dmView("bob")), 0);
  alice.send("/me waves");
  await until(() => bob.model.timeline(dmView("alice"))!.messages.some((m) => m.action), "action");
  await carol.request("send", { to: "bob", text: "to bob" });
  await until(() => bob.model.unread(dmView("carol")) === 1, "bob's message from carol");
});

Deno.test("web client: rooms can be searched, created, joined, left; topics and members", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  using alice = webClient(port);
  using bob = webClient(port);
  await signUp(alice, "alice");
  await signUp(bob, "bob");
  await alice.create("tea-room", "Tea", true);
  assert.equal(alice.model.active, "#tea-room");
  assert.deepEqual((await bob.searchRooms("tea")).map((r) => r.name), ["tea-room"]);
  await bob.join("tea-room");
  await until(
    () =>
      alice.model.rooms.get("tea-room")!.memberList?.list.some((m) => m.name === "bob") === true,
    "bob in alice's member list",
  );
  await bob.setTopic("tea-room", "green or black");
  await until(() => alice.model.rooms.get("tea-room")!.topic === "green or black", "topic");
  bob.send("one");
  await until(
    () => alice.model.unread("#tea-room") === 0 && texts(alice, "#tea-room").length === 1,
    "read",
  );
  alice.open(roomView("lobby"));
  bob.send("two @alice");
  await until(() => alice.model.unread("#tea-room") === 1, "unread in tea-room");
  assert.equal(alice.model.rooms.get("tea-room")!.mentioned, true);
  await bob.leave("tea-room");
  assert.equal(bob.model.rooms.has("tea-room"), false);
  await until(
    () => !alice.model.rooms.get("tea-room")!.memberList!.list.some((m) => m.name === "bob"),
    "bob gone from the member list",
  );
});

Deno.test("web client: history pages back to the first message", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  const carol = await server.user("carol");
  for (let i = 1; i <= 120; i++) await carol.request("send", { room: "lobby", text: `n${i}` });
  using alice = webClient(port);
  await signUp(alice, "alice");
  alice.open(roomView("lobby"));
  await until(() => texts(alice, "#lobby").length >= 50, "the newest page");
  assert.equal(texts(alice, "#lobby").at(-1), "n120");
  while (!alice.model.timeline("#lobby")!.complete) await alice.loadOlder();
  assert.deepEqual(texts(alice, "#lobby"), Array.from({ length: 120 }, (_, i) => `n${i + 1}`));
});

Deno.test("web client: a reload resumes with the saved token and positions; offline messages arrive once", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  const tab = new MemoryStorage();
  const carol = await server.user("carol");
  {
    using alice = webClient(port, tab);
    await signUp(alice, "alice");
    alice.open(roomView("lobby"));
    await carol.request("send", { room: "lobby", text: "before" });
    await until(() => texts(alice, "#lobby").includes("before"), "before");
  }
  await carol.request("send", { room: "lobby", text: "while away" });
  await carol.request("send", { to: "alice", text: "private while away" });
  assert.ok(tab.getItem(SESSION_KEY)!.includes('"token"'));
  using again = webClient(port, tab);
  again.start();
  await until(() => again.status === "online", "resumed");
  assert.equal(again.model.me?.name, "alice");
  assert.equal(again.model.active, "#lobby");
  await until(() => texts(again, "#lobby").includes("while away"), "offline room message");
  await until(() => texts(again, dmView("carol")).includes("private while away"), "offline pm");
  await until(() => again.model.timeline("#lobby")!.complete, "the history page");
  assert.deepEqual(texts(again, "#lobby"), ["before", "while away"]);
});

Deno.test("web client: a send cut off before its ok is sent again with its key and stored once", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  using alice = webClient(port);
  using bob = webClient(port);
  await signUp(alice, "alice");
  await signUp(bob, "bob");
  bob.open(roomView("lobby"));
  alice.open(roomView("lobby"));
  const sockets: WebSocket[] = [];
  const realSend = WebSocket.prototype.send;
  // Close alice's socket right after the frame of her send leaves, before the ok comes.
  WebSocket.prototype.send = function (this: WebSocket, data: string) {
    realSend.call(this, data);
    if (String(data).includes('"type":"send"')) {
      sockets.push(this);
      this.close();
    }
  };
  try {
    alice.send("exactly once");
    await until(() => sockets.length === 1, "the cut");
  } finally {
    WebSocket.prototype.send = realSend;
  }
  await until(() => alice.status === "online" && alice.outbox.entries.length === 0, "resent");
  await until(() => texts(bob, "#lobby").includes("exactly once"), "bob gets it");
  assert.deepEqual(texts(alice, "#lobby"), ["exactly once"]);
  const history = await (await server.user("carol")).request("history", { room: "lobby" });
  assert.deepEqual(history.messages.map((m) => m.text), ["exactly once"]);
});

Deno.test("web client: a revoked token signs out; the server's TIMEOUT of a guest is quiet", async () => {
  await using server = await startTestServer({ kind: "kv" }, [...HTTP, "--login-timeout", "1"]);
  const port = server.server.httpPort!;
  const tab = new MemoryStorage();
  {
    using alice = webClient(port, tab);
    await signUp(alice, "alice");
  }
  const saved = JSON.parse(tab.getItem(SESSION_KEY)!);
  tab.setItem(SESSION_KEY, JSON.stringify({ ...saved, token: "x".repeat(43) }));
  using again = webClient(port, tab);
  again.start();
  await until(() => again.status === "signedOut", "signed out");
  assert.equal(again.problem?.code, "INVALID_TOKEN");
  assert.equal(tab.getItem(SESSION_KEY), null);
  await again.check({ name: "zed" });
  await until(() => again.problem?.code === "TIMEOUT", "the guest timeout", 4000);
  assert.equal(again.status, "signedOut");
  assert.equal((await again.check({ name: "zed" })).name, "free");
});

Deno.test("web client: what was read is acknowledged per stream and stays read at the next login", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  const port = server.server.httpPort!;
  const carol = await server.user("carol");
  {
    using alice = webClient(port);
    await signUp(alice, "alice");
    await carol.request("send", { room: "lobby", text: "one" });
    await carol.request("send", { to: "alice", text: "two" });
    await until(
      () => alice.model.unread("#lobby") === 1 && alice.model.unread("dm:carol") === 1,
      "unread",
    );
    alice.open(roomView("lobby"));
    alice.open(dmView("carol"));
    await until(() => alice.model.totalUnread() === 0, "read");
  }
  // The acknowledgements are stored when the session ends: a new login finds nothing unread.
  for (const deadline = Date.now() + 5000;;) {
    const again = await server.connect();
    const result = await again.request("login", { name: "alice", password: "password1" });
    const rooms = await again.next("rooms");
    again.close();
    const lobby = rooms.rooms.find((r) => r.name === "lobby")!;
    if (result.inbox.unread === 0 && lobby.stream.unread === 0) break;
    assert.ok(
      Date.now() < deadline,
      `still unread: ${JSON.stringify([result.inbox, lobby.stream])}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

Deno.test("web client: a send the server refuses stays visible as failed until discarded", async () => {
  await using server = await startTestServer({ kind: "kv" }, HTTP);
  using alice = webClient(server.server.httpPort!);
  await signUp(alice, "alice");
  alice.open(roomView("lobby"));
  const entry = alice.send("x".repeat(5000))!;
  await until(() => alice.outbox.get(entry.key)?.status === "failed", "refused");
  assert.equal(alice.outbox.get(entry.key)?.error, "INVALID_TEXT");
  alice.send("short");
  await until(() => texts(alice, "#lobby").includes("short"), "the next one goes through");
  alice.discard(entry.key);
  assert.deepEqual(alice.outbox.entries, []);
  assert.equal(alice.send("   "), null);
});
