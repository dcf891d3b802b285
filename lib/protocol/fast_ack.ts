/**
 * Recognises the common `ack` payload without the general decoder: exactly
 * `{"type":"ack","stream":"<stream>","upTo":<uint>}` as the reference clients write it (no
 * whitespace, that key order, a stream of printable ASCII without escapes, at most 100
 * characters, and a position in canonical decimal up to 2^53−1). Anything else is left to
 * `decodePayload` and `parseClientMessage`, which give the same result for every payload this
 * accepts. Pure code.
 *
 * @module
 */

/** An acknowledgement read from a payload. */
export interface FastAck {
  stream: string;
  upTo: number;
}

const PREFIX = bytesOf('{"type":"ack","stream":"');
const MIDDLE = bytesOf('","upTo":');
/** Longest stream name accepted by the shape check of `ack`. */
const STREAM_MAX = 100;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE = 0x7d;

/**
 * The acknowledgement in `payload` when it has exactly the common shape, else null.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode('{"type":"ack","stream":"#lobby","upTo":12}');
 * matchAck(bytes); // { stream: "#lobby", upTo: 12 }
 * ```
 */
export function matchAck(payload: Uint8Array): FastAck | null {
  const n = payload.length;
  const shortest = PREFIX.length + MIDDLE.length + 2;
  if (n < shortest || n > shortest + STREAM_MAX + 15 || payload[n - 1] !== CLOSE) return null;
  for (let i = 0; i < PREFIX.length; i++) if (payload[i] !== PREFIX[i]) return null;
  const start = PREFIX.length;
  let end = start;
  for (;;) {
    if (end >= n) return null;
    const byte = payload[end];
    if (byte === QUOTE) break;
    if (byte < 0x20 || byte > 0x7e || byte === BACKSLASH) return null;
    end++;
  }
  if (end - start > STREAM_MAX) return null;
  let at = end;
  for (let i = 0; i < MIDDLE.length; i++, at++) if (payload[at] !== MIDDLE[i]) return null;
  const digits = n - 1 - at;
  if (digits < 1 || digits > 16 || (payload[at] === 0x30 && digits > 1)) return null;
  let upTo = 0;
  for (; at < n - 1; at++) {
    const digit = payload[at] - 0x30;
    if (digit < 0 || digit > 9) return null;
    upTo = upTo * 10 + digit;
  }
  if (upTo > Number.MAX_SAFE_INTEGER) return null;
  return { stream: String.fromCharCode.apply(null, payload.subarray(start, end) as never), upTo };
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
