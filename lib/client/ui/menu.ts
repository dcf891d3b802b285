/**
 * The main menu, before login: 1 log in, 2 register, 3 exit, as in the original chat room.
 * Prompts, output and the {@linkcode ChatClient} are injected, so the flow runs the same on
 * a terminal, in line mode and in tests. Every failure is reported in plain words and leads
 * back to the menu; nothing here throws at the user.
 *
 * @module
 */

import type { ChatClient, ClientEvent } from "../chat_client.ts";
import { describeConnectError, describeError, sanitize } from "../format.ts";
import { ChatError } from "../../protocol/errors.ts";
import type { LoginResult } from "../../protocol/messages.ts";
import { checkName, checkNickname, checkPassword } from "../../protocol/rules.ts";
import type { View } from "../view.ts";
import { type Choice, EndOfInput, type Prompter } from "./prompter.ts";

/** What the menu needs. */
export interface MenuDeps {
  client: ChatClient;
  prompter: Prompter;
  view: View;
  print(lines: readonly string[]): void;
  /** Server address, for error sentences. */
  host: string;
  port: number;
  /**
   * Check names and passwords before sending them, and ask again at once when they break a
   * rule (on a terminal). In line mode every answer goes to the server, so that a flow
   * always reads the same number of lines.
   */
  checkLocally: boolean;
  /** Whether something already failed (e.g. the server was unreachable at start). */
  failed?: boolean;
  /** Login name to offer (the last one used). */
  lastName?: string;
}

/** How the menu ended. */
export type MenuOutcome =
  | {
    kind: "login";
    result: LoginResult;
    /** Events that arrived right after the login reply, for the chat screen to show first. */
    early: ClientEvent[];
    /** Stops collecting `early` events; call once the chat screen listens. */
    release(): void;
  }
  /** Leave the program: `code` is 1 when the last attempt failed, else 0. */
  | { kind: "exit"; code: number };

const MAIN_MENU: readonly Choice[] = [
  { name: "Log in", value: "login" },
  { name: "Register", value: "register" },
  { name: "Exit", value: "exit" },
];

/**
 * Shows the main menu until the user logs in or leaves. At end of input it leaves with
 * code 1 if the last attempt failed (so a script sees that it could not log in), else 0.
 *
 * @example
 * ```ts
 * const outcome = await runMenu({ client, prompter, view, print, host, port, checkLocally: true });
 * if (outcome.kind === "login") console.log(outcome.result.user);
 * ```
 */
export async function runMenu(deps: MenuDeps): Promise<MenuOutcome> {
  let failed = deps.failed ?? false;
  let lastName = deps.lastName;
  let suggest = "login";
  try {
    for (;;) {
      const choice = await deps.prompter.select("Main menu", MAIN_MENU, { default: suggest });
      if (choice === "exit") {
        deps.print(deps.view.ok("exit", "Bye."));
        return { kind: "exit", code: 0 };
      }
      if (choice === "register") {
        const name = await register(deps);
        failed = name === null;
        if (name !== null) {
          lastName = name;
          suggest = "login";
        }
        continue;
      }
      const outcome = await login(deps, lastName);
      if (outcome.kind === "login") return outcome;
      failed = true;
      if (outcome.name) lastName = outcome.name;
    }
  } catch (error) {
    if (error instanceof EndOfInput) {
      deps.print(deps.view.ok("exit", "Bye."));
      return { kind: "exit", code: failed ? 1 : 0 };
    }
    throw error;
  }
}

/** Turns a rule check into a `validate` function that returns the plain sentence. */
function rule(check: (value: string) => unknown) {
  return (value: string): string | null => {
    try {
      check(value);
      return null;
    } catch (error) {
      if (error instanceof ChatError) return describeError(error.code, error.message);
      throw error;
    }
  };
}

function report(deps: MenuDeps, error: unknown): void {
  if (error instanceof ChatError) {
    deps.print(
      deps.view.error(error.code, describeError(error.code, error.message, error.retryAfter)),
    );
  } else {
    deps.print(deps.view.error("CONNECT", describeConnectError(error, deps.host, deps.port)));
  }
}

/** Asks for a new account; returns its login name, or `null` when it was not created. */
async function register(deps: MenuDeps): Promise<string | null> {
  const { prompter, checkLocally } = deps;
  const name = (await prompter.input("Login name (3-32 of a-z 0-9 _ . -):", {
    validate: checkLocally ? rule(checkName) : undefined,
  })).trim();
  const password = await prompter.password("Password (at least 8 characters):", {
    validate: checkLocally ? rule(checkPassword) : undefined,
  });
  const nickname = (await prompter.input("Nickname (shown to others):", {
    default: checkLocally ? name : undefined,
    validate: checkLocally ? rule(checkNickname) : undefined,
  })).trim();
  try {
    const user = await deps.client.register(name, password, nickname);
    deps.print(deps.view.ok(
      "register",
      `Account "${sanitize(user.name)}" created, nickname ${sanitize(user.nickname)}. ` +
        "Choose Log in to start chatting.",
    ));
    return user.name;
  } catch (error) {
    report(deps, error);
    return null;
  }
}

type LoginAttempt = Extract<MenuOutcome, { kind: "login" }> | { kind: "failed"; name?: string };

async function login(deps: MenuDeps, lastName: string | undefined): Promise<LoginAttempt> {
  const { prompter, client } = deps;
  const name = (await prompter.input("Login name:", {
    default: deps.checkLocally ? lastName : undefined,
    validate: deps.checkLocally
      ? (v) => v.trim() === "" ? "Enter your login name." : null
      : undefined,
  })).trim();
  const password = await prompter.password("Password:");
  // Listen before the request: the server sends what arrived while the user was away right
  // after its reply, possibly in the same network read, before the caller runs again.
  const early: ClientEvent[] = [];
  const release = client.on((event) => early.push(event));
  try {
    const result = await client.login(name, password);
    return { kind: "login", result, early, release };
  } catch (error) {
    release();
    if (error instanceof ChatError && error.code === "UNKNOWN_USER") {
      deps.print(deps.view.error(
        error.code,
        `There is no account "${sanitize(name)}". Check the login name, or register first.`,
      ));
    } else {
      report(deps, error);
    }
    return { kind: "failed", name: name || undefined };
  }
}
