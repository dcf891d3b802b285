/**
 * The wire format of the link between the supervisor and its workers: the chat protocol's
 * length-prefixed JSON frames, carrying calls in both directions, their results, and pushes.
 * `Map` values (which the store contracts use) survive the trip. Pure code.
 *
 * - call: `{"id": N, "op": "streams.append", "args": [...]}`
 * - result: `{"re": N, "ok": value}` or `{"re": N, "error": "message"}`
 * - push: `{"push": "bus", "args": [...]}` (no reply)
 *
 * @module
 */

import { decodePayload, encodeMessage } from "../../protocol/codec.ts";

/** Largest link frame: a store call carries at most a few batches of messages. */
export const LINK_MAX_FRAME = 64 * 1024 * 1024;

/** One link frame. */
export type LinkFrame =
  | { id: number; op: string; args: unknown[] }
  | { re: number; ok?: unknown; error?: string }
  | { push: string; args: unknown[] };

const MAP_TAG = "$map";

/**
 * Encodes a frame; maps become `{"$map": [[key, value], ...]}`.
 *
 * @example
 * ```ts
 * decodeLink(encodeLink({ re: 1, ok: new Map([["a", 1]]) })); // { re: 1, ok: Map { "a" => 1 } }
 * ```
 */
export function encodeLink(frame: LinkFrame): Uint8Array {
  return encodeMessage(prepare(frame) as object, LINK_MAX_FRAME);
}

/** Decodes a frame payload (the reverse of {@linkcode encodeLink}). */
export function decodeLink(payload: Uint8Array): LinkFrame {
  return revive(decodePayload(payload)) as LinkFrame;
}

function prepare(value: unknown): unknown {
  if (value instanceof Map) return { [MAP_TAG]: [...value].map(([k, v]) => [k, prepare(v)]) };
  if (Array.isArray(value)) return value.map(prepare);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = prepare(v);
    return out;
  }
  return value;
}

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const entries = record[MAP_TAG];
    if (Array.isArray(entries) && Object.keys(record).length === 1) {
      return new Map(entries.map(([k, v]) => [k, revive(v)]));
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(record)) out[key] = revive(v);
    return out;
  }
  return value;
}
