import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import { utcDay } from "../lib/store/store.ts";
import { backendSuites, type Case, sleep, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

const code = (expected: string) => (error: unknown) =>
  error instanceof ChatError && error.code === expected;

const cases: Case[] = [
  ["nicknames are unique, validated, and a rename is seen by everyone", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    const result = await alice.conn.request("nick", { nickname: "  Star  " });
    deepStrictEqual(result.user, { name: "alice", nickname: "Star" });
    await rejects(bob.conn.request("nick", { nickname: "star" }), code("NICK_TAKEN"));
    await rejects(bob.conn.request("nick", { nickname: "ＳＴＡＲ" }), code("NICK_TAKEN"));
    await rejects(bob.conn.request("nick", { nickname: "a\x1b[31mb" }), code("INVALID_NICKNAME"));
    await rejects(bob.conn.request("nick", { nickname: "x".repeat(33) }), code("INVALID_NICKNAME"));
    const seen = await carol.next("nick");
    deepStrictEqual(seen, { type: "nick", name: "alice", old: "ALICE", nickname: "Star" });
    await bob.next("nick");
    await alice.conn.request("send", { text: "new name" });
    equal((await carol.next("message")).msg.nick, "Star");
    const users = await carol.conn.request("users", {});
    ok(users.users.some((u) => u.name === "alice" && u.nickname === "Star"));
    // The old nickname is free again.
    await bob.conn.request("nick", { nickname: "alice" });
  }],

  ["two users racing for one nickname: exactly one wins", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    for (const wanted of ["Moon", "Sun", "Comet"]) {
      const results = await Promise.allSettled([
        alice.conn.request("nick", { nickname: wanted }),
        bob.conn.request("nick", { nickname: wanted.toLowerCase() }),
      ]);
      equal(results.filter((r) => r.status === "fulfilled").length, 1, wanted);
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      ok(code("NICK_TAKEN")(failed.reason));
    }
  }],

  ["count shows users and sessions, multi-device users once", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await s.user("bob");
    const aliceAgain = await s.connect();
    await aliceAgain.conn.request("login", { name: "alice", password: "password1" });
    deepStrictEqual(await alice.conn.request("count", {}), { users: 2, sessions: 3 });
    aliceAgain.close();
    await sleep(100);
    deepStrictEqual(await alice.conn.request("count", {}), { users: 2, sessions: 2 });
  }],

  ["top ranks the most active senders, all time and today", async (backend) => {
    let clock = Date.UTC(2026, 10, 21, 12);
    await using s = await startTestServer(backend, [], { now: () => clock });
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    for (let i = 0; i < 4; i++) await alice.conn.request("send", { text: `yesterday ${i}` });
    clock = Date.UTC(2026, 10, 22, 9);
    for (let i = 0; i < 3; i++) await bob.conn.request("send", { text: `today ${i}` });
    await carol.conn.request("send", { to: "bob", text: "private counts too" });
    const top = await carol.conn.request("top", {});
    equal(top.day, utcDay(clock));
    deepStrictEqual(top.allTime, [
      { name: "alice", nickname: "ALICE", count: 4 },
      { name: "bob", nickname: "BOB", count: 3 },
      { name: "carol", nickname: "CAROL", count: 1 },
    ]);
    deepStrictEqual(top.today, [
      { name: "bob", nickname: "BOB", count: 3 },
      { name: "carol", nickname: "CAROL", count: 1 },
    ]);
    const top1 = await carol.conn.request("top", { limit: 1 });
    deepStrictEqual(top1.allTime.map((e) => e.name), ["alice"]);
  }],

  ["history pages backwards through the group conversation", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const ids: number[] = [];
    for (let i = 1; i <= 25; i++) {
      ids.push((await alice.conn.request("send", { text: `m${i}` })).msgId);
    }
    const page1 = await alice.conn.request("history", {});
    equal(page1.messages.length, 20);
    deepStrictEqual(page1.messages.map((m) => m.id), ids.slice(5), "newest 20, oldest first");
    equal(page1.more, true);
    const page2 = await alice.conn.request("history", { before: page1.messages[0].id });
    deepStrictEqual(page2.messages.map((m) => m.text), ["m1", "m2", "m3", "m4", "m5"]);
    equal(page2.more, false);
    const exact = await alice.conn.request("history", { limit: 5, before: ids[5] });
    deepStrictEqual(exact.messages.map((m) => m.id), ids.slice(0, 5));
    equal(exact.more, false);
    const big = await alice.conn.request("history", { limit: 1000 });
    equal(big.messages.length, 25, "limit is capped at 200, here all 25");
  }],

  [
    "a history page never exceeds the frame limit; paging still reaches everything",
    async (backend) => {
      await using s = await startTestServer(backend);
      const alice = await s.user("alice");
      // 8000 bytes of UTF-8 each: two-byte letters and four-byte emoji.
      const texts = ["é".repeat(4000), "😀".repeat(2000)];
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) {
        ids.push((await alice.conn.request("send", { text: texts[i % 2] })).msgId);
      }
      const seen: number[] = [];
      let before: number | undefined;
      let pages = 0;
      for (;;) {
        const page = await alice.conn.request("history", {
          limit: 20,
          ...(before ? { before } : {}),
        });
        pages++;
        ok(
          page.messages.length > 0 && page.messages.length < 20,
          `page of ${page.messages.length}`,
        );
        seen.unshift(...page.messages.map((m) => m.id));
        if (!page.more) break;
        before = page.messages[0].id;
      }
      ok(pages >= 3);
      deepStrictEqual(seen, ids);
    },
  ],

  ["the online list says how many are online in all", async (backend) => {
    await using s = await startTestServer(backend);
    for (const name of ["alice", "bob", "carol"]) await s.user(name);
    const dave = await s.user("dave");
    const some = await dave.conn.request("users", { limit: 2 });
    deepStrictEqual(some.users.map((u) => u.name), ["alice", "bob"]);
    equal(some.total, 4);
    const all = await dave.conn.request("users", {});
    deepStrictEqual(all.users.map((u) => u.name), ["alice", "bob", "carol", "dave"]);
  }],

  ["private history only shows conversations you are part of", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    await alice.conn.request("send", { to: "bob", text: "secret 1" });
    await bob.conn.request("send", { to: "alice", text: "secret 2" });
    await carol.conn.request("send", { to: "bob", text: "hi bob" });
    await alice.conn.request("send", { text: "public" });
    const ab = await bob.conn.request("history", { with: "alice" });
    deepStrictEqual(ab.messages.map((m) => m.text), ["secret 1", "secret 2"]);
    const cb = await carol.conn.request("history", { with: "bob" });
    deepStrictEqual(cb.messages.map((m) => m.text), ["hi bob"]);
    const ca = await carol.conn.request("history", { with: "alice" });
    deepStrictEqual(ca.messages, []);
    const group = await carol.conn.request("history", {});
    deepStrictEqual(group.messages.map((m) => m.text), ["public"]);
    await rejects(carol.conn.request("history", { with: "nobody" }), code("UNKNOWN_USER"));
  }],

  ["history keeps at most the configured number of messages", async (backend) => {
    await using s = await startTestServer(backend, [
      "--group-retention",
      "10",
      "--private-retention",
      "3",
    ]);
    const alice = await s.user("alice");
    await s.user("bob");
    for (let i = 1; i <= 15; i++) await alice.conn.request("send", { text: `g${i}` });
    for (let i = 1; i <= 5; i++) await alice.conn.request("send", { to: "bob", text: `p${i}` });
    const deadline = Date.now() + 3000;
    let group, dm;
    do {
      await sleep(50);
      group = await alice.conn.request("history", { limit: 200 });
      dm = await alice.conn.request("history", { with: "bob", limit: 200 });
    } while ((group.messages.length > 10 || dm.messages.length > 3) && Date.now() < deadline);
    deepStrictEqual(
      group.messages.map((m) => m.text),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => `g${i}`),
    );
    deepStrictEqual(dm.messages.map((m) => m.text), ["p3", "p4", "p5"]);
  }],
];

backendSuites("nicknames, count, ranking, history", cases, () => startRedis());

Deno.test("the activity ranking survives a restart (Deno KV file)", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/rank.kv`;
  try {
    {
      await using s = await startTestServer({ kind: "kv" }, [], { kvPath });
      const alice = await s.user("alice");
      for (let i = 0; i < 3; i++) await alice.conn.request("send", { text: "x" });
    }
    await using s = await startTestServer({ kind: "kv" }, [], { kvPath });
    const bob = await s.user("bob");
    const top = await bob.conn.request("top", {});
    deepStrictEqual(top.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
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
    for (let i = 0; i < 3; i++) await alice.conn.request("send", { text: "x" });
  }
  await using s = await startTestServer(backend, [], { redisPrefix: "rank:" });
  const bob = await s.user("bob");
  const top = await bob.conn.request("top", {});
  deepStrictEqual(top.allTime, [{ name: "alice", nickname: "ALICE", count: 3 }]);
});
