/**
 * The interactive {@linkcode Prompter} of a terminal, on `@inquirer/prompts`: arrow or number
 * keys in lists, inline validation, a masked password.
 *
 * @module
 */

import { input, password, select } from "@inquirer/prompts";
import { type Choice, EndOfInput, type InputOptions, type Prompter } from "./prompter.ts";

/**
 * Prompts on the terminal with `@inquirer/prompts`. Ctrl-C becomes {@linkcode EndOfInput}.
 *
 * @example
 * ```ts
 * const choice = await new InquirerPrompter().select("Main menu", [{ name: "Exit", value: "exit" }]);
 * ```
 */
export class InquirerPrompter implements Prompter {
  async select(
    message: string,
    choices: readonly Choice[],
    options: { default?: string } = {},
  ): Promise<string> {
    return await guard(() =>
      select({
        message,
        choices: choices.map((c) => ({ name: c.name, value: c.value })),
        default: options.default,
        theme: { indexMode: "number" },
      })
    );
  }

  async input(message: string, options: InputOptions = {}): Promise<string> {
    return await guard(() =>
      input({
        message,
        default: options.default,
        validate: toInquirer(options.validate),
      })
    );
  }

  async password(message: string, options: InputOptions = {}): Promise<string> {
    return await guard(() =>
      password({ message, mask: "*", validate: toInquirer(options.validate) })
    );
  }
}

function toInquirer(validate: InputOptions["validate"]) {
  return validate ? (answer: string) => validate(answer) ?? true : undefined;
}

async function guard<T>(ask: () => Promise<T>): Promise<T> {
  try {
    return await ask();
  } catch (error) {
    // ExitPromptError (Ctrl-C) and AbortPromptError: the user is leaving.
    if (error instanceof Error && /^(Exit|Abort|Cancel)PromptError$/.test(error.name)) {
      throw new EndOfInput(error.message);
    }
    throw error;
  }
}
