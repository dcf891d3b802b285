/**
 * The chat screen, after login: reads command lines, runs them on the {@linkcode ChatClient}
 * and prints events as they come. The terminal is injected (a {@linkcode LineSource} and a
 * `print` function), so the same code serves the interactive terminal (`tty.ts`), line
 * mode (stdin a pipe; see `view.ts` for the output format) and tests.
 *
 * @module
 */

import { ChatClient, type ClientEvent } from "../chat_client.ts";
import { type Command, parseCommand } from "../commands.ts";
import {
  describeConnectError,
  describeError,
  displayName,
  formatCount,
  sanitize,
} from "../format.ts";
import { ChatError } from "../../protocol/errors.ts";
import type { ChatMessage, LoginResult } from "../../protocol/messages.ts";
import { foldName } from "../../protocol/rules.ts";
import type { View } from "../view.ts";
import { type Choice, EndOfInput, type LineSource, type Prompter } from "./prompter.ts";

/** What the chat screen needs. */
export interface ChatScreenDeps {
  client: ChatClient;
  /** The result of the login that opened this screen. */
  login: LoginResult;
  /**
   * Events collected since the login request (shown first), and how to stop collecting
   * them (called as soon as this screen listens).
   */
  early?: { events: readonly ClientEvent[]; release(): void };
  /** Typed lines; `null` at end of input (EOF, Ctrl-D, Ctrl-C). */
  lines: LineSource;
  /** Prints lines (above the input line on a terminal). */
  print(lines: readonly string[]): void;
  view: View;
  /** Asks the questions of `/menu`. */
  prompter: Prompter;
  /** Shows the connection state next to the input (terminal only). */
  setStatus?(status: string | null): void;
  /** Offers the text of a message that was not sent for editing again (terminal only). */
  restoreInput?(text: string): void;
  /** Server address, for error sentences. */
  host: string;
  port: number;
  now?: () => number;
}

/** How the chat screen ended: back to the main menu, or leave the program. */
export type ChatOutcome = "menu" | "exit";

/** Default page size of `/history` (the server's default too). */
const HISTORY_DEFAULT = 20;

const SUB_MENU: readonly Choice[] = [
  { name: "Online users", value: "users" },
  { name: "Send a message", value: "send" },
  { name: "Message list", value: "history" },
  { name: "Log out", value: "quit" },
  { name: "Online count", value: "count" },
  { name: "Change nickname", value: "nick" },
  { name: "Activity ranking", value: "top" },
  { name: "Back to the chat", value: "back" },
];

/**
 * Runs the chat screen until `/quit` (→ `"menu"`), the end of input (→ `"exit"`, after
 * logging out) or the server ending the session (→ `"menu"`).
 *
 * @example
 * ```ts
 * const outcome = await runChat({ client, login, lines, print, view, prompter, host, port });
 * ```
 */
export async function runChat(deps: ChatScreenDeps): Promise<ChatOutcome> {
  return await new ChatScreen(deps).run();
}

class ChatScreen {
  readonly #d: ChatScreenDeps;
  readonly #ended = new AbortController();
  #reconnectAt: number | null = null;
  #countdown: ReturnType<typeof setInterval> | null = null;

  constructor(deps: ChatScreenDeps) {
    this.#d = deps;
  }

  async run(): Promise<ChatOutcome> {
    const { client, print, view } = this.#d;
    const off = client.on((event) => this.#onEvent(event));
    try {
      this.#d.early?.release();
      print(view.welcome(this.#d.login));
      for (const event of this.#d.early?.events ?? []) this.#onEvent(event);
      for (;;) {
        let line: string | null;
        try {
          line = await this.#d.lines.read(undefined, this.#ended.signal);
        } catch (error) {
          if (this.#ended.signal.aborted) return "menu";
          throw error;
        }
        if (line === null) {
          await this.#logout("End of input; logged out.");
          return "exit";
        }
        const command = parseCommand(line);
        if (command === null) continue;
        let next: "stay" | ChatOutcome;
        try {
          next = await this.#execute(command);
        } catch (error) {
          if (!(error instanceof EndOfInput)) throw error;
          await this.#logout("End of input; logged out.");
          return "exit";
        }
        if (next !== "stay") return next;
        if (this.#ended.signal.aborted) return "menu";
      }
    } finally {
      off();
      this.#stopCountdown();
      this.#d.setStatus?.(null);
    }
  }

  #onEvent(event: ClientEvent): void {
    // On a terminal the prompt counts down to the next attempt; say "connection lost" once.
    const quiet = event.kind === "status" && event.state === "reconnecting" &&
      this.#reconnectAt !== null && this.#d.setStatus !== undefined;
    if (event.kind === "status") {
      if (event.state === "reconnecting") {
        this.#reconnectAt = (this.#d.now ?? Date.now)() + (event.retryInMs ?? 0);
        this.#startCountdown();
      } else {
        this.#reconnectAt = null;
        this.#stopCountdown();
        this.#d.setStatus?.(null);
      }
    }
    if (event.kind === "ended") {
      this.#reconnectAt = null;
      this.#stopCountdown();
      this.#ended.abort();
    }
    if (!quiet) this.#d.print(this.#d.view.event(event));
  }

  #startCountdown(): void {
    if (!this.#d.setStatus) return;
    this.#tick();
    this.#countdown ??= setInterval(() => this.#tick(), 1000);
  }

  #tick(): void {
    if (this.#reconnectAt === null) return;
    const left = Math.ceil((this.#reconnectAt - (this.#d.now ?? Date.now)()) / 1000);
    this.#d.setStatus?.(left > 0 ? `reconnecting in ${left}s` : "reconnecting…");
  }

  #stopCountdown(): void {
    if (this.#countdown !== null) clearInterval(this.#countdown);
    this.#countdown = null;
  }

  #ok(command: string, sentence: string): void {
    this.#d.print(this.#d.view.ok(command, sentence));
  }

  #fail(code: string, sentence: string): void {
    this.#d.print(this.#d.view.error(code, sentence));
  }

  /** Reports a failed request in plain words. */
  #failed(error: unknown, context: { to?: string } = {}): void {
    if (error instanceof ChatError) {
      if (error.code === "UNKNOWN_USER" && context.to !== undefined) {
        this.#fail(
          error.code,
          `There is no user "${
            sanitize(context.to)
          }". Use a login name; /users shows who is online.`,
        );
      } else {
        this.#fail(error.code, describeError(error.code, error.message, error.retryAfter));
      }
      return;
    }
    this.#fail("CONNECT", describeConnectError(error, this.#d.host, this.#d.port));
  }

  /** `false` (and says so) when the connection is down and being re-established. */
  #online(what: string): boolean {
    if (this.#reconnectAt === null) return true;
    const left = Math.ceil((this.#reconnectAt - (this.#d.now ?? Date.now)()) / 1000);
    const when = left > 0 ? ` (next try in ${left}s)` : "";
    this.#fail("OFFLINE", `Not connected — ${what}. Reconnecting${when}…`);
    return false;
  }

  async #execute(command: Command): Promise<"stay" | ChatOutcome> {
    const { client, view, print } = this.#d;
    switch (command.kind) {
      case "error":
        this.#fail("USAGE", command.message);
        return "stay";
      case "help":
        print(view.help());
        this.#ok("help", "");
        return "stay";
      case "menu":
        return await this.#subMenu();
      case "quit":
        await this.#logout("Logged out.");
        return "menu";
      case "send":
        await this.#send(command.text, command.to);
        return "stay";
    }
    if (!this.#online("try again in a moment")) return "stay";
    try {
      switch (command.kind) {
        case "users": {
          const users = await client.users();
          print(view.users(users));
          this.#ok("users", `${users.length} online.`);
          break;
        }
        case "count": {
          const count = await client.count();
          print(view.count(count));
          this.#ok("count", formatCount(count));
          break;
        }
        case "top": {
          const top = await client.top(command.limit);
          print(view.top(top));
          this.#ok("top", `Rankings for ${top.day}.`);
          break;
        }
        case "nick": {
          const user = await client.nick(command.nickname);
          this.#ok("nick", `You are now known as ${displayName(user)}.`);
          break;
        }
        case "history":
          await this.#history(command.with, command.limit, command.before);
          break;
      }
    } catch (error) {
      this.#failed(error, { to: command.kind === "history" ? command.with : undefined });
    }
    return "stay";
  }

  async #send(text: string, to?: string): Promise<void> {
    if (!this.#online("message not sent")) {
      this.#d.restoreInput?.(asInput(text, to));
      return;
    }
    const { client, view, print } = this.#d;
    try {
      const { msgId, ts } = await client.send(text, to);
      const me = client.user ?? this.#d.login.user;
      const msg: ChatMessage = { id: msgId, ts, from: me.name, nick: me.nickname, text };
      if (to !== undefined) msg.to = foldName(to);
      print(view.message(msg, "sent"));
      this.#ok("send", `Message ${msgId} sent.`);
    } catch (error) {
      this.#failed(error, { to });
      if (!(error instanceof ChatError) || error.code === "RATE_LIMITED") {
        this.#d.restoreInput?.(asInput(text, to));
      }
    }
  }

  async #history(withUser?: string, limit?: number, before?: number): Promise<void> {
    const page = await this.#d.client.history({
      ...(withUser === undefined ? {} : { with: withUser }),
      ...(limit === undefined ? {} : { limit }),
      ...(before === undefined ? {} : { before }),
    });
    const folded = withUser === undefined ? undefined : foldName(withUser);
    this.#d.print(this.#d.view.history(page, { with: folded, limit: limit ?? HISTORY_DEFAULT }));
    const more = page.more ? "; older ones exist" : "";
    this.#ok("history", `${page.messages.length} messages${more}.`);
  }

  /** The numbered menu of the original client. Returns to the chat after one action. */
  async #subMenu(): Promise<"stay" | ChatOutcome> {
    const { prompter } = this.#d;
    const choice = await prompter.select("Menu", SUB_MENU);
    switch (choice) {
      case "users":
        return await this.#execute({ kind: "users" });
      case "send": {
        const to = (await prompter.input("To (login name, empty for everyone):")).trim();
        const text = await prompter.input("Message:");
        if (text.trim() === "") {
          this.#fail("USAGE", "Nothing to send.");
          return "stay";
        }
        await this.#send(text, to === "" ? undefined : to);
        return "stay";
      }
      case "history": {
        const who = (await prompter.input("Conversation with (login name, empty for the group):"))
          .trim();
        return await this.#execute({ kind: "history", ...(who === "" ? {} : { with: who }) });
      }
      case "quit":
        return await this.#execute({ kind: "quit" });
      case "count":
        return await this.#execute({ kind: "count" });
      case "top":
        return await this.#execute({ kind: "top" });
      case "nick": {
        const nickname = (await prompter.input("New nickname:")).trim();
        if (nickname === "") {
          this.#fail("USAGE", "No nickname given.");
          return "stay";
        }
        return await this.#execute({ kind: "nick", nickname });
      }
      default:
        this.#ok("menu", "");
        return "stay";
    }
  }

  async #logout(sentence: string): Promise<void> {
    try {
      await this.#d.client.logout();
    } catch {
      // The connection is gone: the server ends the session on its own.
    }
    this.#ok("logout", sentence);
  }
}

/** The input line that sends `text` (to `to`). */
function asInput(text: string, to?: string): string {
  if (to !== undefined) return `/msg ${to} ${text}`;
  return text.trimStart().startsWith("/") ? `/${text.trimStart()}` : text;
}
