/**
 * Nicknames, names given as nicknames, counts, rankings, history, the online list, retention
 * and lists that must fit a frame (docs/PROTOCOL.md §4.1, §4.2 `nick`/`count`/`top`/`history`/
 * `users`, §6 "Replies and the frame limit", §8.9, §12).
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { utcDay } from "../lib/store/contract/store.ts";
import { backendSuites, type Case, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import { eventsOf, eventually, login, rawFrame, refused, register, roomStates } from "./_e2e.ts";

const cases: Case[] = [
  ["nicknames are unique and validated; a rename reaches trackers and own devices", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const aliceTablet = (await login(s, "alice")).c;
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    const before = await alice.request("send", { room: "lobby", text: "old name" });
    deepStrictEqual(await alice.request("nick", { nickname: "  Star  " }), {
      user: { name: "alice", nickname: "Star" },
    });
    await refused(bob.request("nick", { nickname: "star" }), "NICK_TAKEN");
    await refused(bob.request("nick", { nickname: "ＳＴＡＲ" }), "NICK_TAKEN");
    await refused(bob.request("nick", { nickname: "a\x1b[31mb" }), "INVALID_NICKNAME");
    await refused(bob.request("nick", { nickname: "x".repeat(33) }), "INVALID_NICKNAME");
    await refused(bob.request("nick", { nickname: "x".repeat(257) }), "BAD_REQUEST");
    const expected = { type: "nick", name: "alice", old: "ALICE", nickname: "Star" };
    deepStrictEqual(await carol.next("nick"), expected);
    deepStrictEqual(await bob.next("nick"), expected);
    deepStrictEqual(await aliceTablet.next("nick"), expected);
    deepStrictEqual(await alice.next("nick"), expected, "this session too");
    const after = await alice.request("send", { room: "lobby", text: "new name" });
    equal((await carol.next("message", (e) => e.msg.seq === after.seq)).msg.nick, "Star");
    const history = await carol.request("history", { room: "lobby" });
    deepStrictEqual(history.messages.map((m) => [m.seq, m.nick]), [
      [before.seq, "ALICE"],
      [after.seq, "Star"],
    ]);
    const users = await carol.request("users", {});
    ok(users.users.some((u) => u.name === "alice" && u.nickname === "Star"));
    // The same nickname (after normalising) is ok at once, with no event.
    equal((await alice.request("nick", { nickname: "Star " })).user.nickname, "Star");
    // Case changes of one's own nickname are allowed; the old nickname is free again.
    await alice.request("nick", { nickname: "STAR" });
    await bob.request("nick", { nickname: "alice" });
    await carol.next("nick", (e) => e.name === "bob");
    // A second rename within a second comes at the end of that second (§11 coalescing).
    await carol.next("nick", (e) => e.nickname === "STAR");
    deepStrictEqual(
      eventsOf(carol, "nick").map((e) => [e.name, e.nickname]),
      [["alice", "Star"], ["bob", "alice"], ["alice", "STAR"]],
      "no event for the identical nickname",
    );
  }],

  ["contacts: the users you exchanged private messages with, newest first", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    await register(s, "carol", "dave");
    deepStrictEqual(await alice.request("contacts", {}), { contacts: [] });
    await alice.request("send", { to: "carol", text: "1" });
    await bob.request("send", { to: "alice", text: "2" });
    await alice.request("send", { to: "dave", text: "3" });
    await bob.request("away", { reason: "busy" });
    deepStrictEqual(await alice.request("contacts", {}), {
      contacts: [
        { name: "dave", nickname: "DAVE", online: false },
        { name: "bob", nickname: "BOB", online: true, away: "busy" },
        { name: "carol", nickname: "CAROL", online: false },
      ],
    });
    const one = await alice.request("contacts", { limit: 1 });
    deepStrictEqual(one.contacts.map((c) => c.name), ["dave"]);
    deepStrictEqual((await bob.request("contacts", {})).contacts.map((c) => c.name), ["alice"]);
    const fresh = await login(s, "carol");
    deepStrictEqual((await fresh.c.request("contacts", {})).contacts.map((c) => c.name), ["alice"]);
  }],

  ["two users racing for one nickname: exactly one wins", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    for (const wanted of ["Moon", "Sun", "Comet"]) {
      const results = await Promise.allSettled([
        alice.request("nick", { nickname: wanted }),
        bob.request("nick", { nickname: wanted.toLowerCase() }),
      ]);
      equal(results.filter((r) => r.status === "fulfilled").length, 1, wanted);
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      equal(failed.reason.code, "NICK_TAKEN");
    }
  }],

  ["a user is named by login name first, then by nickname (§4.1)", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const dave = await s.connect();
    // dave takes the nickname "erin" before an account erin exists.
    await dave.request("register", { name: "dave", password: "password1", nickname: "erin" });
    await dave.request("login", { name: "dave", password: "password1" });
    await dave.next("backlog");
    const toDave = await alice.request("send", { to: "Erin", text: "by nickname" });
    await dave.next("message", (e) => e.msg.seq === 1);
    const erin = await s.connect();
    await erin.request("register", { name: "erin", password: "password1", nickname: "Erin B" });
    const toErin = await alice.request("send", { to: " ERIN ", text: "by login name" });
    deepStrictEqual([toDave.seq, toErin.seq], [1, 2]);
    const withErin = await alice.request("history", { with: "erin" });
    deepStrictEqual(withErin.messages.map((m) => [m.to, m.text]), [["erin", "by login name"]]);
    // Nicknames work wherever a request names a user.
    await alice.request("nick", { nickname: "Queen Alice" });
    const withQueen = await dave.request("history", { with: "queen alice" });
    deepStrictEqual(withQueen.messages.map((m) => m.text), ["by nickname"]);
    await dave.request("create", { room: "den" });
    deepStrictEqual(await dave.request("invite", { room: "den", user: "QUEEN ALICE" }), {
      user: { name: "alice", nickname: "Queen Alice" },
    });
    await alice.request("join", { room: "den" });
    const handed = await dave.request("transfer", { room: "den", user: "Queen Alice" });
    equal(handed.room.owner, "alice");
    await refused(alice.request("kick", { room: "den", user: "erin" }), "NOT_A_MEMBER");
    await refused(alice.request("send", { to: "nobody at all", text: "x" }), "UNKNOWN_USER");
  }],

  ["count shows users and sessions, multi-device users once", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await s.user("bob");
    const aliceAgain = (await login(s, "alice")).c;
    deepStrictEqual(await alice.request("count", {}), { users: 2, sessions: 3 });
    aliceAgain.close();
    await eventually(
      () => alice.request("count", {}),
      (c) => c.sessions === 2,
      "a closed session stops counting",
    );
    deepStrictEqual(await alice.request("count", {}), { users: 2, sessions: 2 });
  }],

  ["top ranks senders all time and today, overall and per room", async (backend) => {
    let clock = Date.UTC(2026, 10, 21, 12);
    await using s = await startTestServer(backend, [], { now: () => clock });
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    await bob.request("create", { room: "tea" });
    for (let i = 0; i < 4; i++) await alice.request("send", { room: "lobby", text: `y ${i}` });
    // The overall counts are written once a second, at the day of that moment.
    await eventually(() => carol.request("top", {}), (t) => t.allTime.length === 1, "alice's 4");
    clock = Date.UTC(2026, 10, 22, 9);
    for (let i = 0; i < 3; i++) await bob.request("send", { room: "tea", text: `t ${i}` });
    await carol.request("send", { to: "bob", text: "private counts too" });
    const top = await eventually(
      () => carol.request("top", {}),
      (t) => t.allTime.length === 3,
      "every sender counted",
    );
    equal(top.day, utcDay(clock));
    equal(top.day, "2026-11-22");
    deepStrictEqual(top.allTime, [
      { name: "alice", nickname: "ALICE", count: 4 },
      { name: "bob", nickname: "BOB", count: 3 },
      { name: "carol", nickname: "CAROL", count: 1 },
    ]);
    deepStrictEqual(top.today, [
      { name: "bob", nickname: "BOB", count: 3 },
      { name: "carol", nickname: "CAROL", count: 1 },
    ]);
    equal("room" in top, false);
    const top1 = await carol.request("top", { limit: 1 });
    deepStrictEqual(top1.allTime.map((e) => e.name), ["alice"]);
    // Per room: exact at once, that room's messages only.
    const tea = await carol.request("top", { room: "TEA" });
    deepStrictEqual(tea, {
      allTime: [{ name: "bob", nickname: "BOB", count: 3 }],
      today: [{ name: "bob", nickname: "BOB", count: 3 }],
      day: "2026-11-22",
      room: "tea",
    });
    const lobby = await carol.request("top", { room: "lobby" });
    deepStrictEqual([lobby.allTime, lobby.today], [[
      { name: "alice", nickname: "ALICE", count: 4 },
    ], []]);
    // Current nicknames; ties by name.
    await alice.request("nick", { nickname: "Ace" });
    await carol.request("join", { room: "tea" });
    for (let i = 0; i < 3; i++) await carol.request("send", { room: "tea", text: `c ${i}` });
    const tied = await carol.request("top", { room: "tea" });
    deepStrictEqual(tied.allTime.map((e) => [e.name, e.count]), [["bob", 3], ["carol", 3]]);
    equal((await carol.request("top", { room: "lobby" })).allTime[0].nickname, "Ace");
    await refused(carol.request("top", { room: "nowhere" }), "NO_SUCH_ROOM");
    const capped = await carol.request("top", { limit: 1000 });
    ok(capped.allTime.length <= 50);
  }],

  ["history pages through a room: newest first page, before, after, limits", async (backend) => {
    await using s = await startTestServer(backend, ["--rate", "0"]);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    for (let i = 1; i <= 25; i++) await alice.request("send", { room: "lobby", text: `m${i}` });
    const page1 = await bob.request("history", { room: "lobby" });
    equal(page1.stream, "#lobby");
    equal(page1.epoch, roomStates(bob).get("lobby")!.stream.epoch);
    deepStrictEqual(page1.messages.map((m) => m.seq), range(6, 25), "newest 20, oldest first");
    equal(page1.more, true);
    const page2 = await bob.request("history", { room: "lobby", before: 6 });
    deepStrictEqual(page2.messages.map((m) => m.text), ["m1", "m2", "m3", "m4", "m5"]);
    equal(page2.more, false);
    const exact = await bob.request("history", { room: "lobby", limit: 5, before: 6 });
    deepStrictEqual([exact.messages.map((m) => m.seq), exact.more], [range(1, 5), false]);
    const after = await bob.request("history", { room: "lobby", after: 20, limit: 3 });
    deepStrictEqual([after.messages.map((m) => m.seq), after.more], [[21, 22, 23], true]);
    const tail = await bob.request("history", { room: "lobby", after: 22 });
    deepStrictEqual([tail.messages.map((m) => m.seq), tail.more], [[23, 24, 25], false]);
    const big = await bob.request("history", { room: "lobby", limit: 1000 });
    equal(big.messages.length, 25, "the cap is 200; here all 25");
    const zero = await bob.request("history", { room: "lobby", limit: 0 });
    equal(zero.messages.length, 20, "0 means the default");
    // Public room history is open to non-members.
    await bob.request("part", { room: "lobby" });
    equal((await bob.request("history", { room: "lobby", limit: 1 })).messages[0].seq, 25);
    // The field rules.
    await refused(bob.request("history", {}), "BAD_REQUEST");
    await refused(bob.request("history", { room: "lobby", with: "alice" }), "BAD_REQUEST");
    await refused(bob.request("history", { room: "lobby", before: 5, after: 1 }), "BAD_REQUEST");
    await refused(bob.request("history", { room: "nowhere" }), "NO_SUCH_ROOM");
    await refused(bob.request("history", { with: "nobody" }), "UNKNOWN_USER");
  }],

  ["history with before: -0 is an empty first page, not an error (issue 12 item 16)", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await alice.request("send", { room: "lobby", text: "one" });
    await alice.raw(rawFrame('{"type":"history","id":900,"room":"lobby","before":-0}'));
    await alice.raw(rawFrame('{"type":"history","id":901,"room":"lobby","after":-0}'));
    const replies = await collectReplies(alice, [900, 901]);
    const empty = replies.get(900) as Record<string, unknown>;
    deepStrictEqual([empty.type, empty.stream, empty.messages, empty.more], [
      "ok",
      "#lobby",
      [],
      false,
    ]);
    const all = replies.get(901) as Record<string, unknown>;
    deepStrictEqual([all.type, (all.messages as unknown[]).length], ["ok", 1]);
  }],

  ["private history: only your own conversations, with positions of your stream", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    await alice.request("send", { to: "bob", text: "secret 1" });
    await carol.request("send", { to: "bob", text: "hi bob" });
    await bob.request("send", { to: "alice", text: "secret 2" });
    await alice.request("send", { room: "lobby", text: "public" });
    const ab = await bob.request("history", { with: "alice" });
    equal(ab.stream, "@bob");
    deepStrictEqual(ab.messages.map((m) => [m.stream, m.seq, m.text]), [
      ["@bob", 1, "secret 1"],
      ["@bob", 3, "secret 2"],
    ]);
    const cb = await carol.request("history", { with: "BOB" });
    deepStrictEqual(cb.messages.map((m) => [m.stream, m.seq, m.text]), [["@carol", 1, "hi bob"]]);
    deepStrictEqual((await carol.request("history", { with: "alice" })).messages, []);
    const older = await bob.request("history", { with: "alice", before: 3 });
    deepStrictEqual(older.messages.map((m) => m.text), ["secret 1"]);
    const newer = await bob.request("history", { with: "alice", after: 1 });
    deepStrictEqual(newer.messages.map((m) => m.text), ["secret 2"]);
  }],

  ["a history page never exceeds the frame; paging still reaches everything", async (backend) => {
    await using s = await startTestServer(backend, ["--rate", "0"]);
    const alice = await s.user("alice");
    // About 8000 bytes of UTF-8 each: two-byte letters and four-byte emoji.
    const texts = ["é".repeat(4000), "😀".repeat(2000)];
    for (let i = 0; i < 20; i++) await alice.request("send", { room: "lobby", text: texts[i % 2] });
    const seen: number[] = [];
    let before: number | undefined;
    let pages = 0;
    for (;;) {
      const page = await alice.request("history", {
        room: "lobby",
        limit: 20,
        ...(before ? { before } : {}),
      });
      pages++;
      ok(page.messages.length > 0 && page.messages.length < 20, `page of ${page.messages.length}`);
      const bytes = new TextEncoder().encode(JSON.stringify({ type: "ok", re: 99, ...page }));
      ok(bytes.length <= alice.hello.maxFrame, `reply of ${bytes.length} bytes`);
      seen.unshift(...page.messages.map((m) => m.seq));
      if (!page.more) break;
      before = page.messages[0].seq;
    }
    ok(pages >= 3);
    deepStrictEqual(seen, range(1, 20));
    // Forwards too: the end nearest to `after` is kept.
    const forward = await alice.request("history", { room: "lobby", after: 0, limit: 20 });
    deepStrictEqual(forward.messages[0].seq, 1);
    equal(forward.more, true);
  }],

  ["the online list: sorted pages, total and more", async (backend) => {
    await using s = await startTestServer(backend);
    for (const name of ["carol", "alice", "bob"]) await s.user(name);
    await register(s, "erin");
    const dave = await s.user("dave");
    const some = await dave.request("users", { limit: 2 });
    deepStrictEqual(some, {
      users: [{ name: "alice", nickname: "ALICE" }, { name: "bob", nickname: "BOB" }],
      total: 4,
      more: true,
    });
    const rest = await dave.request("users", { after: "bob" });
    deepStrictEqual([rest.users.map((u) => u.name), rest.more], [["carol", "dave"], false]);
    const all = await dave.request("users", { limit: 0 });
    deepStrictEqual(all.users.map((u) => u.name), ["alice", "bob", "carol", "dave"]);
  }],

  ["history keeps at most the configured number of messages", async (backend) => {
    await using s = await startTestServer(backend, [
      "--room-retention",
      "10",
      "--private-retention",
      "3",
    ]);
    const alice = await s.user("alice");
    await s.user("bob");
    for (let i = 1; i <= 15; i++) await alice.request("send", { room: "lobby", text: `g${i}` });
    for (let i = 1; i <= 5; i++) await alice.request("send", { to: "bob", text: `p${i}` });
    const room = await eventually(
      () => alice.request("history", { room: "lobby", limit: 200 }),
      (h) => h.messages.length <= 10,
      "the room trimmed to 10",
    );
    deepStrictEqual(room.messages.map((m) => m.text), range(6, 15).map((i) => `g${i}`));
    const dm = await eventually(
      () => alice.request("history", { with: "bob", limit: 200 }),
      (h) => h.messages.length <= 3,
      "the conversation trimmed to 3",
    );
    deepStrictEqual(dm.messages.map((m) => m.text), ["p3", "p4", "p5"]);
    // Positions are never reused after trimming.
    equal((await alice.request("send", { room: "lobby", text: "g16" })).seq, 16);
  }],

  ["lists of the login sequence are split over frames; replies are cut to fit", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, [
      "--max-frame",
      "2054",
      "--max-text",
      "1",
      "--room-create-limit",
      "50",
    ]);
    const alice = await s.user("alice");
    const title = "题".repeat(64);
    for (let i = 0; i < 8; i++) {
      await alice.request("create", { room: `room-${i}`, title });
    }
    const names = Array.from({ length: 8 }, (_, i) => `member-with-a-long-name-${i}`);
    await Promise.all(names.map(async (name, i) => {
      const c = await s.connect();
      await c.request("register", { name, password: "password1", nickname: "昵".repeat(31) + i });
      await c.request("login", { name, password: "password1" });
      await c.next("backlog");
    }));
    const { c } = await login(s, "alice");
    const rooms = eventsOf(c, "rooms");
    ok(rooms.length >= 2, `${rooms.length} rooms events`);
    deepStrictEqual(rooms.map((e) => e.done), [...rooms.slice(1).map(() => false), true]);
    equal(rooms.flatMap((e) => e.rooms).length, 9);
    const roster = eventsOf(c, "roster");
    ok(roster.length >= 2, `${roster.length} roster events`);
    deepStrictEqual(roster.map((e) => e.done), [...roster.slice(1).map(() => false), true]);
    equal(roster.flatMap((e) => e.users).length, 8);
    // Replies: cut with more: true, and paging reaches the rest.
    const members: string[] = [];
    let after = "";
    for (;;) {
      const page = await c.request("members", { room: "lobby", limit: 500, after });
      members.push(...page.members.map((m) => m.name));
      if (!page.more) break;
      ok(page.members.length > 0);
      after = page.members.at(-1)!.name;
    }
    deepStrictEqual(members, ["alice", ...names]);
    const mine: string[] = [];
    let roomAfter = "";
    for (;;) {
      const page = await c.request("rooms", { mine: true, after: roomAfter });
      mine.push(...page.rooms.map((r) => r.name));
      if (!page.more) break;
      roomAfter = page.rooms.at(-1)!.name;
    }
    equal(mine.length, 9);
  }],
];

backendSuites("nicknames, counts, ranking, history", cases, () => startRedis());

Deno.test("the activity ranking survives a restart (Deno KV file)", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/rank.kv`;
  try {
    {
      await using s = await startTestServer({ kind: "kv" }, [], { kvPath });
      const alice = await s.user("alice");
      await alice.request("create", { room: "tea" });
      for (let i = 0; i < 3; i++) await alice.request("send", { room: "tea", text: "x" });
    }
    await using s = await startTestServer({ kind: "kv" }, [], { kvPath });
    const bob = await s.user("bob");
    const top = await bob.request("top", {});
    deepStrictEqual(top.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
    const tea = await bob.request("top", { room: "tea" });
    deepStrictEqual(tea.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the activity ranking survives a restart (Redis)", async () => {
  await using redis = await startRedis();
  const backend = { kind: "redis" as const, url: redis.url };
  {
    await using s = await startTestServer(backend, [], { redisPrefix: "rank:" });
    const alice = await s.user("alice");
    await alice.request("create", { room: "tea" });
    for (let i = 0; i < 3; i++) await alice.request("send", { room: "tea", text: "x" });
  }
  await using s = await startTestServer(backend, [], { redisPrefix: "rank:" });
  const bob = await s.user("bob");
  const top = await bob.request("top", {});
  deepStrictEqual(top.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
  const tea = await bob.request("top", { room: "tea" });
  deepStrictEqual(tea.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Waits for the replies to raw requests (which the Wire keeps as events). */
async function collectReplies(
  c: { events: readonly unknown[]; waitFor(p: () => boolean, what: string): Promise<void> },
  ids: number[],
): Promise<Map<number, unknown>> {
  const out = new Map<number, unknown>();
  await c.waitFor(() => {
    for (const e of c.events as { re?: number }[]) if (e.re !== undefined) out.set(e.re, e);
    return ids.every((id) => out.has(id));
  }, `replies ${ids}`);
  return out;
}
