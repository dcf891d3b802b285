/**
 * The `Accounts` contract on Redis. An account lives in its user's slot, a nickname
 * reservation in a slot of its own, so registration and renaming write two slots: the
 * reservation first, then the account. A reservation counts only while its holder's account
 * carries that nickname or it is younger than {@linkcode CLAIM_GRACE_MS} (a registration or
 * rename in progress); older leftovers of an interrupted write block nobody.
 *
 * @module
 */

import { nicknameKey } from "../../protocol/rules.ts";
import type {
  Accounts,
  CreateUserResult,
  SetNicknameResult,
  TokenInfo,
  UserRecord,
} from "../contract/accounts.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import {
  CLAIM_NICK,
  CREATE_ACCOUNT,
  RELEASE_NICK,
  SET_NICKNAME,
  TOKEN_OF,
} from "./lua_accounts.ts";

/** How long a fresh nickname reservation blocks others although no account carries it. */
export const CLAIM_GRACE_MS = 10_000;

/** Accounts, nicknames and tokens in Redis. */
export class RedisAccounts implements Accounts {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #now: () => number;

  constructor(link: RedisLink, keys: Keys, now: () => number = Date.now) {
    this.#link = link;
    this.#keys = keys;
    this.#now = now;
  }

  async createUser(user: UserRecord): Promise<CreateUserResult> {
    const base = this.#keys.user(user.name);
    if (await this.#link.command<number>(base, ["EXISTS", `${base}:a`])) return "name_taken";
    const key = nicknameKey(user.nickname);
    if (!await this.#claim(key, user.name)) return "nick_taken";
    const created = await this.#link.eval<number>(CREATE_ACCOUNT, base, [
      user.name,
      user.nickname,
      user.passwordHash,
      String(user.createdAt),
      user.lobbyPending ? "1" : "",
    ], true);
    if (created) return "ok";
    await this.#release(key, user.name);
    return "name_taken";
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const base = this.#keys.user(name);
    const [stored, nickname, passwordHash, createdAt, lobbyPending] = await this.#link.command<
      (string | null)[]
    >(base, [
      "HMGET",
      `${base}:a`,
      "name",
      "nickname",
      "passwordHash",
      "createdAt",
      "lobbyPending",
    ]);
    if (stored === null) return null;
    const user: UserRecord = {
      name: stored,
      nickname: nickname ?? "",
      passwordHash: passwordHash ?? "",
      createdAt: Number(createdAt),
    };
    if (lobbyPending === "1") user.lobbyPending = true;
    return user;
  }

  async nicknames(names: readonly string[]): Promise<Map<string, string>> {
    const found = await Promise.all(names.map((name) => this.#nicknameOf(name)));
    const out = new Map<string, string>();
    names.forEach((name, i) => {
      const nickname = found[i];
      if (nickname !== null) out.set(name, nickname);
    });
    return out;
  }

  async nameOfNickname(key: string): Promise<string | null> {
    const holder = await this.#link.command<string | null>(this.#keys.nick(key), [
      "HGET",
      this.#keys.nick(key),
      "name",
    ]);
    if (holder === null) return null;
    const nickname = await this.#nicknameOf(holder);
    return nickname !== null && nicknameKey(nickname) === key ? holder : null;
  }

  async setNickname(name: string, nickname: string): Promise<SetNicknameResult> {
    const base = this.#keys.user(name);
    for (;;) {
      const old = await this.#nicknameOf(name);
      if (old === null) return { result: "unknown_user" };
      const oldKey = nicknameKey(old);
      const key = nicknameKey(nickname);
      if (key !== oldKey && !await this.#claim(key, name)) return { result: "nick_taken" };
      const set = await this.#link.eval<string>(SET_NICKNAME, base, [old, nickname], true);
      if (set === "unknown_user") return { result: "unknown_user" };
      if (set === "retry") continue;
      if (key !== oldKey) await this.#release(oldKey, name);
      return { result: "ok", old };
    }
  }

  async lobbyJoined(name: string): Promise<void> {
    const base = this.#keys.user(name);
    await this.#link.durable(base, ["HDEL", `${base}:a`, "lobbyPending"]);
  }

  async saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void> {
    const key = this.#keys.token(tokenHash);
    await this.#link.durable(key, ["SET", key, name, "PX", String(Math.max(1, ttlMs))]);
  }

  async lookupToken(tokenHash: string): Promise<TokenInfo | null> {
    const key = this.#keys.token(tokenHash);
    const [name, ttl] = await this.#link.eval<[string, number]>(TOKEN_OF, key, []);
    if (name === "" || Number(ttl) <= 0) return null;
    return { name, expiresAt: this.#now() + Number(ttl) };
  }

  async revokeToken(tokenHash: string): Promise<void> {
    const key = this.#keys.token(tokenHash);
    await this.#link.durable(key, ["DEL", key]);
  }

  async #nicknameOf(name: string): Promise<string | null> {
    const base = this.#keys.user(name);
    return await this.#link.command<string | null>(base, ["HGET", `${base}:a`, "nickname"]);
  }

  /**
   * Reserves a nickname key for `name`: true when it holds it now (or held it already),
   * false when another user holds it.
   */
  async #claim(key: string, name: string): Promise<boolean> {
    const nick = this.#keys.nick(key);
    for (;;) {
      const [holder, at] = await this.#link.command<(string | null)[]>(nick, [
        "HMGET",
        nick,
        "name",
        "at",
      ]);
      if (holder === name) return true;
      if (holder !== null && await this.#holds(holder, key, Number(at))) return false;
      const claimed = await this.#link.eval<number>(CLAIM_NICK, nick, [
        name,
        holder ?? "",
        String(this.#now()),
      ], true);
      if (claimed) return true;
    }
  }

  /** Whether a reservation by `holder` made at `at` still counts. */
  async #holds(holder: string, key: string, at: number): Promise<boolean> {
    if (this.#now() - at < CLAIM_GRACE_MS) return true;
    const nickname = await this.#nicknameOf(holder);
    return nickname !== null && nicknameKey(nickname) === key;
  }

  async #release(key: string, name: string): Promise<void> {
    await this.#link.eval(RELEASE_NICK, this.#keys.nick(key), [name], true);
  }
}
