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
import type { ClientMessage, ClientPosition, ClientType, Positions } from "./messages.ts";

type FieldKind = "string" | "uint" | "bool" | "positions";
type FieldSpec = { kind: FieldKind; optional?: boolean; max?: number };

const ID: FieldSpec = { kind: "uint" };
const req = (kind: FieldKind, max?: number): FieldSpec => ({ kind, max });
const opt = (kind: FieldKind, max?: number): FieldSpec => ({ kind, max, optional: true });

/** Longest string accepted in any field; the frame limit bounds text further. */
const MAX_FIELD = 65536;
/** Most entries of a `positions` object, and the longest stream name and epoch in it. */
export const POSITIONS_MAX = 1000;
const STREAM_MAX = 100;
const EPOCH_MAX = 64;

const room = () => req("string", 256);
const user = () => req("string", 256);

/** The fields each client message type has. */
const SHAPES: Record<ClientType, Record<string, FieldSpec>> = {
  hello: { id: ID, protocol: req("uint"), client: opt("string", 100) },
  check: {
    id: ID,
    name: opt("string", 256),
    nickname: opt("string", 256),
    room: opt("string", 256),
  },
  register: {
    id: ID,
    name: req("string", 256),
    password: req("string", 1024),
    nickname: req("string", 256),
  },
  login: {
    id: ID,
    name: req("string", 256),
    password: req("string", 1024),
    positions: opt("positions"),
  },
  resume: { id: ID, token: req("string", 256), positions: opt("positions") },
  logout: { id: ID },
  send: {
    id: ID,
    room: opt("string", 256),
    to: opt("string", 256),
    text: req("string", MAX_FIELD),
    key: opt("string", 64),
    action: opt("bool"),
  },
  ack: { stream: req("string", STREAM_MAX), upTo: req("uint") },
  users: { id: ID, limit: opt("uint"), after: opt("string", 256) },
  count: { id: ID, room: opt("string", 256) },
  nick: { id: ID, nickname: req("string", 256) },
  away: { id: ID, reason: opt("string", 400) },
  top: { id: ID, limit: opt("uint"), room: opt("string", 256) },
  history: {
    id: ID,
    room: opt("string", 256),
    with: opt("string", 256),
    limit: opt("uint"),
    before: opt("uint"),
    after: opt("uint"),
  },
  rooms: {
    id: ID,
    query: opt("string", 64),
    limit: opt("uint"),
    after: opt("string", 256),
    mine: opt("bool"),
  },
  room: { id: ID, room: room() },
  create: { id: ID, room: room(), title: opt("string", 256), public: opt("bool") },
  join: { id: ID, room: room() },
  part: { id: ID, room: room() },
  invite: { id: ID, room: room(), user: user() },
  kick: { id: ID, room: room(), user: user() },
  ban: { id: ID, room: room(), user: user() },
  unban: { id: ID, room: room(), user: user() },
  transfer: { id: ID, room: room(), user: user() },
  topic: { id: ID, room: room(), topic: req("string", 1024) },
  members: { id: ID, room: room(), limit: opt("uint"), after: opt("string", 256) },
  contacts: { id: ID, limit: opt("uint") },
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
      out[field] = checkString(field, fieldValue, spec.max ?? MAX_FIELD);
    } else if (spec.kind === "bool") {
      if (typeof fieldValue !== "boolean") {
        throw new ChatError("BAD_REQUEST", `Field "${field}" must be true or false`);
      }
      out[field] = fieldValue;
    } else if (spec.kind === "positions") {
      out[field] = checkPositions(field, fieldValue);
    } else if (isUint(fieldValue)) {
      out[field] = fieldValue + 0; // -0 becomes 0
    } else {
      throw new ChatError("BAD_REQUEST", `Field "${field}" must be a non-negative integer`);
    }
  }
  return out as unknown as ClientMessage;
}

function checkString(field: string, value: unknown, max: number): string {
  if (typeof value !== "string") {
    throw new ChatError("BAD_REQUEST", `Field "${field}" must be a string`);
  }
  if (value.length > max) {
    throw new ChatError("BAD_REQUEST", `Field "${field}" is too long`);
  }
  if (!value.isWellFormed()) {
    throw new ChatError(
      "BAD_REQUEST",
      `Field "${field}" is not well-formed Unicode (it has a lone surrogate)`,
    );
  }
  return value;
}

/** `{"<stream>": {"seq": uint, "epoch"?: string}, …}`, at most {@linkcode POSITIONS_MAX}. */
function checkPositions(field: string, value: unknown): Positions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChatError("BAD_REQUEST", `Field "${field}" must be an object`);
  }
  const entries = Object.entries(value);
  if (entries.length > POSITIONS_MAX) {
    throw new ChatError("BAD_REQUEST", `Field "${field}" has more than ${POSITIONS_MAX} streams`);
  }
  const out: Positions = {};
  for (const [stream, position] of entries) {
    checkString(`${field} stream`, stream, STREAM_MAX);
    if (typeof position !== "object" || position === null || Array.isArray(position)) {
      throw new ChatError("BAD_REQUEST", `Position of "${stream.slice(0, 40)}" must be an object`);
    }
    const { seq, epoch } = position as Record<string, unknown>;
    if (!isUint(seq)) {
      throw new ChatError("BAD_REQUEST", `Position of "${stream.slice(0, 40)}" needs a uint seq`);
    }
    const clean: ClientPosition = { seq: seq + 0 };
    if (epoch !== undefined && epoch !== null) clean.epoch = checkString("epoch", epoch, EPOCH_MAX);
    out[stream] = clean;
  }
  return out;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
