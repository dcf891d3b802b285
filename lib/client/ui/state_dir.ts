/**
 * Reads and writes the kept state (`settings.ts`) in the state directory. Failures never
 * stop the client: a directory that cannot be written means nothing is kept, once said.
 *
 * @module
 */

import {
  formatHistory,
  formatSettings,
  parseHistory,
  parseSettings,
  type Settings,
} from "../settings.ts";

/** The kept state of one directory (or none, when `dir` is null). */
export class StateDir {
  readonly #dir: string | null;
  #warned = false;
  /** Called once when writing fails. */
  onError: (error: unknown) => void = () => {};

  constructor(dir: string | null) {
    this.#dir = dir;
  }

  /** Loads the settings (defaults when there are none). */
  settings(): Settings {
    return parseSettings(this.#read("settings.json"));
  }

  /** Loads the input history. */
  history(): string[] {
    return parseHistory(this.#read("history"));
  }

  saveSettings(settings: Settings): void {
    this.#write("settings.json", formatSettings(settings));
  }

  saveHistory(entries: readonly string[]): void {
    this.#write("history", formatHistory(entries));
  }

  #read(file: string): string | null {
    if (this.#dir === null) return null;
    try {
      return Deno.readTextFileSync(`${this.#dir}/${file}`);
    } catch {
      return null;
    }
  }

  #write(file: string, text: string): void {
    if (this.#dir === null) return;
    try {
      Deno.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.#dir}/.${file}.tmp`;
      Deno.writeTextFileSync(tmp, text, { mode: 0o600 });
      Deno.renameSync(tmp, `${this.#dir}/${file}`);
    } catch (error) {
      if (!this.#warned) this.onError(error);
      this.#warned = true;
    }
  }
}
