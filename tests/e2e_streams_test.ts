/**
 * Streams and positions end to end (docs/PROTOCOL.md §8): the login sequence exactly as §8.5,
 * where delivery starts (`positions`, `start`, `reset`, `skipped`), acknowledgements and their
 * clamping (§8.6, own sends included), gaps left by retention (§8.7), idempotent sends (§8.3),
 * and the regression of issue 12 item 15 (a message twice in one session while another user
 * pipelines sends).
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import type { LoginResult, RoomState } from "../lib/protocol/messages.ts";
import {
  backendSuites,
  type Case,
  type RawConn,
  rawConnect,
  startTestServer,
  type TestServer,
} from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import type { Wire } from "./_wire.ts";
import {
  eventsOf,
  login,
  PASSWORD,
  positionsOf,
  received,
  refused,
  register,
  resume,
  roomStates,
  roundTrip,
  texts,
} from "./_e2e.ts";

/** Reads frames until `last` holds for one; returns them all. */
async function readUntil(
  raw: RawConn,
  last: (frame: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>[]> {
  const frames: Record<string, unknown>[] = [];
  for (;;) {
    const frame = await raw.read();
    if (frame === null) throw new Error(`closed after ${JSON.stringify(frames)}`);
    frames.push(frame);
    if (last(frame)) return frames;
  }
}

/** bob fills alice's streams while she is away: 2 private, 3 in the lobby, 2 in `tea`. */
async function whileAliceIsAway(s: TestServer) {
  await register(s, "alice");
  const bob = await s.user("bob");
  await bob.request("create", { room: "tea" });
  const alice = await login(s, "alice");
  await alice.c.request("join", { room: "tea" });
  await alice.c.request("logout", {});
  for (const text of ["p1", "p2"]) await bob.request("send", { to: "alice", text });
  for (const text of ["l1", "l2", "l3"]) await bob.request("send", { room: "lobby", text });
  for (const text of ["t1", "t2"]) await bob.request("send", { room: "tea", text });
  return bob;
}

/** Every room's messages in a session are contiguous after start + skipped, each once. */
function assertContiguous(c: Wire, label: string): void {
  const starts = new Map<string, number>();
  for (const room of roomStates(c).values()) {
    starts.set(room.stream.stream, room.stream.start + room.skipped);
  }
  const seen = new Map<string, number>();
  for (const { msg } of c.messages()) {
    const at = seen.get(msg.stream) ?? starts.get(msg.stream) ?? 0;
    equal(msg.seq, at + 1, `${label}: ${msg.stream} ${msg.seq} after ${at}`);
    seen.set(msg.stream, msg.seq);
  }
}

const cases: Case[] = [
  ["the login sequence is exactly rooms, roster, backlog messages, backlog, then replies", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    await whileAliceIsAway(s);
    using raw = await rawConnect(s.port);
    await raw.write(encodeMessage({ type: "hello", id: 1, protocol: 2 }));
    await raw.read();
    // login and a ping in one write: the ping's reply comes after step 4.
    await raw.write(
      new Uint8Array([
        ...encodeMessage({ type: "login", id: 2, name: "alice", password: PASSWORD }),
        ...encodeMessage({ type: "ping", id: 3 }),
      ]),
    );
    const frames = (await readUntil(raw, (f) => f.re === 3)).filter((f) =>
      f.type !== "presence" && f.type !== "nick" // not held back: may come at any point
    );
    const shape = frames.map((f) =>
      f.type === "message"
        ? `${(f.msg as { stream: string }).stream}:${(f.msg as { seq: number }).seq}` +
          (f.backlog ? " backlog" : "")
        : f.type === "ok"
        ? `ok ${f.re}`
        : String(f.type)
    );
    deepStrictEqual(shape, [
      "ok 2",
      "rooms",
      "roster",
      "@alice:1 backlog",
      "@alice:2 backlog",
      "#lobby:1 backlog",
      "#lobby:2 backlog",
      "#lobby:3 backlog",
      "#tea:1 backlog",
      "#tea:2 backlog",
      "backlog",
      "ok 3",
    ]);
    const [reply, rooms, roster] = frames as [
      LoginResult & Record<string, unknown>,
      { rooms: RoomState[]; done: boolean },
      Record<string, unknown>,
    ];
    const { epoch: _, ...inbox } = reply.inbox;
    deepStrictEqual(inbox, {
      stream: "@alice",
      head: 2,
      acked: 0,
      start: 0,
      unread: 2,
      peers: { bob: 2 },
    });
    equal(reply.rooms, 2);
    equal(rooms.done, true);
    deepStrictEqual(rooms.rooms.map((r) => r.name), ["lobby", "tea"]);
    for (const room of rooms.rooms) {
      deepStrictEqual(
        [room.stream.acked, room.stream.start, room.skipped, "reset" in room.stream],
        [0, 0, 0, false],
      );
    }
    deepStrictEqual(rooms.rooms.map((r) => [r.stream.head, r.stream.unread]), [[3, 3], [2, 2]]);
    deepStrictEqual(roster, {
      type: "roster",
      users: [{ name: "bob", nickname: "BOB" }],
      done: true,
    });
    deepStrictEqual(frames[frames.length - 2], { type: "backlog", messages: 7, skipped: 0 });
    const first = frames[3] as { msg: Record<string, unknown> };
    deepStrictEqual(Object.keys(first.msg).sort(), [
      "from",
      "nick",
      "seq",
      "stream",
      "text",
      "to",
      "ts",
    ]);
    deepStrictEqual([first.msg.from, first.msg.to, first.msg.text], ["bob", "alice", "p1"]);
  }],

  ["the rooms of the login sequence count every member", async (backend) => {
    await using s = await startTestServer(backend);
    await s.user("alice");
    const bob = await s.user("bob");
    const lobby = roomStates(bob).get("lobby")!;
    deepStrictEqual([lobby.members, lobby.online], [2, 2]);
  }],

  ["the backlog keeps the newest --backlog-limit per room and says how many it skipped", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--backlog-limit", "2"]);
    await whileAliceIsAway(s);
    const { c, ok: reply } = await login(s, "alice");
    deepStrictEqual(received(c), [
      "@alice:1",
      "@alice:2",
      "#lobby:2",
      "#lobby:3",
      "#tea:1",
      "#tea:2",
    ]);
    const rooms = roomStates(c);
    deepStrictEqual([rooms.get("lobby")!.skipped, rooms.get("tea")!.skipped], [1, 0]);
    deepStrictEqual(await c.next("backlog"), { type: "backlog", messages: 6, skipped: 1 });
    // What was skipped counts as reported: acknowledging past it is allowed.
    await c.send({ type: "ack", stream: "#lobby", upTo: 3 });
    await c.request("logout", {});
    const again = await login(s, "alice", positionsOf(c, reply));
    deepStrictEqual(received(again.c), []);
    equal(roomStates(again.c).get("lobby")!.stream.acked, 3);
    // A limit of 0 delivers no room backlog at all; private messages still come.
    await using none = await startTestServer(backend, ["--backlog-limit", "0"]);
    await whileAliceIsAway(none);
    const bare = await login(none, "alice");
    deepStrictEqual(received(bare.c), ["@alice:1", "@alice:2"]);
    deepStrictEqual(await bare.c.next("backlog"), { type: "backlog", messages: 2, skipped: 5 });
  }],

  ["positions on login and resume: start after them, or reset to the acknowledged one", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    await whileAliceIsAway(s);
    const first = await login(s, "alice");
    const epochs = {
      inbox: first.ok.inbox.epoch,
      lobby: roomStates(first.c).get("lobby")!.stream.epoch,
      tea: roomStates(first.c).get("tea")!.stream.epoch,
    };
    await first.c.send({ type: "ack", stream: "#lobby", upTo: 2 });
    first.c.close(); // closing does not revoke the token
    // The client says what it has: only what is after is delivered.
    const { c, ok: reply } = await resume(s, first.ok.token, {
      "@alice": { seq: 2, epoch: epochs.inbox },
      "#lobby": { seq: 1, epoch: epochs.lobby },
      "#tea": { seq: 2 }, // no epoch: fine while seq <= head
      "#nowhere": { seq: 5 }, // unknown streams are ignored
      "@bob": { seq: 1 }, // so are streams that are not yours
    });
    equal(reply.token, first.ok.token, "resume keeps the token");
    deepStrictEqual(received(c), ["#lobby:2", "#lobby:3"]);
    deepStrictEqual([reply.inbox.start, "reset" in reply.inbox], [2, false]);
    const rooms = roomStates(c);
    deepStrictEqual(
      [rooms.get("lobby")!.stream.start, rooms.get("tea")!.stream.start],
      [1, 2],
    );
    await c.request("logout", {});
    // A wrong epoch, or a position past the head, falls back to the acknowledged position.
    const reset = await login(s, "alice", {
      "#lobby": { seq: 3, epoch: "not-" + epochs.lobby },
      "#tea": { seq: 9, epoch: epochs.tea },
      "@alice": { seq: 1, epoch: epochs.inbox },
    });
    const resetRooms = roomStates(reset.c);
    deepStrictEqual(
      [resetRooms.get("lobby")!.stream.start, resetRooms.get("lobby")!.stream.reset],
      [2, true],
    );
    deepStrictEqual(
      [resetRooms.get("tea")!.stream.start, resetRooms.get("tea")!.stream.reset],
      [0, true],
    );
    deepStrictEqual([reset.ok.inbox.start, "reset" in reset.ok.inbox], [1, false]);
    deepStrictEqual(received(reset.c), ["@alice:2", "#lobby:3", "#tea:1", "#tea:2"]);
    // Positions are shape-checked.
    const guest = await s.connect();
    for (
      const positions of [
        [],
        { "#lobby": 3 },
        { "#lobby": { seq: -1 } },
        { "#lobby": { seq: 1, epoch: 5 } },
        { ["#" + "x".repeat(100)]: { seq: 1 } },
        Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`#r${i}`, { seq: 1 }])),
      ]
    ) {
      await refused(
        guest.request("resume", { token: reset.ok.token, positions } as never),
        "BAD_REQUEST",
      );
    }
  }],

  ["logout writes the session's acknowledgements, also while another session stays", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    await whileAliceIsAway(s);
    const phone = await login(s, "alice");
    const laptop = await login(s, "alice", positionsOf(phone.c, phone.ok));
    await phone.c.send({ type: "ack", stream: "#lobby", upTo: 3 });
    await phone.c.request("logout", {});
    // The laptop stays logged in; a third device asks where the user stands.
    const tablet = await login(s, "alice");
    deepStrictEqual(
      [roomStates(tablet.c).get("lobby")!.stream.acked, received(tablet.c, "#lobby")],
      [3, []],
    );
    void laptop;
  }],

  ["a client that keeps its positions gets nothing twice across resumes", async (backend) => {
    await using s = await startTestServer(backend);
    const bob = await whileAliceIsAway(s);
    let { c, ok: reply } = await login(s, "alice");
    const all = new Set<string>(received(c));
    for (let round = 0; round < 3; round++) {
      const sent = await bob.request("send", { room: "lobby", text: `live ${round}` });
      await c.next("message", (e) => e.msg.seq === sent.seq && e.msg.stream === "#lobby");
      const own = await c.request("send", { room: "tea", text: `mine ${round}` });
      const positions = positionsOf(c, reply, [own]);
      c.close();
      await bob.request("send", { to: "alice", text: `while away ${round}` });
      ({ c, ok: reply } = await resume(s, reply.token, positions));
      for (const key of received(c)) {
        ok(!all.has(key), `${key} delivered twice`);
        all.add(key);
      }
      deepStrictEqual(texts(c), [`while away ${round}`]);
    }
  }],

  ["acknowledgements: cumulative, per user, clamped to what the session was given", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const bob = await s.user("bob");
    const alice = await s.user("alice");
    for (let i = 1; i <= 3; i++) await bob.request("send", { room: "lobby", text: `m${i}` });
    await alice.next("message", (e) => e.msg.seq === 3);
    // Far ahead: clamped to 3, what this session was given.
    await alice.send({ type: "ack", stream: "#lobby", upTo: 100 });
    await alice.send({ type: "ack", stream: "#lobby", upTo: 1 }); // never backwards
    await alice.send({ type: "ack", stream: "#lobby", upTo: 0 }); // nothing
    await alice.send({ type: "ack", stream: "#tea", upTo: 5 }); // not a stream of hers
    await alice.send({ type: "ack", stream: "lobby", upTo: 5 });
    await alice.send({ type: "ack", stream: "#lobby", upTo: -1 }); // malformed: ignored
    await alice.send({ type: "ack", upTo: 2 });
    await roundTrip(alice); // no reply to any notice came before this one
    equal(eventsOf(alice, "error").length, 0);
    for (let i = 4; i <= 5; i++) await bob.request("send", { room: "lobby", text: `m${i}` });
    await alice.next("message", (e) => e.msg.seq === 5);
    await alice.request("logout", {}); // writes the pending acknowledgements
    // Another device without positions starts at the user's acknowledged position.
    const tablet = await login(s, "alice");
    const lobby = roomStates(tablet.c).get("lobby")!;
    deepStrictEqual([lobby.stream.acked, lobby.stream.start, lobby.stream.unread], [3, 3, 2]);
    deepStrictEqual(received(tablet.c), ["#lobby:4", "#lobby:5"]);
  }],

  ["own sends count as given: a session may acknowledge its own messages", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const room = await alice.request("send", { room: "lobby", text: "mine" });
    const dm = await alice.request("send", { to: "bob", text: "for bob" });
    deepStrictEqual([room.stream, room.seq, dm.stream, dm.seq], ["#lobby", 1, "@alice", 1]);
    await bob.next("message", (e) => e.msg.stream === "@bob");
    await alice.send({ type: "ack", stream: "#lobby", upTo: room.seq });
    await alice.send({ type: "ack", stream: "@alice", upTo: dm.seq });
    await alice.request("logout", {});
    const again = await login(s, "alice");
    deepStrictEqual(received(again.c), [], "acknowledged own messages do not come back");
    deepStrictEqual(
      [again.ok.inbox.acked, roomStates(again.c).get("lobby")!.stream.acked],
      [1, 1],
    );
    // Without an acknowledgement they come back: at-least-once.
    const mine2 = await again.c.request("send", { room: "lobby", text: "unacknowledged" });
    again.c.close();
    await again.c.closed;
    const third = await login(s, "alice");
    deepStrictEqual(received(third.c), [`#lobby:${mine2.seq}`]);
  }],

  ["what retention trimmed before delivery is reported as a gap, then delivery goes on", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--room-retention", "3", "--inbox-limit", "2"]);
    await register(s, "alice");
    const bob = await s.user("bob");
    for (let i = 1; i <= 6; i++) await bob.request("send", { room: "lobby", text: `m${i}` });
    for (let i = 1; i <= 4; i++) await bob.request("send", { to: "alice", text: `p${i}` });
    // Trimming may run in the background: wait until history shows it.
    const deadline = Date.now() + 5000;
    while ((await bob.request("history", { room: "lobby", limit: 10 })).messages.length > 3) {
      ok(Date.now() < deadline, "trimmed in time");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { c } = await login(s, "alice");
    deepStrictEqual(received(c), ["@alice:3", "@alice:4", "#lobby:4", "#lobby:5", "#lobby:6"]);
    deepStrictEqual(eventsOf(c, "gap").map(({ stream, after, next }) => [stream, after, next]), [
      ["@alice", 0, 3],
      ["#lobby", 0, 4],
    ]);
    deepStrictEqual(await c.next("backlog"), { type: "backlog", messages: 5, skipped: 0 });
  }],

  ["idempotent send: a resend with the same key is a dup, across reconnects", async (backend) => {
    await using s = await startTestServer(backend);
    const bob = await s.user("bob");
    let alice = await s.user("alice");
    await alice.request("create", { room: "tea" });
    const first = await alice.request("send", { room: "lobby", text: "once", key: "k-1_A" });
    const again = await alice.request("send", { room: "lobby", text: "once", key: "k-1_A" });
    deepStrictEqual(again, { ...first, dup: true });
    // The same key to another target is another message.
    const tea = await alice.request("send", { room: "tea", text: "once", key: "k-1_A" });
    deepStrictEqual([tea.stream, tea.seq, "dup" in tea], ["#tea", 1, false]);
    const dm = await alice.request("send", { to: "bob", text: "once", key: "k-1_A" });
    const dmAgain = await alice.request("send", { to: "BOB", text: "once", key: "k-1_A" });
    deepStrictEqual(dmAgain, { ...dm, dup: true });
    equal(dm.online, true);
    // After a reconnect (another session), the key is still known.
    alice.close();
    alice = (await login(s, "alice")).c;
    const third = await alice.request("send", { room: "lobby", text: "once", key: "k-1_A" });
    deepStrictEqual(third, { ...first, dup: true });
    // Keys are per user.
    const bobs = await bob.request("send", { room: "lobby", text: "once", key: "k-1_A" });
    deepStrictEqual([bobs.seq, "dup" in bobs], [2, false]);
    // Bob saw each message once; the last lobby one is his own.
    await bob.next("message", (e) => e.msg.stream === "@bob");
    await alice.request("send", { room: "lobby", text: "barrier" });
    await bob.next("message", (e) => e.msg.text === "barrier");
    deepStrictEqual(received(bob), ["#lobby:1", "@bob:1", "#lobby:3"]);
    for (const key of ["", "x".repeat(65), "no spaces", "ключ", "a.b"]) {
      await refused(alice.request("send", { room: "lobby", text: "x", key }), "BAD_REQUEST");
    }
    const top = await bob.request("top", { room: "lobby" });
    deepStrictEqual(top.allTime.map((e) => [e.name, e.count]), [["alice", 2], ["bob", 1]]);
  }],

  ["sends one session pipelines to one target are committed in arrival order (§3.2)", async (
    backend,
  ) => {
    await using s = await startTestServer(backend, ["--rate", "0"]);
    const alice = await s.user("alice");
    const bob = await s.user("bob");
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => alice.request("send", { room: "lobby", text: `${i}` })),
    );
    deepStrictEqual(sent.map((r) => r.seq), Array.from({ length: 30 }, (_, i) => i + 1));
    const dms = await Promise.all(
      Array.from({ length: 10 }, (_, i) => alice.request("send", { to: "bob", text: `p${i}` })),
    );
    deepStrictEqual(dms.map((r) => r.seq), Array.from({ length: 10 }, (_, i) => i + 1));
    await bob.waitFor(() => bob.messages().length === 40, "all 40");
    deepStrictEqual(texts(bob, "#lobby"), Array.from({ length: 30 }, (_, i) => `${i}`));
    deepStrictEqual(texts(bob, "@bob"), Array.from({ length: 10 }, (_, i) => `p${i}`));
  }],

  ["a key is forgotten after --dedupe-window", async (backend) => {
    await using s = await startTestServer(backend, ["--dedupe-window", "1"]);
    const alice = await s.user("alice");
    const first = await alice.request("send", { room: "lobby", text: "x", key: "short" });
    const wait = first.ts + 1100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const later = await alice.request("send", { room: "lobby", text: "x", key: "short" });
    deepStrictEqual([later.seq, "dup" in later], [2, false]);
  }],
];

backendSuites("streams and positions", cases, () => startRedis());

Deno.test("issue 12 item 15: pipelined sends while another user resumes, each position once", async () => {
  await using s = await startTestServer({ kind: "kv" }, ["--rate", "0"]);
  const alice = await s.user("alice");
  await register(s, "bob");
  const first = await login(s, "bob");
  let token = first.ok.token;
  first.c.close();
  let sending = true;
  let lastSeq = 0;
  const pump = (async () => {
    const inFlight = new Set<Promise<unknown>>();
    let n = 0;
    while (sending) {
      const p: Promise<unknown> = alice.request("send", { room: "lobby", text: `busy ${n++}` })
        .then((r) => void (lastSeq = Math.max(lastSeq, r.seq)))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 16) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  try {
    for (let round = 0; round < 40; round++) {
      const { c, ok: reply } = await resume(s, token);
      token = reply.token;
      const target = lastSeq + 3;
      await c.next("message", (e) => e.msg.stream === "#lobby" && e.msg.seq >= target, 10_000);
      assertContiguous(c, `round ${round}`);
      if (round % 2 === 0) await c.ackAll();
      c.close();
      await c.closed;
    }
  } finally {
    sending = false;
    await pump;
  }
});
