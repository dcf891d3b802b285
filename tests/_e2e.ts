/**
 * Helpers shared by the end-to-end tests: expecting error codes, logging in and resuming on
 * fresh connections, reading what a session was told, and waiting for store state with a
 * deadline. Everything speaks the wire protocol through {@linkcode Wire}.
 *
 * A note on proving that something did not happen: a test never sleeps and then looks. It
 * makes a later event happen that must come after the unwanted one on the same connection,
 * waits for that, and then asserts. Within one stream positions order everything; across
 * streams, one node writes live messages to a session in the order they were committed (the
 * fan-out flushes in commit order), which the tests below rely on only on a single node.
 *
 * @module
 */

import { equal, fail } from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/frame.ts";
import { ChatError, type ErrorCode } from "../lib/protocol/errors.ts";
import type {
  LoginResult,
  Positions,
  RoomState,
  ServerEvent,
  StreamName,
} from "../lib/protocol/messages.ts";
import type { TestServer } from "./_harness.ts";
import type { Wire, WireEvent } from "./_wire.ts";

/** The password every test account has. */
export const PASSWORD = "password1";

/** Awaits `promise`, which must be refused with `expected`; returns the error. */
export async function refused(promise: Promise<unknown>, expected: ErrorCode): Promise<ChatError> {
  try {
    const value = await promise;
    fail(`expected ${expected}, got ok ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof ChatError)) throw error;
    equal(error.code, expected, `expected ${expected}, got ${error.code}: ${error.message}`);
    return error;
  }
}

/** Registers accounts (nickname: the name in capitals) on throwaway connections, in parallel. */
export async function register(s: TestServer, ...names: string[]): Promise<void> {
  await Promise.all(names.map(async (name) => {
    const c = await s.connect();
    await c.request("register", { name, password: PASSWORD, nickname: name.toUpperCase() });
    c.close();
  }));
}

/** A logged-in connection and the `ok` of its login (or resume). */
export interface Entered {
  c: Wire;
  ok: LoginResult;
}

/** Logs an existing account in on a new connection and waits for the end of its backlog. */
export async function login(s: TestServer, name: string, positions?: Positions): Promise<Entered> {
  const c = await s.connect();
  const ok = await c.request("login", {
    name,
    password: PASSWORD,
    ...(positions ? { positions } : {}),
  });
  await c.next("backlog");
  return { c, ok };
}

/** Resumes with a token on a new connection and waits for the end of its backlog. */
export async function resume(
  s: TestServer,
  token: string,
  positions?: Positions,
): Promise<Entered> {
  const c = await s.connect();
  const ok = await c.request("resume", { token, ...(positions ? { positions } : {}) });
  await c.next("backlog");
  return { c, ok };
}

/** The presence events a session got about `name` (optionally only online or offline ones). */
export function presenceOf(c: Wire, name: string, online?: boolean) {
  return c.events.filter((e): e is Extract<ServerEvent, { type: "presence" }> =>
    e.type === "presence" && e.user.name === name && (online === undefined || e.online === online)
  );
}

/** Events of one type. */
export function eventsOf<T extends WireEvent["type"]>(c: Wire, type: T) {
  return c.events.filter((e): e is Extract<WireEvent, { type: T }> => e.type === type);
}

/** The room states of the login sequence's `rooms` events, by room name. */
export function roomStates(c: Wire): Map<string, RoomState> {
  const out = new Map<string, RoomState>();
  for (const e of eventsOf(c, "rooms")) for (const room of e.rooms) out.set(room.name, room);
  return out;
}

/** `(stream, seq)` of every message a session got, in arrival order. */
export function received(c: Wire, stream?: StreamName): string[] {
  return c.messages(stream).map((e) => `${e.msg.stream}:${e.msg.seq}`);
}

/** Texts of the messages a session got (of one stream, when given). */
export function texts(c: Wire, stream?: StreamName): string[] {
  return c.messages(stream).map((e) => e.msg.text);
}

/**
 * What this client has, as `positions` for a later `login`/`resume`: for each stream, the
 * highest position received (or `own`: positions of its own sends), with the stream's epoch
 * from the login reply and `rooms` events.
 */
export function positionsOf(
  c: Wire,
  ok: LoginResult,
  own: { stream: StreamName; seq: number }[] = [],
): Positions {
  const epochs = new Map<StreamName, string>([[ok.inbox.stream, ok.inbox.epoch]]);
  for (const room of roomStates(c).values()) epochs.set(room.stream.stream, room.stream.epoch);
  const out: Positions = {};
  const note = (stream: StreamName, seq: number) => {
    if ((out[stream]?.seq ?? -1) < seq) {
      out[stream] = { seq, ...(epochs.has(stream) ? { epoch: epochs.get(stream)! } : {}) };
    }
  };
  note(ok.inbox.stream, ok.inbox.start);
  for (const room of roomStates(c).values()) note(room.stream.stream, room.stream.start);
  for (const e of c.messages()) note(e.msg.stream, e.msg.seq);
  for (const sent of own) note(sent.stream, sent.seq);
  return out;
}

/**
 * Polls `check` until it holds (for store state that is written in the background, such as
 * the overall activity counts), failing after `ms`.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  what: string,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) {
      fail(`Timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A frame carrying `json` exactly as written (for `-0`, odd spacing, raw escapes). */
export function rawFrame(json: string): Uint8Array {
  return encodeFrame(new TextEncoder().encode(json), 16 * 1024 * 1024);
}

/**
 * A round trip that must come after everything the server queued for this session before it
 * read the request: replies and events of one session leave in the order they were queued.
 */
export async function roundTrip(c: Wire): Promise<void> {
  await c.request("ping", {});
}
