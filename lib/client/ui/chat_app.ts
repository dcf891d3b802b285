/**
 * The interactive client: keys in, frames out. It owns the input line (editing, questions,
 * confirmations, Tab completion, submitting), drawing, and leaving; the menu and login
 * (`login_flow.ts`), the commands (`command_runner.ts`) and the client events
 * (`event_lines.ts`) work on the shared state (`app_state.ts`). The terminal, the session
 * and the kept state are injected, so the whole flow runs in tests with plain values.
 *
 * @module
 */

import { type Command, parseCommand } from "../commands.ts";
import {
  applyCompletion,
  type Completion,
  cycleCompletion,
  startCompletion,
} from "../completion.ts";
import { sanitize } from "../format.ts";
import type { KeyEvent } from "../keys.ts";
import { LineEditor } from "../line_editor.ts";
import type { WindowList } from "../windows.ts";
import { AppState, type ChatAppDeps, DEFAULT_MAX_TEXT } from "./app_state.ts";
import { prompt, statusBar, title } from "./bars.ts";
import { CommandRunner } from "./command_runner.ts";
import { EventLines } from "./event_lines.ts";
import { LoginFlow } from "./login_flow.ts";
import { renderScreen } from "./screen.ts";

export type { ChatAppDeps, KeptState } from "./app_state.ts";

/** More lines than this in one message are confirmed before sending. */
export const CONFIRM_LINES = 5;

interface Question {
  prompt: string;
  secret: boolean;
  resolve(answer: string | null): void;
}

interface Confirmation {
  prompt: string;
  /** Whether Ctrl-C answers yes (quitting). */
  yesOnCtrlC: boolean;
  resolve(yes: boolean): void;
}

/**
 * Runs the interactive client.
 *
 * @example
 * ```ts
 * const app = new ChatApp(deps);
 * terminal.start((keys) => app.keys(keys), () => app.drawNow(), () => app.terminate());
 * await app.run();
 * ```
 */
export class ChatApp {
  readonly #s: AppState;
  readonly #events: EventLines;
  readonly #commands: CommandRunner;
  readonly #flow: LoginFlow;
  /** The answer being typed while a question is asked. */
  #questionEditor: LineEditor | null = null;
  #question: Question | null = null;
  #confirm: Confirmation | null = null;
  #completion: Completion | null = null;
  /** Keys typed before the first question or between two questions, replayed in order. */
  #typeahead: KeyEvent[] = [];
  #tickTimer: ReturnType<typeof setInterval> | null = null;
  #renderQueued = false;
  #ended = false;
  #off: (() => void) | null = null;

  constructor(deps: ChatAppDeps) {
    this.#s = new AppState(deps, () => this.render());
    this.#flow = new LoginFlow(this.#s, (p, secret) => this.#ask(p, secret));
    this.#events = new EventLines(this.#s, () => {
      void this.#flow.menu().then((ok) => ok ? undefined : this.#leave(0));
    });
    this.#commands = new CommandRunner(this.#s, this.#events, () => this.#quit(true));
  }

  /** The windows (for tests). */
  get windows(): WindowList {
    return this.#s.windows;
  }

  /** The editor of the input line (for tests). */
  get editor(): LineEditor {
    return this.#question ? this.#questionEditor! : this.#s.editor;
  }

  /** Runs the flow: connect, menu or login, then the chat until the user leaves. */
  async run(): Promise<void> {
    this.#off = this.#s.d.client.on((event) => {
      this.#events.show(event);
      this.render();
    });
    this.#tickTimer = setInterval(() => this.render(), 1000);
    this.#s.system(this.#s.t("app.connecting", { at: this.#s.at() }));
    this.render();
    try {
      const link = await this.#s.d.client.connect();
      this.#s.connection = "connected";
      this.#s.system(
        this.#s.t("app.connected", { server: sanitize(link.hello.server), at: this.#s.at() }),
      );
    } catch (error) {
      this.#s.connection = "offline";
      this.#s.error(this.#s.failure(error));
    }
    this.render();
    if (this.#s.d.credentials) {
      if (!await this.#flow.loginWith(this.#s.d.credentials)) return this.#leave(1);
    } else if (!await this.#flow.menu()) {
      return this.#leave(0);
    }
  }

  /** Leaves at once, logging out (the terminal closed, or SIGTERM). */
  terminate(): Promise<void> {
    return this.#leave(0);
  }

  /** Feeds key events. */
  keys(events: readonly KeyEvent[]): void {
    for (const event of events) this.#key(event);
    this.render();
  }

  /** Draws soon (once per turn of the event loop, however many changes come). */
  render(): void {
    if (this.#renderQueued || this.#ended) return;
    this.#renderQueued = true;
    queueMicrotask(() => {
      this.#renderQueued = false;
      if (!this.#ended) this.drawNow();
    });
  }

  /** Draws at once. */
  drawNow(): void {
    const { rows, columns } = this.#s.d.screen.size();
    const editor = this.editor;
    const shownPrompt = this.#confirm?.prompt ?? this.#question?.prompt ?? prompt(this.#s);
    const frame = renderScreen(
      {
        title: title(this.#s),
        window: this.#s.windows.current,
        scroll: this.#s.windows.current.scroll,
        status: statusBar(this.#s, this.#question === null),
        prompt: shownPrompt,
        input: this.#confirm ? "" : editor.text,
        cursor: this.#confirm ? 0 : editor.cursor,
        secret: this.#question?.secret ?? false,
        color: this.#s.d.color,
        marker: this.#s.t("ui.marker"),
      },
      rows,
      columns,
    );
    this.#s.windows.current.scroll = frame.scroll ?? 0;
    this.#s.d.screen.draw(frame);
  }

  /** Asks a question in the input line; null when the user leaves (Ctrl-C, Ctrl-D). */
  #ask(prompt: string, secret = false): Promise<string | null> {
    return new Promise((resolve) => {
      this.#questionEditor = new LineEditor();
      this.#question = { prompt: `${prompt} `, secret, resolve };
      const ahead = this.#typeahead.splice(0);
      for (const event of ahead) {
        if (this.#question) this.#key(event);
        else this.#typeahead.push(event);
      }
      this.render();
    });
  }

  #confirmKey(prompt: string, yesOnCtrlC = false): Promise<boolean> {
    return new Promise((resolve) => {
      this.#confirm = { prompt: `${prompt} `, yesOnCtrlC, resolve };
      this.render();
    });
  }

  #key(event: KeyEvent): void {
    if (this.#confirm) return this.#confirmAnswer(event);
    if (!this.#question && !this.#s.loggedIn && !isInterrupt(event)) {
      this.#typeahead.push(event);
      return;
    }
    const editor = this.editor;
    if (event.type === "text" || event.type === "paste") {
      this.#completion = null;
      editor.insert(this.#question ? event.text.replace(/\n/g, " ") : event.text);
      return;
    }
    const wasCompleting = this.#completion;
    if (event.name !== "tab" && event.name !== "backtab") this.#completion = null;
    if (event.name === "char" && event.ctrl && !event.alt) {
      return this.#ctrlKey(event.char!, editor);
    }
    if (event.name === "char" && event.alt) return this.#altKey(event.char!, editor);
    switch (event.name) {
      case "enter":
        return this.#submit();
      case "newline":
        if (!this.#question) editor.insert("\n");
        return;
      case "tab":
      case "backtab":
        if (this.#question) return;
        return this.#complete(wasCompleting, event.name === "tab" ? 1 : -1);
      case "backspace":
        return event.alt ? editor.killWord() : editor.backspace();
      case "delete":
        return editor.deleteForward();
      case "left":
        return event.ctrl || event.alt ? editor.wordLeft() : editor.left();
      case "right":
        return event.ctrl || event.alt ? editor.wordRight() : editor.right();
      case "home":
        return editor.home();
      case "end":
        return editor.end();
      case "up":
        return this.#question ? undefined : editor.up();
      case "down":
        return this.#question ? undefined : editor.down();
      case "pageup":
        this.#s.windows.current.scroll += Math.max(1, this.#s.d.screen.size().rows - 6);
        return;
      case "pagedown":
        this.#s.windows.current.scroll = Math.max(
          0,
          this.#s.windows.current.scroll - Math.max(1, this.#s.d.screen.size().rows - 6),
        );
        return;
      case "escape":
        return;
    }
  }

  #ctrlKey(char: string, editor: LineEditor): void {
    switch (char) {
      case "a":
        return editor.home();
      case "e":
        return editor.end();
      case "b":
        return editor.left();
      case "f":
        return editor.right();
      case "k":
        return editor.killToEnd();
      case "u":
        return editor.killToStart();
      case "w":
        return editor.killWord();
      case "y":
        return editor.yank();
      case "l":
        return this.#s.d.screen.draw({ rows: [], cursorRow: 0, cursorColumn: 0 });
      case "n":
        return this.#step(1);
      case "p":
        return this.#step(-1);
      case "c":
        return this.#interrupt();
      case "d":
        if (editor.text === "") return this.#interrupt(true);
        return editor.deleteForward();
    }
  }

  #altKey(char: string, editor: LineEditor): void {
    if (/^[0-9]$/.test(char)) {
      this.#s.windows.select(char === "0" ? 10 : Number(char));
      return;
    }
    switch (char.toLowerCase()) {
      case "a":
        return this.#s.nextUnread();
      case "b":
        return editor.wordLeft();
      case "f":
        return editor.wordRight();
      case "d":
        return editor.killWord();
    }
  }

  #confirmAnswer(event: KeyEvent): void {
    const confirm = this.#confirm!;
    let yes = false;
    if (event.type === "text") yes = /^[yY是]/.test(event.text);
    else if (event.type === "key" && event.name === "char" && event.ctrl && event.char === "c") {
      yes = confirm.yesOnCtrlC;
    } else if (event.type === "key" && event.name === "enter") yes = false;
    else if (event.type === "paste") return;
    this.#confirm = null;
    confirm.resolve(yes);
  }

  /** Ctrl-C, or Ctrl-D on an empty line. */
  #interrupt(endOfInput = false): void {
    if (this.#question) {
      const question = this.#question;
      this.#question = null;
      this.#questionEditor = null;
      question.resolve(null);
      return;
    }
    void this.#quit(endOfInput);
  }

  async #quit(endOfInput: boolean): Promise<void> {
    const draft = this.#s.editor.text.trim() !== "";
    const unsent = this.#s.d.client.unsent.length;
    if (draft && !endOfInput) {
      if (!await this.#confirmKey(this.#s.t("quit.draft"), true)) return;
    }
    if (unsent > 0) {
      if (!await this.#confirmKey(this.#s.t("quit.unsent", { n: unsent }), true)) return;
    }
    await this.#leave(0);
  }

  async #leave(code: number): Promise<void> {
    if (this.#ended) return;
    const lines: string[] = [];
    const unsent = this.#s.d.client.unsent;
    if (this.#s.loggedIn) {
      try {
        await this.#s.d.client.logout();
        lines.push(this.#s.t("quit.loggedOut"));
      } catch {
        lines.push(this.#s.t("quit.offline"));
      }
    }
    for (const entry of unsent) lines.push(this.#s.t("quit.lost", { text: sanitize(entry.text) }));
    if (code !== 0 && this.#s.lastError !== null) lines.push(this.#s.lastError);
    lines.push(this.#s.t("bye"));
    this.#ended = true;
    this.#s.d.kept.saveHistory(this.#s.editor.history);
    if (this.#tickTimer !== null) clearInterval(this.#tickTimer);
    this.#events.stop();
    this.#off?.();
    this.#s.d.client.close();
    this.#s.d.exit(code, lines);
  }

  #complete(previous: Completion | null, step: 1 | -1): void {
    const editor = this.#s.editor;
    const completion = previous ? cycleCompletion(previous, step) : startCompletion(
      editor.text,
      editor.cursor,
      { users: this.#s.knownUsers(), rooms: this.#s.knownRooms() },
    );
    if (!completion) {
      this.#s.bell();
      return;
    }
    if (!previous && completion.candidates.length > 1) {
      this.#s.system(
        completion.candidates.map((c) => c.trim()).join("  "),
        this.#s.windows.current,
      );
    }
    const applied = applyCompletion(completion);
    editor.set(applied.text, applied.cursor);
    this.#completion = completion;
  }

  #submit(): void {
    if (this.#question) {
      const question = this.#question;
      const answer = this.#questionEditor!.text;
      this.#question = null;
      this.#questionEditor = null;
      question.resolve(answer);
      return;
    }
    const editor = this.#s.editor;
    const text = editor.text.replace(/\n+$/, "");
    const command = parseCommand(text);
    if (command === null) {
      editor.set("");
      return;
    }
    if (!this.#s.loggedIn) {
      this.#s.error(this.#s.t("app.notLoggedIn"));
      return;
    }
    const body = sendText(command);
    if (body !== null) {
      const max = this.#s.d.client.hello?.maxText ?? DEFAULT_MAX_TEXT;
      const length = [...body].length;
      if (length > max) {
        this.#s.error(this.#s.t("send.tooLong", { length, max }), this.#s.windows.current);
        return;
      }
      const lines = body.split("\n").length;
      if (lines > CONFIRM_LINES) {
        void this.#confirmKey(this.#s.t("send.confirmLines", { n: lines })).then((yes) => {
          if (!yes) return this.render();
          this.#s.editor.set(text);
          this.#s.editor.take();
          this.#s.d.kept.saveHistory(this.#s.editor.history);
          void this.#execute(command).finally(() => this.render());
        });
        return;
      }
    }
    editor.set(text);
    editor.take();
    this.#s.d.kept.saveHistory(editor.history);
    void this.#execute(command).finally(() => this.render());
  }

  async #execute(command: Command): Promise<void> {
    const here = this.#s.windows.current;
    try {
      await this.#commands.run(command, here);
    } catch (error) {
      this.#s.error(this.#s.failure(error), here);
    }
  }

  /** The next (1) or previous (-1) window, round. */
  #step(direction: 1 | -1): void {
    const count = this.#s.windows.list.length;
    this.#s.windows.select(((this.#s.windows.currentIndex + direction + count) % count) + 1);
  }
}

function isInterrupt(event: KeyEvent): boolean {
  return event.type === "key" && event.name === "char" && event.ctrl === true &&
    (event.char === "c" || event.char === "d");
}

/** The text a command would send, if it sends one. */
function sendText(command: Command): string | null {
  switch (command.kind) {
    case "say":
    case "msg":
      return command.text;
    case "query":
    case "reply":
      return command.text ?? null;
    default:
      return null;
  }
}
