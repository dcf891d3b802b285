/**
 * Scoped presence end to end (docs/PROTOCOL.md §11, §5 `presence`/`occupancy`/`member`,
 * `away`): only co-members of small rooms and private contacts hear of a user; rooms above
 * `--presence-room-limit` get occupancy counts at most once a second; rosters at login and
 * resume; coalescing (a quick drop and resume is no news); away reasons wherever the protocol
 * shows them.
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { backendSuites, type Case, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import { eventsOf, login, presenceOf, refused, register, resume } from "./_e2e.ts";

/** When each event arrived, by index in `c.events` (taken as they come). */
function stamp(c: { events: readonly unknown[] }): () => number[] {
  const times: number[] = [];
  const timer = setInterval(() => {
    while (times.length < c.events.length) times.push(Date.now());
  }, 5);
  return () => {
    clearInterval(timer);
    while (times.length < c.events.length) times.push(Date.now());
    return times;
  };
}

const cases: Case[] = [
  ["presence reaches co-members of small rooms and private contacts only", async (backend) => {
    await using s = await startTestServer(backend, ["--lobby", ""]);
    await register(s, "alice");
    const bob = await s.user("bob"); // shares tea with alice
    const dave = await s.user("dave"); // writes to alice privately
    const carol = await s.user("carol"); // shares nothing with alice; shares den with erin
    await register(s, "erin");
    await bob.request("create", { room: "tea" });
    await carol.request("create", { room: "den" });
    const aliceFirst = await login(s, "alice");
    await aliceFirst.c.request("join", { room: "tea" });
    await dave.request("send", { to: "alice", text: "hi" });
    await aliceFirst.c.request("logout", {});
    await bob.next("presence", (e) => e.user.name === "alice" && !e.online);
    await dave.next("presence", (e) => e.user.name === "alice" && !e.online);
    const erinFirst = await login(s, "erin");
    await erinFirst.c.request("join", { room: "den" });
    await erinFirst.c.request("logout", {});
    await carol.next("presence", (e) => e.user.name === "erin" && !e.online);
    // Now alice comes; then erin, whom carol tracks: her news comes after alice's would.
    const { c: alice, ok: aliceIn } = await login(s, "alice");
    for (const c of [bob, dave]) {
      deepStrictEqual(
        (await c.next("presence", (e) => e.user.name === "alice" && e.online)).user,
        { name: "alice", nickname: "ALICE" },
      );
    }
    equal(aliceIn.onlineTotal, 4, "the total counts everyone online");
    const erin = (await login(s, "erin")).c;
    await carol.next("presence", (e) => e.user.name === "erin" && e.online);
    deepStrictEqual(presenceOf(carol, "alice"), []);
    // alice's roster: bob and dave, not carol (who is online).
    deepStrictEqual(eventsOf(alice, "roster").flatMap((e) => e.users.map((u) => u.name)), [
      "bob",
      "dave",
    ]);
    equal((await alice.request("users", {})).users.length, 5, "users lists everyone online");
    // Going away: the same people hear of it.
    await alice.request("logout", {});
    for (const c of [bob, dave]) {
      const off = await c.next(
        "presence",
        (e) => e.user.name === "alice" && !e.online && presenceOf(c, "alice", false).length >= 2,
      );
      equal(off.reason, "logout");
    }
    erin.close();
    await carol.next("presence", (e) => e.user.name === "erin" && !e.online && e.reason === "drop");
    deepStrictEqual(presenceOf(carol, "alice"), []);
  }],

  ["a user on several devices is announced once and is online while any is", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob1 = await s.user("bob");
    const bob2 = (await login(s, "bob")).c;
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    bob1.close();
    // bob2 is still there: after bob sets an away reason, alice has had no offline news.
    await bob2.request("away", { reason: "on the phone" });
    await alice.next("presence", (e) => e.user.name === "bob" && e.away === "on the phone");
    deepStrictEqual(presenceOf(alice, "bob").map((e) => [e.online, e.away]), [
      [true, undefined],
      [true, "on the phone"],
    ]);
    ok((await alice.request("users", {})).users.some((u) => u.name === "bob"));
    bob2.close();
    const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    equal(off.reason, "drop");
    equal("away" in off, false);
  }],

  ["coalescing: a quick drop and resume is no news to others", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await register(s, "bob");
    const { c: bob, ok: bobIn } = await login(s, "bob");
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    bob.close();
    const again = await resume(s, bobIn.token);
    // A logout and a login within the second are no news either.
    await again.c.request("logout", {});
    const third = await login(s, "bob");
    await third.c.request("away", { reason: "back in a bit" });
    await alice.next("presence", (e) => e.user.name === "bob" && e.away === "back in a bit");
    deepStrictEqual(presenceOf(alice, "bob").map((e) => [e.online, e.away]), [
      [true, undefined],
      [true, "back in a bit"],
    ]);
  }],

  ["at most one presence event per user per second; the last state wins", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    const times = stamp(alice);
    for (const reason of ["a", "b", "c", "d"]) await bob.request("away", { reason });
    await alice.next("presence", (e) => e.user.name === "bob" && e.away === "d");
    const at = times();
    const news = alice.events.map((e, i) => ({ e, t: at[i] })).filter(({ e }) =>
      e.type === "presence" && e.user.name === "bob"
    );
    ok(news.length <= 3, `${news.length} events`);
    for (let i = 2; i < news.length; i++) {
      ok(news[i].t - news[i - 1].t >= 900, `events ${news[i].t - news[i - 1].t} ms apart`);
    }
  }],

  ["rosters at login and resume list the tracked online users, with away", async (backend) => {
    await using s = await startTestServer(backend, ["--lobby", ""]);
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    await register(s, "alice");
    await bob.request("create", { room: "tea" });
    const first = await login(s, "alice");
    await first.c.request("join", { room: "tea" });
    await carol.request("send", { to: "alice", text: "hello" });
    await bob.request("away", { reason: "brb" });
    first.c.close();
    const { c } = await resume(s, first.ok.token);
    deepStrictEqual(eventsOf(c, "roster"), [{
      type: "roster",
      users: [{ name: "bob", nickname: "BOB", away: "brb" }, { name: "carol", nickname: "CAROL" }],
      done: true,
    }]);
  }],

  ["rooms above --presence-room-limit: occupancy at most once a second, no presence", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--presence-room-limit", "2"]);
    await register(s, "alice", "bob", "carol", "dave");
    const alice = (await login(s, "alice")).c;
    const times = stamp(alice);
    await alice.request("create", { room: "pair" });
    const bob = (await login(s, "bob")).c;
    const carol = (await login(s, "carol")).c;
    // The lobby has 4 members: counts only.
    await alice.next("occupancy", (e) => e.room === "lobby" && e.online === 3, 5000);
    // dave shares a small room with alice: his presence is the barrier for bob's and carol's.
    const dave = (await login(s, "dave")).c;
    await dave.request("join", { room: "pair" });
    await dave.request("logout", {});
    await alice.next("presence", (e) => e.user.name === "dave" && !e.online, 5000);
    deepStrictEqual(presenceOf(alice, "bob"), []);
    deepStrictEqual(presenceOf(alice, "carol"), []);
    deepStrictEqual(eventsOf(alice, "roster").flatMap((e) => e.users), []);
    const at = times();
    const counts = alice.events.map((e, i) => ({ e, t: at[i] })).filter(({ e }) =>
      e.type === "occupancy" && e.room === "lobby"
    );
    for (const { e } of counts) equal((e as { members: number }).members, 4);
    for (let i = 1; i < counts.length; i++) {
      ok(
        counts[i].t - counts[i - 1].t >= 900,
        `occupancy ${counts[i].t - counts[i - 1].t} ms apart`,
      );
      ok(
        JSON.stringify(counts[i].e) !== JSON.stringify(counts[i - 1].e),
        "sent only when a count changed",
      );
    }
    // Membership news of a big room goes only to the user concerned.
    const bob2 = (await login(s, "bob")).c;
    await bob.request("part", { room: "lobby" });
    await bob2.next("member", (e) => e.room === "lobby" && e.action === "part");
    await carol.request("topic", { room: "lobby", topic: "big rooms get topics too" });
    await alice.next("topic", (e) => e.room === "lobby");
    deepStrictEqual(eventsOf(alice, "member").filter((e) => e.room === "lobby"), []);
  }],

  ["away: shown in users, members, roster and private send replies; cleared at logout", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    deepStrictEqual(await bob.request("away", { reason: "  at lunch  " }), { away: "at lunch" });
    const news = await alice.next("presence", (e) => e.user.name === "bob" && e.away !== undefined);
    deepStrictEqual(news, {
      type: "presence",
      user: { name: "bob", nickname: "BOB" },
      online: true,
      away: "at lunch",
    });
    const users = await alice.request("users", {});
    deepStrictEqual(users.users.find((u) => u.name === "bob"), {
      name: "bob",
      nickname: "BOB",
      away: "at lunch",
    });
    const members = await alice.request("members", { room: "lobby" });
    equal(members.members.find((m) => m.name === "bob")?.away, "at lunch");
    const sent = await alice.request("send", { to: "bob", text: "hungry?" });
    deepStrictEqual([sent.online, sent.away], [true, "at lunch"]);
    const tablet = await login(s, "bob");
    const aliceAgain = await login(s, "alice");
    equal(
      eventsOf(aliceAgain.c, "roster").flatMap((e) => e.users).find((u) => u.name === "bob")?.away,
      "at lunch",
    );
    await refused(bob.request("away", { reason: "two\nlines" }), "INVALID_TEXT");
    await refused(bob.request("away", { reason: "x".repeat(201) }), "INVALID_TEXT");
    await refused(bob.request("away", { reason: "x".repeat(401) }), "BAD_REQUEST");
    // Back: no reason.
    deepStrictEqual(await bob.request("away", {}), {});
    await alice.next("presence", (e) =>
      e.user.name === "bob" && e.online && e.away === undefined &&
      presenceOf(alice, "bob").length > 2);
    const back = await alice.request("send", { to: "bob", text: "back?" });
    deepStrictEqual([back.online, "away" in back], [true, false]);
    // Away again, then the last session logs out: the reason is gone.
    await bob.request("away", { reason: "gone" });
    await tablet.c.request("logout", {});
    await bob.request("logout", {});
    const offline = await alice.request("send", { to: "bob", text: "still there?" });
    deepStrictEqual([offline.online, "away" in offline], [false, false]);
    const later = await login(s, "bob");
    equal("away" in later.ok, false);
    equal(
      (await alice.request("users", {})).users.find((u) => u.name === "bob")?.away,
      undefined,
    );
  }],
];

cases.push(["the login reply carries the user's away reason set on another device", async (
  backend,
) => {
  await using s = await startTestServer(backend);
  const bob = await s.user("bob");
  await bob.request("away", { reason: "at lunch" });
  const tablet = await login(s, "bob");
  equal(tablet.ok.away, "at lunch");
}]);

backendSuites("presence", cases, () => startRedis());
