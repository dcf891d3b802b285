/**
 * Messages the user sent that the server has not confirmed yet. Each has a random
 * idempotency key; after a drop it is sent again with the same key, so the server stores
 * it once (docs/PROTOCOL.md §8.3) whether or not the first try got through.
 *
 * @module
 */

import type { ErrorCode } from "../protocol/errors.ts";

/** Where a message goes: a room, or a user privately (login name). */
export type Target = { room: string } | { to: string };

/** One unconfirmed message. */
export interface OutboxEntry {
  /** Idempotency key, 22 characters of `A-Z a-z 0-9 _ -`. */
  key: string;
  target: Target;
  text: string;
  action: boolean;
  /** Client time it was written, ms. */
  createdAt: number;
  /** `queued`: waits for a connection; `sending`: sent, no reply yet; `failed`: refused. */
  status: "queued" | "sending" | "failed";
  /** Why the server refused it (status `failed`). */
  error?: ErrorCode;
}

/** Codes after which the same send may succeed later. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "UNAVAILABLE",
  "INTERNAL",
  "RATE_LIMITED",
  "SHUTTING_DOWN",
  "TIMEOUT",
  "NOT_LOGGED_IN",
]);

/** Whether a `send` refused with `code` should be tried again with the same key. */
export function retryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

/**
 * A fresh idempotency key from 16 random bytes (base64url, 22 characters).
 *
 * @example
 * ```ts
 * newKey(crypto.getRandomValues(new Uint8Array(16))); // "q3ZB0f..."
 * ```
 */
export function newKey(random: Uint8Array): string {
  let binary = "";
  for (const byte of random) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Whether two targets are the same room or the same user. */
export function sameTarget(a: Target, b: Target): boolean {
  return "room" in a ? "room" in b && a.room === b.room : "to" in b && a.to === b.to;
}

/**
 * The unconfirmed messages, in the order they were written.
 *
 * @example
 * ```ts
 * const box = new Outbox(() => "k1");
 * const entry = box.add({ room: "lobby" }, "hi", false, 0);
 * box.sending(entry.key);
 * box.requeue(); // the connection dropped: entry is queued again, same key
 * ```
 */
export class Outbox {
  readonly #entries: OutboxEntry[];
  readonly #newKey: () => string;

  constructor(newKey: () => string, saved: readonly OutboxEntry[] = []) {
    this.#newKey = newKey;
    this.#entries = saved.filter(validEntry).map((entry) => ({
      ...entry,
      status: entry.status === "failed" ? "failed" : "queued",
    }));
  }

  /** Every entry, oldest first. */
  get entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  /** Adds a message to send. */
  add(target: Target, text: string, action: boolean, now: number): OutboxEntry {
    const entry: OutboxEntry = {
      key: this.#newKey(),
      target,
      text,
      action,
      createdAt: now,
      status: "queued",
    };
    this.#entries.push(entry);
    return entry;
  }

  /** The entries waiting to be sent, oldest first. */
  queued(): OutboxEntry[] {
    return this.#entries.filter((entry) => entry.status === "queued");
  }

  /** Marks an entry as sent and waiting for its reply. */
  sending(key: string): void {
    const entry = this.get(key);
    if (entry) entry.status = "sending";
  }

  /** Removes an entry the server confirmed; returns it. */
  settle(key: string): OutboxEntry | undefined {
    const index = this.#entries.findIndex((entry) => entry.key === key);
    return index < 0 ? undefined : this.#entries.splice(index, 1)[0];
  }

  /** Marks an entry as refused for good. */
  fail(key: string, code: ErrorCode): void {
    const entry = this.get(key);
    if (entry) {
      entry.status = "failed";
      entry.error = code;
    }
  }

  /** Puts one entry (or every entry being sent) back in the queue: same keys. */
  requeue(key?: string): void {
    for (const entry of this.#entries) {
      if (entry.status === "sending" && (key === undefined || entry.key === key)) {
        entry.status = "queued";
      }
    }
  }

  /** Drops an entry (the user discarded a refused message). */
  discard(key: string): void {
    this.settle(key);
  }

  /** The entry with `key`. */
  get(key: string): OutboxEntry | undefined {
    return this.#entries.find((entry) => entry.key === key);
  }

  /** The entries of one target, oldest first. */
  forTarget(target: Target): OutboxEntry[] {
    return this.#entries.filter((entry) => sameTarget(entry.target, target));
  }

  /** The entries to save: unconfirmed ones come back as queued. */
  toJSON(): OutboxEntry[] {
    return this.#entries.map((entry) => ({ ...entry }));
  }
}

function validEntry(entry: OutboxEntry): boolean {
  const target = entry?.target as Record<string, unknown> | undefined;
  return typeof entry?.key === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(entry.key) &&
    typeof entry.text === "string" && typeof entry.createdAt === "number" &&
    target !== undefined &&
    (typeof target.room === "string" || typeof target.to === "string");
}
