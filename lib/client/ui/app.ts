/**
 * The client program's flow: check the server is reachable, then main menu → chat screen →
 * main menu... until the user leaves. Terminal and network are injected; `client.ts`
 * wires the real ones.
 *
 * @module
 */

import type { ChatClient } from "../chat_client.ts";
import { describeConnectError, sanitize } from "../format.ts";
import type { View } from "../view.ts";
import { ChatError } from "../../protocol/errors.ts";
import { runChat } from "./chat_screen.ts";
import { runMenu } from "./menu.ts";
import type { LineSource, Prompter } from "./prompter.ts";

/** The chat screen's terminal, opened after each login and closed when the screen ends. */
export interface ChatTerminal {
  lines: LineSource;
  print(lines: readonly string[]): void;
  /** Asks the questions of `/menu`. */
  prompter: Prompter;
  setStatus?(status: string | null): void;
  /** Puts the text of a message that could not be sent back into the input line. */
  restoreInput?(text: string): void;
  close(): void;
}

/** Who the view is rendering for, once logged in. */
export interface ViewSelf {
  me: string;
  nickOf(name: string): string | undefined;
}

/** What the program needs. */
export interface AppDeps {
  host: string;
  port: number;
  /** A new session client; one is used per login, then closed. */
  newClient(): ChatClient;
  /** Prompts of the main menu. */
  prompter: Prompter;
  /** Prints outside the chat screen. */
  print(lines: readonly string[]): void;
  openChat(): ChatTerminal;
  view(self?: ViewSelf): View;
  /** Check names and passwords before sending (terminal), see {@linkcode MenuDeps}. */
  checkLocally: boolean;
}

/**
 * Runs the program; resolves with its exit code: 0 normally, 1 when input ended after a
 * failed attempt (e.g. the server could not be reached).
 *
 * @example
 * ```ts
 * Deno.exit(await runApp(deps));
 * ```
 */
export async function runApp(deps: AppDeps): Promise<number> {
  const { host, port } = deps;
  let client = deps.newClient();
  let failed = false;
  const view = deps.view();
  try {
    const conn = await client.connect();
    deps.print(
      view.ok("connect", `Connected to ${sanitize(conn.hello.server)} at ${host}:${port}.`),
    );
  } catch (error) {
    failed = true;
    const code = error instanceof ChatError ? error.code : "CONNECT";
    deps.print(view.error(code, describeConnectError(error, host, port)));
  }
  let lastName: string | undefined;
  try {
    for (;;) {
      const menu = await runMenu({
        client,
        prompter: deps.prompter,
        view,
        print: deps.print,
        host,
        port,
        checkLocally: deps.checkLocally,
        failed,
        lastName,
      });
      if (menu.kind === "exit") return menu.code;
      failed = false;
      lastName = menu.result.user.name;
      const session = client;
      const chatView = deps.view({
        me: menu.result.user.name,
        nickOf: (name) => session.online.get(name)?.nickname,
      });
      const terminal = deps.openChat();
      let outcome;
      try {
        outcome = await runChat({
          client: session,
          login: menu.result,
          early: { events: menu.early, release: menu.release },
          lines: terminal.lines,
          print: (lines) => terminal.print(lines),
          view: chatView,
          prompter: terminal.prompter,
          setStatus: terminal.setStatus?.bind(terminal),
          restoreInput: terminal.restoreInput?.bind(terminal),
          host,
          port,
        });
      } finally {
        menu.release();
        terminal.close();
      }
      // A fresh client per login: a session's dedupe and resume state must not carry over.
      session.close();
      client = deps.newClient();
      if (outcome === "exit") {
        deps.print(view.ok("exit", "Bye."));
        return 0;
      }
    }
  } finally {
    client.close();
  }
}
