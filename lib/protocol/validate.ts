/**
 * Validation of decoded client messages into the {@linkcode ClientMessage} union. Checks
 * shape and types only; the rules for names, passwords and text live in `rules.ts`.
 *
 * Values are normalised here, once, so that nothing behind this boundary sees them in two
 * forms: every number field holds `0`, never `-0` (JSON allows `-0`, and stores compare keys
 * by their bytes); every string field is well-formed Unicode, as a lone UTF-16 surrogate has
 * no UTF-8 form (stores and scrypt would each replace it in their own way, so two different
 * strings could become one).
 *
 * @module
 */

import { ChatError } from "./errors.ts";
import type { ClientMessage, ClientType } from "./messages.ts";

type FieldKind = "string" | "uint";
type FieldSpec = { kind: FieldKind; optional?: boolean; max?: number };

const ID: FieldSpec = { kind: "uint" };
const req = (kind: FieldKind, max?: number): FieldSpec => ({ kind, max });
const opt = (kind: FieldKind, max?: number): FieldSpec => ({ kind, max, optional: true });

/** Longest string accepted in any field; the frame limit bounds text further. */
const MAX_FIELD = 65536;

/** The fields each client message type has. */
const SHAPES: Record<ClientType, Record<string, FieldSpec>> = {
  hello: { id: ID, protocol: req("uint"), client: opt("string", 100) },
  register: {
    id: ID,
    name: req("string", 256),
    password: req("string", 1024),
    nickname: req("string", 256),
  },
  login: { id: ID, name: req("string", 256), password: req("string", 1024), since: opt("uint") },
  resume: { id: ID, token: req("string", 256), since: opt("uint") },
  logout: { id: ID },
  send: { id: ID, to: opt("string", 256), text: req("string", MAX_FIELD) },
  ack: { upTo: req("uint") },
  users: { id: ID, limit: opt("uint") },
  count: { id: ID },
  nick: { id: ID, nickname: req("string", 256) },
  top: { id: ID, limit: opt("uint") },
  history: { id: ID, with: opt("string", 256), limit: opt("uint"), before: opt("uint") },
  ping: { id: ID },
  pong: {},
};

/** Whether `type` names a client message type. */
export function isClientType(type: unknown): type is ClientType {
  return typeof type === "string" && Object.hasOwn(SHAPES, type);
}

/** The request id of a decoded object, when it has a usable one (for error replies). */
export function requestIdOf(value: Record<string, unknown>): number | undefined {
  const id = value.id;
  return isUint(id) ? id + 0 : undefined;
}

/**
 * Checks a decoded JSON object against the shape of its `type` and returns a clean copy
 * holding only the known fields.
 *
 * @throws {ChatError} `UNKNOWN_TYPE` for a missing or unknown type, `BAD_REQUEST` for a
 * missing field, one of the wrong type, or a string with a lone surrogate.
 *
 * @example
 * ```ts
 * parseClientMessage({ type: "ping", id: 3 }); // { type: "ping", id: 3 }
 * ```
 */
export function parseClientMessage(value: Record<string, unknown>): ClientMessage {
  const type = value.type;
  if (typeof type !== "string") {
    throw new ChatError("UNKNOWN_TYPE", "Message has no type");
  }
  if (!isClientType(type)) {
    throw new ChatError("UNKNOWN_TYPE", `Unknown message type "${type.slice(0, 40)}"`);
  }
  const out: Record<string, unknown> = { type };
  for (const [field, spec] of Object.entries(SHAPES[type])) {
    const fieldValue = value[field];
    if (fieldValue === undefined || fieldValue === null) {
      if (spec.optional) continue;
      throw new ChatError("BAD_REQUEST", `Field "${field}" is required for ${type}`);
    }
    if (spec.kind === "string") {
      if (typeof fieldValue !== "string") {
        throw new ChatError("BAD_REQUEST", `Field "${field}" must be a string`);
      }
      if (fieldValue.length > (spec.max ?? MAX_FIELD)) {
        throw new ChatError("BAD_REQUEST", `Field "${field}" is too long`);
      }
      if (!fieldValue.isWellFormed()) {
        throw new ChatError(
          "BAD_REQUEST",
          `Field "${field}" is not well-formed Unicode (it has a lone surrogate)`,
        );
      }
      out[field] = fieldValue;
    } else if (isUint(fieldValue)) {
      out[field] = fieldValue + 0; // -0 becomes 0
    } else {
      throw new ChatError("BAD_REQUEST", `Field "${field}" must be a non-negative integer`);
    }
  }
  return out as unknown as ClientMessage;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
