/**
 * Questions asked of the user, behind one small interface so that flows (the menus) run
 * the same against a real terminal, a pipe, or a test script:
 *
 * - `InquirerPrompter` (in `inquirer_prompter.ts`, so that this module does not load the
 *   npm package): interactive prompts of `@inquirer/prompts` (arrow keys or number keys in
 *   lists, hidden password);
 * - {@linkcode LinePrompter}: one line of input per question from any {@linkcode LineSource}
 *   (stdin that is not a terminal, or the chat screen's input line).
 *
 * Also {@linkcode readLines} and {@linkcode LineQueue}, which turn a byte stream such as
 * `Deno.stdin.readable` into lines.
 *
 * @module
 */

/** One entry of a list question. */
export interface Choice {
  /** What is shown. */
  name: string;
  /** What is returned. */
  value: string;
}

/** Options of a free-text question. */
export interface InputOptions {
  /** Returned when the answer is empty. */
  default?: string;
  /** Returns an error sentence for a bad answer (asked again), or `null` when fine. */
  validate?: (answer: string) => string | null;
}

/** Asks the user questions. Every method rejects with {@linkcode EndOfInput} at end of input. */
export interface Prompter {
  /** A list to choose one from; resolves with the chosen value. */
  select(
    message: string,
    choices: readonly Choice[],
    options?: { default?: string },
  ): Promise<string>;
  /** A line of text. */
  input(message: string, options?: InputOptions): Promise<string>;
  /** A secret, not shown while typed when on a terminal. */
  password(message: string, options?: InputOptions): Promise<string>;
}

/** The user closed the input (end of file, Ctrl-D, Ctrl-C). */
export class EndOfInput extends Error {
  constructor(message = "End of input") {
    super(message);
    this.name = "EndOfInput";
  }
}

/** A source of input lines; `null` means end of input. */
export interface LineSource {
  /**
   * The next line (without its line break), or `null` at the end. `prompt` may be shown
   * while waiting. When `signal` aborts, the read rejects with the signal's reason and the
   * line it was waiting for goes to the next read instead of being lost.
   */
  read(prompt?: string, signal?: AbortSignal): Promise<string | null>;
}

/**
 * Finds the choice an answer means: its number (1-based), its value, or its name
 * (case-insensitive).
 *
 * @example
 * ```ts
 * const choices = [{ name: "Log in", value: "login" }, { name: "Exit", value: "exit" }];
 * matchChoice("2", choices); // "exit"
 * matchChoice("login", choices); // "login"
 * matchChoice("9", choices); // undefined
 * ```
 */
export function matchChoice(answer: string, choices: readonly Choice[]): string | undefined {
  const text = answer.trim().replace(/[.)]$/, "").toLowerCase();
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) return choices[Number(text) - 1]?.value;
  return choices.find((c) => c.value.toLowerCase() === text || c.name.toLowerCase() === text)
    ?.value;
}

/** How {@linkcode LinePrompter} shows questions. */
export interface LinePrompterOptions {
  /**
   * `machine` (default): each question is one `ASK<TAB>question` line and a bad answer one
   * `ERROR<TAB>USAGE<TAB>sentence` line (line mode). `human`: a list is printed one choice a
   * line and the question is passed as the prompt of {@linkcode LineSource.read}.
   */
  style?: "machine" | "human";
}

/**
 * Asks each question as one line of input from a {@linkcode LineSource}. In lists the answer
 * may be the number or the value; a bad answer is reported and the question asked again.
 *
 * @example
 * ```ts
 * const lines = new LineQueue(["2"]);
 * const prompter = new LinePrompter(lines, (line) => console.log(line));
 * await prompter.select("Main menu", [{ name: "Log in", value: "login" }, { name: "Exit", value: "exit" }]);
 * // prints "ASK\tMain menu: 1) Log in  2) Exit", resolves "exit"
 * ```
 */
export class LinePrompter implements Prompter {
  readonly #lines: LineSource;
  readonly #write: (line: string) => void;
  readonly #human: boolean;

  constructor(lines: LineSource, write: (line: string) => void, options: LinePrompterOptions = {}) {
    this.#lines = lines;
    this.#write = write;
    this.#human = options.style === "human";
  }

  async select(
    message: string,
    choices: readonly Choice[],
    _options: { default?: string } = {},
  ): Promise<string> {
    const listed = choices.map((c, i) => `${i + 1}) ${c.name}`);
    for (;;) {
      let answer: string;
      if (this.#human) {
        this.#write(message);
        for (const line of listed) this.#write(`  ${line}`);
        answer = await this.#read(`Choose 1-${choices.length}: `);
      } else {
        this.#write(`ASK\t${message}: ${listed.join("  ")}`);
        answer = await this.#read();
      }
      const value = matchChoice(answer, choices);
      if (value !== undefined) return value;
      this.#complain(`Please answer with a number from 1 to ${choices.length}.`);
    }
  }

  input(message: string, options: InputOptions = {}): Promise<string> {
    return this.#ask(message, options);
  }

  password(message: string, options: InputOptions = {}): Promise<string> {
    return this.#ask(message, options);
  }

  async #ask(message: string, options: InputOptions): Promise<string> {
    for (;;) {
      const shown = options.default ? `${message} (${options.default})` : message;
      let answer: string;
      if (this.#human) {
        answer = await this.#read(`${shown} `);
      } else {
        this.#write(`ASK\t${shown}`);
        answer = await this.#read();
      }
      if (answer === "" && options.default !== undefined) answer = options.default;
      const problem = options.validate?.(answer) ?? null;
      if (problem === null) return answer;
      this.#complain(problem);
    }
  }

  async #read(prompt?: string): Promise<string> {
    const line = await this.#lines.read(prompt);
    if (line === null) throw new EndOfInput();
    return line;
  }

  #complain(sentence: string): void {
    this.#write(this.#human ? `! ${sentence}` : `ERROR\tUSAGE\t${sentence.replaceAll("\t", " ")}`);
  }
}

/**
 * Splits a byte stream into lines: UTF-8 decoded across chunk boundaries, `\n` or `\r\n`
 * line ends, and a last line without a line break still yielded.
 *
 * @example
 * ```ts
 * for await (const line of readLines(Deno.stdin.readable)) console.log(line);
 * ```
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        yield line.endsWith("\r") ? line.slice(0, -1) : line;
      }
    }
    buffered += decoder.decode();
    if (buffered !== "") yield buffered.endsWith("\r") ? buffered.slice(0, -1) : buffered;
  } finally {
    reader.releaseLock();
  }
}

/**
 * A {@linkcode LineSource} over an iterable of lines (e.g. {@linkcode readLines}); once the
 * lines end, every read answers `null`.
 *
 * @example
 * ```ts
 * const lines = new LineQueue(readLines(Deno.stdin.readable));
 * const first = await lines.read();
 * ```
 */
export class LineQueue implements LineSource {
  readonly #iterator: Iterator<string> | AsyncIterator<string>;
  /** The line being waited for; kept when a read is aborted so the next read gets it. */
  #next: Promise<IteratorResult<string>> | null = null;
  #ended = false;

  constructor(lines: Iterable<string> | AsyncIterable<string>) {
    this.#iterator = Symbol.asyncIterator in lines
      ? lines[Symbol.asyncIterator]()
      : (lines as Iterable<string>)[Symbol.iterator]();
  }

  async read(_prompt?: string, signal?: AbortSignal): Promise<string | null> {
    signal?.throwIfAborted();
    if (this.#ended) return null;
    const next = this.#next ??= Promise.resolve(this.#iterator.next());
    const result = await raceSignal(next, signal);
    if (this.#next === next) this.#next = null;
    if (result.done) {
      this.#ended = true;
      return null;
    }
    return result.value;
  }
}

/** Settles like `promise`, or rejects with the reason of `signal` when it aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  const aborted = Promise.withResolvers<never>();
  const onAbort = () => aborted.reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return Promise.race([promise, aborted.promise]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}
