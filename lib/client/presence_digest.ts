/**
 * Coalesces join/leave floods: with `/set presence summary`, joins and leaves in one place
 * (a room window, or the status window for online/offline) are collected for a few seconds
 * and shown as one line ("12 joined: …; 9 left: …"). Pure code: the clock is passed in.
 *
 * @module
 */

import type { UserInfo } from "../protocol/messages.ts";

/** A batch ready to be shown. */
export interface Digest {
  scope: string;
  joined: UserInfo[];
  left: UserInfo[];
}

interface Batch {
  since: number;
  joined: Map<string, UserInfo>;
  left: Map<string, UserInfo>;
}

/**
 * Collects joins and leaves per scope.
 *
 * @example
 * ```ts
 * const d = new PresenceDigest(3000);
 * d.add("#lobby", "join", { name: "bob", nickname: "Bob" }, 0);
 * d.due(1000); // []
 * d.due(3000); // [{ scope: "#lobby", joined: [bob], left: [] }]
 * ```
 */
export class PresenceDigest {
  readonly #windowMs: number;
  readonly #batches = new Map<string, Batch>();

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  /** Adds a join or leave. Someone who joins and leaves within one batch counts as neither. */
  add(scope: string, what: "join" | "leave", user: UserInfo, now: number): void {
    let batch = this.#batches.get(scope);
    if (!batch) {
      batch = { since: now, joined: new Map(), left: new Map() };
      this.#batches.set(scope, batch);
    }
    const [mine, other] = what === "join" ? [batch.joined, batch.left] : [batch.left, batch.joined];
    if (other.has(user.name)) other.delete(user.name);
    else mine.set(user.name, user);
  }

  /** When the oldest batch becomes due, or null. */
  nextDue(): number | null {
    let at: number | null = null;
    for (const batch of this.#batches.values()) {
      const due = batch.since + this.#windowMs;
      if (at === null || due < at) at = due;
    }
    return at;
  }

  /** Takes the batches whose time is up (empty ones are dropped silently). */
  due(now: number): Digest[] {
    const out: Digest[] = [];
    for (const [scope, batch] of this.#batches) {
      if (now - batch.since < this.#windowMs) continue;
      this.#batches.delete(scope);
      if (batch.joined.size + batch.left.size === 0) continue;
      out.push({ scope, joined: [...batch.joined.values()], left: [...batch.left.values()] });
    }
    return out;
  }
}
