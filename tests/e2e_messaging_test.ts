import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import { backendSuites, type Case, sleep, startTestServer, type TestClient } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

const code = (expected: string) => (error: unknown) =>
  error instanceof ChatError && error.code === expected;

function presence(c: TestClient, name: string, online: boolean) {
  return c.events.filter((e) =>
    e.type === "presence" && e.user.name === name && e.online === online
  );
}

/** Logs in an existing user on a new connection. */
async function login(
  s: Awaited<ReturnType<typeof startTestServer>>,
  name: string,
): Promise<TestClient> {
  const c = await s.connect();
  await c.conn.request("login", { name, password: "password1" });
  return c;
}

async function registerOnly(s: Awaited<ReturnType<typeof startTestServer>>, name: string) {
  const c = await s.connect();
  await c.conn.request("register", { name, password: "password1", nickname: name.toUpperCase() });
  c.close();
}

const cases: Case[] = [
  ["presence on login, logout and abrupt drop", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const online = await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    deepStrictEqual(online.user, { name: "bob", nickname: "BOB" });
    await bob.conn.request("logout", {});
    const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    equal(off.reason, "logout");
    const carol = await s.user("carol");
    await alice.next("presence", (e) => e.user.name === "carol" && e.online);
    carol.close();
    const dropped = await alice.next("presence", (e) => e.user.name === "carol" && !e.online);
    equal(dropped.reason, "drop");
  }],

  ["login lists who is online", async (backend) => {
    await using s = await startTestServer(backend);
    await s.user("alice");
    await s.user("bob");
    const c = await s.connect();
    await c.conn.request("register", { name: "carol", password: "password1", nickname: "C" });
    const result = await c.conn.request("login", { name: "carol", password: "password1" });
    deepStrictEqual(result.online.map((u) => u.name).sort(), ["alice", "bob", "carol"]);
  }],

  ["a user on several devices is announced once, online while any is", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob1 = await s.user("bob");
    const bob2 = await login(s, "bob");
    await alice.conn.request("ping", {});
    await sleep(50);
    equal(presence(alice, "bob", true).length, 1);
    bob1.close();
    await sleep(100);
    equal(presence(alice, "bob", false).length, 0, "still online on the second device");
    const users = await alice.conn.request("users", {});
    ok(users.users.some((u) => u.name === "bob"));
    bob2.close();
    await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    await sleep(50);
    equal(presence(alice, "bob", false).length, 1);
  }],

  ["a group message reaches each of 50 clients exactly once", async (backend) => {
    await using s = await startTestServer(backend);
    const clients: TestClient[] = [];
    for (let i = 0; i < 50; i++) clients.push(await s.user(`user${String(i).padStart(2, "0")}`));
    const second = await login(s, "user00");
    const sent: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const sender of [clients[0], clients[17], clients[42]]) {
        const { msgId, ts } = await sender.conn.request("send", { text: `hi ${round}` });
        ok(ts > 0);
        sent.push(msgId);
      }
    }
    deepStrictEqual([...sent].sort((a, b) => a - b), sent, "ids increase in send order");
    const senderOf = (id: number) => clients[[0, 17, 42][sent.indexOf(id) % 3]];
    for (const client of [...clients, second]) {
      await client.waitFor(
        () =>
          client.messages().length >=
            sent.filter((id) => senderOf(id) !== client).length,
        "all group messages",
      );
    }
    await sleep(100);
    for (const client of clients) {
      const got = client.messages().map((m) => m.msg.id);
      const expected = sent.filter((id) => senderOf(id) !== client);
      deepStrictEqual(got, expected, "each once, in id order, no echo to the sending session");
    }
    deepStrictEqual(second.messages().map((m) => m.msg.id), sent, "sender's other device gets all");
    const first = clients[1].messages()[0].msg;
    deepStrictEqual(Object.keys(first).sort(), ["from", "id", "nick", "text", "ts"]);
    equal(first.from, "user00");
    equal(first.nick, "USER00");
    equal(first.text, "hi 0");
  }],

  ["private messages reach only the two users; errors for unknown and self", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const aliceTablet = await login(s, "alice");
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    const sent = await alice.conn.request("send", { to: "BOB", text: "just for you" });
    const got = await bob.next("message");
    deepStrictEqual(got.msg, {
      id: sent.msgId,
      ts: sent.ts,
      from: "alice",
      nick: "ALICE",
      to: "bob",
      text: "just for you",
    });
    equal(got.away, undefined);
    await aliceTablet.next("message", (e) => e.msg.id === sent.msgId);
    await rejects(alice.conn.request("send", { to: "nobody", text: "x" }), code("UNKNOWN_USER"));
    await rejects(alice.conn.request("send", { to: "alice", text: "x" }), code("SELF_MESSAGE"));
    await rejects(alice.conn.request("send", { text: "   " }), code("INVALID_TEXT"));
    await carol.conn.request("ping", {});
    equal(carol.messages().length, 0);
  }],

  [
    "private messages to an offline user arrive at login, in order, with original times",
    async (backend) => {
      await using s = await startTestServer(backend);
      await registerOnly(s, "bob");
      const alice = await s.user("alice");
      const sent = [];
      for (const text of ["one", "two", "three"]) {
        sent.push(await alice.conn.request("send", { to: "bob", text }));
        await sleep(5);
      }
      await sleep(30);
      const bob = await login(s, "bob");
      const backlog = await bob.next("backlog");
      deepStrictEqual(backlog, { type: "backlog", private: 3, group: 0, skipped: 0 });
      const got = bob.messages();
      deepStrictEqual(got.map((m) => m.msg.text), ["one", "two", "three"]);
      deepStrictEqual(got.map((m) => m.msg.ts), sent.map((r) => r.ts));
      ok(got.every((m) => m.away === true));
    },
  ],

  [
    "group messages sent while away arrive at login, newest kept within the bound",
    async (backend) => {
      await using s = await startTestServer(backend, ["--backlog-limit", "5"]);
      await registerOnly(s, "bob");
      const alice = await s.user("alice");
      for (let i = 1; i <= 8; i++) await alice.conn.request("send", { text: `g${i}` });
      await alice.conn.request("send", { to: "bob", text: "p1" });
      const bob = await login(s, "bob");
      const backlog = await bob.next("backlog");
      deepStrictEqual(backlog, { type: "backlog", private: 1, group: 5, skipped: 3 });
      deepStrictEqual(bob.messages().map((m) => m.msg.text), ["g4", "g5", "g6", "g7", "g8", "p1"]);
    },
  ],

  ["unacknowledged messages are delivered again; acknowledged ones are not", async (backend) => {
    await using s = await startTestServer(backend);
    await registerOnly(s, "bob");
    const alice = await s.user("alice");
    await alice.conn.request("send", { to: "bob", text: "important" });
    await alice.conn.request("send", { text: "for all" });
    let bob = await login(s, "bob");
    await bob.next("backlog");
    equal(bob.messages().length, 2);
    bob.close(); // dropped before acknowledging
    await bob.conn.closed;
    await sleep(50);
    bob = await login(s, "bob");
    await bob.next("backlog");
    deepStrictEqual(bob.messages().map((m) => m.msg.text), ["important", "for all"]);
    bob.ackAll();
    await bob.conn.request("ping", {});
    await bob.conn.request("logout", {});
    bob.close();
    bob = await login(s, "bob");
    const backlog = await bob.next("backlog");
    deepStrictEqual(backlog, { type: "backlog", private: 0, group: 0, skipped: 0 });
    equal(bob.messages().length, 0);
  }],

  ["a live message is kept until acknowledged, even if the receiver drops", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    let bob = await s.user("bob");
    await bob.next("backlog");
    await alice.conn.request("send", { to: "bob", text: "are you there?" });
    await bob.next("message");
    bob.close();
    await sleep(50);
    bob = await login(s, "bob");
    const again = await bob.next("message");
    equal(again.msg.text, "are you there?");
    equal(again.away, true);
  }],

  ["your own group messages are not delivered back to you as missed", async (backend) => {
    await using s = await startTestServer(backend);
    await registerOnly(s, "bob");
    let alice = await s.user("alice");
    await alice.next("backlog");
    await alice.conn.request("send", { text: "mine" });
    await alice.conn.request("logout", {});
    alice.close();
    alice = await login(s, "alice");
    deepStrictEqual(await alice.next("backlog"), {
      type: "backlog",
      private: 0,
      group: 0,
      skipped: 0,
    });
    const bob = await login(s, "bob");
    equal((await bob.next("message")).msg.text, "mine");
  }],

  ["resume with the token delivers what was missed; logout revokes it", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bobConn = await s.connect();
    await bobConn.conn.request("register", { name: "bob", password: "password1", nickname: "B" });
    const { token } = await bobConn.conn.request("login", { name: "bob", password: "password1" });
    bobConn.close();
    await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    await alice.conn.request("send", { to: "bob", text: "missed you" });
    const again = await s.connect();
    const resumed = await again.conn.request("resume", { token });
    deepStrictEqual(resumed.user, { name: "bob", nickname: "B" });
    equal((await again.next("message")).msg.text, "missed you");
    await again.conn.request("logout", {});
    const third = await s.connect();
    await rejects(third.conn.request("resume", { token }), code("INVALID_TOKEN"));
    await rejects(third.conn.request("resume", { token: "made-up" }), code("INVALID_TOKEN"));
  }],

  ["an expired token is refused", async (backend) => {
    await using s = await startTestServer(backend, ["--token-ttl", "1"]);
    const bob = await s.user("bob");
    const { token } = await bob.conn.request("logout", {}).then(async () => {
      return await bob.conn.request("login", { name: "bob", password: "password1" });
    });
    bob.close();
    await sleep(1200);
    const c = await s.connect();
    await rejects(c.conn.request("resume", { token }), code("INVALID_TOKEN"));
  }],

  [
    "text with terminal escape sequences is carried unchanged for the client to neutralise",
    async (backend) => {
      await using s = await startTestServer(backend);
      const alice = await s.user("alice");
      const bob = await s.user("bob");
      const nasty = "\x1b[2J\x1b]0;pwned\x07\rfake line\u202e";
      await alice.conn.request("send", { text: nasty });
      equal((await bob.next("message")).msg.text, nasty);
    },
  ],
];

backendSuites("messaging", cases, () => startRedis());

Deno.test("logging in while the group chat is busy: each message once, in id order", async () => {
  await using s = await startTestServer({ kind: "kv" }, ["--rate", "0"]);
  const alice = await s.user("alice");
  await registerOnly(s, "bob");
  let sending = true;
  const pump = (async () => {
    const inFlight = new Set<Promise<unknown>>();
    let n = 0;
    while (sending) {
      const p: Promise<unknown> = alice.conn.request("send", { text: `busy ${n++}` })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 10) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  try {
    for (let round = 0; round < 8; round++) {
      const bob = await login(s, "bob");
      await bob.next("backlog");
      await sleep(50);
      const ids = bob.messages().map((m) => m.msg.id);
      ok(ids.length > 0, "got messages");
      for (let i = 1; i < ids.length; i++) {
        ok(ids[i] > ids[i - 1], `round ${round}: id ${ids[i]} after ${ids[i - 1]}`);
      }
      bob.ackAll();
      await bob.conn.request("logout", {});
      bob.close();
    }
  } finally {
    sending = false;
    await pump;
  }
});
