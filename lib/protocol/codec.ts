/**
 * JSON payload codec: turns frame payloads into plain values and messages into frames.
 * Pure code: no I/O.
 *
 * @module
 */

import { ChatError } from "./errors.ts";
import { DEFAULT_MAX_FRAME, HEADER_BYTES } from "./frame.ts";

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Decodes one frame payload into a JSON object.
 *
 * @throws {ChatError} `BAD_FRAME` for invalid UTF-8, invalid JSON, or a value that is not an
 * object.
 *
 * @example
 * ```ts
 * decodePayload(new TextEncoder().encode('{"type":"ping","id":1}')); // { type: "ping", id: 1 }
 * ```
 */
export function decodePayload(payload: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(payload);
  } catch {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: payload is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: payload is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: payload is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Encodes a message as one complete frame (header and JSON payload) in a single buffer, so
 * it can be written to any number of connections without further work.
 *
 * @throws {RangeError} when the payload exceeds `maxFrame` bytes.
 *
 * @example
 * ```ts
 * const frame = encodeMessage({ type: "ping" }); // [0, 0, 0, 15, ...'{"type":"ping"}']
 * ```
 */
export function encodeMessage(message: object, maxFrame = DEFAULT_MAX_FRAME): Uint8Array {
  const json = JSON.stringify(message);
  // UTF-8 needs at most 3 bytes per UTF-16 code unit.
  const frame = new Uint8Array(HEADER_BYTES + json.length * 3);
  const { written } = encoder.encodeInto(json, frame.subarray(HEADER_BYTES));
  if (written > maxFrame) {
    throw new RangeError(`Cannot encode frame: length ${written} exceeds ${maxFrame}`);
  }
  new DataView(frame.buffer).setUint32(0, written);
  return frame.slice(0, HEADER_BYTES + written);
}

/**
 * Decodes one text payload (a WebSocket text message) into a JSON object.
 *
 * @throws {ChatError} `BAD_FRAME` for invalid JSON or a value that is not an object.
 *
 * @example
 * ```ts
 * decodeText('{"type":"ping","id":1}'); // { type: "ping", id: 1 }
 * ```
 */
export function decodeText(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: payload is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: payload is not a JSON object");
  }
  return value as Record<string, unknown>;
}
