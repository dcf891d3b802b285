import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/frame.ts";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { TestClient } from "./_harness.ts";
import { backendSuites, type Case, rawConnect, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

const code = (expected: string) => (error: unknown) =>
  error instanceof ChatError && error.code === expected;

const cases: Case[] = [
  ["register, then log in with any letter case of the name", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    const reg = await c.conn.request("register", {
      name: "Alice",
      password: "correct horse",
      nickname: "  Alice W.  ",
    });
    deepStrictEqual(reg.user, { name: "alice", nickname: "Alice W." });
    const login = await c.conn.request("login", { name: "ALICE", password: "correct horse" });
    deepStrictEqual(login.user, { name: "alice", nickname: "Alice W." });
    ok(login.token.length >= 40);
    ok(login.tokenExpiresAt > Date.now());
    deepStrictEqual(login.online, [{ name: "alice", nickname: "Alice W." }]);
  }],

  ["registration errors are distinct and the connection stays usable", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    await c.conn.request("register", { name: "bob", password: "password1", nickname: "Bob" });
    const register = (name: string, password: string, nickname: string) =>
      c.conn.request("register", { name, password, nickname });
    await rejects(register("BOB", "password1", "Other"), code("NAME_TAKEN"));
    await rejects(register("bobby", "password1", "bob"), code("NICK_TAKEN"));
    await rejects(register("b", "password1", "B1"), code("INVALID_NAME"));
    await rejects(register("bad name", "password1", "B2"), code("INVALID_NAME"));
    await rejects(register("carol", "short", "Carol"), code("INVALID_PASSWORD"));
    await rejects(register("carol", "password1", "   "), code("INVALID_NICKNAME"));
    await rejects(register("carol", "password1", "evil\u202eoops"), code("INVALID_NICKNAME"));
    const reg = await register("carol", "password1", "Carol");
    equal(reg.user.name, "carol");
  }],

  ["login errors: unknown user, wrong password, already logged in", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    await c.conn.request("register", { name: "dave", password: "password1", nickname: "Dave" });
    await rejects(
      c.conn.request("login", { name: "nobody", password: "password1" }),
      code("UNKNOWN_USER"),
    );
    await rejects(
      c.conn.request("login", { name: "dave", password: "password2" }),
      code("WRONG_PASSWORD"),
    );
    await c.conn.request("login", { name: "dave", password: "password1" });
    await rejects(
      c.conn.request("login", { name: "dave", password: "password1" }),
      code("ALREADY_LOGGED_IN"),
    );
  }],

  ["requests in the wrong phase get clear errors", async (backend) => {
    await using s = await startTestServer(backend);
    const raw = await rawConnect(s.port);
    await raw.write(encodeMessage({ type: "login", id: 1, name: "x", password: "y" }));
    const reply = await raw.read();
    equal(reply?.code, "HELLO_REQUIRED");
    equal(reply?.re, 1);
    await raw.write(encodeMessage({ type: "hello", id: 2, protocol: 99 }));
    equal((await raw.read())?.code, "UNSUPPORTED_VERSION");
    equal(await raw.read(), null, "closed after an unsupported version");
    raw.close();
    const c = await s.connect();
    await rejects(c.conn.request("send", { text: "hi" }), code("NOT_LOGGED_IN"));
    await rejects(c.conn.request("users", {}), code("NOT_LOGGED_IN"));
  }],

  ["passwords never reach the log", async (backend) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    await c.conn.request("register", { name: "erin", password: "hunter2hunter2", nickname: "E" });
    await rejects(c.conn.request("login", { name: "erin", password: "wrong-secret-9" }));
    const login = await c.conn.request("login", { name: "erin", password: "hunter2hunter2" });
    const all = s.logs.join("\n");
    ok(all.includes('"event":"login"'));
    ok(!all.includes("hunter2hunter2"));
    ok(!all.includes("wrong-secret-9"));
    ok(!all.includes(login.token));
  }],

  ["hostile frames close only the offending connection", async (backend) => {
    await using s = await startTestServer(backend);
    const good = await s.user("frank");
    const tries: Uint8Array[] = [
      new Uint8Array([0x7f, 0xff, 0xff, 0xff]), // 2 GiB length
      encodeFrame(new TextEncoder().encode("{not json")),
      encodeFrame(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), // invalid UTF-8
      encodeFrame(new TextEncoder().encode("[1,2,3]")),
    ];
    const codes: unknown[] = [];
    for (const bytes of tries) {
      const raw = await rawConnect(s.port);
      await raw.write(bytes);
      codes.push((await raw.read())?.code);
      equal(await raw.read(), null, "server closed the connection");
      raw.close();
    }
    deepStrictEqual(codes, ["FRAME_TOO_LARGE", "BAD_FRAME", "BAD_FRAME", "BAD_FRAME"]);
    const sent = await good.conn.request("send", { text: "still here" });
    ok(sent.msgId > 0);
  }],

  ["frames before an oversized header in the same write are still answered", async (backend) => {
    await using s = await startTestServer(backend);
    const raw = await rawConnect(s.port);
    await raw.write(
      new Uint8Array([
        ...encodeMessage({ type: "hello", id: 1, protocol: 1 }),
        ...encodeMessage({ type: "ping", id: 2 }),
        0x7f,
        0xff,
        0xff,
        0xff,
      ]),
    );
    equal((await raw.read())?.re, 1);
    deepStrictEqual(await raw.read(), { type: "ok", re: 2 });
    equal((await raw.read())?.code, "FRAME_TOO_LARGE");
    equal(await raw.read(), null);
    raw.close();
  }],

  ["invalid messages get an error reply and the connection stays open", async (backend) => {
    await using s = await startTestServer(backend);
    const raw = await rawConnect(s.port);
    await raw.write(encodeMessage({ type: "hello", id: 1, protocol: 1 }));
    equal((await raw.read())?.type, "ok");
    await raw.write(encodeMessage({ type: "fly", id: 2 }));
    deepStrictEqual(
      [(await raw.read())?.code],
      ["UNKNOWN_TYPE"],
    );
    await raw.write(encodeMessage({ type: "login", id: 3, name: 42, password: "x" }));
    const bad = await raw.read();
    equal(bad?.code, "BAD_REQUEST");
    equal(bad?.re, 3);
    await raw.write(encodeMessage({ type: "ping", id: 4 }));
    deepStrictEqual(await raw.read(), { type: "ok", re: 4 });
    raw.close();
  }],

  ["a request fed one byte at a time is understood", async (backend) => {
    await using s = await startTestServer(backend);
    const raw = await rawConnect(s.port);
    const bytes = new Uint8Array([
      ...encodeMessage({ type: "hello", id: 1, protocol: 1 }),
      ...encodeMessage({ type: "ping", id: 2 }),
    ]);
    for (let i = 0; i < bytes.length; i++) await raw.write(bytes.subarray(i, i + 1));
    equal((await raw.read())?.re, 1);
    deepStrictEqual(await raw.read(), { type: "ok", re: 2 });
    raw.close();
  }],

  ["-0 is 0: a history page before -0 is an empty page, like before 0", async (backend) => {
    await using s = await startTestServer(backend);
    const alice = await s.user("alice");
    await alice.conn.request("send", { text: "one" });
    const raw = await rawConnect(s.port);
    const send = (json: string) => raw.write(encodeFrame(new TextEncoder().encode(json)));
    await send('{"type":"hello","id":-0,"protocol":1}');
    equal((await raw.read())?.re, 0);
    await send('{"type":"login","id":1,"name":"alice","password":"password1"}');
    equal((await raw.read())?.type, "ok");
    equal((await raw.read())?.type, "backlog");
    await send('{"type":"history","id":2,"before":-0,"limit":-0}');
    deepStrictEqual(await raw.read(), { type: "ok", re: 2, messages: [], more: false });
    raw.close();
  }],

  ["lone surrogates are refused in every string; astral characters are kept exactly", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    const register = (name: string, password: string, nickname: string) =>
      c.conn.request("register", { name, password, nickname });
    // These nicknames have different keys but became one ("N\ufffd") in the stores.
    await rejects(register("nina", "password1", "N\udbff"), code("BAD_REQUEST"));
    await rejects(register("nino", "password1", "N\udc01"), code("BAD_REQUEST"));
    await rejects(register("lone", "password1", "Lone \ud800 nick"), code("BAD_REQUEST"));
    // scrypt hashed the password as UTF-8, so "\ud800" and "\ufffd" were one password.
    await rejects(register("pia", "password\ud800", "Pia"), code("BAD_REQUEST"));
    await register("pia", "password\ufffd", "Pia");
    await rejects(
      c.conn.request("login", { name: "pia", password: "password\ud800" }),
      code("BAD_REQUEST"),
    );
    const nickname = "Astral \u{1F600} \u{10FFFF} nick";
    await register("astra", "password1", nickname);
    const login = await c.conn.request("login", { name: "astra", password: "password1" });
    equal(login.user.nickname, nickname);
    const other = await s.user("other");
    deepStrictEqual(
      (await other.conn.request("users", {})).users.find((u) => u.name === "astra"),
      { name: "astra", nickname },
    );
    await rejects(c.conn.request("send", { text: "bad \udc00" }), code("BAD_REQUEST"));
    await c.conn.request("send", { text: "\u{1F600}" });
    const got = await other.next("message", (e) => e.msg.from === "astra");
    deepStrictEqual([got.msg.nick, got.msg.text], [nickname, "\u{1F600}"]);
  }],

  ["a connection that never logs in is closed after the login timeout", async (backend) => {
    await using s = await startTestServer(backend, ["--login-timeout", "1"]);
    const idle = await TestClient.open(s.port);
    await idle.next("error", (e) => e.code === "TIMEOUT", 4000);
    await idle.conn.closed;
    idle.close();
  }],
];

backendSuites("accounts and protocol", cases, () => startRedis());
