/**
 * The questions before the chat: the main menu, registration (the login name is checked
 * before anything else is asked, the password is confirmed, and the new user is logged in
 * straight after) and login. Questions are asked in the input line (`ask`).
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import { checkName, checkNickname, checkPassword, foldName } from "../../protocol/rules.ts";
import type { Texts } from "../../i18n/translate.ts";
import { describeError, describeFailure, sanitize } from "../format.ts";
import type { AppState } from "./app_state.ts";

/** Asks one question; null when the user leaves. `secret` hides the answer. */
export type Ask = (prompt: string, secret?: boolean) => Promise<string | null>;

/**
 * The menu, registration and login of an {@linkcode AppState}.
 *
 * @example
 * ```ts
 * const flow = new LoginFlow(state, ask);
 * if (!await flow.menu()) leave();
 * ```
 */
export class LoginFlow {
  readonly #s: AppState;
  readonly #ask: Ask;

  constructor(state: AppState, ask: Ask) {
    this.#s = state;
    this.#ask = ask;
  }

  /** The main menu; false when the user leaves. */
  /** The main menu until the user is logged in (true) or leaves (false). */
  async menu(): Promise<boolean> {
    for (;;) {
      this.#s.system(this.#s.t("menu.title"));
      this.#s.system(
        `  1) ${this.#s.t("menu.login")}   2) ${this.#s.t("menu.register")}   3) ${
          this.#s.t("menu.exit")
        }`,
      );
      const choice = await this.#ask(this.#s.t("menu.choose"));
      if (choice === null) return false;
      const c = choice.trim().toLowerCase();
      if (c === "3" || c === "q") return false;
      if (c === "2") {
        if (await this.#register()) return true;
        continue;
      }
      if (c === "1" || c === "") {
        const name = await this.#ask(this.#s.t("ask.name"));
        if (name === null) return false;
        if (name.trim() === "") continue;
        const password = await this.#ask(this.#s.t("ask.password"), true);
        if (password === null) return false;
        if (await this.login(name.trim(), password)) return true;
        continue;
      }
      this.#s.error(this.#s.t("menu.bad"));
    }
  }

  /** Registration: checks the name first, confirms the password, logs in after. */
  async #register(): Promise<boolean> {
    const { client } = this.#s.d;
    let name: string;
    for (;;) {
      const answer = await this.#ask(this.#s.t("ask.newName"));
      if (answer === null) return false;
      if (answer.trim() === "") return false;
      const problem = ruleProblem(this.#s.tx, () => checkName(answer));
      if (problem) {
        this.#s.error(problem);
        continue;
      }
      try {
        const free = await client.check({ name: answer.trim() });
        if (free.name === "taken") {
          this.#s.error(this.#s.t("register.taken", { name: sanitize(foldName(answer)) }));
          continue;
        }
      } catch (error) {
        this.#s.error(describeFailure(this.#s.tx, error, this.#s.d.host, this.#s.d.port));
        return false;
      }
      name = foldName(answer);
      break;
    }
    let password: string;
    for (;;) {
      const first = await this.#ask(this.#s.t("ask.newPassword"), true);
      if (first === null) return false;
      const problem = ruleProblem(this.#s.tx, () => checkPassword(first));
      if (problem) {
        this.#s.error(problem);
        continue;
      }
      const again = await this.#ask(this.#s.t("ask.confirmPassword"), true);
      if (again === null) return false;
      if (again !== first) {
        this.#s.error(this.#s.t("register.mismatch"));
        continue;
      }
      password = first;
      break;
    }
    let nickname: string;
    for (;;) {
      const answer = await this.#ask(this.#s.t("ask.nickname", { name }));
      if (answer === null) return false;
      const chosen = answer.trim() === "" ? name : answer.trim();
      const problem = ruleProblem(this.#s.tx, () => checkNickname(chosen));
      if (problem) {
        this.#s.error(problem);
        continue;
      }
      try {
        const free = await client.check({ nickname: chosen });
        if (free.nickname === "taken") {
          this.#s.error(this.#s.t("register.nickTaken", { nickname: sanitize(chosen) }));
          continue;
        }
      } catch (error) {
        this.#s.error(describeFailure(this.#s.tx, error, this.#s.d.host, this.#s.d.port));
        return false;
      }
      nickname = chosen;
      break;
    }
    try {
      const user = await client.register(name, password, nickname);
      this.#s.system(
        this.#s.t("register.done", {
          name: sanitize(user.name),
          nickname: sanitize(user.nickname),
        }),
      );
    } catch (error) {
      this.#s.error(describeFailure(this.#s.tx, error, this.#s.d.host, this.#s.d.port));
      return false;
    }
    return await this.login(name, password);
  }

  /** Logs in with given credentials, creating the account first with `register`. */
  async loginWith(
    credentials: { name: string; password: string; register?: { nickname: string } },
  ): Promise<boolean> {
    const { name, password, register } = credentials;
    if (register) {
      try {
        await this.#s.d.client.register(name, password, register.nickname);
      } catch (error) {
        if (!(error instanceof ChatError && error.code === "NAME_TAKEN")) {
          this.#s.error(this.#s.failure(error));
        }
      }
    }
    return await this.login(name, password);
  }

  /** Logs in; false (and says why) when it failed. */
  async login(name: string, password: string): Promise<boolean> {
    try {
      await this.#s.d.client.login(name, password);
      return true;
    } catch (error) {
      if (error instanceof ChatError && error.code === "UNKNOWN_USER") {
        this.#s.error(this.#s.t("login.unknown", { name: sanitize(name) }));
      } else {
        this.#s.error(describeFailure(this.#s.tx, error, this.#s.d.host, this.#s.d.port));
      }
      this.#s.render();
      return false;
    }
  }
}

function ruleProblem(tx: Texts, check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (error) {
    if (error instanceof ChatError) return describeError(tx, error.code, "");
    throw error;
  }
}
