/**
 * Contract cases of `Accounts` (lib/store/contract/accounts.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { nicknameKey } from "../../lib/protocol/rules.ts";
import type { UserRecord } from "../../lib/store/contract/accounts.ts";
import { type ContractCase, eventually } from "./_factory.ts";

const user = (name: string, nickname = name.toUpperCase()): UserRecord => ({
  name,
  nickname,
  passwordHash: "scrypt$hash",
  createdAt: 1000,
});

/** The cases. */
export const ACCOUNT_CASES: ContractCase[] = [
  ["creates and reads accounts; unknown names are null", async (f) => {
    const { accounts } = await f.open("n1");
    assert.equal(await accounts.createUser(user("alice", "Alice")), "ok");
    assert.deepEqual(await accounts.getUser("alice"), user("alice", "Alice"));
    assert.equal(await accounts.getUser("nobody"), null);
    assert.deepEqual(
      await accounts.nicknames(["alice", "nobody"]),
      new Map([["alice", "Alice"]]),
    );
  }],
  ["a taken name or nickname key is refused, name first", async (f) => {
    const { accounts } = await f.open("n1");
    await accounts.createUser(user("alice", "Alice"));
    assert.equal(await accounts.createUser(user("alice", "Other")), "name_taken");
    assert.equal(await accounts.createUser(user("bob", "ＡLICE")), "nick_taken");
    assert.equal(await accounts.createUser(user("alice", "ALICE")), "name_taken");
    assert.equal(await accounts.getUser("bob"), null);
  }],
  ["of racing registrations of one name or nickname exactly one wins", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    const names = await Promise.all([
      a.accounts.createUser(user("carol", "C1")),
      b.accounts.createUser(user("carol", "C2")),
    ]);
    assert.deepEqual(names.sort(), ["name_taken", "ok"]);
    const nicks = await Promise.all([
      a.accounts.createUser(user("dave", "Same")),
      b.accounts.createUser(user("erin", "same")),
    ]);
    assert.deepEqual(nicks.sort(), ["nick_taken", "ok"]);
  }],
  ["nameOfNickname finds the holder of a nickname key", async (f) => {
    const { accounts } = await f.open("n1");
    await accounts.createUser(user("bob", "小明"));
    assert.equal(await accounts.nameOfNickname(nicknameKey("小明")), "bob");
    assert.equal(await accounts.nameOfNickname(nicknameKey("nobody")), null);
  }],
  ["setNickname moves the reservation and reports the old nickname", async (f) => {
    const { accounts } = await f.open("n1");
    await accounts.createUser(user("alice", "Alice"));
    await accounts.createUser(user("bob", "Bob"));
    assert.deepEqual(await accounts.setNickname("alice", "Ally"), { result: "ok", old: "Alice" });
    assert.equal((await accounts.getUser("alice"))?.nickname, "Ally");
    assert.equal(await accounts.nameOfNickname(nicknameKey("Alice")), null);
    assert.equal(await accounts.nameOfNickname(nicknameKey("Ally")), "alice");
    assert.deepEqual(await accounts.setNickname("alice", "BOB"), { result: "nick_taken" });
    assert.deepEqual(await accounts.setNickname("alice", "ALLY"), { result: "ok", old: "Ally" });
    assert.deepEqual(await accounts.setNickname("nobody", "X"), { result: "unknown_user" });
    // The old nickname is free for others.
    assert.equal(await accounts.createUser(user("carol", "Alice")), "ok");
  }],
  ["of two users racing for one nickname exactly one gets it", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    await a.accounts.createUser(user("alice", "A"));
    await a.accounts.createUser(user("bob", "B"));
    const results = await Promise.all([
      a.accounts.setNickname("alice", "Prize"),
      b.accounts.setNickname("bob", "prize"),
    ]);
    assert.deepEqual(results.map((r) => r.result).sort(), ["nick_taken", "ok"]);
    const holder = await a.accounts.nameOfNickname(nicknameKey("prize"));
    assert.ok(holder === "alice" || holder === "bob");
  }],
  ["lobbyJoined clears lobbyPending", async (f) => {
    const { accounts } = await f.open("n1");
    await accounts.createUser({ ...user("alice"), lobbyPending: true });
    assert.equal((await accounts.getUser("alice"))?.lobbyPending, true);
    await accounts.lobbyJoined("alice");
    assert.equal((await accounts.getUser("alice"))?.lobbyPending, undefined);
    await accounts.lobbyJoined("alice");
  }],
  ["tokens are saved, looked up, revoked and expire", async (f) => {
    const { accounts } = await f.open("n1");
    await accounts.saveToken("h1", "alice", 60_000);
    const info = await accounts.lookupToken("h1");
    assert.equal(info?.name, "alice");
    assert.ok(info!.expiresAt > Date.now() + 50_000);
    await accounts.revokeToken("h1");
    assert.equal(await accounts.lookupToken("h1"), null);
    assert.equal(await accounts.lookupToken("never"), null);
    await accounts.saveToken("h2", "alice", 50);
    await eventually(
      async () => (await accounts.lookupToken("h2")) === null ? true : undefined,
      "the token to expire",
    );
  }],
];
