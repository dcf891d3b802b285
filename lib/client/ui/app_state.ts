/**
 * What the parts of the interactive client share: the injected dependencies, the windows,
 * the known users, the kept settings, the chat input line, the connection state shown in
 * the status bar, and the helpers that add system and error lines. No I/O of its own.
 *
 * @module
 */

import { ChatError } from "../../protocol/errors.ts";
import type { UserInfo } from "../../protocol/messages.ts";
import type { MessageKey, Params, Texts } from "../../i18n/translate.ts";
import type { ChatClient } from "../chat_client.ts";
import {
  type Clock,
  describeFailure,
  displayName,
  formatError,
  type FormatOptions,
  formatSystem,
  sanitize,
} from "../format.ts";
import { LineEditor } from "../line_editor.ts";
import { PeerDirectory } from "../peers.ts";
import type { Settings } from "../settings.ts";
import { type ChatWindow, WindowList } from "../windows.ts";
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

/** The connection state shown in the status bar. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

/** The maximum message length when the server has not said. */
export const DEFAULT_MAX_TEXT = 4000;

/**
 * The shared state of the interactive client.
 *
 * @example
 * ```ts
 * const s = new AppState(deps, () => app.render());
 * s.system(s.t("app.connecting", { at: s.at() }));
 * ```
 */
export class AppState {
  readonly d: ChatAppDeps;
  readonly tx: Texts;
  readonly now: () => number;
  readonly windows = new WindowList();
  readonly peers = new PeerDirectory();
  /** The chat input line. */
  readonly editor: LineEditor;
  /** Asks for a redraw. */
  readonly render: () => void;
  settings: Settings;
  loggedIn = false;
  connection: ConnectionState = "connecting";
  reconnectAt: number | null = null;
  /** The peer of the last private message received (for `/reply`). */
  lastPrivate: string | null = null;
  /** Peers already told offline / away (so the notice comes once). */
  readonly toldOffline = new Set<string>();
  readonly toldAway = new Map<string, string>();
  /** Rooms seen in lists and invitations (for Tab completion). */
  readonly roomsSeen = new Set<string>();
  /** Where each outbox entry's pending lines are. */
  readonly pendingIn = new Map<number, ChatWindow>();
  /** The text of the last error line (shown again after leaving when it made the client stop). */
  lastError: string | null = null;

  constructor(deps: ChatAppDeps, render: () => void) {
    this.d = deps;
    this.tx = deps.tx;
    this.now = deps.now ?? Date.now;
    this.render = render;
    this.settings = deps.kept.settings();
    this.editor = new LineEditor(deps.kept.history());
  }

  /** Formatting options for the user now logged in. */
  get o(): FormatOptions {
    return { color: this.d.color, clock: this.d.clock, tx: this.tx, me: this.d.client.user?.name };
  }

  /** A text in the user's language. */
  t(key: MessageKey, params?: Params): string {
    return this.tx.t(key, params);
  }

  /** Adds a system line (time, marker, text) to a window (the status window by default). */
  system(text: string, window: ChatWindow = this.windows.list[0], marker = "-!-"): void {
    this.windows.add(window.kind, window.name, formatSystem(this.now(), text, this.o, marker));
  }

  /** Adds an error line to a window (the current one by default). */
  error(text: string, window: ChatWindow = this.windows.current): void {
    this.lastError = text;
    this.windows.add(window.kind, window.name, formatError(this.now(), text, this.o));
  }

  /** A sentence for a failed request; says when the client is reconnecting. */
  failure(error: unknown): string {
    if (error instanceof ChatError && error.code === "UNAVAILABLE" && !this.d.client.live) {
      return this.t("app.offlineRequest", { wait: this.reconnectWait() });
    }
    return describeFailure(this.tx, error, this.d.host, this.d.port);
  }

  /** The server address as shown. */
  at(): string {
    const host = this.d.host.includes(":") ? `[${this.d.host}]` : this.d.host;
    return `${host}:${this.d.port}`;
  }

  /** A window's name as shown in the prompt and the status bar. */
  windowName(w: ChatWindow): string {
    if (w.kind === "status") return this.t("ui.status");
    if (w.kind === "room") return `#${sanitize(w.name)}`;
    const user = this.peers.get(w.name);
    return user ? displayName(user) : sanitize(w.name);
  }

  /** "in 3 s" until the next reconnect attempt, or "" when not reconnecting. */
  reconnectWait(): string {
    if (this.reconnectAt === null) return "";
    const left = Math.ceil((this.reconnectAt - this.now()) / 1000);
    return left > 0 ? this.t("ui.inSeconds", { n: left }) : this.t("ui.now");
  }

  /** Rings the bell, unless turned off by `--no-bell` or `/set bell off`. */
  bell(): void {
    if (this.d.bell && this.settings.bell) this.d.screen.bell();
  }

  /** Shows the next window with unread messages (the bell when there is none). */
  nextUnread(): void {
    const n = this.windows.nextUnread();
    if (n === null) this.bell();
    else this.windows.select(n);
  }

  /** Keeps the settings. */
  saveSettings(): void {
    this.d.kept.saveSettings(this.settings);
  }

  /** Users known by name and nickname (for Tab completion). */
  knownUsers(): UserInfo[] {
    const users = new Map<string, UserInfo>();
    for (const u of this.peers.all()) users.set(u.name, u);
    for (const u of this.d.client.roster.values()) users.set(u.name, u);
    return [...users.values()];
  }

  /** Known room names (for Tab completion). */
  knownRooms(): string[] {
    return [...this.d.client.rooms.keys(), ...this.roomsSeen];
  }
}
