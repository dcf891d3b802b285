/**
 * Failed-login limits that an attacker cannot turn against the account's owner. Pure state
 * over an injected clock; addresses are limit keys (see `address_key.ts`).
 *
 * - **Account and address together**: `pairLimit` wrong passwords for one account from one
 *   address lock that pair until the oldest failure leaves the window.
 * - **Address**: `addressLimit` failures of any kind (wrong password, unknown user, invalid
 *   resume token) lock the address.
 * - **Account**: never locked. Once it has had `accountLimit` wrong passwords within the
 *   window, from any addresses, it is slowed for addresses it has not logged in from:
 *   their attempts are accepted one at a time, 1 s apart, doubling with each further
 *   failure up to {@linkcode SLOWED_MAX_MS}. Addresses that logged in to the account
 *   (password or resume token) within {@linkcode TRUST_MS} are not slowed, so the right
 *   password from the user's own address always works.
 *
 * @module
 */

import { LoginThrottle } from "./limits.ts";

/** Settings of a {@linkcode LoginGuard}. */
export interface LoginGuardPolicy {
  /** Wrong passwords per account and address within the window before the pair waits. */
  pairLimit: number;
  /** Failures per address within the window before the address waits. */
  addressLimit: number;
  /** Wrong passwords per account within the window before new addresses are slowed. */
  accountLimit: number;
  /** The window and the lock length, ms. */
  windowMs: number;
}

/** Longest interval between accepted attempts on a slowed account, ms. */
export const SLOWED_MAX_MS = 60_000;
/** How long a successful login makes its address trusted for the account, ms. */
export const TRUST_MS = 30 * 24 * 3600 * 1000;
/** Addresses remembered per account. */
const TRUSTED_PER_ACCOUNT = 8;

/**
 * Decides whether a login or resume attempt may be tried now.
 *
 * @example
 * ```ts
 * const guard = new LoginGuard({ pairLimit: 5, addressLimit: 20, accountLimit: 10, windowMs: 300_000 });
 * guard.admitLogin("alice", "192.0.2.1", 0); // 0: go ahead
 * guard.loginFailed("alice", "192.0.2.1", 0);
 * ```
 */
export class LoginGuard {
  readonly #pairs: LoginThrottle;
  readonly #addresses: LoginThrottle;
  /** Wrong passwords per account; keeps a few beyond the limit to grow the interval. */
  readonly #accounts: LoginThrottle;
  readonly #accountLimit: number;
  readonly #maxKeys: number;
  /** When a slowed account next accepts an attempt from an address it does not trust. */
  readonly #nextSlowed = new Map<string, number>();
  /** Addresses each account logged in from, with the time of the last success. */
  readonly #trusted = new Map<string, Map<string, number>>();

  constructor(policy: LoginGuardPolicy, maxKeys = 100_000) {
    const { windowMs } = policy;
    this.#pairs = new LoginThrottle({ limit: policy.pairLimit, windowMs }, maxKeys);
    this.#addresses = new LoginThrottle({ limit: policy.addressLimit, windowMs }, maxKeys);
    this.#accounts = new LoginThrottle({ limit: policy.accountLimit + 16, windowMs }, maxKeys);
    this.#accountLimit = policy.accountLimit;
    this.#maxKeys = maxKeys;
  }

  /**
   * Seconds before a login to `account` from `address` may be tried, or 0: then it may go
   * ahead (on a slowed account this takes its turn).
   */
  admitLogin(account: string, address: string, now: number): number {
    const locked = Math.max(
      this.#addresses.retryAfter([address], now),
      this.#pairs.retryAfter([pairKey(account, address)], now),
    );
    if (locked > 0) return locked;
    const failures = this.#accounts.count(account, now);
    if (failures < this.#accountLimit || this.#trusts(account, address, now)) return 0;
    const next = this.#nextSlowed.get(account) ?? 0;
    if (now < next) return Math.ceil((next - now) / 1000);
    const interval = Math.min(SLOWED_MAX_MS, 1000 * 2 ** (failures - this.#accountLimit));
    remember(this.#nextSlowed, account, now + interval, this.#maxKeys);
    return 0;
  }

  /** Seconds before a resume from `address` may be tried, or 0. */
  admitResume(address: string, now: number): number {
    return this.#addresses.retryAfter([address], now);
  }

  /** Records a wrong password for `account` from `address`. */
  loginFailed(account: string, address: string, now: number): void {
    this.#pairs.fail([pairKey(account, address)], now);
    this.#addresses.fail([address], now);
    this.#accounts.fail([account], now);
  }

  /** Records a failure that names no account (unknown user, invalid token). */
  addressFailed(address: string, now: number): void {
    this.#addresses.fail([address], now);
  }

  /** Records a successful login or resume: the pair is cleared and the address trusted. */
  succeeded(account: string, address: string, now: number): void {
    this.#pairs.clear(pairKey(account, address));
    const trusted = this.#trusted.get(account) ?? new Map<string, number>();
    trusted.delete(address);
    trusted.set(address, now);
    if (trusted.size > TRUSTED_PER_ACCOUNT) trusted.delete(trusted.keys().next().value!);
    remember(this.#trusted, account, trusted, this.#maxKeys);
  }

  #trusts(account: string, address: string, now: number): boolean {
    const since = this.#trusted.get(account)?.get(address);
    return since !== undefined && now - since < TRUST_MS;
  }
}

function pairKey(account: string, address: string): string {
  return `${account} ${address}`;
}

/** Sets `key` as the newest entry of `map`, forgetting the oldest past `maxKeys`. */
function remember<V>(map: Map<string, V>, key: string, value: V, maxKeys: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > maxKeys) map.delete(map.keys().next().value!);
}
