/**
 * Abuse limits of issue 12 that need several remote addresses or both stores: an attacker on
 * many addresses cannot keep a user out (item 18), registrations are throttled per address and
 * per node (item 4), and lone surrogates cannot make two strings one in either store (item 17).
 *
 * @module
 */

import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import { AddressedClient } from "./_from_address.ts";
import { backendSuites, type Case, startTestServer } from "./_harness.ts";
import { startRedis } from "./_redis.ts";

const kv = { kind: "kv" } as const;
const code = (expected: string) => (error: unknown) =>
  error instanceof ChatError && error.code === expected;

Deno.test("wrong passwords from many addresses cannot keep the user out", async () => {
  await using s = await startTestServer(kv, ["--login-limit", "3", "--account-limit", "5"]);
  const setup = await s.connect();
  await setup.request("register", { name: "alice", password: "password1", nickname: "A" });
  const login = async (from: string, password: string) => {
    const client = await AddressedClient.open(s.port, from);
    try {
      return await client.request({ type: "login", name: "alice", password });
    } finally {
      await client.close();
    }
  };
  // Alice's own machine.
  equal((await login("127.0.0.2", "password1")).type, "ok");
  // An attacker on eight other addresses, three guesses each.
  const codes = new Set<unknown>();
  for (let host = 10; host < 18; host++) {
    for (let guess = 0; guess < 3; guess++) {
      codes.add((await login(`127.0.0.${host}`, `guess-${guess}-x`)).code);
    }
  }
  deepStrictEqual([...codes].sort(), ["LOGIN_THROTTLED", "WRONG_PASSWORD"], "slowed, not locked");
  const fromAttacker = await login("127.0.0.10", "password1");
  equal(fromAttacker.code, "LOGIN_THROTTLED", "that address has used up its guesses");
  ok((fromAttacker.retryAfter as number) > 200);
  // The right password from the user's own address works at once.
  equal((await login("127.0.0.2", "password1")).type, "ok");
});

Deno.test("registrations are throttled per address and for the whole server", async () => {
  await using s = await startTestServer(kv, [
    "--register-address-limit",
    "2",
    "--register-limit",
    "3",
  ]);
  const register = async (from: string, name: string) => {
    const client = await AddressedClient.open(s.port, from);
    try {
      return await client.request({
        type: "register",
        name,
        password: "password1",
        nickname: name,
      });
    } finally {
      await client.close();
    }
  };
  equal((await register("127.0.0.2", "user1")).type, "ok");
  // A refused attempt counts like an accepted one: each costs a password hash.
  equal((await register("127.0.0.2", "user1")).code, "NAME_TAKEN");
  const byAddress = await register("127.0.0.2", "user2");
  equal(byAddress.code, "LOGIN_THROTTLED");
  ok((byAddress.retryAfter as number) > 3500, `retryAfter ${byAddress.retryAfter}`);
  ok(/from your address/.test(byAddress.message as string), byAddress.message as string);
  equal((await register("127.0.0.3", "user2")).type, "ok");
  const overall = await register("127.0.0.4", "user3");
  equal(overall.code, "LOGIN_THROTTLED");
  ok(/on this server/.test(overall.message as string), overall.message as string);
});

const cases: Case[] = [
  ["lone surrogates are refused in every string; astral characters are kept exactly", async (
    backend,
  ) => {
    await using s = await startTestServer(backend);
    const c = await s.connect();
    const register = (name: string, password: string, nickname: string) =>
      c.request("register", { name, password, nickname });
    // These nicknames have different keys but would become one ("N\ufffd") in a store.
    await rejects(register("nina", "password1", "N\udbff"), code("BAD_REQUEST"));
    await rejects(register("nino", "password1", "N\udc01"), code("BAD_REQUEST"));
    await rejects(register("lone", "password1", "Lone \ud800 nick"), code("BAD_REQUEST"));
    // scrypt hashes the password as UTF-8, where "\ud800" and "\ufffd" are one password.
    await rejects(register("pia", "password\ud800", "Pia"), code("BAD_REQUEST"));
    await register("pia", "password\ufffd", "Pia");
    await rejects(
      c.request("login", { name: "pia", password: "password\ud800" }),
      code("BAD_REQUEST"),
    );
    const nickname = "Astral \u{1F600} \u{10FFFF} nick";
    await register("astra", "password1", nickname);
    const login = await c.request("login", { name: "astra", password: "password1" });
    equal(login.user.nickname, nickname);
    await c.next("backlog");
    const other = await s.user("other");
    deepStrictEqual(
      (await other.request("users", {})).users.find((u) => u.name === "astra"),
      { name: "astra", nickname },
    );
    await rejects(c.request("send", { room: "lobby", text: "bad \udc00" }), code("BAD_REQUEST"));
    await c.request("send", { room: "lobby", text: "\u{1F600}" });
    const got = await other.next("message", (e) => e.msg.from === "astra");
    deepStrictEqual([got.msg.nick, got.msg.text], [nickname, "\u{1F600}"]);
  }],
];

backendSuites("abuse: strings stay exactly what was sent", cases, startRedis);
