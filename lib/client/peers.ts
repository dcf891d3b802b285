/**
 * Who is who: the login name behind a nickname, learned from everything the client sees
 * (the roster, presence, member lists, messages). Used to key private windows by login
 * name and to resolve `/ignore 小明`. Pure code.
 *
 * @module
 */

import { foldName, nicknameKey } from "../protocol/rules.ts";
import type { UserInfo } from "../protocol/messages.ts";

/**
 * Known users by login name and by nickname key.
 *
 * @example
 * ```ts
 * const peers = new PeerDirectory();
 * peers.learn({ name: "bob", nickname: "小明" });
 * peers.resolve("小明"); // "bob"
 * peers.resolve("BOB"); // "bob"
 * ```
 */
export class PeerDirectory {
  readonly #byName = new Map<string, UserInfo>();
  readonly #byNick = new Map<string, string>();

  /** Records a user (a newer nickname replaces the older one). */
  learn(user: UserInfo): void {
    const old = this.#byName.get(user.name);
    if (old && old.nickname !== user.nickname) this.#byNick.delete(nicknameKey(old.nickname));
    this.#byName.set(user.name, { name: user.name, nickname: user.nickname });
    this.#byNick.set(nicknameKey(user.nickname), user.name);
  }

  /** The login name for a login name or nickname, when known. */
  resolve(token: string): string | undefined {
    const folded = foldName(token);
    if (this.#byName.has(folded)) return folded;
    return this.#byNick.get(nicknameKey(token.normalize("NFC").trim()));
  }

  /** The user with that login name, when known. */
  get(name: string): UserInfo | undefined {
    return this.#byName.get(name);
  }

  /** Every known user. */
  all(): UserInfo[] {
    return [...this.#byName.values()];
  }
}
