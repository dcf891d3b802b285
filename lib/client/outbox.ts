/**
 * Messages the user has written that the server has not accepted yet. Pure code: the clock
 * is passed in, the caller does the sending.
 *
 * Messages go out strictly one at a time and in the order they were written. Each carries
 * an idempotency key made once, so a resend after a drop cannot store it twice (PROTOCOL
 * §8.3). A message refused with `RATE_LIMITED` waits `retryAfter` and goes out by itself; one
 * that was on the wire when the connection dropped is sent again, with the same key, after
 * the session is resumed. Only a refusal that a resend cannot cure (bad text, unknown user…)
 * takes a message out, and the caller then gives it back to the user.
 *
 * @module
 */

/** Where a message goes: a room, or a user (login name or nickname). */
export type Target = { room: string } | { to: string };

/** One message waiting to be accepted. */
export interface OutboxEntry {
  /** The client's number for it, in writing order. */
  ref: number;
  /** Idempotency key, the same on every attempt. */
  key: string;
  target: Target;
  text: string;
  action?: boolean;
  /** `queued` (ready when `notBefore` has passed), `sending`, or `waiting` for a retry. */
  state: "queued" | "sending" | "waiting";
  /** Earliest time of the next attempt, ms. */
  notBefore: number;
  /** Attempts so far. */
  attempts: number;
}

/**
 * The queue of unaccepted messages.
 *
 * @example
 * ```ts
 * const outbox = new Outbox();
 * const entry = outbox.add({ room: "lobby" }, "hi", "k1");
 * outbox.next(0) === entry; // true
 * outbox.sending(entry);
 * outbox.accepted(entry);
 * outbox.size; // 0
 * ```
 */
export class Outbox {
  readonly #entries: OutboxEntry[] = [];
  #nextRef = 1;

  /** Messages not yet accepted. */
  get size(): number {
    return this.#entries.length;
  }

  /** All entries, oldest first. */
  entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  /** Adds a message at the end of the queue. */
  add(target: Target, text: string, key: string, action = false): OutboxEntry {
    const entry: OutboxEntry = {
      ref: this.#nextRef++,
      key,
      target,
      text,
      state: "queued",
      notBefore: 0,
      attempts: 0,
    };
    if (action) entry.action = true;
    this.#entries.push(entry);
    return entry;
  }

  /** The message to send now, if the head of the queue is due and none is on the wire. */
  next(now: number): OutboxEntry | null {
    const head = this.#entries[0];
    if (!head || head.state === "sending" || head.notBefore > now) return null;
    return head;
  }

  /** When the head of the queue becomes due (null when nothing waits). */
  wakeAt(): number | null {
    const head = this.#entries[0];
    return head && head.state !== "sending" ? head.notBefore : null;
  }

  /** The entry is on the wire. */
  sending(entry: OutboxEntry): void {
    entry.state = "sending";
    entry.attempts++;
  }

  /** The server accepted it (or had it already): it leaves the queue. */
  accepted(entry: OutboxEntry): void {
    this.#remove(entry);
  }

  /** It must be tried again at `at` (rate limit, store unavailable). */
  retryAt(entry: OutboxEntry, at: number): void {
    entry.state = "waiting";
    entry.notBefore = at;
  }

  /** Refused for good: it leaves the queue and goes back to the user. */
  refused(entry: OutboxEntry): void {
    this.#remove(entry);
  }

  /** The connection dropped: what was on the wire goes again (same key) when it is back. */
  interrupted(): void {
    for (const entry of this.#entries) {
      if (entry.state === "sending") {
        entry.state = "queued";
        entry.notBefore = 0;
      }
    }
  }

  /** Takes every entry out (the session ended for good). */
  drain(): OutboxEntry[] {
    return this.#entries.splice(0);
  }

  #remove(entry: OutboxEntry): void {
    const i = this.#entries.indexOf(entry);
    if (i !== -1) this.#entries.splice(i, 1);
  }
}
