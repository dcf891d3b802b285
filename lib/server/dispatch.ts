/**
 * Runs one decoded frame through the command table: validates it, checks the session may
 * send it, runs the handler and queues the reply. Every failure becomes an `error` frame;
 * anything unexpected becomes `INTERNAL` plus a log line.
 *
 * @module
 */

import { ChatError, FATAL_CODES } from "../protocol/errors.ts";
import type { ClientMessage, OkReply } from "../protocol/messages.ts";
import { parseClientMessage, requestIdOf } from "../protocol/validate.ts";
import type { Core } from "./context.ts";
import { type Access, type Handler, HANDLERS } from "./handlers/table.ts";
import { Strikes } from "./limits.ts";
import type { Session } from "./session.ts";

/**
 * Handles one decoded frame. Returns a promise the caller must await before reading the
 * next frame when the message is exclusive (login, logout...), otherwise the handler runs
 * on while later frames are read.
 */
export function dispatch(
  core: Core,
  session: Session,
  value: Record<string, unknown>,
): { exclusive: boolean; done: Promise<void> } {
  const re = requestIdOf(value);
  let message: ClientMessage;
  let handler: Handler<ClientMessage>;
  try {
    message = parseClientMessage(value);
    handler = HANDLERS[message.type] as Handler<ClientMessage>;
    checkAccess(session, handler.access);
    if (message.type !== "ack" && message.type !== "pong") checkRate(core, session);
  } catch (error) {
    const notice = value.type === "ack" || value.type === "pong";
    // Notices get no replies, not even errors, unless the connection must close.
    if (!notice || (error instanceof ChatError && FATAL_CODES.has(error.code))) {
      reportError(core, session, error, re);
    }
    return { exclusive: false, done: Promise.resolve() };
  }
  const done = run(core, session, handler, message, re);
  return { exclusive: handler.exclusive === true, done };
}

/**
 * Handles an `ack` notice read by the fast path (`fast_ack.ts`): the same checks and handler
 * as {@linkcode dispatch} gives it, without a promise. Notices get no replies, so a session
 * in the wrong phase is ignored.
 */
export function dispatchAck(core: Core, session: Session, stream: string, upTo: number): void {
  const handler = HANDLERS.ack;
  try {
    checkAccess(session, handler.access);
  } catch {
    return;
  }
  try {
    handler.run({ core, session, after: () => {} }, { type: "ack", stream, upTo });
  } catch (error) {
    reportError(core, session, error, undefined);
  }
}

async function run(
  core: Core,
  session: Session,
  handler: Handler<ClientMessage>,
  message: ClientMessage,
  re: number | undefined,
): Promise<void> {
  const afterTasks: (() => Promise<void> | void)[] = [];
  try {
    const result = await handler.run(
      { core, session, after: (task) => afterTasks.push(task) },
      message,
    );
    if ("id" in message) session.send({ type: "ok", re: message.id, ...result } as OkReply);
  } catch (error) {
    reportError(core, session, error, re);
    return;
  }
  try {
    for (const task of afterTasks) await task();
  } catch (error) {
    // The request was answered already: this is news about the connection, not a reply.
    reportError(core, session, error, undefined);
  }
}

function checkRate(core: Core, session: Session): void {
  const now = core.now();
  if (session.bucket.take(now)) return;
  session.strikes ??= new Strikes(2 * core.config.burst, now);
  if (session.strikes.add(now)) {
    core.log.warn("flooding", { user: session.user?.name, remote: session.remote });
    throw new ChatError("FLOODING", "Disconnected for sending too fast");
  }
  throw new ChatError(
    "RATE_LIMITED",
    `Too many requests; slow down (try again in ${session.bucket.wait()} s)`,
    session.bucket.wait(),
  );
}

function checkAccess(session: Session, access: Access): void {
  const phase = session.phase;
  if (access === "greeting") {
    if (phase !== "greeting") throw new ChatError("BAD_REQUEST", "Already greeted");
    return;
  }
  if (phase === "greeting") {
    throw new ChatError("HELLO_REQUIRED", "Send hello first");
  }
  if (access === "user" && phase !== "user") {
    throw new ChatError("NOT_LOGGED_IN", "Log in first");
  }
  if (access === "guest" && phase === "user") {
    throw new ChatError("ALREADY_LOGGED_IN", "Already logged in; log out first");
  }
}

/** Queues the error frame for `error`; closes the session when the code is fatal. */
export function reportError(
  core: Core,
  session: Session,
  error: unknown,
  re: number | undefined,
): void {
  // Work abandoned because the session closed: there is nobody to tell.
  if (session.isCloseReason(error)) return;
  let chatError: ChatError;
  if (error instanceof ChatError) {
    chatError = error;
  } else if (!core.store.available) {
    chatError = new ChatError("UNAVAILABLE", "The message store is unreachable; try again shortly");
  } else {
    core.log.error("internal_error", {
      user: session.user?.name,
      remote: session.remote,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    chatError = new ChatError("INTERNAL", "Internal server error; try again");
  }
  core.metrics.error(chatError.code);
  session.send({
    type: "error",
    ...(re === undefined ? {} : { re }),
    code: chatError.code,
    message: chatError.message,
    ...(chatError.retryAfter === undefined ? {} : { retryAfter: chatError.retryAfter }),
  });
  if (FATAL_CODES.has(chatError.code)) session.close();
}
