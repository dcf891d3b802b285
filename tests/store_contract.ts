/**
 * The contract suite of {@linkcode Store}: every backend must pass it. A backend test file
 * calls {@linkcode storeContract} with a factory of fresh, isolated backing data.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { ChatMessage } from "../lib/protocol/messages.ts";
import type { NewMessage, Retention, Store, UserRecord } from "../lib/store/store.ts";
import { utcDay } from "../lib/store/store.ts";

/**
 * Fresh, isolated backing data (a KV file, a Redis key prefix) on which stores can be opened
 * one after the other. Disposing it removes the data.
 */
export interface StoreBacking extends AsyncDisposable {
  /** Opens a store over this data. Reopening after the previous store closed sees its data. */
  open(retention?: Retention): Promise<Store>;
}

/** Makes fresh backing data for one test. */
export type StoreBackingFactory = () => Promise<StoreBacking>;

const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);

function user(name: string, nickname = name[0].toUpperCase() + name.slice(1)): UserRecord {
  return { name, nickname, passwordHash: `hash:${name}`, createdAt: T0 };
}

function group(from: string, text: string, ts = T0): NewMessage {
  return { ts, from, nick: from.toUpperCase(), text };
}

function direct(from: string, to: string, text: string, ts = T0): NewMessage {
  return { ts, from, nick: from.toUpperCase(), to, text };
}

async function one(store: Store, message: NewMessage): Promise<ChatMessage> {
  const [committed] = await store.append([message]);
  return committed;
}

async function many(store: Store, messages: NewMessage[]): Promise<ChatMessage[]> {
  const out: ChatMessage[] = [];
  for (const message of messages) out.push(await one(store, message));
  return out;
}

const ids = (messages: readonly ChatMessage[]) => messages.map((m) => m.id);
const texts = (messages: readonly ChatMessage[]) => messages.map((m) => m.text);
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` is true or the timeout passes (the Redis feed is asynchronous). */
async function waitFor(check: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await delay(5);
}

/** Collects the feed of a store into one list. */
function collectFeed(store: Store): ChatMessage[] {
  const seen: ChatMessage[] = [];
  store.onCommitted((message) => seen.push(message));
  return seen;
}

function assertIncreasing(values: number[], label = "ids"): void {
  for (let i = 1; i < values.length; i++) {
    ok(values[i] > values[i - 1], `${label} not strictly increasing at ${i}: ${values}`);
  }
}

/** Registers the contract tests of one backend. */
export function storeContract(name: string, makeBacking: StoreBackingFactory): void {
  const test = (title: string, fn: (backing: StoreBacking) => Promise<void>) =>
    Deno.test(`${name} store: ${title}`, async () => {
      await using backing = await makeBacking();
      await fn(backing);
    });

  test("ping resolves and backend is named", async (backing) => {
    await using store = await backing.open();
    await store.ping();
    strictEqual(store.backend, name);
  });

  // ---- accounts ----

  test("createUser stores the account; getUser reads it", async (backing) => {
    await using store = await backing.open();
    const alice = user("alice", "Alice Ω");
    strictEqual(await store.createUser(alice), "ok");
    deepStrictEqual(await store.getUser("alice"), alice);
    strictEqual(await store.getUser("nobody"), null);
  });

  test("createUser reports name_taken and nick_taken and stores nothing then", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("alice", "Alice")), "ok");
    strictEqual(await store.createUser(user("alice", "Other")), "name_taken");
    // A name_taken attempt did not reserve its nickname.
    strictEqual(await store.createUser(user("olga", "Other")), "ok");
    // Nicknames are unique case- and width-insensitively.
    for (const nickname of ["Alice", "ALICE", "alice", "Ａlice", "ＡＬＩＣＥ"]) {
      strictEqual(await store.createUser(user("bob", nickname)), "nick_taken", nickname);
    }
    strictEqual(await store.getUser("bob"), null);
    // The account was unchanged by the failed attempt.
    deepStrictEqual(await store.getUser("alice"), user("alice", "Alice"));
    // Both taken: the name is reported.
    strictEqual(await store.createUser(user("alice", "OTHER")), "name_taken");
    strictEqual(await store.createUser(user("bob", "Bob")), "ok");
  });

  test("concurrent createUser of one name: exactly one ok", async (backing) => {
    await using store = await backing.open();
    const attempts = Array.from({ length: 8 }, (_, i) => user("alice", `Nick${i}`));
    const results = await Promise.all(attempts.map((u) => store.createUser(u)));
    strictEqual(results.filter((r) => r === "ok").length, 1, String(results));
    strictEqual(results.filter((r) => r === "name_taken").length, 7, String(results));
    const winner = attempts[results.indexOf("ok")];
    deepStrictEqual(await store.getUser("alice"), winner);
    // The losers' nicknames were not reserved.
    for (const loser of attempts.filter((u) => u !== winner)) {
      strictEqual(
        await store.createUser(user(`x${loser.nickname.toLowerCase()}`, loser.nickname)),
        "ok",
      );
    }
  });

  test("concurrent createUser of one nickname: exactly one ok", async (backing) => {
    await using store = await backing.open();
    const attempts = ["Star", "STAR", "star", "Ｓtar", "sTaR"].map((nick, i) =>
      user(`u${i}x`, nick)
    );
    const results = await Promise.all(attempts.map((u) => store.createUser(u)));
    strictEqual(results.filter((r) => r === "ok").length, 1, String(results));
    strictEqual(results.filter((r) => r === "nick_taken").length, 4, String(results));
    const users = await store.getUsers(attempts.map((u) => u.name));
    deepStrictEqual(
      users,
      [attempts[results.indexOf("ok")]].map(({ name, nickname }) => ({
        name,
        nickname,
      })),
    );
  });

  test("getUsers returns public info of known names only", async (backing) => {
    await using store = await backing.open();
    const names = Array.from({ length: 25 }, (_, i) => `user${String(i).padStart(2, "0")}`);
    for (const name of names) strictEqual(await store.createUser(user(name)), "ok");
    deepStrictEqual(await store.getUsers([]), []);
    deepStrictEqual(await store.getUsers(["ghost"]), []);
    const asked = ["user03", "ghost", ...names.slice(10), "nobody", "user00"];
    const found = await store.getUsers(asked);
    const expected = [names[3], ...names.slice(10), names[0]].map((n) => ({
      name: n,
      nickname: user(n).nickname,
    }));
    const byName = (a: { name: string }, b: { name: string }) => a.name < b.name ? -1 : 1;
    // Exactly name and nickname: no password hash.
    deepStrictEqual([...found].sort(byName), [...expected].sort(byName));
  });

  test("setNickname changes the nickname atomically", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("alice", "Alice")), "ok");
    strictEqual(await store.createUser(user("bob", "Bob")), "ok");

    strictEqual(await store.setNickname("ghost", "Ghost"), "unknown_user");
    strictEqual(await store.getUser("ghost"), null);

    for (const taken of ["Bob", "BOB", "Ｂob"]) {
      strictEqual(await store.setNickname("alice", taken), "nick_taken", taken);
    }
    strictEqual((await store.getUser("alice"))?.nickname, "Alice");

    // Same nickname, and a case change of one's own nickname, are allowed.
    strictEqual(await store.setNickname("alice", "Alice"), "ok");
    strictEqual(await store.setNickname("alice", "ALICE"), "ok");
    strictEqual((await store.getUser("alice"))?.nickname, "ALICE");
    strictEqual(await store.createUser(user("carol", "alice")), "nick_taken");

    strictEqual(await store.setNickname("alice", "Wonder 🐇"), "ok");
    deepStrictEqual(await store.getUser("alice"), { ...user("alice"), nickname: "Wonder 🐇" });
    // The old nickname is free for others, the new one is not.
    strictEqual(await store.setNickname("bob", "alice"), "ok");
    strictEqual(await store.createUser(user("carol", "Ａlice")), "nick_taken");
    strictEqual(await store.createUser(user("carol", "wonder 🐇")), "nick_taken");
    strictEqual(await store.createUser(user("carol", "Bob")), "ok");
    deepStrictEqual(
      (await store.getUsers(["alice", "bob", "carol"])).sort((a, b) => a.name < b.name ? -1 : 1),
      [
        { name: "alice", nickname: "Wonder 🐇" },
        { name: "bob", nickname: "alice" },
        { name: "carol", nickname: "Bob" },
      ],
    );
  });

  test("concurrent setNickname race for one nickname: exactly one ok", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("alice", "Alice")), "ok");
    strictEqual(await store.createUser(user("bob", "Bob")), "ok");
    for (let round = 0; round < 10; round++) {
      const wanted = `Prize${round}`;
      const results = await Promise.all([
        store.setNickname("alice", wanted),
        store.setNickname("bob", wanted.toUpperCase()),
      ]);
      deepStrictEqual([...results].sort(), ["nick_taken", "ok"], `round ${round}`);
      const [a, b] = [await store.getUser("alice"), await store.getUser("bob")];
      const winner = results[0] === "ok" ? a : b;
      const loser = results[0] === "ok" ? b : a;
      strictEqual(winner?.nickname.toLowerCase(), wanted.toLowerCase());
      ok(!loser?.nickname.toLowerCase().startsWith("prize" + round), loser?.nickname);
      // Whoever won, the loser's own nickname is still reserved for them.
      strictEqual(await store.createUser(user(`z${round}x`, loser!.nickname)), "nick_taken");
    }
  });

  // ---- tokens ----

  test("tokens are saved, looked up, revoked and expire", async (backing) => {
    await using store = await backing.open();
    const name = async (hash: string) => (await store.lookupToken(hash))?.name ?? null;
    strictEqual(await store.lookupToken("unknown"), null);
    const savedAt = Date.now();
    await store.saveToken("h1", "alice", 60_000);
    await store.saveToken("h2", "bob", 60_000);
    strictEqual(await name("h1"), "alice");
    strictEqual(await name("h2"), "bob");
    const expiresAt = (await store.lookupToken("h1"))!.expiresAt;
    ok(expiresAt >= savedAt + 59_000 && expiresAt <= Date.now() + 60_000, `expiresAt ${expiresAt}`);
    await store.revokeToken("h1");
    strictEqual(await store.lookupToken("h1"), null);
    strictEqual(await name("h2"), "bob");
    await store.revokeToken("never-saved");

    await store.saveToken("short", "carol", 50);
    strictEqual(await name("short"), "carol");
    await delay(120);
    strictEqual(await store.lookupToken("short"), null);
    strictEqual(await name("h2"), "bob");
  });

  // ---- append and feed ----

  test("append assigns increasing ids and keeps every field", async (backing) => {
    await using store = await backing.open();
    deepStrictEqual(await store.append([]), []);
    const input = [
      group("alice", "hello 你好 🎉", T0),
      direct("alice", "bob", "psst", T0 + 1),
      group("bob", 'quotes " and \\ and \n newline', T0 + 2),
    ];
    const first = await store.append(input);
    strictEqual(first.length, 3);
    first.forEach((message, i) => {
      const { id, ...rest } = message;
      deepStrictEqual(rest, input[i]);
      ok(Number.isSafeInteger(id) && id > 0, `id ${id}`);
    });
    assertIncreasing(ids(first));
    const second = await store.append([group("carol", "later")]);
    ok(second[0].id > first[2].id);
    // What was stored equals what append returned.
    deepStrictEqual((await store.history({ limit: 10 })).messages, [second[0], first[2], first[0]]);
    deepStrictEqual((await store.history({ between: ["alice", "bob"], limit: 10 })).messages, [
      first[1],
    ]);
  });

  test("feed carries committed messages in id order", async (backing) => {
    await using store = await backing.open();
    const feed = collectFeed(store);
    await store.join({ name: "bob", nickname: "Bob" });
    const committed = [
      ...await store.append([group("alice", "g1")]),
      ...await store.append([direct("alice", "bob", "to bob"), group("carol", "g2")]),
      ...await store.append([direct("bob", "alice", "from bob")]),
    ];
    await waitFor(() => feed.length >= committed.length);
    deepStrictEqual(feed, committed);
  });

  test("feed passes the origin tag of append with each message", async (backing) => {
    await using store = await backing.open();
    const feed: [ChatMessage, string | undefined][] = [];
    store.onCommitted((message, origin) => feed.push([message, origin]));
    await store.join({ name: "bob", nickname: "Bob" });
    const a = await store.append([group("alice", "1"), direct("alice", "bob", "2")], "session-7");
    const b = await store.append([group("carol", "3")]);
    const c = await store.append([direct("bob", "alice", "4")], "node-a:42");
    await waitFor(() => feed.length >= 4);
    deepStrictEqual(feed, [
      [a[0], "session-7"],
      [a[1], "session-7"],
      [b[0], undefined],
      [c[0], "node-a:42"],
    ]);
    // The tag is not stored.
    deepStrictEqual((await store.history({ limit: 10 })).messages, [b[0], a[0]]);
  });

  test("300 concurrent appends get unique increasing ids in call order", async (backing) => {
    await using store = await backing.open();
    const feed = collectFeed(store);
    await store.join({ name: "bob", nickname: "Bob" });
    const input = Array.from(
      { length: 300 },
      (_, i) => i % 3 === 0 ? direct("alice", "bob", `m${i}`) : group(`u${i % 7}`, `m${i}`),
    );
    const results = await Promise.all(input.map((m) => store.append([m])));
    const committed = results.map((r) => {
      strictEqual(r.length, 1);
      return r[0];
    });
    deepStrictEqual(texts(committed), texts(input as ChatMessage[]));
    assertIncreasing(ids(committed));
    await waitFor(() => feed.length >= 300);
    deepStrictEqual(feed, committed);
    const history = await store.history({ limit: 300 });
    deepStrictEqual(history.messages, committed.filter((m) => m.to === undefined).reverse());
  });

  // ---- backlog and acknowledge ----

  test("a new user's backlog starts at the head of the log", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("alice")), "ok");
    await many(store, [group("alice", "before 1"), group("alice", "before 2")]);
    strictEqual(await store.createUser(user("bob")), "ok");
    const after = await many(store, [group("alice", "after"), direct("alice", "bob", "hi bob")]);
    const backlog = await store.backlog("bob", { groupLimit: 100 });
    deepStrictEqual(backlog, { private: [after[1]], group: [after[0]], skipped: 0 });
    // A user registered on an empty log gets everything.
    await using empty = await makeBacking();
    await using fresh = await empty.open();
    strictEqual(await fresh.createUser(user("dan")), "ok");
    const all = await many(fresh, [group("eve", "first"), group("eve", "second")]);
    deepStrictEqual(await fresh.backlog("dan", { groupLimit: 100 }), {
      private: [],
      group: all,
      skipped: 0,
    });
  });

  test("backlog groupLimit keeps the newest and counts the skipped", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("bob")), "ok");
    const sent = await many(
      store,
      Array.from({ length: 10 }, (_, i) => group("alice", `g${i}`)),
    );
    await one(store, direct("alice", "carol", "not for bob"));
    deepStrictEqual(await store.backlog("bob", { groupLimit: 3 }), {
      private: [],
      group: sent.slice(7),
      skipped: 7,
    });
    deepStrictEqual(await store.backlog("bob", { groupLimit: 10 }), {
      private: [],
      group: sent,
      skipped: 0,
    });
    deepStrictEqual(await store.backlog("bob", { groupLimit: 1 }), {
      private: [],
      group: sent.slice(9),
      skipped: 9,
    });
    deepStrictEqual(await store.backlog("bob", { groupLimit: 0 }), {
      private: [],
      group: [],
      skipped: 10,
    });
  });

  test("backlog lists the private inbox in order", async (backing) => {
    await using store = await backing.open();
    for (const name of ["alice", "bob", "carol"]) {
      strictEqual(await store.createUser(user(name)), "ok");
    }
    const sent = await many(store, [
      direct("alice", "bob", "a1"),
      direct("carol", "bob", "c1"),
      direct("bob", "alice", "not in bob's inbox"),
      group("alice", "group"),
      direct("alice", "carol", "not bob's"),
      direct("alice", "bob", "a2"),
    ]);
    const backlog = await store.backlog("bob", { groupLimit: 10 });
    deepStrictEqual(backlog.private, [sent[0], sent[1], sent[5]]);
    deepStrictEqual(backlog.group, [sent[3]]);
    deepStrictEqual((await store.backlog("alice", { groupLimit: 0 })).private, [sent[2]]);
    deepStrictEqual((await store.backlog("nobody", { groupLimit: 0 })).private, []);
  });

  test("acknowledge advances cursors, never backwards, and clears the inbox", async (backing) => {
    await using store = await backing.open();
    for (const name of ["alice", "bob", "carol"]) {
      strictEqual(await store.createUser(user(name)), "ok");
    }
    const m = await many(store, [
      group("alice", "g0"),
      direct("alice", "bob", "p1"),
      group("alice", "g2"),
      direct("alice", "bob", "p3"),
      group("alice", "g4"),
      direct("alice", "carol", "c5"),
      direct("alice", "bob", "p6"),
    ]);
    await store.acknowledge(new Map());
    await store.acknowledge(new Map([["bob", m[2].id], ["carol", m[0].id]]));
    deepStrictEqual(await store.backlog("bob", { groupLimit: 10 }), {
      private: [m[3], m[6]],
      group: [m[4]],
      skipped: 0,
    });
    // carol's ack did not reach her private message.
    deepStrictEqual(await store.backlog("carol", { groupLimit: 10 }), {
      private: [m[5]],
      group: [m[2], m[4]],
      skipped: 0,
    });
    // A lower ack after a higher one does not move the cursor back.
    await store.acknowledge(new Map([["bob", m[0].id]]));
    deepStrictEqual((await store.backlog("bob", { groupLimit: 10 })).group, [m[4]]);
    // An ack between two inbox entries removes only those up to it.
    await store.acknowledge(new Map([["bob", m[3].id]]));
    deepStrictEqual(await store.backlog("bob", { groupLimit: 10 }), {
      private: [m[6]],
      group: [m[4]],
      skipped: 0,
    });
    await store.acknowledge(new Map([["bob", m[6].id], ["carol", m[6].id]]));
    for (const name of ["bob", "carol"]) {
      deepStrictEqual(await store.backlog(name, { groupLimit: 10 }), {
        private: [],
        group: [],
        skipped: 0,
      });
    }
    // alice never acknowledged: she still sees every group message since she registered.
    deepStrictEqual((await store.backlog("alice", { groupLimit: 10 })).group, [m[0], m[2], m[4]]);
  });

  test("concurrent acknowledgements keep the highest", async (backing) => {
    await using store = await backing.open();
    strictEqual(await store.createUser(user("bob")), "ok");
    strictEqual(await store.createUser(user("carol")), "ok");
    const m = await many(store, Array.from({ length: 12 }, (_, i) => group("alice", `${i}`)));
    for (let round = 0; round < 5; round++) {
      const [low, high] = [m[2 * round], m[2 * round + 1]];
      // Each of these acks moves a cursor forward; the higher must win.
      await Promise.all([
        store.acknowledge(new Map([["bob", low.id], ["carol", low.id]])),
        store.acknowledge(new Map([["bob", high.id]])),
        store.acknowledge(new Map([["carol", high.id]])),
      ]);
      const expected = { private: [], group: m.slice(2 * round + 2), skipped: 0 };
      deepStrictEqual(await store.backlog("bob", { groupLimit: 20 }), expected, `round ${round}`);
      deepStrictEqual(await store.backlog("carol", { groupLimit: 20 }), expected, `round ${round}`);
    }
  });

  test("backlog since overrides the stored cursor", async (backing) => {
    await using store = await backing.open();
    const before = await many(store, [group("alice", "old 1"), group("alice", "old 2")]);
    strictEqual(await store.createUser(user("bob")), "ok");
    const after = await many(store, [group("alice", "new 1"), group("alice", "new 2")]);
    await store.acknowledge(new Map([["bob", after[1].id]]));
    deepStrictEqual((await store.backlog("bob", { groupLimit: 10 })).group, []);
    deepStrictEqual(await store.backlog("bob", { since: 0, groupLimit: 10 }), {
      private: [],
      group: [...before, ...after],
      skipped: 0,
    });
    deepStrictEqual(await store.backlog("bob", { since: before[1].id, groupLimit: 1 }), {
      private: [],
      group: [after[1]],
      skipped: 1,
    });
    deepStrictEqual(await store.backlog("bob", { since: after[1].id, groupLimit: 10 }), {
      private: [],
      group: [],
      skipped: 0,
    });
    for (const since of [after[1].id + 1000, Number.MAX_SAFE_INTEGER]) {
      deepStrictEqual(await store.backlog("bob", { since, groupLimit: 10 }), {
        private: [],
        group: [],
        skipped: 0,
      });
    }
  });

  // ---- history ----

  test("history of the group pages newest first", async (backing) => {
    await using store = await backing.open();
    const all = await many(
      store,
      Array.from(
        { length: 13 },
        (_, i) => i % 4 === 3 ? direct("alice", "bob", `p${i}`) : group("alice", `g${i}`),
      ),
    );
    const groupNewest = all.filter((m) => m.to === undefined).reverse(); // 10 messages
    strictEqual(groupNewest.length, 10);

    deepStrictEqual(await store.history({ limit: 3 }), {
      messages: groupNewest.slice(0, 3),
      more: true,
    });
    // Page backwards with `before` = the oldest id of the previous page.
    const pages: ChatMessage[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = await store.history({ limit: 4, before });
      pages.push(page.messages);
      if (!page.more) break;
      before = page.messages.at(-1)!.id;
    }
    deepStrictEqual(pages, [
      groupNewest.slice(0, 4),
      groupNewest.slice(4, 8),
      groupNewest.slice(8),
    ]);

    // `before` is exclusive.
    deepStrictEqual((await store.history({ limit: 2, before: groupNewest[3].id })).messages, [
      groupNewest[4],
      groupNewest[5],
    ]);
    // A `before` that is not a group id (a private one) works as a bound too.
    const privateId = all[7].id; // p7
    deepStrictEqual(
      (await store.history({ limit: 100, before: privateId })).messages,
      groupNewest.filter((m) => m.id < privateId),
    );
    // Exactly the remaining number: no more.
    deepStrictEqual(await store.history({ limit: 2, before: groupNewest[7].id }), {
      messages: groupNewest.slice(8),
      more: false,
    });
    deepStrictEqual(await store.history({ limit: 100, before: groupNewest[9].id }), {
      messages: [],
      more: false,
    });
    deepStrictEqual(await store.history({ limit: 10 }), { messages: groupNewest, more: false });
    deepStrictEqual(await store.history({ limit: 9 }), {
      messages: groupNewest.slice(0, 9),
      more: true,
    });
    deepStrictEqual(await store.history({ limit: 5, before: all.at(-1)!.id + 1000 }), {
      messages: groupNewest.slice(0, 5),
      more: true,
    });
  });

  test("history of a private conversation pages newest first", async (backing) => {
    await using store = await backing.open();
    const all = await many(store, [
      direct("alice", "bob", "1"),
      direct("bob", "alice", "2"),
      direct("alice", "carol", "not ours"),
      group("alice", "group"),
      direct("carol", "bob", "not ours either"),
      direct("alice", "bob", "3"),
      direct("bob", "alice", "4"),
    ]);
    const ours = [all[6], all[5], all[1], all[0]];
    deepStrictEqual(await store.history({ between: ["alice", "bob"], limit: 10 }), {
      messages: ours,
      more: false,
    });
    deepStrictEqual(await store.history({ between: ["bob", "alice"], limit: 2 }), {
      messages: ours.slice(0, 2),
      more: true,
    });
    deepStrictEqual(
      await store.history({ between: ["bob", "alice"], limit: 2, before: ours[1].id }),
      { messages: ours.slice(2), more: false },
    );
    deepStrictEqual(await store.history({ between: ["alice", "dave"], limit: 10 }), {
      messages: [],
      more: false,
    });
    deepStrictEqual((await store.history({ between: ["carol", "alice"], limit: 10 })).messages, [
      all[2],
    ]);
  });

  // ---- retention ----

  const retention: Retention = { groupMax: 5, privateMax: 3, inboxMax: 4 };

  test("retention keeps the newest entries (one message per append)", async (backing) => {
    let g: ChatMessage[];
    let p: ChatMessage[];
    {
      await using store = await backing.open(retention);
      strictEqual(await store.createUser(user("bob")), "ok");
      g = await many(store, Array.from({ length: 12 }, (_, i) => group("alice", `g${i}`)));
      p = await many(store, Array.from({ length: 10 }, (_, i) => direct("alice", "bob", `p${i}`)));
      // The inbox never reports more than inboxMax, and keeps the newest.
      deepStrictEqual((await store.backlog("bob", { groupLimit: 0 })).private, p.slice(-4));
    }
    // Once a store is closed its trimming is done, whatever the backend.
    await using store = await backing.open(retention);
    await assertRetained(store, g, p);
  });

  test("retention keeps the newest entries (concurrent burst)", async (backing) => {
    let g: ChatMessage[];
    let p: ChatMessage[];
    {
      await using store = await backing.open(retention);
      strictEqual(await store.createUser(user("bob")), "ok");
      const input = Array.from(
        { length: 400 },
        (_, i) => i % 2 === 0 ? group("alice", `g${i}`) : direct("alice", "bob", `p${i}`),
      );
      const committed = (await Promise.all(input.map((m) => store.append([m])))).flat();
      g = committed.filter((m) => m.to === undefined);
      p = committed.filter((m) => m.to !== undefined);
      deepStrictEqual((await store.backlog("bob", { groupLimit: 0 })).private, p.slice(-4));
    }
    await using store = await backing.open(retention);
    await assertRetained(store, g, p);
  });

  /** Checks that exactly the newest group, conversation and inbox entries are kept. */
  async function assertRetained(store: Store, g: ChatMessage[], p: ChatMessage[]) {
    deepStrictEqual(await store.history({ limit: 100 }), {
      messages: g.slice(-retention.groupMax).reverse(),
      more: false,
    });
    deepStrictEqual(await store.history({ between: ["alice", "bob"], limit: 100 }), {
      messages: p.slice(-retention.privateMax).reverse(),
      more: false,
    });
    deepStrictEqual(await store.backlog("bob", { groupLimit: 100 }), {
      private: p.slice(-retention.inboxMax),
      group: g.slice(-retention.groupMax),
      skipped: 0,
    });
    // Retention goes on working after a reopen.
    const more = await many(store, [group("alice", "late g"), direct("alice", "bob", "late p")]);
    const [lateGroup, latePrivate] = more;
    deepStrictEqual(
      (await store.backlog("bob", { groupLimit: 0 })).private,
      [...p.slice(-(retention.inboxMax - 1)), latePrivate],
    );
    deepStrictEqual(
      (await store.history({ limit: 1 })).messages,
      [lateGroup],
    );
  }

  // ---- rankings ----

  test("top counts senders all time and per UTC day", async (backing) => {
    await using store = await backing.open();
    const day1 = Date.UTC(2024, 0, 15, 23, 59, 59, 999);
    const day2 = Date.UTC(2024, 0, 16, 0, 0, 0, 0);
    const send = (from: string, ts: number, count: number, to?: string) =>
      many(
        store,
        Array.from(
          { length: count },
          (_, i) => to ? direct(from, to, `${i}`, ts) : group(from, `${i}`, ts),
        ),
      );
    await send("alice", day1, 2);
    await send("alice", day1, 1, "bob"); // private messages count too
    await send("alice", day2, 3);
    await send("bob", day1, 5);
    await send("carol", day1, 1);

    deepStrictEqual(await store.top(10, utcDay(day1)), {
      allTime: [
        { name: "alice", count: 6 },
        { name: "bob", count: 5 },
        { name: "carol", count: 1 },
      ],
      today: [
        { name: "bob", count: 5 },
        { name: "alice", count: 3 },
        { name: "carol", count: 1 },
      ],
    });
    deepStrictEqual(await store.top(2, utcDay(day2)), {
      allTime: [{ name: "alice", count: 6 }, { name: "bob", count: 5 }],
      today: [{ name: "alice", count: 3 }],
    });
    deepStrictEqual(await store.top(10, "2000-01-01"), {
      allTime: [
        { name: "alice", count: 6 },
        { name: "bob", count: 5 },
        { name: "carol", count: 1 },
      ],
      today: [],
    });
    deepStrictEqual(await store.top(0, utcDay(day1)), { allTime: [], today: [] });
  });

  test("top breaks ties by name, also at the limit", async (backing) => {
    await using store = await backing.open();
    const day = utcDay(T0);
    for (const name of ["erin", "carol", "dave", "bob"]) await one(store, group(name, "x"));
    await many(store, [group("zed", "1"), group("zed", "2")]);
    const expected = [
      { name: "zed", count: 2 },
      { name: "bob", count: 1 },
      { name: "carol", count: 1 },
      { name: "dave", count: 1 },
      { name: "erin", count: 1 },
    ];
    deepStrictEqual(await store.top(10, day), { allTime: expected, today: expected });
    deepStrictEqual(await store.top(3, day), {
      allTime: expected.slice(0, 3),
      today: expected.slice(0, 3),
    });
    deepStrictEqual(await store.top(1, day), {
      allTime: expected.slice(0, 1),
      today: expected.slice(0, 1),
    });
  });

  // ---- persistence ----

  test("data persists across close and reopen", async (backing) => {
    let sent: ChatMessage[];
    {
      await using store = await backing.open();
      strictEqual(await store.createUser(user("alice")), "ok");
      strictEqual(await store.createUser(user("bob")), "ok");
      strictEqual(await store.setNickname("bob", "Bobby"), "ok");
      await store.saveToken("tok", "alice", 60_000);
      await store.saveToken("gone", "alice", 60_000);
      await store.revokeToken("gone");
      sent = await many(store, [
        group("alice", "g1"),
        direct("alice", "bob", "p1"),
        group("bob", "g2"),
        direct("alice", "bob", "p2"),
      ]);
      await store.acknowledge(new Map([["bob", sent[1].id]]));
    }
    await using store = await backing.open();
    deepStrictEqual(await store.getUser("alice"), user("alice"));
    deepStrictEqual(await store.getUser("bob"), { ...user("bob"), nickname: "Bobby" });
    strictEqual(await store.createUser(user("carol", "BOBBY")), "nick_taken");
    strictEqual(await store.createUser(user("alice", "Else")), "name_taken");
    strictEqual((await store.lookupToken("tok"))?.name, "alice");
    strictEqual(await store.lookupToken("gone"), null);
    deepStrictEqual(await store.backlog("bob", { groupLimit: 10 }), {
      private: [sent[3]],
      group: [sent[2]],
      skipped: 0,
    });
    deepStrictEqual((await store.history({ limit: 10 })).messages, [sent[2], sent[0]]);
    deepStrictEqual((await store.history({ between: ["bob", "alice"], limit: 10 })).messages, [
      sent[3],
      sent[1],
    ]);
    deepStrictEqual((await store.top(10, utcDay(T0))).allTime, [
      { name: "alice", count: 3 },
      { name: "bob", count: 1 },
    ]);
    // Ids continue above the old ones, and the feed works on the reopened store.
    const feed = collectFeed(store);
    const next = await one(store, group("carol", "after reopen"));
    ok(next.id > sent[3].id, `${next.id} > ${sent[3].id}`);
    await waitFor(() => feed.length >= 1);
    deepStrictEqual(feed, [next]);
  });
}
