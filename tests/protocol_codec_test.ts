import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { decodePayload, encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { FrameDecoder, HEADER_BYTES } from "../lib/protocol/frame.ts";
import {
  checkAway,
  checkKey,
  checkName,
  checkNickname,
  checkPassword,
  checkRoomName,
  checkText,
  checkTitle,
  checkTopic,
  nicknameKey,
} from "../lib/protocol/rules.ts";
import { parseClientMessage, requestIdOf } from "../lib/protocol/validate.ts";

/** A validator for `throws` matching a ChatError with `code`. */
function chatError(code: string) {
  return (error: unknown) => error instanceof ChatError && error.code === code;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** `{"a":"` + raw bytes + `"}` */
function objectWithRawString(raw: number[]): Uint8Array {
  return new Uint8Array([...utf8('{"a":"'), ...raw, ...utf8('"}')]);
}

// ---- codec ----

Deno.test("decodePayload decodes a JSON object", () => {
  deepStrictEqual(decodePayload(utf8('{"type":"ping","id":1}')), { type: "ping", id: 1 });
  deepStrictEqual(decodePayload(utf8('{"text":"你好 🎉","n":{"x":[1,null]}}')), {
    text: "你好 🎉",
    n: { x: [1, null] },
  });
  deepStrictEqual(decodePayload(utf8(" {} ")), {});
});

Deno.test("decodePayload rejects invalid UTF-8 with BAD_FRAME", () => {
  const invalid: [string, number[]][] = [
    ["0xff 0xfe", [0xff, 0xfe]],
    ["lone continuation byte", [0x80]],
    ["overlong '/' (2 bytes)", [0xc0, 0xaf]],
    ["overlong '/' (3 bytes)", [0xe0, 0x80, 0xaf]],
    ["overlong NUL", [0xc0, 0x80]],
    ["lone high surrogate ED A0 80", [0xed, 0xa0, 0x80]],
    ["lone low surrogate ED B0 80", [0xed, 0xb0, 0x80]],
    ["code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["truncated sequence", [0xe4, 0xb8]],
  ];
  for (const [label, raw] of invalid) {
    throws(() => decodePayload(objectWithRawString(raw)), chatError("BAD_FRAME"), label);
  }
  // A truncated sequence at the very end of the payload.
  throws(() => decodePayload(new Uint8Array([...utf8("{}"), 0xe4])), chatError("BAD_FRAME"));
  // The same characters correctly encoded are fine.
  deepStrictEqual(decodePayload(objectWithRawString([0xe4, 0xb8, 0xad])), { a: "中" });
});

Deno.test("decodePayload rejects invalid JSON with BAD_FRAME", () => {
  for (const text of ["", "{", '{"a":', "{'a':1}", '{"a":1} x', "{a:1}", '{"a":1,}', "NaN"]) {
    throws(() => decodePayload(utf8(text)), chatError("BAD_FRAME"), JSON.stringify(text));
  }
});

Deno.test("decodePayload rejects JSON that is not an object with BAD_FRAME", () => {
  for (const text of ["[]", '[{"type":"ping"}]', "1", "-0.5", "null", '"ping"', "true"]) {
    throws(() => decodePayload(utf8(text)), chatError("BAD_FRAME"), text);
  }
});

Deno.test("encodeMessage round-trips through FrameDecoder and decodePayload", () => {
  const message = {
    type: "message",
    msg: {
      stream: "#lobby",
      seq: 7,
      ts: 1,
      from: "alice",
      nick: "爱丽丝 👩‍💻",
      text: "你好，世界 🎉🇨🇭 café",
    },
    backlog: true,
  };
  const frame = encodeMessage(message);
  const json = utf8(JSON.stringify(message));
  strictEqual(frame.length, HEADER_BYTES + json.length);
  strictEqual(new DataView(frame.buffer, frame.byteOffset).getUint32(0), json.length);

  const decoder = new FrameDecoder();
  const frames = decoder.push(frame);
  strictEqual(frames.length, 1);
  deepStrictEqual(decodePayload(frames[0]), message);

  // Cut inside a multi-byte character: still one identical message.
  const cut = HEADER_BYTES + json.indexOf(0xe4) + 1;
  const split = new FrameDecoder();
  deepStrictEqual(split.push(frame.subarray(0, cut)), []);
  const [rejoined] = split.push(frame.subarray(cut));
  deepStrictEqual(decodePayload(rejoined), message);

  // A lone surrogate is escaped by JSON.stringify and survives.
  const lone = { text: "x\ud800y" };
  deepStrictEqual(decodePayload(new FrameDecoder().push(encodeMessage(lone))[0]), lone);
});

Deno.test("encodeMessage refuses a payload over maxFrame with RangeError", () => {
  throws(() => encodeMessage({ text: "a".repeat(100) }, 50), RangeError);
  // Exactly at the limit is fine: '{"t":"' + n + '"}' is n + 8 bytes.
  strictEqual(encodeMessage({ t: "a".repeat(42) }, 50).length, HEADER_BYTES + 50);
  throws(() => encodeMessage({ t: "a".repeat(43) }, 50), RangeError);
  // The limit is in UTF-8 bytes, not characters: 10 × 3 bytes + 8 = 38 > 30.
  throws(() => encodeMessage({ t: "中".repeat(10) }, 30), RangeError);
  strictEqual(encodeMessage({ t: "中".repeat(10) }, 38).length, HEADER_BYTES + 38);
});

// ---- validate ----

Deno.test("parseClientMessage accepts a valid example of every client type", () => {
  const valid: Record<string, unknown>[] = [
    { type: "hello", id: 1, protocol: 2, client: "cli/1.0" },
    { type: "hello", id: 1, protocol: 2 },
    { type: "check", id: 2, name: "alice", nickname: "Alice", room: "tea" },
    { type: "check", id: 2 },
    { type: "register", id: 2, name: "alice", password: "secret123", nickname: "Alice" },
    {
      type: "login",
      id: 3,
      name: "alice",
      password: "secret123",
      positions: { "#lobby": { seq: 10, epoch: "k3x9q1" }, "@alice": { seq: 0 } },
    },
    { type: "login", id: 3, name: "alice", password: "secret123" },
    { type: "resume", id: 4, token: "abc", positions: {} },
    { type: "resume", id: 4, token: "abc" },
    { type: "logout", id: 5 },
    { type: "send", id: 6, room: "lobby", text: "hi", key: "c0ffee-01_A", action: true },
    { type: "send", id: 6, to: "bob", text: "hi bob" },
    { type: "ack", stream: "#lobby", upTo: 42 },
    { type: "users", id: 7, limit: 10, after: "bob" },
    { type: "count", id: 8 },
    { type: "count", id: 8, room: "tea" },
    { type: "nick", id: 9, nickname: "Al" },
    { type: "away", id: 9, reason: "lunch" },
    { type: "away", id: 9 },
    { type: "top", id: 10, limit: 5, room: "tea" },
    { type: "top", id: 10 },
    { type: "history", id: 11, with: "bob", limit: 20, before: 100 },
    { type: "history", id: 11, room: "lobby", after: 3 },
    { type: "rooms", id: 12, query: "te", limit: 5, after: "a", mine: true },
    { type: "room", id: 13, room: "tea" },
    { type: "create", id: 14, room: "tea", title: "Tea", public: false },
    { type: "join", id: 15, room: "tea" },
    { type: "part", id: 16, room: "tea" },
    { type: "invite", id: 17, room: "tea", user: "bob" },
    { type: "kick", id: 18, room: "tea", user: "bob" },
    { type: "ban", id: 19, room: "tea", user: "bob" },
    { type: "unban", id: 20, room: "tea", user: "bob" },
    { type: "transfer", id: 21, room: "tea", user: "bob" },
    { type: "topic", id: 22, room: "tea", topic: "" },
    { type: "members", id: 23, room: "tea", limit: 100, after: "a" },
    { type: "contacts", id: 24, limit: 10 },
    { type: "contacts", id: 24 },
    { type: "ping", id: 0 },
    { type: "pong" },
  ];
  const types = new Set(valid.map((m) => m.type));
  strictEqual(types.size, 29, "every client type of §4.2");
  for (const message of valid) {
    deepStrictEqual(parseClientMessage(message), message, JSON.stringify(message));
  }
});

Deno.test("parseClientMessage rejects a missing or unknown type with UNKNOWN_TYPE", () => {
  for (
    const message of [
      {},
      { id: 1 },
      { type: 5, id: 1 },
      { type: null, id: 1 },
      { type: "fly", id: 1 },
      { type: "PING", id: 1 },
      { type: "toString", id: 1 },
      { type: "__proto__", id: 1 },
      { type: "constructor", id: 1 },
      { type: "hasOwnProperty", id: 1 },
      { type: "ok", re: 1 },
      { type: "message", id: 1 },
    ]
  ) {
    throws(
      () => parseClientMessage(message as Record<string, unknown>),
      chatError("UNKNOWN_TYPE"),
      JSON.stringify(message),
    );
  }
});

Deno.test("parseClientMessage rejects wrong or missing fields with BAD_REQUEST", () => {
  const positions = (value: unknown) => ({
    type: "login",
    id: 1,
    name: "alice",
    password: "secret123",
    positions: value,
  });
  const invalid: Record<string, unknown>[] = [
    { type: "ping", id: "1" },
    { type: "ping", id: -1 },
    { type: "ping", id: 1.5 },
    { type: "ping", id: 2 ** 53 },
    { type: "ping", id: true },
    { type: "ping" },
    { type: "ping", id: null },
    { type: "send", id: 1 },
    { type: "send", id: 1, room: "lobby", text: 5 },
    { type: "send", id: 1, text: "hi", to: 7 },
    { type: "send", id: 1, room: "lobby", text: ["hi"] },
    { type: "send", id: 1, room: "lobby", text: "hi", key: 5 },
    { type: "send", id: 1, room: "lobby", text: "hi", key: "k".repeat(65) },
    { type: "send", id: 1, room: "lobby", text: "hi", action: "yes" },
    { type: "send", id: 1, room: "lobby", text: "x".repeat(65537) },
    { type: "register", id: 1, name: "alice", nickname: "Alice" },
    { type: "register", id: 1, name: "a".repeat(257), password: "secret123", nickname: "A" },
    { type: "register", id: 1, name: "alice", password: "secret123", nickname: "N\udbff" },
    { type: "register", id: 1, name: "alice", password: "pass\udc01word", nickname: "N" },
    positions([]),
    positions("#lobby"),
    positions({ "#lobby": 3 }),
    positions({ "#lobby": { seq: -1 } }),
    positions({ "#lobby": { seq: 1.5 } }),
    positions({ "#lobby": {} }),
    positions({ "#lobby": { seq: 1, epoch: 7 } }),
    positions({ "#lobby": { seq: 1, epoch: "e".repeat(65) } }),
    positions({ ["#" + "r".repeat(100)]: { seq: 1 } }),
    positions(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`#r${i}`, { seq: 0 }]))),
    { type: "hello", id: 1 },
    { type: "hello", id: 1, protocol: 2, client: "c".repeat(101) },
    { type: "ack" },
    { type: "ack", stream: "#lobby" },
    { type: "ack", stream: "#lobby", upTo: 1.25 },
    { type: "ack", stream: "#" + "x".repeat(100), upTo: 1 },
    { type: "history", id: 1, room: "lobby", limit: -1 },
    { type: "history", id: 1, with: { name: "bob" } },
    { type: "top", id: 1, limit: "10" },
    { type: "rooms", id: 1, query: "q".repeat(65) },
    { type: "rooms", id: 1, mine: 1 },
    { type: "create", id: 1 },
    { type: "create", id: 1, room: "tea", public: "no" },
    { type: "topic", id: 1, room: "tea" },
    { type: "topic", id: 1, room: "tea", topic: "t".repeat(1025) },
    { type: "away", id: 1, reason: "r".repeat(401) },
    { type: "invite", id: 1, room: "tea" },
    { type: "members", id: 1 },
    { type: "contacts", id: 1, limit: "5" },
  ];

  for (const message of invalid) {
    throws(() => parseClientMessage(message), chatError("BAD_REQUEST"), JSON.stringify(message));
  }
});

Deno.test("parseClientMessage normalises -0 to 0 and keeps positions clean", () => {
  const parsed = parseClientMessage(JSON.parse(
    '{"type":"history","id":-0,"room":"lobby","before":-0}',
  )) as { id: number; before: number };
  ok(Object.is(parsed.id, 0) && Object.is(parsed.before, 0));
  const login = parseClientMessage(JSON.parse(
    '{"type":"login","id":1,"name":"a","password":"b","positions":' +
      '{"#lobby":{"seq":-0,"epoch":null,"x":1}}}',
  )) as { positions: Record<string, unknown> };
  deepStrictEqual(login.positions, { "#lobby": { seq: 0 } });
  ok(Object.is((login.positions["#lobby"] as { seq: number }).seq, 0));
});

Deno.test("string limits count UTF-16 code units", () => {
  // 50 emoji are 100 UTF-16 units: exactly the hello client's maximum.
  parseClientMessage({ type: "hello", id: 1, protocol: 2, client: "😀".repeat(50) });
  throws(
    () => parseClientMessage({ type: "hello", id: 1, protocol: 2, client: "😀".repeat(50) + "x" }),
    chatError("BAD_REQUEST"),
  );
});

Deno.test("parseClientMessage returns only the known fields", () => {
  const input = {
    type: "send",
    id: 1,
    text: "hi",
    extra: true,
    admin: 1,
    __proto__: { polluted: true },
  };
  const parsed = parseClientMessage(input);
  deepStrictEqual(parsed, { type: "send", id: 1, text: "hi" });
  deepStrictEqual(Object.keys(parsed).sort(), ["id", "text", "type"]);
  // null for an optional field counts as absent.
  deepStrictEqual(parseClientMessage({ type: "history", id: 2, with: null, limit: 5 }), {
    type: "history",
    id: 2,
    limit: 5,
  });
  deepStrictEqual(parseClientMessage({ type: "pong", id: 9 }), { type: "pong" });
});

Deno.test("parseClientMessage turns -0 into 0 in every number field", () => {
  const parsed = parseClientMessage(
    JSON.parse('{"type":"history","id":-0,"before":-0,"limit":-0}'),
  );
  deepStrictEqual(parsed, { type: "history", id: 0, before: 0, limit: 0 });
  for (const value of Object.values(parsed)) {
    if (typeof value === "number") strictEqual(Object.is(value, -0), false);
  }
  strictEqual(Object.is(requestIdOf({ id: -0 }), 0), true);
});

Deno.test("parseClientMessage refuses a lone surrogate in any string field with BAD_REQUEST", () => {
  const lone = ["\ud800", "\udbff", "\udc01", "x\udfff", "\ud800\ud800", "\udc00\ud800"];
  const messages = (bad: string): Record<string, unknown>[] => [
    { type: "hello", id: 1, protocol: 1, client: bad },
    { type: "register", id: 1, name: bad, password: "password1", nickname: "N" },
    { type: "register", id: 1, name: "alice", password: `password${bad}`, nickname: "N" },
    { type: "register", id: 1, name: "alice", password: "password1", nickname: `N${bad}` },
    { type: "login", id: 1, name: "alice", password: `password${bad}` },
    { type: "resume", id: 1, token: bad },
    { type: "send", id: 1, text: `hi ${bad}` },
    { type: "send", id: 1, to: bad, text: "hi" },
    { type: "nick", id: 1, nickname: `Lone ${bad} nick` },
    { type: "history", id: 1, with: bad },
  ];
  for (const bad of lone) {
    for (const message of messages(bad)) {
      throws(() => parseClientMessage(message), chatError("BAD_REQUEST"), JSON.stringify(message));
    }
  }
  // Surrogate pairs are well-formed: astral characters pass unchanged.
  const astral = { type: "nick", id: 1, nickname: "N \u{1F600} \ud83d\ude00" };
  deepStrictEqual(parseClientMessage(astral), astral);
});

Deno.test("requestIdOf returns only usable ids", () => {
  strictEqual(requestIdOf({ id: 5 }), 5);
  strictEqual(requestIdOf({ id: 0, type: "bogus" }), 0);
  strictEqual(requestIdOf({}), undefined);
  strictEqual(requestIdOf({ id: "5" }), undefined);
  strictEqual(requestIdOf({ id: -1 }), undefined);
  strictEqual(requestIdOf({ id: 1.5 }), undefined);
  strictEqual(requestIdOf({ id: null }), undefined);
});

// ---- rules ----

Deno.test("checkName folds case and enforces length and characters", () => {
  strictEqual(checkName("Alice"), "alice");
  strictEqual(checkName("ALICE"), "alice");
  strictEqual(checkName("  bob  "), "bob");
  strictEqual(checkName("abc"), "abc");
  strictEqual(checkName("a".repeat(32)), "a".repeat(32));
  strictEqual(checkName("a.b-c_d9"), "a.b-c_d9");
  strictEqual(checkName("9lives"), "9lives");
  for (
    const name of [
      "",
      "ab",
      "a".repeat(33),
      "al ice",
      "alice bob",
      "_alice",
      ".alice",
      "-alice",
      "alice!",
      "alice@x",
      "élise",
      "аlice", // Cyrillic а
      "ali\u0000ce",
    ]
  ) {
    throws(() => checkName(name), chatError("INVALID_NAME"), JSON.stringify(name));
  }
});

Deno.test("checkPassword enforces length in code points and rejects control characters", () => {
  strictEqual(checkPassword("12345678"), "12345678");
  strictEqual(checkPassword("p".repeat(128)), "p".repeat(128));
  // Returned unchanged, spaces included.
  strictEqual(checkPassword("  pass word  "), "  pass word  ");
  throws(() => checkPassword("1234567"), chatError("INVALID_PASSWORD"));
  throws(() => checkPassword("p".repeat(129)), chatError("INVALID_PASSWORD"));
  // 4 emoji are 8 UTF-16 units but 4 characters: too short.
  throws(() => checkPassword("😀".repeat(4)), chatError("INVALID_PASSWORD"));
  strictEqual(checkPassword("😀".repeat(8)), "😀".repeat(8));
  // 100 emoji are 200 UTF-16 units but 100 characters: fine.
  strictEqual(checkPassword("😀".repeat(100)), "😀".repeat(100));
  throws(() => checkPassword("😀".repeat(129)), chatError("INVALID_PASSWORD"));
  for (const password of ["password\n", "pass\u0000word", "pass\tword", "pass\u007fword"]) {
    throws(() => checkPassword(password), chatError("INVALID_PASSWORD"), JSON.stringify(password));
  }
});

Deno.test("checkNickname trims, normalises and rejects invisible characters", () => {
  strictEqual(checkNickname("  Alice  "), "Alice");
  strictEqual(checkNickname("小明"), "小明");
  strictEqual(checkNickname("Ann 🎉"), "Ann 🎉");
  // NFC: e + combining acute becomes é.
  strictEqual(checkNickname("Rene\u0301"), "Ren\u00e9");
  strictEqual(checkNickname("x".repeat(32)), "x".repeat(32));
  // 32 emoji: 64 UTF-16 units but 32 characters.
  strictEqual(checkNickname("😀".repeat(32)), "😀".repeat(32));
  // Length counts after trimming.
  strictEqual(checkNickname(`  ${"x".repeat(32)}  `), "x".repeat(32));
  for (
    const nickname of [
      "",
      "   ",
      "x".repeat(33),
      "😀".repeat(33),
      "小".repeat(33),
      "a\u0007b",
      "a\nb",
      "evil\u202Etxt.exe",
      "zero\u200Bwidth",
      "\u200B",
      "line\u2028sep",
      "para\u2029sep",
      "b\uFEFFom",
      "c1\u0085",
    ]
  ) {
    throws(() => checkNickname(nickname), chatError("INVALID_NICKNAME"), JSON.stringify(nickname));
  }
});

Deno.test("nicknameKey folds case and compatibility forms", () => {
  strictEqual(nicknameKey("Alice"), "alice");
  strictEqual(nicknameKey("ALICE"), nicknameKey("alice"));
  strictEqual(nicknameKey("Ａlice"), nicknameKey("alice"));
  strictEqual(nicknameKey("ＡＬＩＣＥ"), "alice");
  strictEqual(nicknameKey("小明"), "小明");
  strictEqual(nicknameKey("Ren\u00e9"), nicknameKey("RENE\u0301"));
  strictEqual(nicknameKey("alice") === nicknameKey("alicia"), false);
});

Deno.test("checkText rejects blank text and enforces the maximum length", () => {
  strictEqual(checkText("hello", 10), "hello");
  strictEqual(checkText("  padded  ", 10), "  padded  ");
  strictEqual(checkText("a".repeat(10), 10), "a".repeat(10));
  strictEqual(checkText("你好", 10), "你好");
  throws(() => checkText("a".repeat(11), 10), chatError("INVALID_TEXT"));
  for (const text of ["", " ", "  \n\t ", "\u3000"]) {
    throws(() => checkText(text, 10), chatError("INVALID_TEXT"), JSON.stringify(text));
  }
});

Deno.test("checkRoomName folds like a login name, with its own code", () => {
  strictEqual(checkRoomName(" Tea-Time "), "tea-time");
  strictEqual(checkRoomName("LOBBY"), "lobby");
  for (const name of ["", "ab", "tea time", "-tea", "t".repeat(33), "чай"]) {
    throws(() => checkRoomName(name), chatError("INVALID_ROOM"), JSON.stringify(name));
  }
});

Deno.test("checkTitle, checkTopic and checkAway: one clean line each, with their bounds", () => {
  strictEqual(checkTitle("  The Den  "), "The Den");
  strictEqual(checkTitle("题".repeat(64)), "题".repeat(64));
  for (const title of ["", "   ", "题".repeat(65), "a\nb", "a\u200bb"]) {
    throws(() => checkTitle(title), chatError("INVALID_TITLE"), JSON.stringify(title));
  }
  strictEqual(checkTopic(""), "");
  strictEqual(checkTopic("  Earl Grey\u0301 "), "Earl Grey\u0301".normalize("NFC"));
  strictEqual(checkTopic("t".repeat(300)), "t".repeat(300));
  for (const topic of ["t".repeat(301), "two\nlines", "tab\there", "rtl\u202e"]) {
    throws(() => checkTopic(topic), chatError("INVALID_TOPIC"), JSON.stringify(topic));
  }
  strictEqual(checkAway("   "), "");
  strictEqual(checkAway(" lunch "), "lunch");
  strictEqual(checkAway("a".repeat(200)), "a".repeat(200));
  for (const reason of ["a".repeat(201), "a\rb"]) {
    throws(() => checkAway(reason), chatError("INVALID_TEXT"), JSON.stringify(reason));
  }
});

Deno.test("checkKey takes 1 to 64 of A-Z a-z 0-9 _ -", () => {
  strictEqual(checkKey("c0ffee-01_A"), "c0ffee-01_A");
  strictEqual(checkKey("k".repeat(64)), "k".repeat(64));
  for (const key of ["", "k".repeat(65), "a b", "a.b", "ключ", "a/b"]) {
    throws(() => checkKey(key), chatError("BAD_REQUEST"), JSON.stringify(key));
  }
});
