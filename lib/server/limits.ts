/**
 * Abuse limits as pure state machines over an injected clock: a token bucket for the
 * request rate of one session, and a throttle for failed logins per account and address.
 *
 * @module
 */

/**
 * A token bucket: `rate` tokens per second, at most `burst` saved up. A rate of 0 means
 * unlimited.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(10, 20, 0);
 * bucket.take(0); // true
 * ```
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    if (this.#rate === 0) return true;
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Seconds until the next token (for `retryAfter`). */
  wait(): number {
    return this.#rate === 0 ? 0 : Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate));
  }
}

/**
 * Counts refused requests of one session; they leak away at one per second. Crossing the
 * limit means sustained abuse.
 */
export class Strikes {
  readonly #limit: number;
  #level = 0;
  #last: number;

  constructor(limit: number, now: number) {
    this.#limit = limit;
    this.#last = now;
  }

  /** Adds a strike; true when the limit is crossed. */
  add(now: number): boolean {
    this.#level = Math.max(0, this.#level - (now - this.#last) / 1000) + 1;
    this.#last = now;
    return this.#level > this.#limit;
  }
}

/** Settings of {@linkcode LoginThrottle}. */
export interface ThrottlePolicy {
  /** Failures allowed per key within the window before it is locked. */
  limit: number;
  /** The window and the lock length, ms. */
  windowMs: number;
}

/**
 * Failed-login throttle. Each key (an account, an address) may fail `limit` times per
 * window; then it must wait until its oldest failure leaves the window. Remembers at most
 * `maxKeys` keys (oldest forgotten first), so an attacker cannot grow it without bound.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle({ limit: 5, windowMs: 300_000 });
 * throttle.fail("acct:alice", 0);
 * throttle.retryAfter(["acct:alice"], 0); // 0 until the fifth failure
 * ```
 */
export class LoginThrottle {
  readonly #policy: ThrottlePolicy;
  readonly #maxKeys: number;
  readonly #failures = new Map<string, number[]>();

  constructor(policy: ThrottlePolicy, maxKeys = 100_000) {
    this.#policy = policy;
    this.#maxKeys = maxKeys;
  }

  /** Seconds any of `keys` must still wait, or 0 when none is locked. */
  retryAfter(keys: readonly string[], now: number): number {
    let wait = 0;
    for (const key of keys) {
      const times = this.#recent(key, now);
      if (times.length >= this.#policy.limit) {
        wait = Math.max(wait, Math.ceil((times[0] + this.#policy.windowMs - now) / 1000));
      }
    }
    return wait;
  }

  /** Records a failure for each key. */
  fail(keys: readonly string[], now: number): void {
    for (const key of keys) {
      const times = this.#recent(key, now);
      times.push(now);
      if (times.length > this.#policy.limit) times.shift();
      this.#failures.delete(key);
      this.#failures.set(key, times);
      if (this.#failures.size > this.#maxKeys) {
        this.#failures.delete(this.#failures.keys().next().value!);
      }
    }
  }

  /** Forgets the failures of `key` (after a successful login). */
  clear(key: string): void {
    this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const times = this.#failures.get(key) ?? [];
    while (times.length > 0 && times[0] + this.#policy.windowMs <= now) times.shift();
    return times;
  }
}
