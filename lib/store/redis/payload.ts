/**
 * What goes over a Redis channel: one kind letter (`m` a stored message, `e` an event), the
 * origin tag (may be empty; never contains a newline), a newline, and the JSON. The Lua
 * scripts build the same format when they publish.
 *
 * @module
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import type { BusDelivery, BusEvent } from "../contract/bus.ts";

/**
 * Encodes an event.
 *
 * @example
 * ```ts
 * const by = { name: "alice", nickname: "Alice" };
 * encodeEvent({ type: "topic", room: "tea", topic: "x", by }, "s1");
 * // 'es1\n{"type":"topic","room":"tea","topic":"x","by":{...}}'
 * ```
 */
export function encodeEvent(event: BusEvent, origin?: string): string {
  return `e${origin ?? ""}\n${JSON.stringify(event)}`;
}

/**
 * Decodes a payload.
 *
 * @throws {SyntaxError} when it is not one
 */
export function decodePayload(payload: string): BusDelivery {
  const newline = payload.indexOf("\n");
  const kind = payload[0];
  if (newline < 1 || (kind !== "m" && kind !== "e")) {
    throw new SyntaxError(`Cannot decode bus payload: ${payload.slice(0, 40)}`);
  }
  const origin = payload.slice(1, newline);
  const value = JSON.parse(payload.slice(newline + 1));
  const delivery: BusDelivery = kind === "m"
    ? { kind: "message", message: value as ChatMessage }
    : { kind: "event", event: value as BusEvent };
  if (origin !== "") delivery.origin = origin;
  return delivery;
}
