/**
 * Password hashing with salted scrypt from `node:crypto`. The asynchronous scrypt runs on a
 * worker thread pool, so hashing never blocks the event loop. Hashes are self-describing:
 * `scrypt$N$r$p$salt$hash` (salt and hash in base64).
 *
 * @module
 */

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { HashQueue, type JobLimits } from "./hash_queue.ts";

export { HasherBusyError, type JobLimits } from "./hash_queue.ts";

/** scrypt cost parameters. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** Default cost: N=2^14, r=8, p=1 (16 MiB, tens of milliseconds per hash). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 },
      (error, key) => error ? reject(error) : resolve(new Uint8Array(key)),
    );
  });
}

/**
 * Hashes a password with a fresh random salt.
 *
 * @example
 * ```ts
 * const stored = await hashPassword("correct horse");
 * await verifyPassword("correct horse", stored); // true
 * ```
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ["scrypt", params.N, params.r, params.p, b64(salt), b64(key)].join("$");
}

/** Checks a password against a stored hash in constant time. False for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger)) return false;
  const salt = fromB64(parts[4]);
  const expected = fromB64(parts[5]);
  const actual = await derive(password, salt, { N, r, p });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function b64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromB64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * Hashes and verifies passwords within {@linkcode JobLimits}; rejects with
 * `HasherBusyError` when overloaded or when the job cannot finish by its deadline, and with
 * the signal's reason when the job was dropped.
 */
export interface PasswordHasher {
  hash(password: string, limits?: JobLimits): Promise<string>;
  verify(password: string, stored: string, limits?: JobLimits): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Hashes on the runtime's thread pool with bounded concurrency: at most `concurrency` hashes
 * at once, the rest wait in a bounded queue (see {@linkcode HashQueue}).
 *
 * @example
 * ```ts
 * const hasher = new ThreadHasher(2, 1000);
 * const stored = await hasher.hash("correct horse");
 * await hasher.verify("correct horse", stored); // true
 * ```
 */
export class ThreadHasher implements PasswordHasher {
  readonly #queue: HashQueue;
  readonly #params: ScryptParams;

  constructor(
    concurrency: number,
    maxQueue: number,
    params: ScryptParams = DEFAULT_SCRYPT,
    now: () => number = Date.now,
  ) {
    this.#queue = new HashQueue({ concurrency, maxQueue, now });
    this.#params = params;
  }

  /** Hashes with a fresh salt, within the concurrency bound and `limits`. */
  hash(password: string, limits?: JobLimits): Promise<string> {
    return this.#queue.run(() => hashPassword(password, this.#params), limits);
  }

  /** Verifies within the concurrency bound and `limits`. */
  verify(password: string, stored: string, limits?: JobLimits): Promise<boolean> {
    return this.#queue.run(() => verifyPassword(password, stored), limits);
  }

  /** Fails the waiting jobs; running ones finish. */
  close(): Promise<void> {
    this.#queue.close();
    return Promise.resolve();
  }
}
