/**
 * Rooms end to end (docs/PROTOCOL.md §4.2 room requests, §5 `member`/`invite`/`topic`, §9):
 * create, join, part, invite, kick, ban, unban, transfer, topic, members, rooms, room, their
 * permissions and every error code they document, the lobby, and room messages reaching
 * members only.
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import type { Wire } from "./_wire.ts";
import { backendSuites, type Case, startTestServer, type TestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import { eventsOf, login, refused, register, roomStates, texts } from "./_e2e.ts";

/** The code a request ends with ("ok" when it succeeds), handled at once. */
function outcome(request: Promise<unknown>): Promise<string> {
  return request.then(() => "ok", (e) => e.code);
}

/** Waits for a `member` event. */
function member(c: Wire, room: string, action: string, user: string) {
  return c.next("member", (e) => e.room === room && e.action === action && e.user.name === user);
}

/** alice owns public `tea`; bob is a member; carol is not. */
async function teaParty(s: TestServer) {
  const alice = await s.user("alice");
  const bob = await s.user("bob");
  const carol = await s.user("carol");
  await alice.request("create", { room: "tea", title: "Tea time" });
  await bob.request("join", { room: "tea" });
  await member(alice, "tea", "join", "bob");
  return { alice, bob, carol };
}

const cases: Case[] = [
  ["create: the creator owns an empty room; names fold; the documented refusals", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--room-create-limit", "3"]);
    const alice = await s.user("alice");
    const before = Date.now();
    const { room } = await alice.request("create", { room: " Tea-Time " });
    const { createdAt, stream: { epoch, ...stream }, ...rest } = room;
    ok(createdAt >= before - 1000 && createdAt <= Date.now() + 1000);
    equal(typeof epoch, "string");
    deepStrictEqual(rest, {
      name: "tea-time",
      title: "tea-time",
      topic: "",
      public: true,
      owner: "alice",
      members: 1,
      online: 1,
      role: "owner",
      skipped: 0,
    });
    deepStrictEqual(stream, { stream: "#tea-time", head: 0, acked: 0, start: 0, unread: 0 });
    const secret = await alice.request("create", {
      room: "den",
      title: "  The Den  ",
      public: false,
    });
    deepStrictEqual([secret.room.title, secret.room.public], ["The Den", false]);
    await refused(alice.request("create", { room: "TEA-TIME" }), "ROOM_TAKEN");
    await refused(alice.request("create", { room: "lobby" }), "ROOM_TAKEN");
    await refused(alice.request("create", { room: "ab" }), "INVALID_ROOM");
    await refused(alice.request("create", { room: "tea time" }), "INVALID_ROOM");
    await refused(alice.request("create", { room: "-tea" }), "INVALID_ROOM");
    await refused(alice.request("create", { room: "tea2", title: "" }), "INVALID_TITLE");
    await refused(alice.request("create", { room: "tea2", title: "a\nb" }), "INVALID_TITLE");
    await refused(
      alice.request("create", { room: "tea2", title: "x".repeat(65) }),
      "INVALID_TITLE",
    );
    await refused(alice.request("create", { room: "a".repeat(257) }), "BAD_REQUEST");
    // The creation limit: 2 made, the third is allowed, the fourth waits.
    await alice.request("create", { room: "third" });
    const limited = await refused(alice.request("create", { room: "fourth" }), "RATE_LIMITED");
    ok(limited.retryAfter! >= 3000 && limited.retryAfter! <= 3600, `${limited.retryAfter}`);
    // Rooms and users have separate name spaces.
    await alice.request("create", { room: "alice" }).catch(() => {});
    deepStrictEqual(await alice.request("check", { room: "fourth", name: "third" }), {
      room: "free",
      name: "free",
    });
  }],

  ["a user is in at most --max-rooms rooms", async (backend) => {
    await using s = await startTestServer(backend, ["--max-rooms", "2"]);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    await alice.request("create", { room: "one" }); // the lobby and one: 2
    await refused(alice.request("create", { room: "two" }), "TOO_MANY_ROOMS");
    await bob.request("create", { room: "bobs" });
    await refused(alice.request("join", { room: "bobs" }), "TOO_MANY_ROOMS");
    await alice.request("part", { room: "lobby" });
    const joined = await alice.request("join", { room: "bobs" });
    equal(joined.room.role, "member");
  }],

  ["join sets the position to the newest message; part stops delivery", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const bobPhone = (await login(s, "bob")).c;
    await alice.request("create", { room: "tea" });
    for (const text of ["t1", "t2"]) await alice.request("send", { room: "tea", text });
    const { room } = await bob.request("join", { room: "Tea" });
    deepStrictEqual(
      [room.role, room.members, room.stream.head, room.stream.acked, room.stream.start],
      ["member", 2, 2, 2, 2],
    );
    equal(room.stream.unread, 0, "earlier messages are history, not unread");
    // Members and the joiner's other session hear of it; the joining session does not.
    deepStrictEqual(await member(alice, "tea", "join", "bob"), {
      type: "member",
      room: "tea",
      user: { name: "bob", nickname: "BOB" },
      action: "join",
    });
    await member(bobPhone, "tea", "join", "bob");
    const again = await bob.request("join", { room: "tea" });
    equal(again.room.stream.head, 2, "joining again is ok with the room's state");
    const t3 = await alice.request("send", { room: "tea", text: "t3" });
    equal(t3.seq, 3);
    await bob.next("message", (e) => e.msg.stream === "#tea" && e.msg.seq === 3);
    await bobPhone.next("message", (e) => e.msg.stream === "#tea" && e.msg.seq === 3);
    deepStrictEqual(texts(bob, "#tea"), ["t3"]);
    // Part: the other session is told, and the room stops for both.
    deepStrictEqual(await bob.request("part", { room: "tea" }), {});
    await member(bobPhone, "tea", "part", "bob");
    await member(alice, "tea", "part", "bob");
    await refused(bob.request("part", { room: "tea" }), "NOT_A_MEMBER");
    await refused(bob.request("send", { room: "tea", text: "x" }), "NOT_A_MEMBER");
    await alice.request("send", { room: "tea", text: "t4" });
    await alice.request("send", { room: "lobby", text: "after t4" });
    for (const c of [bob, bobPhone]) {
      await c.next("message", (e) => e.msg.text === "after t4");
      deepStrictEqual(texts(c, "#tea"), ["t3"], "nothing of the room after parting");
    }
    await refused(bob.request("join", { room: "nowhere" }), "NO_SUCH_ROOM");
    await refused(bob.request("part", { room: "nowhere" }), "NO_SUCH_ROOM");
    await refused(bob.request("join", { room: "no way" }), "NO_SUCH_ROOM");
  }],

  ["the owner leaves only as the last member", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, bob } = await teaParty(s);
    await refused(alice.request("part", { room: "tea" }), "NOT_ALLOWED");
    await alice.request("transfer", { room: "tea", user: "bob" });
    await alice.request("part", { room: "tea" });
    await member(bob, "tea", "part", "alice");
    deepStrictEqual(await bob.request("part", { room: "tea" }), {}, "the last member leaves");
  }],

  ["messages to a room reach its members' sessions only, each once", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, bob, carol } = await teaParty(s);
    const alice2 = (await login(s, "alice")).c;
    const sent = await alice.request("send", { room: "tea", text: "members only" });
    deepStrictEqual(Object.keys(sent).sort(), ["seq", "stream", "ts"]);
    deepStrictEqual([sent.stream, sent.seq], ["#tea", 1]);
    const got = await bob.next("message", (e) => e.msg.stream === "#tea");
    deepStrictEqual(got, {
      type: "message",
      msg: {
        stream: "#tea",
        seq: 1,
        ts: sent.ts,
        from: "alice",
        nick: "ALICE",
        text: "members only",
      },
    });
    await alice2.next("message", (e) => e.msg.stream === "#tea" && e.msg.seq === 1);
    // A later lobby message reaches carol: the room message, committed first, did not.
    await alice.request("send", { room: "lobby", text: "for everyone" });
    for (const c of [carol, bob, alice2]) await c.next("message", (e) => e.msg.stream === "#lobby");
    deepStrictEqual(texts(carol), ["for everyone"]);
    deepStrictEqual(texts(alice), [], "the sending session gets no copy");
    await refused(carol.request("send", { room: "tea", text: "let me in" }), "NOT_A_MEMBER");
    await refused(carol.request("send", { room: "nowhere", text: "x" }), "NO_SUCH_ROOM");
    await refused(carol.request("send", { room: "tea", to: "bob", text: "x" }), "BAD_REQUEST");
    await refused(carol.request("send", { text: "x" }), "BAD_REQUEST");
  }],

  ["the lobby: every new account is a member; anyone may leave and come back", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const lobby = roomStates(alice).get("lobby")!;
    deepStrictEqual([lobby.owner, lobby.public, lobby.role], [null, true, "member"]);
    await register(s, "bob", "carol");
    // Joining the lobby at registration is announced like any join.
    for (const name of ["bob", "carol"]) await member(alice, "lobby", "join", name);
    const info = await alice.request("room", { room: "lobby" });
    equal(info.room.members, 3);
    deepStrictEqual([info.member, info.role, info.invited], [true, "member", false]);
    await refused(alice.request("kick", { room: "lobby", user: "bob" }), "NOT_ALLOWED");
    await refused(alice.request("ban", { room: "lobby", user: "bob" }), "NOT_ALLOWED");
    await refused(alice.request("unban", { room: "lobby", user: "bob" }), "NOT_ALLOWED");
    await refused(alice.request("transfer", { room: "lobby", user: "bob" }), "NOT_ALLOWED");
    await alice.request("part", { room: "lobby" });
    equal((await alice.request("room", { room: "lobby" })).member, false);
    const back = await alice.request("join", { room: "lobby" });
    equal(back.room.members, 3);
  }],

  ["without a lobby a new account is in no room", async (backend) => {
    await using s = await startTestServer(backend, ["--lobby", ""]);
    const alice = await s.user("alice");
    deepStrictEqual(eventsOf(alice, "rooms"), [{ type: "rooms", rooms: [], done: true }]);
    await refused(alice.request("room", { room: "lobby" }), "NO_SUCH_ROOM");
    const { ok: again } = await login(s, "alice");
    equal(again.rooms, 0);
  }],

  ["invite-only rooms: only `room` hides them; the other requests say why (§4.2, §6)", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const carol = await s.user("carol");
    await alice.request("create", { room: "den", public: false });
    await alice.request("create", { room: "vault", public: false });
    await alice.request("send", { room: "den", text: "secret" });
    await alice.request("invite", { room: "vault", user: "carol" });
    await alice.request("ban", { room: "vault", user: "carol" });
    // Outsiders: the room request and the directory do not show it.
    await refused(carol.request("room", { room: "den" }), "NO_SUCH_ROOM");
    equal((await carol.request("rooms", {})).rooms.some((r) => r.name === "den"), false);
    // Every other request names its own reason (collected, so one run shows them all).
    const asked: [string, Promise<string>, string][] = [
      ["join", outcome(carol.request("join", { room: "den" })), "INVITE_ONLY"],
      ["join when banned", outcome(carol.request("join", { room: "vault" })), "BANNED"],
      ["history", outcome(carol.request("history", { room: "den" })), "NOT_A_MEMBER"],
      ["members", outcome(carol.request("members", { room: "den" })), "NOT_A_MEMBER"],
      ["count", outcome(carol.request("count", { room: "den" })), "NOT_A_MEMBER"],
      ["top", outcome(carol.request("top", { room: "den" })), "NOT_A_MEMBER"],
      ["topic", outcome(carol.request("topic", { room: "den", topic: "x" })), "NOT_A_MEMBER"],
      ["send", outcome(carol.request("send", { room: "den", text: "x" })), "NOT_A_MEMBER"],
      ["part", outcome(carol.request("part", { room: "den" })), "NOT_A_MEMBER"],
      ["invite", outcome(carol.request("invite", { room: "den", user: "alice" })), "NOT_A_MEMBER"],
      ["kick", outcome(carol.request("kick", { room: "den", user: "alice" })), "NOT_A_MEMBER"],
    ];
    const got: string[] = [];
    for (const [what, code] of asked) got.push(`${what}: ${await code}`);
    deepStrictEqual(got, asked.map(([what, , code]) => `${what}: ${code}`));
  }],

  ["invitations: any member invites; the event, the login list, using one up", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    await register(s, "carol");
    await alice.request("create", { room: "den", title: "The Den", public: false });
    const invited = await alice.request("invite", { room: "den", user: "BOB" });
    deepStrictEqual(invited, { user: { name: "bob", nickname: "BOB" } });
    const event = await bob.next("invite");
    deepStrictEqual([event.room.name, event.room.title, event.room.public], [
      "den",
      "The Den",
      false,
    ]);
    deepStrictEqual(event.by, { name: "alice", nickname: "ALICE" });
    const seen = await bob.request("room", { room: "den" });
    deepStrictEqual([seen.member, seen.invited, "role" in seen], [false, true, false]);
    await bob.request("join", { room: "den" });
    await member(alice, "den", "join", "bob");
    // Any member may invite; an offline invitee finds it at login.
    await bob.request("invite", { room: "den", user: "carol" });
    const { c: carol, ok: carolIn } = await login(s, "carol");
    deepStrictEqual(carolIn.invites, [{ room: "den", by: { name: "bob", nickname: "BOB" } }]);
    await refused(bob.request("invite", { room: "den", user: "alice" }), "ALREADY_MEMBER");
    await refused(bob.request("invite", { room: "den", user: "nobody" }), "UNKNOWN_USER");
    await refused(carol.request("invite", { room: "den", user: "bob" }), "NOT_A_MEMBER");
    await refused(bob.request("invite", { room: "nowhere", user: "carol" }), "NO_SUCH_ROOM");
    await carol.request("join", { room: "den" });
    await carol.request("part", { room: "den" });
    // Used up: carol no longer sees the room.
    await refused(carol.request("room", { room: "den" }), "NO_SUCH_ROOM");
    // Inviting to a public room only notifies.
    await alice.request("create", { room: "open" });
    await alice.request("invite", { room: "open", user: "carol" });
    const notice = await carol.next("invite", (e) => e.room.name === "open");
    equal(notice.room.public, true);
    await refused(carol.request("invite", { room: "open", user: "bob" }), "NOT_A_MEMBER");
  }],

  ["kick: owner only; the kicked sessions are told and stop receiving", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, bob, carol } = await teaParty(s);
    const bobPhone = (await login(s, "bob")).c;
    await carol.request("join", { room: "tea" });
    await refused(bob.request("kick", { room: "tea", user: "carol" }), "NOT_OWNER");
    await refused(alice.request("kick", { room: "tea", user: "alice" }), "NOT_ALLOWED");
    await refused(alice.request("kick", { room: "tea", user: "nobody" }), "UNKNOWN_USER");
    await refused(alice.request("kick", { room: "nowhere", user: "bob" }), "NO_SUCH_ROOM");
    const kicked = await alice.request("kick", { room: "tea", user: "BOB" });
    deepStrictEqual(kicked, { user: { name: "bob", nickname: "BOB" } });
    const by = { name: "alice", nickname: "ALICE" };
    for (const c of [bob, bobPhone, carol]) {
      deepStrictEqual(await member(c, "tea", "kick", "bob"), {
        type: "member",
        room: "tea",
        user: { name: "bob", nickname: "BOB" },
        action: "kick",
        by,
      });
    }
    await refused(alice.request("kick", { room: "tea", user: "bob" }), "NOT_A_MEMBER");
    await refused(bob.request("send", { room: "tea", text: "x" }), "NOT_A_MEMBER");
    await alice.request("send", { room: "tea", text: "after the kick" });
    await alice.request("send", { room: "lobby", text: "later" });
    for (const c of [bob, bobPhone]) {
      await c.next("message", (e) => e.msg.text === "later");
      deepStrictEqual(texts(c, "#tea"), [], "the kicked sessions get nothing of the room");
    }
    await carol.next("message", (e) => e.msg.text === "after the kick");
    // A public room may be joined again after a kick.
    await bob.request("join", { room: "tea" });
  }],

  ["ban and unban: a banned user cannot join or be invited; invitations are dropped", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const { alice, bob, carol } = await teaParty(s);
    await alice.request("create", { room: "den", public: false });
    await alice.request("invite", { room: "den", user: "carol" });
    await refused(bob.request("ban", { room: "tea", user: "carol" }), "NOT_OWNER");
    await refused(carol.request("ban", { room: "tea", user: "bob" }), "NOT_A_MEMBER");
    await refused(alice.request("ban", { room: "tea", user: "alice" }), "NOT_ALLOWED");
    await refused(alice.request("ban", { room: "tea", user: "nobody" }), "UNKNOWN_USER");
    // Ban a member: removed and told.
    deepStrictEqual(await alice.request("ban", { room: "tea", user: "bob" }), {
      user: { name: "bob", nickname: "BOB" },
    });
    const banned = await member(bob, "tea", "ban", "bob");
    deepStrictEqual(banned.by, { name: "alice", nickname: "ALICE" });
    await refused(bob.request("join", { room: "tea" }), "BANNED");
    await refused(bob.request("send", { room: "tea", text: "x" }), "NOT_A_MEMBER");
    await carol.request("join", { room: "tea" });
    await refused(carol.request("invite", { room: "tea", user: "bob" }), "BANNED");
    // Ban a non-member holding an invitation: it is dropped.
    deepStrictEqual((await carol.request("room", { room: "den" })).invited, true);
    await alice.request("ban", { room: "den", user: "carol" });
    await refused(carol.request("room", { room: "den" }), "NO_SUCH_ROOM"); // invitation dropped
    const { ok: relogin } = await login(s, "carol");
    deepStrictEqual(relogin.invites, []);
    // Unban: the ban is lifted and the user is told.
    await refused(bob.request("unban", { room: "tea", user: "bob" }), "NOT_ALLOWED");
    await refused(bob.request("unban", { room: "tea", user: "carol" }), "NOT_A_MEMBER");
    await refused(carol.request("unban", { room: "tea", user: "bob" }), "NOT_OWNER");
    await alice.request("unban", { room: "tea", user: "bob" });
    await member(bob, "tea", "unban", "bob");
    await bob.request("join", { room: "tea" });
    await alice.request("unban", { room: "den", user: "carol" });
    await refused(carol.request("room", { room: "den" }), "NO_SUCH_ROOM"); // invitation gone
  }],

  ["transfer hands ownership to a member; every member is told", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, bob, carol } = await teaParty(s);
    await carol.request("join", { room: "tea" });
    await refused(bob.request("transfer", { room: "tea", user: "carol" }), "NOT_OWNER");
    await refused(alice.request("transfer", { room: "tea", user: "nobody" }), "UNKNOWN_USER");
    await refused(alice.request("transfer", { room: "tea", user: "dave" }), "UNKNOWN_USER");
    await register(s, "dave");
    await refused(alice.request("transfer", { room: "tea", user: "dave" }), "NOT_A_MEMBER");
    await refused(alice.request("transfer", { room: "nowhere", user: "bob" }), "NO_SUCH_ROOM");
    const { room } = await alice.request("transfer", { room: "tea", user: "bob" });
    deepStrictEqual([room.name, room.owner, room.members], ["tea", "bob", 3]);
    for (const c of [alice, bob, carol]) {
      const e = await member(c, "tea", "owner", "bob");
      deepStrictEqual(e.by, { name: "alice", nickname: "ALICE" });
    }
    deepStrictEqual((await alice.request("room", { room: "tea" })).role, "member");
    deepStrictEqual((await bob.request("room", { room: "tea" })).role, "owner");
    await refused(alice.request("kick", { room: "tea", user: "carol" }), "NOT_OWNER");
    await bob.request("kick", { room: "tea", user: "alice" });
  }],

  ["topic: any member sets it, every member is told", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, bob, carol } = await teaParty(s);
    const { room } = await bob.request("topic", { room: "tea", topic: "  Earl Grey\u0301  " });
    equal(room.topic, "Earl Grey\u0301".normalize("NFC"));
    for (const c of [alice, bob]) {
      deepStrictEqual(await c.next("topic"), {
        type: "topic",
        room: "tea",
        topic: room.topic,
        by: { name: "bob", nickname: "BOB" },
      });
    }
    equal((await carol.request("room", { room: "tea" })).room.topic, room.topic);
    await refused(carol.request("topic", { room: "tea", topic: "mine" }), "NOT_A_MEMBER");
    await refused(bob.request("topic", { room: "tea", topic: "two\nlines" }), "INVALID_TOPIC");
    await refused(bob.request("topic", { room: "tea", topic: "x".repeat(301) }), "INVALID_TOPIC");
    await refused(bob.request("topic", { room: "nowhere", topic: "x" }), "NO_SUCH_ROOM");
    await refused(bob.request("topic", { room: "tea", topic: "x".repeat(1025) }), "BAD_REQUEST");
    const cleared = await alice.request("topic", { room: "tea", topic: "" });
    equal(cleared.room.topic, "");
    await bob.next("topic", (e) => e.topic === "");
  }],

  ["members: sorted pages with roles, online and away", async (backend) => {
    await using s = await startTestServer(backend);
    const { bob, carol } = await teaParty(s);
    await register(s, "dave");
    await bob.request("away", { reason: "tea break" });
    const page = await carol.request("members", { room: "tea" });
    deepStrictEqual(page, {
      members: [
        { name: "alice", nickname: "ALICE", role: "owner", online: true },
        { name: "bob", nickname: "BOB", role: "member", online: true, away: "tea break" },
      ],
      total: 2,
      more: false,
    });
    const lobby1 = await carol.request("members", { room: "lobby", limit: 2 });
    deepStrictEqual(lobby1.members.map((m) => [m.name, m.online]), [["alice", true], [
      "bob",
      true,
    ]]);
    deepStrictEqual([lobby1.total, lobby1.more], [4, true]);
    const lobby2 = await carol.request("members", { room: "lobby", limit: 2, after: "bob" });
    deepStrictEqual(lobby2.members.map((m) => [m.name, m.online]), [
      ["carol", true],
      ["dave", false],
    ]);
    equal(lobby2.more, false);
    await refused(carol.request("members", { room: "nowhere" }), "NO_SUCH_ROOM");
  }],

  ["rooms: the public directory by prefix and pages; mine lists room states", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    for (const room of ["tea", "teapot", "coffee"]) await alice.request("create", { room });
    await alice.request("create", { room: "tea-secret", public: false });
    const all = await bob.request("rooms", {});
    deepStrictEqual(all.rooms.map((r) => r.name), ["coffee", "lobby", "tea", "teapot"]);
    equal(all.more, false);
    const tea = all.rooms.find((r) => r.name === "tea")!;
    deepStrictEqual(
      [tea.title, tea.owner, tea.public, tea.members, tea.online, "role" in tea],
      ["tea", "alice", true, 1, 1, false],
    );
    const prefix = await bob.request("rooms", { query: " TEA" });
    deepStrictEqual(prefix.rooms.map((r) => r.name), ["tea", "teapot"]);
    const first = await bob.request("rooms", { limit: 2 });
    deepStrictEqual([first.rooms.map((r) => r.name), first.more], [["coffee", "lobby"], true]);
    const next = await bob.request("rooms", { limit: 2, after: "lobby" });
    deepStrictEqual([next.rooms.map((r) => r.name), next.more], [["tea", "teapot"], false]);
    const mine = await alice.request("rooms", { mine: true });
    deepStrictEqual(mine.rooms.map((r) => r.name), [
      "coffee",
      "lobby",
      "tea",
      "tea-secret",
      "teapot",
    ]);
    const secret = mine.rooms.find((r) => r.name === "tea-secret")! as {
      role: string;
      stream: { stream: string };
    };
    deepStrictEqual([secret.role, secret.stream.stream], ["owner", "#tea-secret"]);
    const mineTea = await alice.request("rooms", { mine: true, query: "tea", limit: 2 });
    deepStrictEqual([mineTea.rooms.map((r) => r.name), mineTea.more], [
      ["tea", "tea-secret"],
      true,
    ]);
    await refused(bob.request("room", { room: "tea-secret" }), "NO_SUCH_ROOM");
    await refused(bob.request("room", { room: "nowhere" }), "NO_SUCH_ROOM");
    const info = await bob.request("room", { room: "TEA" });
    deepStrictEqual([info.room.name, info.member, info.invited, "role" in info], [
      "tea",
      false,
      false,
      false,
    ]);
  }],

  ["count of a room: members and those online", async (backend) => {
    await using s = await startTestServer(backend);
    const { alice, carol } = await teaParty(s);
    await register(s, "dave");
    deepStrictEqual(await carol.request("count", { room: "Tea" }), {
      room: "tea",
      members: 2,
      online: 2,
    });
    deepStrictEqual(await alice.request("count", { room: "lobby" }), {
      room: "lobby",
      members: 4,
      online: 3,
    });
    await refused(alice.request("count", { room: "nowhere" }), "NO_SUCH_ROOM");
  }],
];

backendSuites("rooms", cases, () => startRedis());
