/**
 * The `Accounts` contract on Deno KV. The owner process is the only writer of the file, so
 * accounts read once are kept in a bounded cache.
 *
 * Keys: `["acct", name]` → {@linkcode UserRecord}; `["nick", key]` → name; `["tok", hash]` →
 * {@linkcode TokenInfo} (expiring).
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

const CACHE = 50_000;

/** Accounts in a KV file. */
export class KvAccounts implements Accounts {
  readonly #kv: Deno.Kv;
  readonly #cache = new Map<string, UserRecord>();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  async createUser(user: UserRecord): Promise<CreateUserResult> {
    const nickKey = ["nick", nicknameKey(user.nickname)];
    for (;;) {
      const result = await this.#kv.atomic()
        .check({ key: ["acct", user.name], versionstamp: null })
        .check({ key: nickKey, versionstamp: null })
        .set(["acct", user.name], user)
        .set(nickKey, user.name)
        .commit();
      if (result.ok) {
        this.#remember(user);
        return "ok";
      }
      const [existing, owner] = await this.#kv.getMany([["acct", user.name], nickKey]);
      if (existing.versionstamp !== null) return "name_taken";
      if (owner.versionstamp !== null) return "nick_taken";
    }
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const user = (await this.#kv.get<UserRecord>(["acct", name])).value;
    if (user) this.#remember(user);
    return user;
  }

  async nicknames(names: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const name of names) {
      const cached = this.#cache.get(name);
      if (cached) out.set(name, cached.nickname);
      else missing.push(name);
    }
    for (let i = 0; i < missing.length; i += 10) {
      const entries = await this.#kv.getMany<UserRecord[]>(
        missing.slice(i, i + 10).map((name) => ["acct", name]),
      );
      for (const entry of entries) {
        if (!entry.value) continue;
        this.#remember(entry.value);
        out.set(entry.value.name, entry.value.nickname);
      }
    }
    return out;
  }

  async nameOfNickname(key: string): Promise<string | null> {
    return (await this.#kv.get<string>(["nick", key])).value;
  }

  async setNickname(name: string, nickname: string): Promise<SetNicknameResult> {
    const newKey = ["nick", nicknameKey(nickname)];
    for (;;) {
      const user = await this.#kv.get<UserRecord>(["acct", name]);
      if (!user.value) return { result: "unknown_user" };
      const old = user.value.nickname;
      const oldKey = ["nick", nicknameKey(old)];
      const updated = { ...user.value, nickname };
      const op = this.#kv.atomic().check(user).set(["acct", name], updated);
      if (oldKey[1] !== newKey[1]) {
        const owner = await this.#kv.get<string>(newKey);
        if (owner.value !== null && owner.value !== name) return { result: "nick_taken" };
        op.check(owner).delete(oldKey).set(newKey, name);
      }
      if ((await op.commit()).ok) {
        this.#remember(updated);
        return { result: "ok", old };
      }
    }
  }

  async lobbyJoined(name: string): Promise<void> {
    for (;;) {
      const user = await this.#kv.get<UserRecord>(["acct", name]);
      if (!user.value?.lobbyPending) return;
      const { lobbyPending: _, ...updated } = user.value;
      if ((await this.#kv.atomic().check(user).set(["acct", name], updated).commit()).ok) {
        this.#remember(updated);
        return;
      }
    }
  }

  async saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void> {
    const info: TokenInfo = { name, expiresAt: Date.now() + ttlMs };
    await this.#kv.set(["tok", tokenHash], info, { expireIn: ttlMs });
  }

  async lookupToken(tokenHash: string): Promise<TokenInfo | null> {
    const entry = await this.#kv.get<TokenInfo>(["tok", tokenHash]);
    if (!entry.value || entry.value.expiresAt <= Date.now()) return null;
    return { name: entry.value.name, expiresAt: entry.value.expiresAt };
  }

  async revokeToken(tokenHash: string): Promise<void> {
    await this.#kv.delete(["tok", tokenHash]);
  }

  #remember(user: UserRecord): void {
    this.#cache.delete(user.name);
    if (this.#cache.size >= CACHE) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(user.name, user);
  }
}
