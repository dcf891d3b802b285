/**
 * Deadlines of the commands in flight on one Redis connection, kept in one queue and checked
 * by one periodic sweep. node-redis would otherwise give every command its own
 * `AbortSignal.timeout` (a timer, a signal and a `DOMException` each, alive for the whole
 * timeout even when the reply came at once); here a command costs one small queue entry.
 * Replies on one connection come in the order the commands were sent, so entries leave from
 * the front as their replies arrive, and the sweep only looks at the oldest ones.
 *
 * Pure: the caller gives the clock.
 *
 * @module
 */

interface Entry {
  at: number;
  reject: ((error: Error) => void) | null;
}

/** Entries dropped from the front before the queue array is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Fails commands that got no reply within `timeoutMs`.
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines(5000, "redis:6379");
 * const reply = deadlines.track(client.sendCommand(["GET", "k"]), performance.now());
 * setInterval(() => deadlines.sweep(performance.now()), 1000);
 * ```
 */
export class Deadlines {
  readonly #timeoutMs: number;
  readonly #name: string;
  #queue: (Entry | undefined)[] = [];
  #head = 0;

  constructor(timeoutMs: number, name: string) {
    this.#timeoutMs = timeoutMs;
    this.#name = name;
  }

  /** Commands tracked that have neither settled nor timed out. */
  get pending(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i]?.reject) n++;
    return n;
  }

  /**
   * Settles like `work`, or rejects once `timeoutMs` after `now` have passed without it
   * settling (as seen by {@linkcode sweep}); `done` runs once when it settles in time.
   */
  track<T>(work: Promise<T>, now: number, done?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { at: now, reject };
      this.#queue.push(entry);
      work.then((value) => {
        if (entry.reject === null) return;
        entry.reject = null;
        this.#advance();
        done?.();
        resolve(value);
      }, (error) => {
        if (entry.reject === null) return;
        entry.reject = null;
        this.#advance();
        done?.();
        reject(error);
      });
    });
  }

  /** Rejects every command older than the timeout; returns how many. */
  sweep(now: number): number {
    let failed = 0;
    for (;;) {
      this.#advance();
      const entry = this.#queue[this.#head];
      if (entry === undefined || now - entry.at < this.#timeoutMs) return failed;
      const reject = entry.reject!;
      entry.reject = null;
      failed++;
      reject(new Error(`Redis command timed out after ${this.#timeoutMs} ms on ${this.#name}`));
    }
  }

  /** Drops settled entries from the front. */
  #advance(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.reject === null) {
      queue[this.#head++] = undefined;
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
