/**
 * `--json` mode, for bots and scripts: one JSON object per line in both directions. Lines in
 * are commands (`{"cmd":"send","room":"lobby","text":"hi"}`), lines out are events
 * (`{"event":"message","msg":{…}}`). The protocol is documented in the README; the example
 * bot is `scripts/echo_bot.ts`.
 *
 * Sends go through the client's outbox like a person's: in order, never lost, with
 * `queued`, `sent` or `refused` events carrying the command's `ref`. Every other command gets
 * one `result` or `error` event with its `ref`. Text from the network is passed through as
 * is (JSON escapes it): a bot that prints it to a terminal must neutralise it.
 *
 * @module
 */

import { ChatError } from "../protocol/errors.ts";
import type { ChatClient, ClientEvent } from "./chat_client.ts";
import type { OutboxEntry } from "./outbox.ts";

/** A command line, parsed. */
export type JsonCommand =
  | { cmd: "send"; ref?: unknown; room?: string; to?: string; text: string; action?: boolean }
  | { cmd: "login"; ref?: unknown; name: string; password: string }
  | { cmd: "register"; ref?: unknown; name: string; password: string; nickname: string }
  | { cmd: "quit"; ref?: unknown }
  | { cmd: "request"; ref?: unknown; type: RequestCommand; fields: Record<string, unknown> };

/** Requests passed through as they are (fields as in PROTOCOL §4.2). */
export const REQUEST_COMMANDS = [
  "check",
  "logout",
  "users",
  "count",
  "nick",
  "away",
  "top",
  "history",
  "rooms",
  "room",
  "create",
  "join",
  "part",
  "invite",
  "kick",
  "ban",
  "unban",
  "transfer",
  "topic",
  "members",
  "ping",
] as const;

/** A passed-through request type. */
export type RequestCommand = typeof REQUEST_COMMANDS[number];

const REQUEST_SET: ReadonlySet<string> = new Set(REQUEST_COMMANDS);

/**
 * Parses one input line.
 *
 * @throws {SyntaxError} with a sentence for the bot author when the line is not a command.
 *
 * @example
 * ```ts
 * parseJsonCommand('{"cmd":"send","to":"bob","text":"hi","ref":1}');
 * // { cmd: "send", to: "bob", text: "hi", ref: 1 }
 * parseJsonCommand('{"cmd":"join","room":"rust"}');
 * // { cmd: "request", type: "join", fields: { room: "rust" } }
 * ```
 */
export function parseJsonCommand(line: string): JsonCommand {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SyntaxError("Cannot parse the line: it is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SyntaxError("Cannot parse the line: it is not a JSON object");
  }
  const { cmd, ref, ...fields } = value as Record<string, unknown>;
  const withRef = <T extends object>(c: T): T => ref === undefined ? c : { ...c, ref };
  const str = (name: string): string => {
    const v = fields[name];
    if (typeof v !== "string") throw new SyntaxError(`"${cmd}" needs a string "${name}"`);
    return v;
  };
  switch (cmd) {
    case "send": {
      const text = str("text");
      const room = fields.room;
      const to = fields.to;
      if ((typeof room === "string") === (typeof to === "string")) {
        throw new SyntaxError('"send" needs exactly one of "room" and "to"');
      }
      const out: JsonCommand = typeof room === "string"
        ? { cmd: "send", room, text }
        : { cmd: "send", to: to as string, text };
      if (fields.action === true) out.action = true;
      return withRef(out);
    }
    case "login":
      return withRef({ cmd: "login", name: str("name"), password: str("password") });
    case "register":
      return withRef({
        cmd: "register",
        name: str("name"),
        password: str("password"),
        nickname: typeof fields.nickname === "string" ? fields.nickname : str("name"),
      });
    case "quit":
      return withRef({ cmd: "quit" });
    default:
      if (typeof cmd === "string" && REQUEST_SET.has(cmd)) {
        return withRef({ cmd: "request", type: cmd as RequestCommand, fields });
      }
      throw new SyntaxError(
        typeof cmd === "string"
          ? `Unknown command "${cmd.slice(0, 40)}"`
          : 'A command needs a string "cmd"',
      );
  }
}

/**
 * The output line of a client event; `refOf` gives the `ref` of an outbox entry.
 *
 * @example
 * ```ts
 * eventJson({ kind: "status", state: "reconnecting", retryInMs: 500 }, () => undefined);
 * // { event: "status", state: "reconnecting", retryInMs: 500 }
 * ```
 */
export function eventJson(
  event: ClientEvent,
  refOf: (entry: OutboxEntry) => unknown,
): Record<string, unknown> {
  switch (event.kind) {
    case "ready":
      return { event: "ready", resumed: event.resumed, ...event.login, token: undefined };
    case "sent":
      return { event: "sent", ref: refOf(event.entry), ...event.result };
    case "queued":
      return {
        event: "queued",
        ref: refOf(event.entry),
        reason: event.reason,
        ...(event.retryInMs !== undefined ? { retryInMs: event.retryInMs } : {}),
      };
    case "refused":
      return {
        event: "refused",
        ref: refOf(event.entry),
        code: event.error.code,
        message: event.error.message,
      };
    case "ended":
      return {
        event: "ended",
        code: event.code,
        reason: event.reason,
        unsent: event.unsent.map((e) => ({ ref: refOf(e), ...e.target, text: e.text })),
      };
    default: {
      const { kind, ...rest } = event;
      return { event: kind, ...rest };
    }
  }
}

/** What {@linkcode runJsonMode} needs. */
export interface JsonModeDeps {
  client: ChatClient;
  /** Input lines; the iteration ends at end of input. */
  lines: AsyncIterable<string>;
  /** Writes one output line (without its line break). */
  write(line: string): void;
  /** Log in with these first. */
  credentials?: { name: string; password: string; register?: { nickname: string } };
  /** Stay connected after the end of input, until `stop` aborts. */
  stay: boolean;
  stop?: AbortSignal;
}

/**
 * Runs `--json` mode; resolves with the exit code: 0, or 1 when the login with the given
 * credentials failed.
 */
export async function runJsonMode(deps: JsonModeDeps): Promise<number> {
  const { client } = deps;
  const refs = new Map<number, unknown>();
  const refOf = (entry: OutboxEntry) => refs.has(entry.ref) ? refs.get(entry.ref) : entry.ref;
  const out = (value: Record<string, unknown>) => deps.write(JSON.stringify(value));
  const idle = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    idle.add(p);
    p.finally(() => idle.delete(p));
  };
  client.on((event) => out(eventJson(event, refOf)));
  try {
    const link = await client.connect();
    out({ event: "connected", ...link.hello });
  } catch (error) {
    out({ event: "error", code: "CONNECT", message: errorMessage(error) });
  }
  if (deps.credentials) {
    const { name, password, register } = deps.credentials;
    try {
      if (register) {
        await client.register(name, password, register.nickname).catch((error) => {
          if (!(error instanceof ChatError && error.code === "NAME_TAKEN")) throw error;
        });
      }
      await client.login(name, password);
    } catch (error) {
      out({ event: "error", cmd: "login", ...errorFields(error) });
      out({ event: "bye" });
      client.close();
      return 1;
    }
  }
  let quit = false;
  for await (const line of deps.lines) {
    if (line.trim() === "") continue;
    let command: JsonCommand;
    try {
      command = parseJsonCommand(line);
    } catch (error) {
      out({ event: "error", code: "BAD_INPUT", message: (error as Error).message });
      continue;
    }
    if (command.cmd === "quit") {
      quit = true;
      break;
    }
    track(runCommand(client, command, refs, out));
  }
  if (!quit && deps.stay && deps.stop && !deps.stop.aborted) {
    await new Promise((resolve) => deps.stop!.addEventListener("abort", resolve, { once: true }));
  }
  await Promise.allSettled([...idle]);
  await drainOutbox(client, deps.stop);
  try {
    await client.logout();
  } catch {
    // the connection is gone: the server ends the session by itself
  }
  for (const entry of client.unsent) {
    out({ event: "unsent", ref: refOf(entry), ...entry.target, text: entry.text });
  }
  out({ event: "bye" });
  client.close();
  return 0;
}

async function runCommand(
  client: ChatClient,
  command: Exclude<JsonCommand, { cmd: "quit" }>,
  refs: Map<number, unknown>,
  out: (value: Record<string, unknown>) => void,
): Promise<void> {
  const ref = command.ref === undefined ? {} : { ref: command.ref };
  try {
    switch (command.cmd) {
      case "send": {
        const target = command.room !== undefined ? { room: command.room } : { to: command.to! };
        const { entry, done } = client.send(target, command.text, { action: command.action });
        if (command.ref !== undefined) refs.set(entry.ref, command.ref);
        await done.catch(() => {});
        refs.delete(entry.ref);
        return;
      }
      case "login": {
        await client.login(command.name, command.password);
        out({ event: "result", cmd: "login", ...ref });
        return;
      }
      case "register": {
        const user = await client.register(command.name, command.password, command.nickname);
        out({ event: "result", cmd: "register", ...ref, user });
        return;
      }
      case "request": {
        const result = command.type === "check"
          ? await client.check(command.fields as never)
          : command.type === "logout"
          ? await client.logout().then(() => ({}))
          : await client.request(command.type, command.fields as never);
        out({ event: "result", cmd: command.type, ...ref, ...result });
        return;
      }
    }
  } catch (error) {
    out({
      event: "error",
      cmd: command.cmd === "request" ? command.type : command.cmd,
      ...ref,
      ...errorFields(error),
    });
  }
}

/** Waits until the outbox is empty, the session ends, or `stop` aborts. */
async function drainOutbox(client: ChatClient, stop?: AbortSignal): Promise<void> {
  while (client.unsent.length > 0 && client.user !== null && !stop?.aborted) {
    await new Promise<void>((resolve) => {
      const off = client.on((event) => {
        if (event.kind === "sent" || event.kind === "refused" || event.kind === "ended") {
          off();
          resolve();
        }
      });
      stop?.addEventListener("abort", () => {
        off();
        resolve();
      }, { once: true });
    });
  }
}

function errorFields(error: unknown): { code: string; message: string; retryAfter?: number } {
  if (error instanceof ChatError) {
    return error.retryAfter === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, retryAfter: error.retryAfter };
  }
  return { code: "CONNECT", message: errorMessage(error) };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
