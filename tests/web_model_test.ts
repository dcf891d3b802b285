import assert from "node:assert/strict";
import type { ChatMessage, LoginResult, RoomState, StreamState } from "../lib/protocol/messages.ts";
import { ChatModel, dmView, parseView, roomView, viewTarget } from "../lib/web/model.ts";

function stream(name: string, fields: Partial<StreamState> = {}): StreamState {
  return { stream: name, epoch: "e1", head: 0, acked: 0, start: 0, unread: 0, ...fields };
}

function login(fields: Partial<StreamState> = {}, peers: Record<string, number> = {}): LoginResult {
  return {
    user: { name: "alice", nickname: "Alice" },
    token: "t",
    tokenExpiresAt: 1e15,
    inbox: { ...stream("@alice", fields), peers },
    rooms: 1,
    invites: [],
    onlineTotal: 1,
  };
}

function room(name: string, fields: Partial<StreamState> = {}, skipped = 0): RoomState {
  return {
    name,
    title: name,
    topic: "",
    public: true,
    owner: null,
    members: 3,
    online: 2,
    createdAt: 0,
    role: "member",
    stream: stream(`#${name}`, fields),
    skipped,
  };
}

function msg(stream: string, seq: number, from = "bob", text = `m${seq}`, to?: string) {
  const m: ChatMessage = { stream, seq, ts: seq * 1000, from, nick: from.toUpperCase(), text };
  if (to) m.to = to;
  return m;
}

function loggedIn(): ChatModel {
  const model = new ChatModel();
  model.login(login());
  model.roomsEvent({ type: "rooms", rooms: [room("lobby")], done: true });
  model.roster({ type: "roster", users: [{ name: "bob", nickname: "BOB" }], done: true });
  model.backlog({ type: "backlog", messages: 0, skipped: 0 });
  return model;
}

Deno.test("model: view keys", () => {
  assert.deepEqual(parseView("#lobby"), { kind: "room", name: "lobby" });
  assert.deepEqual(parseView("dm:bob"), { kind: "dm", name: "bob" });
  assert.equal(parseView("bob"), null);
  assert.equal(parseView("#"), null);
  assert.deepEqual(viewTarget("#lobby"), { room: "lobby" });
  assert.deepEqual(viewTarget("dm:bob"), { to: "bob" });
});

Deno.test("model: room unread counts follow head and what was read", () => {
  const model = new ChatModel();
  model.login(login());
  model.roomsEvent({
    type: "rooms",
    rooms: [room("lobby", { head: 5, acked: 2, start: 2 })],
    done: false,
  });
  model.roomsEvent({
    type: "rooms",
    rooms: [room("tea", { head: 1, acked: 1, start: 1 })],
    done: true,
  });
  assert.equal(model.unread("#lobby"), 3);
  assert.equal(model.unread("#tea"), 0);
  for (const seq of [3, 4, 5]) model.message(msg("#lobby", seq), true);
  model.message(msg("#tea", 2), false);
  assert.equal(model.unread("#tea"), 1);
  assert.equal(model.totalUnread(), 4);
  model.open(roomView("lobby"));
  assert.equal(model.unread("#lobby"), 0);
  assert.deepEqual(model.acks(), [{ stream: "#lobby", upTo: 5 }]);
  assert.deepEqual(model.acks(), []);
  model.message(msg("#lobby", 6), false);
  assert.equal(model.unread("#lobby"), 0, "the open room reads new messages");
  assert.deepEqual(model.acks(), [{ stream: "#lobby", upTo: 6 }]);
});

Deno.test("model: a hidden page does not read; showing it does", () => {
  const model = loggedIn();
  model.open("#lobby");
  model.setVisible(false);
  model.message(msg("#lobby", 1), false);
  assert.equal(model.unread("#lobby"), 1);
  assert.deepEqual(model.acks(), []);
  model.setVisible(true);
  assert.equal(model.unread("#lobby"), 0);
  assert.deepEqual(model.acks(), [{ stream: "#lobby", upTo: 1 }]);
});

Deno.test("model: duplicates by (stream, seq) are shown once and counted once", () => {
  const model = loggedIn();
  assert.equal(model.message(msg("#lobby", 1), false).added, true);
  assert.equal(model.message(msg("#lobby", 1), true).added, false);
  model.history("#lobby", {
    stream: "#lobby",
    epoch: "e1",
    messages: [msg("#lobby", 1)],
    more: false,
  });
  assert.equal(model.timeline("#lobby")!.size, 1);
  assert.equal(model.unread("#lobby"), 1);
  const dm = msg("@alice", 1, "bob", "hi", "alice");
  assert.equal(model.message(dm, false).added, true);
  assert.equal(model.message(dm, true).added, false);
  assert.equal(model.unread("dm:bob"), 1);
});

Deno.test("model: own sends take their position; an own message does not count as unread", () => {
  const model = loggedIn();
  model.open("#lobby");
  model.setVisible(false);
  const entry = {
    key: "k",
    target: { room: "lobby" },
    text: "mine",
    action: false,
    createdAt: 0,
    status: "sending" as const,
  };
  assert.equal(model.sent(entry, { stream: "#lobby", seq: 1, ts: 5 }), "#lobby");
  assert.equal(model.unread("#lobby"), 0);
  assert.equal(model.timeline("#lobby")!.messages[0].from, "alice");
  assert.equal(model.positions.upTo("#lobby"), 1);
  // The same message again (delivered after a reconnect) is a duplicate.
  assert.equal(model.message(msg("#lobby", 1, "alice", "mine"), true).added, false);
  const pm = { ...entry, key: "p", target: { to: "bob" } };
  assert.equal(model.sent(pm, { stream: "@alice", seq: 1, ts: 6, online: true }), "dm:bob");
  assert.equal(model.timeline("dm:bob")!.messages[0].to, "bob");
  assert.equal(model.unread("dm:bob"), 0);
});

Deno.test("model: private unread per conversation; the inbox is acknowledged only up to the first unread", () => {
  const model = new ChatModel();
  model.login(login({ head: 4, acked: 1, start: 1 }, { bob: 2, carol: 1 }));
  model.roomsEvent({ type: "rooms", rooms: [], done: true });
  assert.equal(model.unread("dm:bob"), 2);
  assert.equal(model.unread("dm:carol"), 1);
  model.message(msg("@alice", 2, "bob", "b1", "alice"), true);
  model.message(msg("@alice", 3, "carol", "c1", "alice"), true);
  model.message(msg("@alice", 4, "bob", "b2", "alice"), true);
  model.backlog({ type: "backlog", messages: 3, skipped: 0 });
  assert.equal(model.unread("dm:bob"), 2, "backlog messages were counted in peers");
  assert.deepEqual(model.acks(), [], "nothing read yet");
  model.open(dmView("bob"));
  assert.equal(model.unread("dm:bob"), 0);
  assert.deepEqual(model.acks(), [{ stream: "@alice", upTo: 2 }], "carol's 3 is unread");
  model.message(msg("@alice", 5, "bob", "b3", "alice"), false);
  assert.equal(model.unread("dm:bob"), 0);
  model.open(dmView("carol"));
  assert.deepEqual(model.acks(), [{ stream: "@alice", upTo: 5 }]);
  assert.deepEqual(model.conversationList().map((c) => c.peer), ["bob", "carol"]);
  assert.equal(model.conversations.get("bob")!.nickname, "BOB");
});

Deno.test("model: unread messages this page never saw hold the inbox acknowledgement", () => {
  const model = new ChatModel();
  // Resumed at position 3: messages 2 and 3 from bob were received on an earlier page.
  model.login(login({ head: 4, acked: 1, start: 3 }, { bob: 3 }));
  model.roomsEvent({ type: "rooms", rooms: [], done: true });
  model.message(msg("@alice", 4, "bob", "b3", "alice"), true);
  assert.equal(model.unread("dm:bob"), 3);
  assert.deepEqual(model.acks(), []);
  model.open("dm:bob");
  assert.deepEqual(model.acks(), [{ stream: "@alice", upTo: 4 }]);
});

Deno.test("model: resume keeps timelines of the same epoch, clears another epoch", () => {
  const model = loggedIn();
  model.message(msg("#lobby", 1), false);
  model.login(login());
  model.roomsEvent({ type: "rooms", rooms: [room("lobby", { head: 1, start: 1 })], done: true });
  assert.equal(model.timeline("#lobby")!.size, 1);
  model.login(login());
  model.roomsEvent({
    type: "rooms",
    rooms: [room("lobby", { epoch: "e2", head: 0, reset: true })],
    done: true,
  });
  assert.equal(model.timeline("#lobby")!.size, 0);
  assert.equal(model.positions.epoch("#lobby"), "e2");
});

Deno.test("model: the login backlog's skipped messages are reported and passed", () => {
  const model = new ChatModel();
  model.login(login());
  model.roomsEvent({
    type: "rooms",
    rooms: [room("lobby", { head: 300, acked: 0, start: 0 }, 100)],
    done: true,
  });
  assert.equal(model.positions.upTo("#lobby"), 100);
  assert.equal(model.notices("#lobby")[0].kind, "skipped");
  assert.equal(model.notices("#lobby")[0].count, 100);
  assert.equal(model.unread("#lobby"), 300);
});

Deno.test("model: rooms listed at login replace the old list", () => {
  const model = loggedIn();
  model.joined(room("tea", { head: 2, acked: 2, start: 2 }));
  model.open("#tea");
  model.login(login());
  model.roomsEvent({ type: "rooms", rooms: [room("lobby")], done: true });
  assert.deepEqual([...model.rooms.keys()], ["lobby"]);
  assert.equal(model.active, null);
  assert.equal(model.positions.upTo("#tea"), 0);
});

Deno.test("model: mentions mark the room and ask for a notification", () => {
  const model = loggedIn();
  const outcome = model.message(msg("#lobby", 1, "bob", "hey @alice"), false);
  assert.deepEqual(outcome, { view: "#lobby", added: true, mention: true, notify: true });
  assert.equal(model.rooms.get("lobby")!.mentioned, true);
  assert.equal(model.message(msg("#lobby", 2, "bob", "plain"), false).notify, false);
  assert.equal(model.message(msg("#lobby", 3, "bob", "@alice"), true).notify, false);
  const pm = model.message(msg("@alice", 1, "bob", "psst", "alice"), false);
  assert.equal(pm.notify, true);
  model.open("#lobby");
  assert.equal(model.rooms.get("lobby")!.mentioned, false);
});

Deno.test("model: presence, members and nicknames", () => {
  const model = loggedIn();
  model.setMembers("lobby", {
    members: [
      { name: "alice", nickname: "Alice", role: "member", online: true },
      { name: "bob", nickname: "BOB", role: "member", online: true },
    ],
    total: 2,
    more: false,
  });
  model.presence({ type: "presence", user: { name: "bob", nickname: "BOB" }, online: false });
  assert.equal(model.online.has("bob"), false);
  const lobby = model.rooms.get("lobby")!;
  assert.equal(lobby.memberList!.list[1].online, false);
  assert.equal(lobby.online, 1);
  model.presence({
    type: "presence",
    user: { name: "bob", nickname: "BOB" },
    online: true,
    away: "lunch",
  });
  assert.equal(model.online.get("bob")!.away, "lunch");
  assert.equal(lobby.memberList!.list[1].away, "lunch");
  model.member({
    type: "member",
    room: "lobby",
    user: { name: "carol", nickname: "Caro" },
    action: "join",
  });
  assert.deepEqual(lobby.memberList!.list.map((m) => m.name), ["alice", "bob", "carol"]);
  assert.equal(lobby.members, 4);
  model.nick({ type: "nick", name: "carol", old: "Caro", nickname: "Carol" });
  assert.equal(lobby.memberList!.list[2].nickname, "Carol");
  model.member({
    type: "member",
    room: "lobby",
    user: { name: "bob", nickname: "BOB" },
    action: "part",
  });
  assert.deepEqual(lobby.memberList!.list.map((m) => m.name), ["alice", "carol"]);
  assert.deepEqual(model.notices("#lobby").map((n) => [n.kind, n.user]), [
    ["join", "Caro"],
    ["part", "BOB"],
  ]);
  model.topic({
    type: "topic",
    room: "lobby",
    topic: "tea at 5",
    by: { name: "bob", nickname: "BOB" },
  });
  assert.equal(lobby.topic, "tea at 5");
  model.roster({ type: "roster", users: [], done: true });
  assert.equal(model.online.size, 0);
});

Deno.test("model: being kicked removes the room", () => {
  const model = loggedIn();
  model.open("#lobby");
  const removed = model.member({
    type: "member",
    room: "lobby",
    user: { name: "alice", nickname: "Alice" },
    action: "kick",
    by: { name: "bob", nickname: "BOB" },
  });
  assert.equal(removed, true);
  assert.equal(model.rooms.size, 0);
  assert.equal(model.active, null);
});

Deno.test("model: a gap is passed and shown", () => {
  const model = loggedIn();
  model.message(msg("#lobby", 1), false);
  model.gap({ type: "gap", stream: "#lobby", after: 1, next: 5 });
  assert.equal(model.positions.upTo("#lobby"), 4);
  model.message(msg("#lobby", 5), false);
  assert.equal(model.positions.upTo("#lobby"), 5);
  assert.equal(model.notices("#lobby")[0].kind, "gap");
});

Deno.test("model: positions survive a reload through save()", () => {
  const model = loggedIn();
  model.message(msg("#lobby", 1), false);
  model.message(msg("@alice", 1, "bob", "x", "alice"), false);
  const again = new ChatModel(JSON.parse(JSON.stringify(model.save())));
  assert.deepEqual(again.positions.positions(), {
    "#lobby": { seq: 1, epoch: "e1" },
    "@alice": { seq: 1, epoch: "e1" },
  });
});

Deno.test("model: another user's login starts from nothing", () => {
  const model = loggedIn();
  model.message(msg("#lobby", 1), false);
  model.login({ ...login(), user: { name: "bob", nickname: "BOB" } });
  assert.equal(model.rooms.size, 0);
  assert.deepEqual(model.positions.positions(), {});
});
