/**
 * The interactive client: the main menu, registration and login, then the chat windows.
 * It turns key events into edits and commands, and {@linkcode ChatClient} events into lines
 * in windows; it draws through a {@linkcode Screen}. The terminal, the session and the kept
 * state are injected, so the whole flow runs in tests with plain values.
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import {
  type ChatMessage,
  type LoginResult,
  parseStream,
  type RoomState,
  type SendResult,
  type UserInfo,
} from "../../protocol/messages.ts";
import {
  checkName,
  checkNickname,
  checkPassword,
  foldName,
  nicknameKey,
} from "../../protocol/rules.ts";
import type { MessageKey, Params, Texts } from "../../i18n/translate.ts";
import type { ChatClient, ClientEvent } from "../chat_client.ts";
import {
  type Command,
  COMMAND_NAMES,
  type CommandName,
  parseCommand,
  type PresenceMode,
} from "../commands.ts";
import {
  applyCompletion,
  type Completion,
  cycleCompletion,
  startCompletion,
} from "../completion.ts";
import {
  type Clock,
  describeError,
  describeFailure,
  displayName,
  formatDigest,
  formatError,
  formatMember,
  formatMemberLine,
  formatMessage,
  type FormatOptions,
  formatPresence,
  formatRoom,
  formatSystem,
  formatTop,
  formatUserLine,
  mentions,
  paint,
  sanitize,
} from "../format.ts";
import type { KeyEvent } from "../keys.ts";
import { LineEditor } from "../line_editor.ts";
import type { OutboxEntry, Target } from "../outbox.ts";
import { PeerDirectory } from "../peers.ts";
import { PresenceDigest } from "../presence_digest.ts";
import type { Settings } from "../settings.ts";
import { type ChatWindow, WindowList } from "../windows.ts";
import { renderScreen } from "./screen.ts";
import type { Screen } from "./terminal.ts";

/** Where settings and history are kept. */
export interface KeptState {
  settings(): Settings;
  history(): string[];
  saveSettings(settings: Settings): void;
  saveHistory(entries: readonly string[]): void;
}

/** What the app needs. */
export interface ChatAppDeps {
  client: ChatClient;
  screen: Screen;
  tx: Texts;
  color: boolean;
  /** Ring the bell on mentions and private messages (`--no-bell` turns it off). */
  bell: boolean;
  clock: Clock;
  now?: () => number;
  host: string;
  port: number;
  kept: KeptState;
  /** Log in with these at once instead of asking (after creating the account, with `register`). */
  credentials?: { name: string; password: string; register?: { nickname: string } };
  /** How long joins and leaves are collected into one line (`/set presence summary`), ms. */
  digestMs?: number;
  /** Called once when the user leaves; `lines` are printed after the screen is restored. */
  exit(code: number, lines: string[]): void;
}

/** More lines than this in one message are confirmed before sending. */
export const CONFIRM_LINES = 5;
/** The maximum message length when the server has not said. */
const DEFAULT_MAX_TEXT = 4000;

interface Question {
  prompt: string;
  secret: boolean;
  resolve(answer: string | null): void;
}

interface Confirmation {
  prompt: string;
  /** Keys that answer yes (besides `y`). */
  yesOnCtrlC: boolean;
  resolve(yes: boolean): void;
}

/**
 * Runs the interactive client.
 *
 * @example
 * ```ts
 * const app = new ChatApp(deps);
 * terminal.start((keys) => app.keys(keys), () => app.render());
 * await app.run();
 * ```
 */
export class ChatApp {
  readonly #d: ChatAppDeps;
  readonly #tx: Texts;
  readonly #now: () => number;
  readonly #windows = new WindowList();
  readonly #peers = new PeerDirectory();
  readonly #digest: PresenceDigest;
  readonly #editor: LineEditor;
  /** The chat editor's text while a question is asked. */
  #questionEditor: LineEditor | null = null;
  #settings: Settings;
  #question: Question | null = null;
  #confirm: Confirmation | null = null;
  #completion: Completion | null = null;
  /** Keys typed before the first question or between two questions, replayed in order. */
  #typeahead: KeyEvent[] = [];
  #loggedIn = false;
  #connection: "connecting" | "connected" | "reconnecting" | "offline" = "connecting";
  #reconnectAt: number | null = null;
  #tickTimer: ReturnType<typeof setInterval> | null = null;
  #digestTimer: ReturnType<typeof setTimeout> | null = null;
  #renderQueued = false;
  #lastPrivate: string | null = null;
  /** Peers already told offline / away (so the notice comes once). */
  #toldOffline = new Set<string>();
  #toldAway = new Map<string, string>();
  /** Rooms seen in lists and invitations (for Tab completion). */
  #roomsSeen = new Set<string>();
  /** Where each outbox entry's pending lines are. */
  #pendingIn = new Map<number, ChatWindow>();
  #ended = false;
  #off: (() => void) | null = null;
  #firstRooms = true;

  constructor(deps: ChatAppDeps) {
    this.#d = deps;
    this.#tx = deps.tx;
    this.#now = deps.now ?? Date.now;
    this.#digest = new PresenceDigest(deps.digestMs ?? 3000);
    this.#settings = deps.kept.settings();
    this.#editor = new LineEditor(deps.kept.history());
  }

  get #o(): FormatOptions {
    return {
      color: this.#d.color,
      clock: this.#d.clock,
      tx: this.#tx,
      me: this.#d.client.user?.name,
    };
  }

  #t(key: MessageKey, params?: Params): string {
    return this.#tx.t(key, params);
  }

  /** The windows (for tests). */
  get windows(): WindowList {
    return this.#windows;
  }

  /** The editor of the input line (for tests). */
  get editor(): LineEditor {
    return this.#question ? this.#questionEditor! : this.#editor;
  }

  /** Runs the flow: connect, menu or login, then the chat until the user leaves. */
  async run(): Promise<void> {
    this.#off = this.#d.client.on((event) => this.#onClient(event));
    this.#tickTimer = setInterval(() => this.#tick(), 1000);
    this.#system(this.#t("app.connecting", { at: this.#at() }));
    this.render();
    try {
      const link = await this.#d.client.connect();
      this.#connection = "connected";
      this.#system(
        this.#t("app.connected", { server: sanitize(link.hello.server), at: this.#at() }),
      );
    } catch (error) {
      this.#connection = "offline";
      this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
    }
    this.render();
    if (this.#d.credentials) {
      const { name, password, register } = this.#d.credentials;
      if (register) {
        try {
          await this.#d.client.register(name, password, register.nickname);
        } catch (error) {
          if (!(error instanceof ChatError && error.code === "NAME_TAKEN")) {
            this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
          }
        }
      }
      const ok = await this.#login(name, password);
      if (!ok) return this.#leave(1);
    } else if (!await this.#menu()) {
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
    const { rows, columns } = this.#d.screen.size();
    const editor = this.editor;
    const prompt = this.#confirm?.prompt ?? this.#question?.prompt ?? this.#prompt();
    const frame = renderScreen(
      {
        title: this.#title(),
        window: this.#windows.current,
        scroll: this.#windows.current.scroll,
        status: this.#statusBar(),
        prompt,
        input: this.#confirm ? "" : editor.text,
        cursor: this.#confirm ? 0 : editor.cursor,
        secret: this.#question?.secret ?? false,
        color: this.#d.color,
        marker: this.#t("ui.marker"),
      },
      rows,
      columns,
    );
    this.#windows.current.scroll = frame.scroll ?? 0;
    this.#d.screen.draw(frame);
  }

  // ---- flows before the chat ----

  /** The main menu; false when the user leaves. */
  async #menu(): Promise<boolean> {
    for (;;) {
      this.#system(this.#t("menu.title"));
      this.#system(
        `  1) ${this.#t("menu.login")}   2) ${this.#t("menu.register")}   3) ${
          this.#t("menu.exit")
        }`,
      );
      const choice = await this.#ask(this.#t("menu.choose"));
      if (choice === null) return false;
      const c = choice.trim().toLowerCase();
      if (c === "3" || c === "q") return false;
      if (c === "2") {
        if (await this.#register()) return true;
        continue;
      }
      if (c === "1" || c === "") {
        const name = await this.#ask(this.#t("ask.name"));
        if (name === null) return false;
        if (name.trim() === "") continue;
        const password = await this.#ask(this.#t("ask.password"), true);
        if (password === null) return false;
        if (await this.#login(name.trim(), password)) return true;
        continue;
      }
      this.#error(this.#t("menu.bad"));
    }
  }

  /** Registration: checks the name first, confirms the password, logs in after. */
  async #register(): Promise<boolean> {
    const { client } = this.#d;
    let name: string;
    for (;;) {
      const answer = await this.#ask(this.#t("ask.newName"));
      if (answer === null) return false;
      if (answer.trim() === "") return false;
      const problem = ruleProblem(this.#tx, () => checkName(answer));
      if (problem) {
        this.#error(problem);
        continue;
      }
      try {
        const free = await client.check({ name: answer.trim() });
        if (free.name === "taken") {
          this.#error(this.#t("register.taken", { name: sanitize(foldName(answer)) }));
          continue;
        }
      } catch (error) {
        this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
        return false;
      }
      name = foldName(answer);
      break;
    }
    let password: string;
    for (;;) {
      const first = await this.#ask(this.#t("ask.newPassword"), true);
      if (first === null) return false;
      const problem = ruleProblem(this.#tx, () => checkPassword(first));
      if (problem) {
        this.#error(problem);
        continue;
      }
      const again = await this.#ask(this.#t("ask.confirmPassword"), true);
      if (again === null) return false;
      if (again !== first) {
        this.#error(this.#t("register.mismatch"));
        continue;
      }
      password = first;
      break;
    }
    let nickname: string;
    for (;;) {
      const answer = await this.#ask(this.#t("ask.nickname", { name }));
      if (answer === null) return false;
      const chosen = answer.trim() === "" ? name : answer.trim();
      const problem = ruleProblem(this.#tx, () => checkNickname(chosen));
      if (problem) {
        this.#error(problem);
        continue;
      }
      try {
        const free = await client.check({ nickname: chosen });
        if (free.nickname === "taken") {
          this.#error(this.#t("register.nickTaken", { nickname: sanitize(chosen) }));
          continue;
        }
      } catch (error) {
        this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
        return false;
      }
      nickname = chosen;
      break;
    }
    try {
      const user = await client.register(name, password, nickname);
      this.#system(
        this.#t("register.done", { name: sanitize(user.name), nickname: sanitize(user.nickname) }),
      );
    } catch (error) {
      this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
      return false;
    }
    return await this.#login(name, password);
  }

  async #login(name: string, password: string): Promise<boolean> {
    try {
      await this.#d.client.login(name, password);
      return true;
    } catch (error) {
      if (error instanceof ChatError && error.code === "UNKNOWN_USER") {
        this.#error(this.#t("login.unknown", { name: sanitize(name) }));
      } else {
        this.#error(describeFailure(this.#tx, error, this.#d.host, this.#d.port));
      }
      this.render();
      return false;
    }
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

  // ---- keys ----

  #key(event: KeyEvent): void {
    if (this.#confirm) return this.#confirmAnswer(event);
    if (!this.#question && !this.#loggedIn && !isInterrupt(event)) {
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
        this.#windows.current.scroll += Math.max(1, this.#d.screen.size().rows - 6);
        return;
      case "pagedown":
        this.#windows.current.scroll = Math.max(
          0,
          this.#windows.current.scroll - Math.max(1, this.#d.screen.size().rows - 6),
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
        return this.#d.screen.draw({ rows: [], cursorRow: 0, cursorColumn: 0 });
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
      this.#windows.select(char === "0" ? 10 : Number(char));
      return;
    }
    switch (char.toLowerCase()) {
      case "a":
        return this.#nextUnread();
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
    const draft = this.#editor.text.trim() !== "";
    const unsent = this.#d.client.unsent.length;
    if (draft && !endOfInput) {
      if (!await this.#confirmKey(this.#t("quit.draft"), true)) return;
    }
    if (unsent > 0) {
      if (!await this.#confirmKey(this.#t("quit.unsent", { n: unsent }), true)) return;
    }
    await this.#leave(0);
  }

  async #leave(code: number): Promise<void> {
    if (this.#ended) return;
    const lines: string[] = [];
    const unsent = this.#d.client.unsent;
    if (this.#loggedIn) {
      try {
        await this.#d.client.logout();
        lines.push(this.#t("quit.loggedOut"));
      } catch {
        lines.push(this.#t("quit.offline"));
      }
    }
    for (const entry of unsent) lines.push(this.#t("quit.lost", { text: sanitize(entry.text) }));
    lines.push(this.#t("bye"));
    this.#ended = true;
    this.#d.kept.saveHistory(this.#editor.history);
    if (this.#tickTimer !== null) clearInterval(this.#tickTimer);
    if (this.#digestTimer !== null) clearTimeout(this.#digestTimer);
    this.#off?.();
    this.#d.client.close();
    this.#d.exit(code, lines);
  }

  #complete(previous: Completion | null, step: 1 | -1): void {
    const editor = this.#editor;
    const completion = previous ? cycleCompletion(previous, step) : startCompletion(
      editor.text,
      editor.cursor,
      { users: this.#knownUsers(), rooms: this.#knownRooms() },
    );
    if (!completion) {
      if (this.#d.bell) this.#d.screen.bell();
      return;
    }
    if (!previous && completion.candidates.length > 1) {
      this.#system(completion.candidates.map((c) => c.trim()).join("  "), this.#windows.current);
    }
    const applied = applyCompletion(completion);
    editor.set(applied.text, applied.cursor);
    this.#completion = completion;
  }

  #knownUsers(): UserInfo[] {
    const users = new Map<string, UserInfo>();
    for (const u of this.#peers.all()) users.set(u.name, u);
    for (const u of this.#d.client.roster.values()) users.set(u.name, u);
    return [...users.values()];
  }

  #knownRooms(): string[] {
    return [...this.#d.client.rooms.keys(), ...this.#roomsSeen];
  }

  // ---- submitting ----

  #submit(): void {
    if (this.#question) {
      const question = this.#question;
      const answer = this.#questionEditor!.text;
      this.#question = null;
      this.#questionEditor = null;
      question.resolve(answer);
      return;
    }
    const editor = this.#editor;
    const text = editor.text.replace(/\n+$/, "");
    const command = parseCommand(text);
    if (command === null) {
      editor.set("");
      return;
    }
    if (!this.#loggedIn) {
      this.#error(this.#t("app.notLoggedIn"));
      return;
    }
    const body = sendText(command);
    if (body !== null) {
      const max = this.#d.client.hello?.maxText ?? DEFAULT_MAX_TEXT;
      const length = [...body].length;
      if (length > max) {
        this.#error(this.#t("send.tooLong", { length, max }), this.#windows.current);
        return;
      }
      const lines = body.split("\n").length;
      if (lines > CONFIRM_LINES) {
        void this.#confirmKey(this.#t("send.confirmLines", { n: lines })).then((yes) => {
          if (!yes) return this.render();
          this.#editor.set(text);
          this.#editor.take();
          void this.#execute(command).finally(() => this.render());
        });
        return;
      }
    }
    editor.set(text);
    editor.take();
    this.#d.kept.saveHistory(editor.history);
    void this.#execute(command).finally(() => this.render());
  }

  async #execute(command: Command): Promise<void> {
    const here = this.#windows.current;
    try {
      await this.#run(command, here);
    } catch (error) {
      this.#error(this.#failure(error), here);
    }
  }

  #failure(error: unknown): string {
    if (error instanceof ChatError && error.code === "UNAVAILABLE" && !this.#d.client.live) {
      return this.#t("app.offlineRequest", { wait: this.#reconnectWait() });
    }
    return describeFailure(this.#tx, error, this.#d.host, this.#d.port);
  }

  async #run(command: Command, here: ChatWindow): Promise<void> {
    const { client } = this.#d;
    switch (command.kind) {
      case "say": {
        if (here.kind === "status") {
          this.#error(this.#t("say.status"), here);
          return;
        }
        const target: Target = here.kind === "room" ? { room: here.name } : { to: here.name };
        this.#send(target, command.text, command.action ?? false, here);
        return;
      }
      case "msg":
        return this.#sendPrivate(command.to, command.text, false);
      case "query": {
        const window = this.#queryWindow(command.user);
        this.#windows.show("query", window.name);
        if (command.text !== undefined) {
          this.#send({ to: window.name }, command.text, false, window);
        }
        return;
      }
      case "reply": {
        if (this.#lastPrivate === null) {
          this.#error(this.#t("reply.none"), here);
          return;
        }
        const window = this.#windows.ensure("query", this.#lastPrivate);
        if (command.text === undefined) this.#windows.show("query", window.name);
        else this.#send({ to: window.name }, command.text, false, window);
        return;
      }
      case "join": {
        const { room } = await client.request("join", { room: command.room });
        this.#enterRoom(room, true);
        return;
      }
      case "part": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) return this.#error(this.#t("room.needRoom", { command: "part" }), here);
        await client.request("part", { room });
        const window = this.#windows.find("room", room);
        if (window) this.#windows.close(window);
        this.#system(this.#t("part.done", { room: `#${sanitize(room)}` }), this.#windows.current);
        return;
      }
      case "rooms": {
        const result = await client.request("rooms", command.query ? { query: command.query } : {});
        for (const room of result.rooms) this.#roomsSeen.add(room.name);
        const lines = result.rooms.map((r) => formatRoom(r, this.#o));
        this.#system(
          result.rooms.length === 0
            ? this.#t("rooms.none")
            : this.#t("rooms.title", { n: result.rooms.length }),
          here,
        );
        this.#windows.add(here.kind, here.name, lines);
        if (result.more) this.#system(this.#t("rooms.more"), here);
        return;
      }
      case "create": {
        const fields = command.title
          ? { room: command.room, public: command.public, title: command.title }
          : {
            room: command.room,
            public: command.public,
          };
        const { room } = await client.request("create", fields);
        this.#enterRoom(room, true);
        this.#system(
          this.#t(room.public ? "create.public" : "create.private", {
            room: `#${sanitize(room.name)}`,
          }),
        );
        return;
      }
      case "roomUser": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) {
          return this.#error(this.#t("room.needRoom", { command: command.action }), here);
        }
        const result = await client.request(command.action, { room, user: command.user });
        const user = "user" in result
          ? result.user
          : { name: command.user, nickname: command.user };
        if ("user" in result) this.#peers.learn(result.user);
        this.#system(
          this.#t(`roomUser.${command.action}` as MessageKey, {
            name: displayName(user),
            room: `#${sanitize(room)}`,
          }),
          this.#windows.find("room", room) ?? here,
        );
        return;
      }
      case "topic": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) return this.#error(this.#t("room.needRoom", { command: "topic" }), here);
        if (command.topic === undefined) {
          const info = client.rooms.get(room) ?? (await client.request("room", { room })).room;
          this.#system(
            info.topic
              ? this.#t("topic.is", { room: `#${sanitize(room)}`, topic: sanitize(info.topic) })
              : this.#t("topic.none", { room: `#${sanitize(room)}` }),
            here,
          );
          return;
        }
        await client.request("topic", { room, topic: command.topic });
        return;
      }
      case "members": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) {
          return this.#error(this.#t("room.needRoom", { command: "members" }), here);
        }
        const result = await client.request("members", { room });
        for (const m of result.members) this.#peers.learn(m);
        this.#system(
          this.#t("members.title", { room: `#${sanitize(room)}`, n: result.total }),
          here,
        );
        this.#windows.add(
          here.kind,
          here.name,
          result.members.map((m) => formatMemberLine(m, this.#o)),
        );
        if (result.more) {
          this.#system(this.#t("members.more", { n: result.total - result.members.length }), here);
        }
        return;
      }
      case "win":
        if (!this.#windows.select(command.n)) {
          this.#error(
            this.#t("win.none", { n: command.n, count: this.#windows.list.length }),
            here,
          );
        }
        return;
      case "next":
        return this.#nextUnread();
      case "windows": {
        const lines = this.#windows.list.map((w, i) =>
          `  ${i + 1}: ${this.#windowName(w)}${w.unread ? ` (${w.unread})` : ""}`
        );
        this.#system(this.#t("windows.title"), here);
        this.#windows.add(here.kind, here.name, lines);
        return;
      }
      case "close":
        if (here.kind === "status") return this.#error(this.#t("close.status"), here);
        if (here.kind === "room" && client.rooms.has(here.name)) {
          return this.#error(this.#t("close.room", { room: `#${sanitize(here.name)}` }), here);
        }
        this.#windows.close(here);
        return;
      case "away": {
        const result = await client.request(
          "away",
          command.reason ? { reason: command.reason } : {},
        );
        this.#system(
          result.away
            ? this.#t("away.set", { reason: sanitize(result.away) })
            : this.#t("away.back"),
          here,
        );
        return;
      }
      case "ignore": {
        if (command.user === undefined) {
          const list = this.#settings.ignore;
          this.#system(
            list.length === 0
              ? this.#t("ignore.empty")
              : this.#t("ignore.list", { names: list.map(sanitize).join(", ") }),
            here,
          );
          return;
        }
        const key = this.#peers.resolve(command.user) ?? nicknameKey(command.user.trim());
        if (key === client.user?.name) return this.#error(this.#t("ignore.self"), here);
        if (!this.#settings.ignore.includes(key)) this.#settings.ignore.push(key);
        this.#d.kept.saveSettings(this.#settings);
        this.#system(this.#t("ignore.added", { name: sanitize(key) }), here);
        return;
      }
      case "unignore": {
        const key = this.#peers.resolve(command.user) ?? nicknameKey(command.user.trim());
        const before = this.#settings.ignore.length;
        this.#settings.ignore = this.#settings.ignore.filter((x) =>
          x !== key && x !== foldName(command.user)
        );
        this.#d.kept.saveSettings(this.#settings);
        this.#system(
          this.#t(
            before === this.#settings.ignore.length ? "ignore.notIgnored" : "ignore.removed",
            { name: sanitize(command.user) },
          ),
          here,
        );
        return;
      }
      case "set":
        if (command.name === "presence") this.#settings.presence = command.value;
        else this.#settings.bell = command.value;
        this.#d.kept.saveSettings(this.#settings);
        this.#system(
          this.#t(`set.${command.name}` as MessageKey, {
            value: String(command.name === "bell" ? (command.value ? "on" : "off") : command.value),
          }),
          here,
        );
        return;
      case "users": {
        const result = await client.request("users", { limit: 200 });
        for (const u of result.users) this.#peers.learn(u);
        this.#system(this.#t("users.title", { n: result.total }), here);
        this.#windows.add(
          here.kind,
          here.name,
          result.users.map((u) => formatUserLine(u, this.#o)),
        );
        if (result.more) {
          this.#system(this.#t("users.more", { n: result.total - result.users.length }), here);
        }
        return;
      }
      case "count": {
        if (command.room) {
          const c = await client.request("count", { room: command.room });
          this.#system(
            this.#t("count.room", {
              room: `#${sanitize(command.room)}`,
              members: c.members ?? 0,
              online: c.online ?? 0,
            }),
            here,
          );
        } else {
          const c = await client.request("count", {});
          this.#system(
            this.#t("count.all", { users: c.users ?? 0, sessions: c.sessions ?? 0 }),
            here,
          );
        }
        return;
      }
      case "top": {
        const fields: { limit?: number; room?: string } = {};
        if (command.limit) fields.limit = command.limit;
        if (command.room) {
          if (here.kind !== "room") {
            return this.#error(this.#t("room.needRoom", { command: "top" }), here);
          }
          fields.room = here.name;
        }
        const top = await client.request("top", fields);
        this.#windows.add(here.kind, here.name, formatTop(top, this.#o));
        return;
      }
      case "nick": {
        const { user } = await client.request("nick", { nickname: command.nickname });
        this.#system(this.#t("nick.done", { name: displayName(user) }), here);
        return;
      }
      case "history":
        return await this.#history(here, command.limit, command.before);
      case "clear":
        here.lines.length = 0;
        here.marker = null;
        return;
      case "help":
        return this.#help(here, command.topic);
      case "quit":
        return await this.#quit(true);
      case "usage":
        this.#error(this.#t(`usage.${command.command}` as MessageKey), here);
        return;
      case "unknown":
        this.#error(
          this.#t(command.guess ? "unknown.guess" : "unknown.plain", {
            name: sanitize(command.name),
            guess: command.guess ?? "",
          }),
          here,
        );
        return;
    }
  }

  #sendPrivate(to: string, text: string, action: boolean): void {
    const window = this.#queryWindow(to);
    this.#send({ to: window.name }, text, action, window);
  }

  /** The query window for a user named by login name or nickname. */
  #queryWindow(user: string): ChatWindow {
    const name = this.#peers.resolve(user) ?? nicknameKey(user.trim());
    return this.#windows.ensure("query", name);
  }

  #send(target: Target, text: string, action: boolean, window: ChatWindow): void {
    const { entry } = this.#d.client.send(target, text, { action });
    const me = this.#d.client.user!;
    const preview: ChatMessage = {
      stream: "",
      seq: 0,
      ts: this.#now(),
      from: me.name,
      nick: me.nickname,
      text,
    };
    if (action) preview.action = true;
    const lines = formatMessage(preview, this.#o).map((l) => paint(this.#d.color, "dim", l));
    lines[0] += paint(this.#d.color, "dim", ` ${this.#t("send.pending")}`);
    window.pending.set(entry.ref, lines);
    this.#pendingIn.set(entry.ref, window);
  }

  async #history(here: ChatWindow, limit?: number, before?: number): Promise<void> {
    if (here.kind === "status") return this.#error(this.#t("history.status"), here);
    const fields = {
      ...(here.kind === "room" ? { room: here.name } : { with: here.name }),
      ...(limit ? { limit } : {}),
      ...(before ? { before } : {}),
    };
    const page = await this.#d.client.request("history", fields);
    if (page.messages.length === 0) {
      this.#system(this.#t(before ? "history.noEarlier" : "history.empty"), here);
      return;
    }
    this.#system(this.#t("history.title", { n: page.messages.length }), here);
    for (const msg of page.messages) {
      this.#peers.learn({ name: msg.from, nickname: msg.nick });
      this.#windows.add(here.kind, here.name, formatMessage(msg, this.#o));
    }
    // A window opened by nickname learns the login name from the conversation.
    const me = this.#d.client.user?.name;
    const peer = page.messages.map((m) => m.from === me ? m.to : m.from).find(Boolean);
    if (here.kind === "query" && peer && peer !== here.name) this.#windows.rename(here, peer);
    this.#system(
      page.more
        ? this.#t("history.more", { n: limit ?? 20, seq: page.messages[0].seq })
        : this.#t("history.end"),
      here,
    );
  }

  #help(here: ChatWindow, topic?: string): void {
    if (topic) {
      const name = COMMAND_NAMES.find((c) => c === topic.toLowerCase());
      if (name) {
        this.#windows.add(here.kind, here.name, [
          `  ${this.#t(`usage.${name}` as MessageKey)}`,
          `    ${this.#t(`help.${name}` as MessageKey)}`,
        ]);
        return;
      }
    }
    const lines = [this.#t("help.title")];
    for (const name of COMMAND_NAMES) {
      lines.push(
        `  ${padEnd(usageOf(this.#tx, name), 34)} ${this.#t(`help.${name}` as MessageKey)}`,
      );
    }
    lines.push(this.#t("help.keys1"), this.#t("help.keys2"), this.#t("help.keys3"));
    this.#windows.add(here.kind, here.name, lines);
  }

  /** The next (1) or previous (-1) window, round. */
  #step(direction: 1 | -1): void {
    const count = this.#windows.list.length;
    this.#windows.select(((this.#windows.currentIndex + direction + count) % count) + 1);
  }

  #nextUnread(): void {
    const n = this.#windows.nextUnread();
    if (n === null) {
      if (this.#d.bell && this.#settings.bell) this.#d.screen.bell();
      return;
    }
    this.#windows.select(n);
  }

  // ---- client events ----

  #onClient(event: ClientEvent): void {
    this.#onClientEvent(event);
    this.render();
  }

  #onClientEvent(event: ClientEvent): void {
    const o = this.#o;
    switch (event.kind) {
      case "ready":
        return this.#ready(event.login, event.resumed);
      case "rooms":
        for (const room of event.rooms) this.#enterRoom(room, false);
        if (this.#firstRooms && !event.resumed && event.rooms.length > 0) {
          this.#windows.select(2);
        }
        this.#firstRooms = false;
        return;
      case "roster":
        for (const u of event.users) this.#peers.learn(u);
        return;
      case "message":
        return this.#message(event.msg, event.backlog);
      case "backlog":
        if (!event.resumed && event.messages > 0) {
          this.#system(this.#t("backlog.count", { n: event.messages }));
        }
        return;
      case "presence": {
        this.#peers.learn(event.user);
        if (event.online) this.#toldOffline.delete(event.user.name);
        const line = formatPresence(event.user, event.online, event.reason, event.away, o);
        const query = this.#windows.find("query", event.user.name);
        if (query && this.#settings.presence !== "off") this.#system(line, query, "--");
        if (
          event.away !== undefined ||
          (event.online && this.#d.client.roster.get(event.user.name)?.away)
        ) {
          if (this.#settings.presence === "all") this.#system(line, this.#windows.list[0], "--");
          return;
        }
        this.#presenceLine("status", event.online ? "join" : "leave", event.user, line);
        return;
      }
      case "nick": {
        this.#peers.learn({ name: event.name, nickname: event.nickname });
        const line = this.#t("nick.changed", {
          old: sanitize(event.old),
          name: displayName({ name: event.name, nickname: event.nickname }),
        });
        const query = this.#windows.find("query", event.name);
        this.#system(line, query ?? this.#windows.list[0], "--");
        return;
      }
      case "member": {
        this.#peers.learn(event.user);
        const line = formatMember(event.room, event.user, event.action, event.by, o);
        const window = this.#windows.find("room", event.room) ?? this.#windows.list[0];
        const me = event.user.name === this.#d.client.user?.name;
        if (!me && (event.action === "join" || event.action === "part")) {
          this.#presenceLine(
            `#${event.room}`,
            event.action === "join" ? "join" : "leave",
            event.user,
            line,
          );
          return;
        }
        this.#system(line, window, "--");
        if (me && (event.action === "kick" || event.action === "ban")) this.#maybeBell(true);
        return;
      }
      case "topic": {
        const window = this.#windows.find("room", event.room) ?? this.#windows.list[0];
        this.#system(
          this.#t("topic.changed", {
            name: displayName(event.by),
            room: `#${sanitize(event.room)}`,
            topic: sanitize(event.topic),
          }),
          window,
          "--",
        );
        return;
      }
      case "invite":
        this.#roomsSeen.add(event.room.name);
        this.#system(
          this.#t("invite.got", {
            name: displayName(event.by),
            room: `#${sanitize(event.room.name)}`,
            join: sanitize(event.room.name),
          }),
        );
        if (this.#windows.currentIndex !== 0) {
          this.#system(
            this.#t("invite.got", {
              name: displayName(event.by),
              room: `#${sanitize(event.room.name)}`,
              join: sanitize(event.room.name),
            }),
            this.#windows.current,
          );
        }
        this.#maybeBell(true);
        return;
      case "occupancy":
        return;
      case "gap": {
        const window = this.#streamWindow(event.stream, undefined);
        const n = event.next - event.after - 1;
        if (window && n > 0) this.#system(this.#t("gap.lost", { n }), window);
        return;
      }
      case "status":
        if (event.state === "reconnecting") {
          if (this.#connection !== "reconnecting") {
            this.#system(
              this.#t("status.lost", { s: Math.ceil((event.retryInMs ?? 0) / 1000) }),
              this.#windows.current,
            );
          }
          this.#connection = "reconnecting";
          this.#reconnectAt = this.#now() + (event.retryInMs ?? 0);
        } else {
          this.#connection = "connected";
          this.#reconnectAt = null;
          this.#system(this.#t("status.back"), this.#windows.current);
        }
        return;
      case "notice":
        if (event.code === "SHUTTING_DOWN") {
          this.#system(
            this.#t("notice.shutdown", { text: sanitize(event.text) }),
            this.#windows.current,
          );
        } else if (event.code) {
          this.#error(describeError(this.#tx, event.code, event.text), this.#windows.current);
        } else {this.#system(
            this.#t("notice.server", { text: sanitize(event.text) }),
            this.#windows.current,
          );}
        return;
      case "ended":
        return this.#sessionEnded(event.code, event.reason, event.unsent);
      case "sent":
        return this.#sent(event.entry, event.result);
      case "queued": {
        const window = this.#pendingIn.get(event.entry.ref);
        if (!window) return;
        if (event.reason === "rate") {
          this.#system(
            this.#t("send.rate", { s: Math.ceil((event.retryInMs ?? 1000) / 1000) }),
            window,
          );
        } else if (event.reason === "unavailable") {
          this.#system(this.#t("send.unavailable"), window);
        }
        return;
      }
      case "refused":
        return this.#refused(event.entry, event.error);
    }
  }

  #ready(login: LoginResult, resumed: boolean): void {
    this.#loggedIn = true;
    this.#connection = "connected";
    this.#peers.learn(login.user);
    if (resumed) return;
    this.#system(
      this.#t("login.welcome", {
        name: displayName(login.user),
        rooms: login.rooms,
        online: login.onlineTotal,
      }),
    );
    if (login.notice) this.#system(this.#t("notice.server", { text: sanitize(login.notice) }));
    if (login.away) this.#system(this.#t("away.still", { reason: sanitize(login.away) }));
    for (const invite of login.invites) {
      this.#roomsSeen.add(invite.room);
      this.#system(
        this.#t("invite.got", {
          name: displayName(invite.by),
          room: `#${sanitize(invite.room)}`,
          join: sanitize(invite.room),
        }),
      );
    }
    const peers = Object.entries(login.inbox.peers).filter(([, n]) => n > 0);
    for (const [name] of peers) this.#windows.ensure("query", name);
    this.#system(this.#t("login.hint"));
  }

  #enterRoom(room: RoomState, show: boolean): void {
    this.#roomsSeen.add(room.name);
    const exists = this.#windows.find("room", room.name);
    const window = this.#windows.ensure("room", room.name);
    if (!exists) {
      this.#system(
        room.topic
          ? this.#t("topic.is", { room: `#${sanitize(room.name)}`, topic: sanitize(room.topic) })
          : this.#t("room.entered", {
            room: `#${sanitize(room.name)}`,
            members: room.members,
            online: room.online,
          }),
        window,
      );
    }
    if (room.skipped > 0) this.#system(this.#t("backlog.skipped", { n: room.skipped }), window);
    if (show) this.#windows.show("room", room.name);
  }

  #message(msg: ChatMessage, backlog: boolean): void {
    const me = this.#d.client.user;
    this.#peers.learn({ name: msg.from, nickname: msg.nick });
    if (this.#ignored(msg) && msg.from !== me?.name) return;
    const window = this.#streamWindow(msg.stream, msg);
    if (!window) return;
    const mine = msg.from === me?.name;
    const isPrivate = msg.to !== undefined;
    const mention = !mine && me !== null && (isPrivate || mentions(msg.text, me));
    if (isPrivate && !mine) this.#lastPrivate = window.name;
    this.#windows.add(
      window.kind,
      window.name,
      formatMessage(msg, this.#o, mention && !isPrivate),
      {
        message: !mine,
        mention,
      },
    );
    if (!backlog && mention) this.#maybeBell(true);
  }

  /** The window a message (or stream) belongs to, created when missing. */
  #streamWindow(stream: string, msg: ChatMessage | undefined): ChatWindow | undefined {
    const parsed = parseStream(stream);
    if (!parsed) return undefined;
    if (parsed.kind === "room") return this.#windows.ensure("room", parsed.name);
    if (!msg) return this.#windows.list[0];
    const me = this.#d.client.user?.name;
    const peer = msg.from === me ? msg.to! : msg.from;
    const peerNick = msg.from === me ? this.#peers.get(peer)?.nickname : msg.nick;
    const byNick = peerNick ? this.#windows.find("query", nicknameKey(peerNick)) : undefined;
    if (byNick && byNick.name !== peer) this.#windows.rename(byNick, peer);
    return this.#windows.ensure("query", peer);
  }

  #ignored(msg: ChatMessage): boolean {
    const list = this.#settings.ignore;
    return list.length > 0 && (list.includes(msg.from) || list.includes(nicknameKey(msg.nick)));
  }

  #sent(entry: OutboxEntry, result: SendResult): void {
    const window = this.#pendingIn.get(entry.ref);
    this.#pendingIn.delete(entry.ref);
    if (!window) return;
    window.pending.delete(entry.ref);
    const me = this.#d.client.user!;
    const msg: ChatMessage = {
      stream: result.stream,
      seq: result.seq,
      ts: result.ts,
      from: me.name,
      nick: me.nickname,
      text: entry.text,
    };
    if (entry.action) msg.action = true;
    this.#windows.add(window.kind, window.name, formatMessage(msg, this.#o));
    const current = this.#windows.current;
    if (window !== current && "to" in entry.target) {
      this.#system(
        this.#t("send.elsewhere", {
          name: sanitize(entry.target.to),
          n: this.#windows.list.indexOf(window) + 1,
          text: sanitize(entry.text),
        }),
        current,
        "->",
      );
    }
    if ("to" in entry.target) {
      const peer = window.name;
      if (result.online === false && !this.#toldOffline.has(peer)) {
        this.#toldOffline.add(peer);
        this.#system(this.#t("send.offline", { name: sanitize(entry.target.to) }), window);
      }
      if (result.away !== undefined && this.#toldAway.get(peer) !== result.away) {
        this.#toldAway.set(peer, result.away);
        this.#system(
          this.#t("send.away", { name: sanitize(entry.target.to), reason: sanitize(result.away) }),
          window,
        );
      }
    }
  }

  #refused(entry: OutboxEntry, error: ChatError): void {
    const window = this.#pendingIn.get(entry.ref) ?? this.#windows.current;
    this.#pendingIn.delete(entry.ref);
    window.pending.delete(entry.ref);
    const sentence = error.code === "UNKNOWN_USER" && "to" in entry.target
      ? this.#t("send.unknownUser", { name: sanitize(entry.target.to) })
      : describeError(this.#tx, error.code, error.message, error.retryAfter);
    this.#giveBack(entry, window, sentence);
  }

  /** A message that cannot be sent goes back into the input line (or is shown in full). */
  #giveBack(entry: OutboxEntry, window: ChatWindow, sentence: string): void {
    let input = entry.action
      ? `/me ${entry.text}`
      : entry.text.trimStart().startsWith("/")
      ? `/${entry.text}`
      : entry.text;
    if (window.kind === "status" && "to" in entry.target) {
      input = `/msg ${entry.target.to} ${entry.text}`;
    }
    if (this.#editor.text === "") {
      this.#editor.set(input);
      this.#error(this.#t("send.refusedBack", { why: sentence }), window);
      this.#windows.show(window.kind, window.name);
    } else {
      this.#error(
        this.#t("send.refusedShown", { why: sentence, text: sanitize(entry.text) }),
        window,
      );
    }
  }

  #sessionEnded(code: string, reason: string, unsent: OutboxEntry[]): void {
    this.#loggedIn = false;
    this.#connection = "offline";
    this.#error(
      this.#t("ended", { why: describeError(this.#tx, code, reason) }),
      this.#windows.list[0],
    );
    for (const entry of unsent) {
      const window = this.#pendingIn.get(entry.ref) ?? this.#windows.list[0];
      window.pending.delete(entry.ref);
      this.#pendingIn.delete(entry.ref);
      this.#error(this.#t("quit.lost", { text: sanitize(entry.text) }), window);
    }
    this.#windows.select(1);
    void this.#menu().then((ok) => ok ? undefined : this.#leave(0));
  }

  #presenceLine(scope: string, what: "join" | "leave", user: UserInfo, line: string): void {
    const mode: PresenceMode = this.#settings.presence;
    if (mode === "off") return;
    const window = scope === "status"
      ? this.#windows.list[0]
      : this.#windows.find("room", scope.slice(1));
    if (!window) return;
    if (mode === "all") {
      this.#system(line, window, what === "join" ? "-->" : "<--");
      return;
    }
    this.#digest.add(scope, what, user, this.#now());
    this.#scheduleDigest();
  }

  #scheduleDigest(): void {
    if (this.#digestTimer !== null) return;
    const at = this.#digest.nextDue();
    if (at === null) return;
    this.#digestTimer = setTimeout(() => {
      this.#digestTimer = null;
      for (const d of this.#digest.due(this.#now())) {
        const window = d.scope === "status"
          ? this.#windows.list[0]
          : this.#windows.find("room", d.scope.slice(1));
        if (window) {
          this.#system(
            formatDigest(d.joined, d.left, this.#o, d.scope === "status" ? "presence" : "member"),
            window,
            "--",
          );
        }
      }
      this.#scheduleDigest();
      this.render();
    }, Math.max(0, at - this.#now()));
  }

  #maybeBell(wanted: boolean): void {
    if (wanted && this.#d.bell && this.#settings.bell) this.#d.screen.bell();
  }

  // ---- lines and bars ----

  #system(text: string, window: ChatWindow = this.#windows.list[0], marker = "-!-"): void {
    this.#windows.add(window.kind, window.name, formatSystem(this.#now(), text, this.#o, marker));
  }

  #error(text: string, window: ChatWindow = this.#windows.current): void {
    this.#windows.add(window.kind, window.name, formatError(this.#now(), text, this.#o));
  }

  #at(): string {
    const host = this.#d.host.includes(":") ? `[${this.#d.host}]` : this.#d.host;
    return `${host}:${this.#d.port}`;
  }

  #windowName(w: ChatWindow): string {
    if (w.kind === "status") return this.#t("ui.status");
    if (w.kind === "room") return `#${sanitize(w.name)}`;
    const user = this.#peers.get(w.name);
    return user ? displayName(user) : sanitize(w.name);
  }

  #prompt(): string {
    const w = this.#windows.current;
    return `[${this.#windowName(w)}] `;
  }

  #title(): string {
    const w = this.#windows.current;
    if (w.kind === "room") {
      const room = this.#d.client.rooms.get(w.name);
      const topic = room?.topic ? ` — ${sanitize(room.topic)}` : "";
      const title = room?.title && room.title !== room.name ? ` (${sanitize(room.title)})` : "";
      return ` #${sanitize(w.name)}${title}${topic}`;
    }
    if (w.kind === "query") return ` ${this.#t("ui.queryTitle", { name: this.#windowName(w) })}`;
    return ` imchat — ${this.#at()}`;
  }

  #statusBar(): string {
    const parts: string[] = [];
    parts.push(`[${this.#d.clock(this.#now())}]`);
    const me = this.#d.client.user;
    if (me) {
      parts.push(
        `[${sanitize(me.nickname)}${this.#d.client.away ? ` ${this.#t("ui.away")}` : ""}]`,
      );
    }
    const w = this.#windows.current;
    parts.push(`[${this.#windows.currentIndex + 1}:${this.#windowName(w)}]`);
    parts.push(`[${this.#connectionText()}]`);
    if (this.#loggedIn) {
      const room = w.kind === "room" ? this.#d.client.rooms.get(w.name) : undefined;
      parts.push(
        room
          ? `[${this.#t("ui.roomOnline", { online: room.online, members: room.members })}]`
          : `[${this.#t("ui.online", { n: this.#d.client.roster.size })}]`,
      );
    }
    const activity = this.#windows.activity();
    if (activity.length > 0) {
      parts.push(
        `[${this.#t("ui.act")} ${
          activity.map((a) => a.mention ? `${a.n}!` : String(a.n)).join(",")
        }]`,
      );
    }
    const unsent = this.#d.client.unsent.length;
    if (unsent > 0) parts.push(`[${this.#t("ui.outbox", { n: unsent })}]`);
    if (!this.#question) {
      const length = [...this.#editor.text].length;
      const max = this.#d.client.hello?.maxText ?? DEFAULT_MAX_TEXT;
      if (length > max * 0.9) parts.push(`[${length}/${max}]`);
    }
    return " " + parts.join(" ");
  }

  #connectionText(): string {
    switch (this.#connection) {
      case "connecting":
        return this.#t("ui.connecting");
      case "connected":
        return this.#t("ui.connected");
      case "offline":
        return this.#t("ui.offline");
      case "reconnecting":
        return this.#t("ui.reconnecting", { wait: this.#reconnectWait() });
    }
  }

  #reconnectWait(): string {
    if (this.#reconnectAt === null) return "";
    const left = Math.ceil((this.#reconnectAt - this.#now()) / 1000);
    return left > 0 ? this.#t("ui.inSeconds", { n: left }) : this.#t("ui.now");
  }

  #tick(): void {
    this.render();
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

function ruleProblem(tx: Texts, check: () => unknown): string | null {
  try {
    check();
    return null;
  } catch (error) {
    if (error instanceof ChatError) return describeError(tx, error.code, "");
    throw error;
  }
}

function usageOf(tx: Texts, name: CommandName): string {
  return tx.t(`usage.${name}` as MessageKey);
}

function padEnd(text: string, width: number): string {
  const w = [...text].length;
  return w >= width ? text : text + " ".repeat(width - w);
}
