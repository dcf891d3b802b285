/**
 * Accounts and the conversation's ground rules over real TCP (docs/PROTOCOL.md §1–§4.1, §6,
 * §7): framing byte for byte, hostile frames, phases and the order of checks, request ids,
 * registration, `check`, login and its reply, logout back to guest, and the login timeout.
 *
 * @module
 */

import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { encodeFrame } from "../lib/protocol/frame.ts";
import { backendSuites, type Case, rawConnect, sleep, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";
import { PASSWORD, rawFrame, refused, register } from "./_e2e.ts";

const hello = (id = 1) => encodeMessage({ type: "hello", id, protocol: 2 });
const utf8 = (text: string) => new TextEncoder().encode(text);

const cases: Case[] = [
  ["the worked example of §2, byte for byte", async (backend) => {
    await using s = await startTestServer(backend);
    using raw = await rawConnect(s.port);
    await raw.write(hello());
    equal((await raw.read())?.re, 1);
    const request = utf8('{"type":"ping","id":1}');
    deepStrictEqual([...encodeFrame(request).subarray(0, 4)], [0, 0, 0, 0x16]);
    await raw.write(encodeFrame(request));
    const expected = [0, 0, 0, 0x14, ...utf8('{"type":"ok","re":1}')];
    const got: number[] = [];
    const chunk = new Uint8Array(64);
    while (got.length < expected.length) {
      const n = await raw.conn.read(chunk);
      ok(n !== null, "connection open");
      got.push(...chunk.subarray(0, n));
    }
    deepStrictEqual(got, expected);
  }],

  ["hello announces the server and its limits", async (backend) => {
    await using s = await startTestServer(backend, ["--max-text", "300", "--max-frame", "4096"]);
    const c = await s.connect();
    deepStrictEqual(c.hello, {
      protocol: 2,
      server: "imchat/0.2.0",
      node: s.server.nodeId,
      maxFrame: 4096,
      pingInterval: 30_000,
      maxText: 300,
      lobby: "lobby",
    });
    await using none = await startTestServer(backend, ["--lobby", ""]);
    equal((await none.connect()).hello.lobby, null);
  }],

  ["register, then log in with any letter case; the login reply in full", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    const reg = await c.request("register", {
      name: "Alice",
      password: "correct horse",
      nickname: "  Alice W.  ",
    });
    deepStrictEqual(reg, { user: { name: "alice", nickname: "Alice W." } });
    await refused(c.request("users", {}), "NOT_LOGGED_IN"); // register does not log in
    const before = Date.now();
    const login = await c.request("login", { name: " ALICE ", password: "correct horse" });
    deepStrictEqual(
      Object.keys(login).sort(),
      ["inbox", "invites", "onlineTotal", "rooms", "token", "tokenExpiresAt", "user"],
    );
    deepStrictEqual(login.user, { name: "alice", nickname: "Alice W." });
    match(login.token, /^[A-Za-z0-9_-]{43}$/);
    const ttl = 7 * 24 * 3600 * 1000;
    ok(login.tokenExpiresAt >= before + ttl && login.tokenExpiresAt <= Date.now() + ttl);
    const { epoch, ...inbox } = login.inbox;
    equal(typeof epoch, "string");
    deepStrictEqual(inbox, {
      stream: "@alice",
      head: 0,
      acked: 0,
      start: 0,
      unread: 0,
      peers: {},
    });
    equal(login.rooms, 1, "the lobby");
    deepStrictEqual(login.invites, []);
    equal(login.onlineTotal, 1);
    await c.next("backlog");
    // Another device of the same user at the same time.
    const tablet = await s.connect();
    const second = await tablet.request("login", { name: "alice", password: "correct horse" });
    ok(second.token !== login.token, "each login gets a new token");
    equal(second.onlineTotal, 1);
  }],

  ["registration errors come in the documented order; the connection stays usable", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    await c.request("register", { name: "bob", password: PASSWORD, nickname: "Bob" });
    const reg = (name: string, password: string, nickname: string) =>
      c.request("register", { name, password, nickname });
    await refused(reg("BOB", PASSWORD, "Other"), "NAME_TAKEN");
    await refused(reg("bobby", PASSWORD, "bob"), "NICK_TAKEN");
    await refused(reg("bobby", PASSWORD, "ＢＯＢ"), "NICK_TAKEN"); // full-width folds together
    await refused(reg("bob", PASSWORD, "BOB"), "NAME_TAKEN"); // name before nickname
    await refused(reg("b", "short", "\u202e"), "INVALID_NAME"); // name first
    await refused(reg("bob", "short", "\u202e"), "INVALID_PASSWORD"); // then password
    await refused(reg("bad name", PASSWORD, "B2"), "INVALID_NAME");
    await refused(reg("_carol", PASSWORD, "B2"), "INVALID_NAME");
    await refused(reg("a".repeat(33), PASSWORD, "B2"), "INVALID_NAME");
    await refused(reg("carol", "1234567", "Carol"), "INVALID_PASSWORD");
    await refused(reg("carol", "pass\tword1", "Carol"), "INVALID_PASSWORD");
    await refused(reg("carol", "p".repeat(129), "Carol"), "INVALID_PASSWORD");
    await refused(reg("carol", PASSWORD, "   "), "INVALID_NICKNAME");
    await refused(reg("carol", PASSWORD, "evil\u202eoops"), "INVALID_NICKNAME");
    await refused(reg("carol", PASSWORD, "zero\u200bwidth"), "INVALID_NICKNAME");
    await refused(reg("carol", PASSWORD, "x".repeat(33)), "INVALID_NICKNAME");
    // Shape limits (§4.2) and lone surrogates (§4.1) are BAD_REQUEST, before any rule.
    await refused(reg("a".repeat(257), PASSWORD, "C"), "BAD_REQUEST");
    await refused(reg("carol", "p".repeat(1025), "C"), "BAD_REQUEST");
    await refused(reg("carol", PASSWORD, "N\udbff"), "BAD_REQUEST");
    await refused(reg("carol", "pass\ud800word", "C"), "BAD_REQUEST");
    const ok3 = await reg("  Carol.B-9 ", "😀".repeat(8), "Ren\u0065\u0301");
    deepStrictEqual(ok3.user, { name: "carol.b-9", nickname: "Ren\u00e9" });
  }],

  ["check says free, taken or invalid, for guests and users", async (backend) => {
    await using s = await startTestServer(backend);
    await register(s, "alice");
    const guest = await s.connect();
    deepStrictEqual(
      await guest.request("check", { name: "ALICE", nickname: "alice", room: "Lobby" }),
      { name: "taken", nickname: "taken", room: "taken" },
    );
    deepStrictEqual(
      await guest.request("check", { name: "newbie", nickname: "Newbie", room: "tea" }),
      { name: "free", nickname: "free", room: "free" },
    );
    deepStrictEqual(
      await guest.request("check", { name: "x", nickname: "\u0007", room: "-no" }),
      { name: "invalid", nickname: "invalid", room: "invalid" },
    );
    deepStrictEqual(await guest.request("check", {}), {});
    deepStrictEqual(await guest.request("check", { nickname: "ＡＬＩＣＥ" }), {
      nickname: "taken",
    });
    const alice = await s.user("alice");
    deepStrictEqual(await alice.request("check", { nickname: "Alice" }), { nickname: "free" });
    using raw = await rawConnect(s.port);
    await raw.write(encodeMessage({ type: "check", id: 7, name: "alice" }));
    const early = await raw.read();
    equal(early?.code, "HELLO_REQUIRED");
    equal(early?.re, 7);
  }],

  ["login errors: invalid name, unknown user, wrong password, already logged in", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    await register(s, "dave");
    const c = await s.connect();
    await refused(c.request("login", { name: "x", password: PASSWORD }), "INVALID_NAME");
    await refused(c.request("login", { name: "nobody", password: PASSWORD }), "UNKNOWN_USER");
    await refused(c.request("login", { name: "dave", password: "password2" }), "WRONG_PASSWORD");
    // Login passwords are only verified, not checked against the rules.
    await refused(c.request("login", { name: "dave", password: "x" }), "WRONG_PASSWORD");
    const { token } = await c.request("login", { name: "dave", password: PASSWORD });
    await refused(c.request("login", { name: "dave", password: PASSWORD }), "ALREADY_LOGGED_IN");
    await refused(c.request("resume", { token }), "ALREADY_LOGGED_IN");
    await refused(
      c.request("register", { name: "eve", password: PASSWORD, nickname: "Eve" }),
      "ALREADY_LOGGED_IN",
    );
    await refused(c.request("hello", { protocol: 2 }), "BAD_REQUEST");
    // None of that changed the phase.
    equal((await c.request("count", {})).users, 1);
  }],

  ["phases: greeting, guest and user accept only their types", async (backend) => {
    await using s = await startTestServer(backend);
    using raw = await rawConnect(s.port);
    // Before hello: known types get HELLO_REQUIRED with re; shape and type come first.
    await raw.write(encodeMessage({ type: "login", id: 1, name: "x", password: "y" }));
    deepStrictEqual(pick(await raw.read()), { code: "HELLO_REQUIRED", re: 1 });
    await raw.write(encodeMessage({ type: "fly", id: 2 }));
    deepStrictEqual(pick(await raw.read()), { code: "UNKNOWN_TYPE", re: 2 });
    await raw.write(encodeMessage({ type: "login", id: 3 }));
    deepStrictEqual(pick(await raw.read()), { code: "BAD_REQUEST", re: 3 });
    await raw.write(encodeMessage({ type: "ping", id: 4 }));
    deepStrictEqual(pick(await raw.read()), { code: "HELLO_REQUIRED", re: 4 });
    // Notices in the wrong phase get nothing at all: the next reply is hello's.
    await raw.write(encodeMessage({ type: "pong" }));
    await raw.write(encodeMessage({ type: "ack", stream: "#lobby", upTo: 3 }));
    await raw.write(encodeMessage({ type: "ack" }));
    await raw.write(hello(5));
    deepStrictEqual(pick(await raw.read()), { type: "ok", re: 5 });
    await raw.write(hello(6));
    deepStrictEqual(pick(await raw.read()), { code: "BAD_REQUEST", re: 6 });
    // As a guest, every user-only type is NOT_LOGGED_IN (its shape being right).
    const userOnly: Record<string, unknown>[] = [
      { type: "logout" },
      { type: "send", room: "lobby", text: "hi" },
      { type: "users" },
      { type: "count" },
      { type: "nick", nickname: "N" },
      { type: "away", reason: "lunch" },
      { type: "top" },
      { type: "history", room: "lobby" },
      { type: "rooms" },
      { type: "room", room: "lobby" },
      { type: "create", room: "tea" },
      { type: "join", room: "lobby" },
      { type: "part", room: "lobby" },
      { type: "invite", room: "lobby", user: "bob" },
      { type: "kick", room: "lobby", user: "bob" },
      { type: "ban", room: "lobby", user: "bob" },
      { type: "unban", room: "lobby", user: "bob" },
      { type: "transfer", room: "lobby", user: "bob" },
      { type: "topic", room: "lobby", topic: "t" },
      { type: "members", room: "lobby" },
      { type: "contacts" },
    ];
    let id = 10;
    for (const message of userOnly) {
      await raw.write(encodeMessage({ ...message, id: ++id }));
      deepStrictEqual(
        pick(await raw.read()),
        { code: "NOT_LOGGED_IN", re: id },
        String(message.type),
      );
    }
    // Shape before phase: a malformed user-only request is BAD_REQUEST.
    await raw.write(encodeMessage({ type: "send", id: 50 }));
    deepStrictEqual(pick(await raw.read()), { code: "BAD_REQUEST", re: 50 });
    await raw.write(encodeMessage({ type: "ping", id: 51 }));
    deepStrictEqual(pick(await raw.read()), { type: "ok", re: 51 });
  }],

  ["an unsupported version is fatal and carries re", async (backend) => {
    await using s = await startTestServer(backend);
    for (const protocol of [1, 3]) {
      using raw = await rawConnect(s.port);
      await raw.write(encodeMessage({ type: "hello", id: 9, protocol }));
      deepStrictEqual(pick(await raw.read()), { code: "UNSUPPORTED_VERSION", re: 9 });
      equal(await raw.read(), null, "closed after an unsupported version");
    }
  }],

  ["request ids: echoed, -0 is 0, a bad id is answered without re", async (backend) => {
    await using s = await startTestServer(backend);
    using raw = await rawConnect(s.port);
    await raw.write(hello());
    await raw.read();
    await raw.write(rawFrame('{"type":"ping","id":-0}'));
    deepStrictEqual(await raw.read(), { type: "ok", re: 0 });
    await raw.write(encodeMessage({ type: "ping", id: 2 ** 53 - 1 }));
    deepStrictEqual(await raw.read(), { type: "ok", re: 2 ** 53 - 1 });
    for (const bad of ['"1"', "-1", "1.5", "9007199254740992", "true", "null", "[1]"]) {
      await raw.write(rawFrame(`{"type":"ping","id":${bad}}`));
      const reply = await raw.read();
      deepStrictEqual(pick(reply), { code: "BAD_REQUEST" }, bad);
      equal("re" in reply!, false, `no re for id ${bad}`);
    }
    await raw.write(rawFrame('{"type":"ping"}'));
    deepStrictEqual(pick(await raw.read()), { code: "BAD_REQUEST" });
    // Extra fields are ignored and null counts as absent.
    await raw.write(rawFrame('{"type":"ping","id":3,"extra":[1,{"a":2}],"re":99}'));
    deepStrictEqual(await raw.read(), { type: "ok", re: 3 });
    await raw.write(rawFrame('{"type":"check","id":4,"name":null,"room":"lobby"}'));
    deepStrictEqual(await raw.read(), { type: "ok", re: 4, room: "taken" });
    // A missing or non-string type is UNKNOWN_TYPE (with re when the id is good).
    for (const type of ["", '"type":5,', '"type":null,', '"type":"PING",', '"type":"toString",']) {
      await raw.write(rawFrame(`{${type}"id":5}`));
      deepStrictEqual(pick(await raw.read()), { code: "UNKNOWN_TYPE", re: 5 }, type);
    }
  }],

  ["hostile frames close only the offending connection", async (backend) => {
    await using s = await startTestServer(backend);
    const good = await s.user("frank");
    const max = good.hello.maxFrame;
    const header = (n: number) => {
      const h = new Uint8Array(4);
      new DataView(h.buffer).setUint32(0, n);
      return h;
    };
    const tries: [string, Uint8Array, string][] = [
      ["2 GiB length", header(0x7fffffff), "FRAME_TOO_LARGE"],
      ["4 GiB - 1 length", header(0xffffffff), "FRAME_TOO_LARGE"],
      ["maxFrame + 1", header(max + 1), "FRAME_TOO_LARGE"],
      ["not JSON", encodeFrame(utf8("{not json")), "BAD_FRAME"],
      ["invalid UTF-8", encodeFrame(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), "BAD_FRAME"],
      [
        "lone surrogate in UTF-8",
        encodeFrame(new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d])),
        "BAD_FRAME",
      ],
      ["zero-length payload", header(0), "BAD_FRAME"],
      [
        "byte-order mark",
        encodeFrame(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("{}")])),
        "BAD_FRAME",
      ],
      ["an array", encodeFrame(utf8('[{"type":"ping","id":1}]')), "BAD_FRAME"],
      ["a string", encodeFrame(utf8('"ping"')), "BAD_FRAME"],
      ["a number", encodeFrame(utf8("42")), "BAD_FRAME"],
      ["null", encodeFrame(utf8("null")), "BAD_FRAME"],
    ];
    for (const [label, bytes, code] of tries) {
      for (const greeted of [false, true]) {
        using raw = await rawConnect(s.port);
        if (greeted) {
          await raw.write(hello());
          await raw.read();
        }
        await raw.write(bytes);
        const reply = await raw.read();
        deepStrictEqual(pick(reply), { code }, label);
        equal("re" in reply!, false, `${label}: no re`);
        equal(await raw.read(), null, `${label}: closed`);
      }
    }
    const sent = await good.request("send", { room: "lobby", text: "still here" });
    equal(sent.seq, 1);
  }],

  ["frames before a bad one are answered first, frames after it are ignored", async (backend) => {
    await using s = await startTestServer(backend);
    {
      using raw = await rawConnect(s.port);
      await raw.write(
        new Uint8Array([
          ...hello(1),
          ...encodeMessage({ type: "ping", id: 2 }),
          ...encodeMessage({ type: "check", id: 3, name: "somebody" }),
          0x7f,
          0xff,
          0xff,
          0xff,
        ]),
      );
      equal((await raw.read())?.re, 1);
      deepStrictEqual(await raw.read(), { type: "ok", re: 2 });
      deepStrictEqual(await raw.read(), { type: "ok", re: 3, name: "free" });
      equal((await raw.read())?.code, "FRAME_TOO_LARGE");
      equal(await raw.read(), null);
    }
    using raw = await rawConnect(s.port);
    await raw.write(
      new Uint8Array([
        ...hello(1),
        ...encodeFrame(utf8("{oops")),
        ...encodeMessage({ type: "ping", id: 3 }),
      ]),
    );
    equal((await raw.read())?.re, 1);
    equal((await raw.read())?.code, "BAD_FRAME");
    equal(await raw.read(), null, "nothing after the fatal error");
  }],

  ["a payload of exactly maxFrame bytes is accepted", async (backend) => {
    await using s = await startTestServer(backend, ["--max-text", "300", "--max-frame", "4096"]);
    using raw = await rawConnect(s.port);
    await raw.write(hello());
    equal((await raw.read())?.maxFrame, 4096);
    const base = '{"type":"ping","id":2,"pad":""}';
    const exact = `{"type":"ping","id":2,"pad":"${"x".repeat(4096 - base.length)}"}`;
    equal(utf8(exact).length, 4096);
    await raw.write(rawFrame(exact));
    deepStrictEqual(await raw.read(), { type: "ok", re: 2 });
    await raw.write(rawFrame(exact.replace('"pad":"', '"pad":"y')));
    equal((await raw.read())?.code, "FRAME_TOO_LARGE");
    equal(await raw.read(), null);
  }],

  ["a request fed one byte at a time is understood", async (backend) => {
    await using s = await startTestServer(backend);
    using raw = await rawConnect(s.port);
    const bytes = new Uint8Array([
      ...hello(),
      ...encodeMessage({ type: "check", id: 2, nickname: "你好 🎉" }),
    ]);
    for (let i = 0; i < bytes.length; i++) await raw.write(bytes.subarray(i, i + 1));
    equal((await raw.read())?.re, 1);
    deepStrictEqual(await raw.read(), { type: "ok", re: 2, nickname: "free" });
  }],

  ["logout returns to guest on the same connection; the user may log in again", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    deepStrictEqual(await alice.request("logout", {}), {});
    await refused(alice.request("users", {}), "NOT_LOGGED_IN");
    await refused(alice.request("logout", {}), "NOT_LOGGED_IN");
    await alice.request("ping", {});
    const again = await alice.request("login", { name: "alice", password: PASSWORD });
    equal(again.user.name, "alice");
    deepStrictEqual((await alice.request("users", {})).users, [{
      name: "alice",
      nickname: "ALICE",
    }]);
  }],

  ["passwords and tokens never reach the log", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    await c.request("register", { name: "erin", password: "hunter2hunter2", nickname: "E" });
    await refused(
      c.request("login", { name: "erin", password: "wrong-secret-9" }),
      "WRONG_PASSWORD",
    );
    const login = await c.request("login", { name: "erin", password: "hunter2hunter2" });
    await c.request("logout", {});
    const all = s.logs.join("\n");
    ok(all.includes('"event":"login"'));
    ok(!all.includes("hunter2hunter2"));
    ok(!all.includes("wrong-secret-9"));
    ok(!all.includes(login.token));
  }],
];

backendSuites("accounts and protocol", cases, () => startRedis());

/** The fields of a reply that do not change from run to run. */
function pick(frame: Record<string, unknown> | null): Record<string, unknown> | null {
  if (frame === null) return null;
  const out: Record<string, unknown> = {};
  for (const key of ["type", "code", "re"]) {
    if (key in frame && !(key === "type" && frame.type === "error")) out[key] = frame[key];
  }
  return out;
}

Deno.test("the login timeout: hello, register and ping do not restart it, logout does", async () => {
  await using s = await startTestServer({ kind: "kv" }, ["--login-timeout", "1"]);
  // A silent connection that never greets.
  const silentAt = Date.now();
  using silent = await rawConnect(s.port);
  // A guest that greets, registers and pings.
  const busy = await s.connect();
  const busyAt = Date.now();
  await busy.request("register", { name: "gina", password: PASSWORD, nickname: "Gina" });
  const pinging = (async () => {
    while (busy.isOpen) {
      await busy.request("ping", {}).catch(() => {});
      await sleep(100);
    }
  })();
  const timeout = await busy.next("error", (e) => e.code === "TIMEOUT", 5000);
  const busyFor = Date.now() - busyAt;
  await busy.closed;
  await pinging;
  equal((timeout as { re?: number }).re, undefined);
  ok(busyFor >= 900 && busyFor < 3000, `closed after ${busyFor} ms`);
  const error = await silent.read(5000);
  equal(error?.code, "TIMEOUT");
  equal(await silent.read(), null);
  ok(Date.now() - silentAt >= 900);
  // A logout restarts it: the timeout counts from the logout, not from connecting.
  const user = await s.connect();
  await user.request("login", { name: "gina", password: PASSWORD });
  await user.next("backlog");
  await sleep(1200); // logged in: no login timeout applies
  const loggedOutAt = Date.now();
  await user.request("logout", {});
  await user.next("error", (e) => e.code === "TIMEOUT", 5000);
  const after = Date.now() - loggedOutAt;
  ok(after >= 900, `closed ${after} ms after the logout`);
  await user.closed;
});
