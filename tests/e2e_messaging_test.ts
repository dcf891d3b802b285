/**
 * Messaging end to end (docs/PROTOCOL.md §4.2 `send`, §8, §10, §11): presence on login,
 * logout and drop; room fan-out to many sessions exactly once; private messages and their
 * two copies; offline delivery and redelivery until acknowledged; resume tokens (revocation,
 * expiry, renewal); text carried as sent.
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { backendSuites, type Case, sleep, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import type { Wire } from "./_wire.ts";
import {
  eventsOf,
  login,
  positionsOf,
  received,
  refused,
  register,
  resume,
  texts,
} from "./_e2e.ts";

/** Sleeps until the clock passes `at`. */
async function until(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await sleep(wait);
}

const cases: Case[] = [
  ["presence on login, logout and an abrupt drop", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const online = await alice.next("presence", (e) => e.user.name === "bob" && e.online);
    deepStrictEqual(online, {
      type: "presence",
      user: { name: "bob", nickname: "BOB" },
      online: true,
    });
    await bob.request("logout", {});
    const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    deepStrictEqual(off, {
      type: "presence",
      user: { name: "bob", nickname: "BOB" },
      online: false,
      reason: "logout",
    });
    const carol = await s.user("carol");
    await alice.next("presence", (e) => e.user.name === "carol" && e.online);
    carol.close();
    const dropped = await alice.next("presence", (e) => e.user.name === "carol" && !e.online);
    equal(dropped.reason, "drop");
  }],

  ["the login roster lists who is online among the users you track", async (backend) => {
    await using s = await startTestServer(backend);
    await s.user("alice");
    const bob = await s.user("bob");
    await bob.request("away", { reason: "afk" });
    await register(s, "carol");
    const { c, ok: reply } = await login(s, "carol");
    deepStrictEqual(eventsOf(c, "roster"), [{
      type: "roster",
      users: [{ name: "alice", nickname: "ALICE" }, { name: "bob", nickname: "BOB", away: "afk" }],
      done: true,
    }]);
    equal(reply.onlineTotal, 3);
  }],

  ["a room message reaches each of many sessions exactly once, in position order", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--rate", "0"]);
    const names = Array.from({ length: 24 }, (_, i) => `user${String(i).padStart(2, "0")}`);
    await register(s, ...names);
    const clients: Wire[] = await Promise.all(names.map(async (n) => (await login(s, n)).c));
    const second = (await login(s, "user00")).c;
    const senders = [0, 11, 23];
    const sent: { seq: number; from: number }[] = [];
    for (let round = 0; round < 3; round++) {
      for (const i of senders) {
        const reply = await clients[i].request("send", { room: "lobby", text: `hi ${round}` });
        deepStrictEqual([reply.stream, typeof reply.ts], ["#lobby", "number"]);
        sent.push({ seq: reply.seq, from: i });
      }
    }
    deepStrictEqual(sent.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9], "positions in send order");
    for (const [i, client] of clients.entries()) {
      const expected = sent.filter((m) => m.from !== i).map((m) => `#lobby:${m.seq}`);
      await client.waitFor(() => client.messages().length >= expected.length, "all messages");
      // The next message, committed later, is the barrier for copies that should not exist.
      deepStrictEqual(received(client), expected, `${names[i]}: each once, no echo`);
    }
    await second.waitFor(() => second.messages().length >= 9, "the other device gets all");
    deepStrictEqual(received(second), sent.map((m) => `#lobby:${m.seq}`));
    const last = await clients[23].request("send", { room: "lobby", text: "barrier" });
    for (const client of clients.slice(0, 23)) {
      await client.next("message", (e) => e.msg.seq === last.seq);
      equal(
        client.messages().length,
        sent.filter((m) => m.from !== clients.indexOf(client)).length + 1,
      );
    }
    const first = clients[1].messages()[0].msg;
    deepStrictEqual(Object.keys(first).sort(), ["from", "nick", "seq", "stream", "text", "ts"]);
    deepStrictEqual([first.from, first.nick, first.text], ["user00", "USER00", "hi 0"]);
  }],

  ["private messages: two copies at their own positions, nobody else", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const aliceTablet = (await login(s, "alice")).c;
    const bob = await s.user("bob");
    const carol = await s.user("carol");
    await carol.request("send", { to: "bob", text: "carol first" });
    const sent = await alice.request("send", { to: "BOB", text: "just for you" });
    deepStrictEqual([sent.stream, sent.seq, sent.online, "away" in sent], [
      "@alice",
      1,
      true,
      false,
    ]);
    const got = await bob.next("message", (e) => e.msg.from === "alice");
    deepStrictEqual(got, {
      type: "message",
      msg: {
        stream: "@bob",
        seq: 2,
        ts: sent.ts,
        from: "alice",
        nick: "ALICE",
        to: "bob",
        text: "just for you",
      },
    });
    const copy = await aliceTablet.next("message", (e) => e.msg.stream === "@alice");
    deepStrictEqual(copy.msg, { ...got.msg, stream: "@alice", seq: 1 });
    // Nickname as the receiver (§4.1), and the errors; text is checked before the target.
    const byNick = await alice.request("send", { to: "CAROL", text: "by nickname" });
    equal(byNick.seq, 2);
    await carol.next("message", (e) => e.msg.text === "by nickname");
    await refused(alice.request("send", { to: "nobody", text: "x" }), "UNKNOWN_USER");
    await refused(alice.request("send", { to: "alice", text: "x" }), "SELF_MESSAGE");
    await refused(alice.request("send", { to: "ALICE", text: "x" }), "SELF_MESSAGE");
    await refused(alice.request("send", { to: "nobody", text: "   " }), "INVALID_TEXT");
    await refused(alice.request("send", { to: "bob", text: "\n\t " }), "INVALID_TEXT");
    // carol got her own message's copy and alice's; then a lobby barrier: nothing else.
    await alice.request("send", { room: "lobby", text: "barrier" });
    await carol.next("message", (e) => e.msg.text === "barrier");
    deepStrictEqual(texts(carol), ["by nickname", "barrier"]);
    deepStrictEqual(received(alice), [], "the sending session gets no copies");
  }],

  ["private messages to an offline user arrive at login, in order, with their times", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    await register(s, "bob");
    const alice = await s.user("alice");
    const sent = [];
    for (const text of ["one", "two", "three"]) {
      const reply = await alice.request("send", { to: "bob", text });
      equal(reply.online, false, "bob is offline: the message waits");
      sent.push(reply);
    }
    const { c: bob, ok: reply } = await login(s, "bob");
    deepStrictEqual([reply.inbox.head, reply.inbox.unread, reply.inbox.peers], [3, 3, {
      alice: 3,
    }]);
    deepStrictEqual(await bob.next("backlog"), { type: "backlog", messages: 3, skipped: 0 });
    const got = bob.messages();
    deepStrictEqual(got.map((m) => m.msg.text), ["one", "two", "three"]);
    deepStrictEqual(got.map((m) => m.msg.ts), sent.map((r) => r.ts));
    ok(got.every((m) => m.backlog === true));
  }],

  ["unacknowledged messages are delivered again; acknowledged ones are not", async (backend) => {
    await using s = await startTestServer(backend);
    await register(s, "bob");
    const alice = await s.user("alice");
    await alice.request("send", { to: "bob", text: "important" });
    await alice.request("send", { room: "lobby", text: "for all" });
    let bob = (await login(s, "bob")).c;
    deepStrictEqual(texts(bob), ["important", "for all"]);
    bob.close(); // dropped before acknowledging
    await bob.closed;
    bob = (await login(s, "bob")).c;
    deepStrictEqual(texts(bob), ["important", "for all"]);
    await bob.ackAll();
    await bob.request("logout", {});
    const { c: again, ok: reply } = await login(s, "bob");
    deepStrictEqual(await again.next("backlog"), { type: "backlog", messages: 0, skipped: 0 });
    deepStrictEqual([reply.inbox.acked, reply.inbox.unread, reply.inbox.peers], [1, 0, {}]);
  }],

  ["a live message is kept until acknowledged, even if the receiver drops", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    let bob = await s.user("bob");
    await alice.request("send", { to: "bob", text: "are you there?" });
    equal((await bob.next("message")).backlog, undefined, "live, not backlog");
    bob.close();
    await bob.closed;
    bob = (await login(s, "bob")).c;
    const again = await bob.next("message");
    deepStrictEqual([again.msg.text, again.backlog], ["are you there?", true]);
  }],

  ["resume delivers what was missed; logout revokes the token, closing does not", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await register(s, "bob");
    const first = await login(s, "bob");
    first.c.close();
    await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
    await alice.request("send", { to: "bob", text: "missed you" });
    // A user may hold several tokens: another login does not void the first one.
    const other = await login(s, "bob");
    other.c.close();
    const again = await resume(s, first.ok.token, positionsOf(first.c, first.ok));
    deepStrictEqual(again.ok.user, { name: "bob", nickname: "BOB" });
    deepStrictEqual(texts(again.c), ["missed you"]);
    await again.c.request("logout", {});
    const third = await s.connect();
    await refused(third.request("resume", { token: first.ok.token }), "INVALID_TOKEN");
    await refused(third.request("resume", { token: "made-up" }), "INVALID_TOKEN");
    await refused(third.request("resume", { token: "x".repeat(257) }), "BAD_REQUEST");
  }],

  ["a token expires after --token-ttl; a resume in its second half renews it", async (backend) => {
    await using s = await startTestServer(backend, ["--token-ttl", "2"]);
    await register(s, "bob");
    const start = Date.now();
    const { c, ok: reply } = await login(s, "bob");
    const expires = reply.tokenExpiresAt;
    ok(expires >= start + 2000 && expires <= Date.now() + 2000, `expires at +${expires - start}`);
    c.close();
    const early = await resume(s, reply.token);
    // More than half left: not renewed (the login reply and the store may differ by a few ms).
    ok(Math.abs(early.ok.tokenExpiresAt - expires) < 100, "not renewed");
    equal(early.ok.token, reply.token);
    early.c.close();
    await until(expires - 700); // less than half is left now
    const late = await resume(s, reply.token);
    ok(late.ok.tokenExpiresAt > expires + 1000, "renewed");
    late.c.close();
    await until(expires + 100);
    const renewed = await resume(s, reply.token); // past the first expiry: still good
    renewed.c.close();
    await until(late.ok.tokenExpiresAt + 100);
    const guest = await s.connect();
    await refused(guest.request("resume", { token: reply.token }), "INVALID_TOKEN");
  }],

  ["text is carried exactly as sent, up to --max-text code points; actions are marked", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--max-text", "20"]);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const nasty = "\x1b[2J\x1b]0;pwned\x07\r\u202e";
    const samples = [nasty, "  padded\n\t", "😀".repeat(20), "e\u0301"];
    for (const text of samples) await alice.request("send", { room: "lobby", text });
    await refused(alice.request("send", { room: "lobby", text: "😀".repeat(21) }), "INVALID_TEXT");
    await refused(alice.request("send", { room: "lobby", text: "\u3000" }), "INVALID_TEXT");
    const action = await alice.request("send", { room: "lobby", text: "waves", action: true });
    await bob.next("message", (e) => e.msg.seq === action.seq);
    deepStrictEqual(texts(bob), [...samples, "waves"]);
    const last = bob.messages().at(-1)!.msg;
    equal(last.action, true);
    equal("action" in bob.messages()[0].msg, false);
    const history = await bob.request("history", { room: "lobby" });
    deepStrictEqual(history.messages.map((m) => m.text), [...samples, "waves"]);
    equal(history.messages.at(-1)!.action, true);
  }],
];

backendSuites("messaging", cases, () => startRedis());
