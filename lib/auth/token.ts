/**
 * Resume tokens: 32 random bytes in base64url given to the client; only their SHA-256 is
 * stored, so a leaked store does not leak usable tokens.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * A new random token.
 *
 * @example
 * ```ts
 * newToken().length; // 43
 * ```
 */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The hex SHA-256 of a token, under which the store keeps it. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
