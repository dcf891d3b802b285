/**
 * Presence for a single node (the Deno KV store): who is online, kept in memory, with
 * events delivered to listeners in the same process.
 *
 * @module
 */

import type { OfflineReason, UserInfo } from "../protocol/messages.ts";
import type { ClusterEvent, ClusterListener, OnlineCounts, OnlineList } from "./store.ts";

/**
 * In-process presence registry.
 *
 * @example
 * ```ts
 * const presence = new LocalPresence();
 * presence.join({ name: "alice", nickname: "Alice" }); // emits presence online
 * ```
 */
export class LocalPresence {
  readonly #online = new Map<string, UserInfo>();
  readonly #listeners: ClusterListener[] = [];
  #sessions = 0;
  /** The last list returned, until someone comes, goes or is renamed. */
  #cached: { limit: number; list: OnlineList } | null = null;

  /** Adds a listener. */
  onEvent(listener: ClusterListener): void {
    this.#listeners.push(listener);
  }

  /** Sends an event to every listener. */
  emit(event: ClusterEvent, origin?: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(event, origin);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  /** Marks `user` online; announces them when they were not. */
  join(user: UserInfo): void {
    if (this.#online.has(user.name)) return;
    this.#cached = null;
    this.#online.set(user.name, { ...user });
    this.emit({ type: "presence", user: { ...user }, online: true });
  }

  /** Marks `name` offline; announces it when they were online. */
  leave(name: string, reason: OfflineReason): void {
    const user = this.#online.get(name);
    if (!user) return;
    this.#cached = null;
    this.#online.delete(name);
    this.emit({ type: "presence", user, online: false, reason });
  }

  /** Records a nickname change and announces it. */
  renamed(name: string, old: string, nickname: string, origin?: string): void {
    const user = this.#online.get(name);
    if (user) user.nickname = nickname;
    this.#cached = null;
    this.emit({ type: "nick", name, old, nickname }, origin);
  }

  /**
   * Up to `limit` online users sorted by name: all of them when they fit, else the first
   * `limit` to come online (so a login never sorts a huge list). The result is shared
   * between callers until the list changes: do not modify it.
   */
  online(limit: number): OnlineList {
    if (this.#cached?.limit === limit) return this.#cached.list;
    const users: UserInfo[] = [];
    for (const user of this.#online.values()) {
      if (users.length === limit) break;
      users.push({ ...user });
    }
    users.sort((a, b) => (a.name < b.name ? -1 : 1));
    const list = { users, total: this.#online.size };
    this.#cached = { limit, list };
    return list;
  }

  setSessions(count: number): void {
    this.#sessions = count;
  }

  counts(): OnlineCounts {
    return { users: this.#online.size, sessions: this.#sessions };
  }
}
