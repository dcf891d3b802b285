/**
 * Abuse limits as pure state machines over an injected clock: a token bucket for the
 * request rate of one session, a sliding-window throttle per key (failed logins,
 * registrations), and the registration limits built on it.
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
 * Sliding-window throttle. Each key (an account, an address) may have `limit` events (failed
 * logins, registrations) per window; then it must wait until its oldest event leaves the
 * window. Remembers at most `maxKeys` keys (oldest forgotten first), so an attacker cannot
 * grow it without bound.
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

  /** Events of `key` within the window (at most `limit`). */
  count(key: string, now: number): number {
    return this.#recent(key, now).length;
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

/** Settings of {@linkcode RegistrationThrottle}. */
export interface RegistrationPolicy {
  /** Registrations one address (see `address_key.ts`) may make per window. */
  perAddress: number;
  /** Registrations the node accepts per window from all addresses together. */
  overall: number;
  windowMs: number;
}

/**
 * Registration limits: each `register` that passes the name, password and nickname rules
 * costs a password hash and may create an account, so it counts, whatever its outcome.
 *
 * @example
 * ```ts
 * const throttle = new RegistrationThrottle({ perAddress: 5, overall: 1000, windowMs: 3_600_000 });
 * throttle.admit("192.0.2.1", 0); // { wait: 0 }: go ahead (and it is counted)
 * ```
 */
export class RegistrationThrottle {
  readonly #perAddress: LoginThrottle;
  readonly #overall: LoginThrottle;

  constructor(policy: RegistrationPolicy) {
    this.#perAddress = new LoginThrottle({ limit: policy.perAddress, windowMs: policy.windowMs });
    this.#overall = new LoginThrottle({ limit: policy.overall, windowMs: policy.windowMs });
  }

  /**
   * Seconds a registration from `address` must wait, and which limit it hit; or 0, and then
   * the registration is counted.
   */
  admit(address: string, now: number): { wait: number; limit?: "address" | "overall" } {
    const byAddress = this.#perAddress.retryAfter([address], now);
    if (byAddress > 0) return { wait: byAddress, limit: "address" };
    const overall = this.#overall.retryAfter(["*"], now);
    if (overall > 0) return { wait: overall, limit: "overall" };
    this.#perAddress.fail([address], now);
    this.#overall.fail(["*"], now);
    return { wait: 0 };
  }
}
