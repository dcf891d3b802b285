/**
 * Runs the commands typed in the chat screen: sends through the client's outbox (showing
 * the message as pending until the server accepts it), room and user requests, windows,
 * settings, history and help. Failures are thrown to the caller, which reports them.
 *
 * @module
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import { foldName, nicknameKey } from "../../protocol/rules.ts";
import type { MessageKey, Texts } from "../../i18n/translate.ts";
import { type Command, COMMAND_NAMES, type CommandName } from "../commands.ts";
import {
  displayName,
  formatMemberLine,
  formatMessage,
  formatRoom,
  formatTop,
  formatUserLine,
  paint,
  sanitize,
} from "../format.ts";
import type { Target } from "../outbox.ts";
import type { ChatWindow } from "../windows.ts";
import type { AppState } from "./app_state.ts";
import type { EventLines } from "./event_lines.ts";

/**
 * Runs parsed commands against the client and the windows of an {@linkcode AppState}.
 *
 * @example
 * ```ts
 * const runner = new CommandRunner(state, lines, () => quit());
 * await runner.run({ kind: "join", room: "rust" }, state.windows.current);
 * ```
 */
export class CommandRunner {
  readonly #s: AppState;
  readonly #events: EventLines;
  readonly #quit: () => Promise<void>;

  /** `quit` runs for `/quit`. */
  constructor(state: AppState, events: EventLines, quit: () => Promise<void>) {
    this.#s = state;
    this.#events = events;
    this.#quit = quit;
  }

  /** Runs a command typed in window `here`. */
  async run(command: Command, here: ChatWindow): Promise<void> {
    const { client } = this.#s.d;
    switch (command.kind) {
      case "say": {
        if (here.kind === "status") {
          this.#s.error(this.#s.t("say.status"), here);
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
        this.#s.windows.show("query", window.name);
        if (command.text !== undefined) {
          this.#send({ to: window.name }, command.text, false, window);
        }
        return;
      }
      case "reply": {
        if (this.#s.lastPrivate === null) {
          this.#s.error(this.#s.t("reply.none"), here);
          return;
        }
        const window = this.#s.windows.ensure("query", this.#s.lastPrivate);
        if (command.text === undefined) this.#s.windows.show("query", window.name);
        else this.#send({ to: window.name }, command.text, false, window);
        return;
      }
      case "join": {
        const { room } = await client.request("join", { room: command.room });
        this.#events.enterRoom(room, true);
        return;
      }
      case "part": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) {
          return this.#s.error(this.#s.t("room.needRoom", { command: "part" }), here);
        }
        await client.request("part", { room });
        const window = this.#s.windows.find("room", room);
        if (window) this.#s.windows.close(window);
        this.#s.system(
          this.#s.t("part.done", { room: `#${sanitize(room)}` }),
          this.#s.windows.current,
        );
        return;
      }
      case "rooms": {
        const result = await client.request("rooms", command.query ? { query: command.query } : {});
        for (const room of result.rooms) this.#s.roomsSeen.add(room.name);
        const lines = result.rooms.map((r) => formatRoom(r, this.#s.o));
        this.#s.system(
          result.rooms.length === 0
            ? this.#s.t("rooms.none")
            : this.#s.t("rooms.title", { n: result.rooms.length }),
          here,
        );
        this.#s.windows.add(here.kind, here.name, lines);
        if (result.more) this.#s.system(this.#s.t("rooms.more"), here);
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
        this.#events.enterRoom(room, true);
        this.#s.system(
          this.#s.t(room.public ? "create.public" : "create.private", {
            room: `#${sanitize(room.name)}`,
          }),
        );
        return;
      }
      case "roomUser": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) {
          return this.#s.error(this.#s.t("room.needRoom", { command: command.action }), here);
        }
        const result = await client.request(command.action, { room, user: command.user });
        const user = "user" in result
          ? result.user
          : { name: command.user, nickname: command.user };
        if ("user" in result) this.#s.peers.learn(result.user);
        this.#s.system(
          this.#s.t(`roomUser.${command.action}` as MessageKey, {
            name: displayName(user),
            room: `#${sanitize(room)}`,
          }),
          this.#s.windows.find("room", room) ?? here,
        );
        return;
      }
      case "topic": {
        const room = command.room ?? (here.kind === "room" ? here.name : null);
        if (room === null) {
          return this.#s.error(this.#s.t("room.needRoom", { command: "topic" }), here);
        }
        if (command.topic === undefined) {
          const info = client.rooms.get(room) ?? (await client.request("room", { room })).room;
          this.#s.system(
            info.topic
              ? this.#s.t("topic.is", { room: `#${sanitize(room)}`, topic: sanitize(info.topic) })
              : this.#s.t("topic.none", { room: `#${sanitize(room)}` }),
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
          return this.#s.error(this.#s.t("room.needRoom", { command: "members" }), here);
        }
        const result = await client.request("members", { room });
        for (const m of result.members) this.#s.peers.learn(m);
        this.#s.system(
          this.#s.t("members.title", { room: `#${sanitize(room)}`, n: result.total }),
          here,
        );
        this.#s.windows.add(
          here.kind,
          here.name,
          result.members.map((m) => formatMemberLine(m, this.#s.o)),
        );
        if (result.more) {
          this.#s.system(
            this.#s.t("members.more", { n: result.total - result.members.length }),
            here,
          );
        }
        return;
      }
      case "win":
        if (!this.#s.windows.select(command.n)) {
          this.#s.error(
            this.#s.t("win.none", { n: command.n, count: this.#s.windows.list.length }),
            here,
          );
        }
        return;
      case "next":
        return this.#s.nextUnread();
      case "windows": {
        const lines = this.#s.windows.list.map((w, i) =>
          `  ${i + 1}: ${this.#s.windowName(w)}${w.unread ? ` (${w.unread})` : ""}`
        );
        this.#s.system(this.#s.t("windows.title"), here);
        this.#s.windows.add(here.kind, here.name, lines);
        return;
      }
      case "close":
        if (here.kind === "status") return this.#s.error(this.#s.t("close.status"), here);
        if (here.kind === "room" && client.rooms.has(here.name)) {
          return this.#s.error(this.#s.t("close.room", { room: `#${sanitize(here.name)}` }), here);
        }
        this.#s.windows.close(here);
        return;
      case "away": {
        const result = await client.request(
          "away",
          command.reason ? { reason: command.reason } : {},
        );
        this.#s.system(
          result.away
            ? this.#s.t("away.set", { reason: sanitize(result.away) })
            : this.#s.t("away.back"),
          here,
        );
        return;
      }
      case "ignore": {
        if (command.user === undefined) {
          const list = this.#s.settings.ignore;
          this.#s.system(
            list.length === 0
              ? this.#s.t("ignore.empty")
              : this.#s.t("ignore.list", { names: list.map(sanitize).join(", ") }),
            here,
          );
          return;
        }
        const key = this.#s.peers.resolve(command.user) ?? nicknameKey(command.user.trim());
        if (key === client.user?.name) return this.#s.error(this.#s.t("ignore.self"), here);
        if (!this.#s.settings.ignore.includes(key)) this.#s.settings.ignore.push(key);
        this.#s.d.kept.saveSettings(this.#s.settings);
        this.#s.system(this.#s.t("ignore.added", { name: sanitize(key) }), here);
        return;
      }
      case "unignore": {
        const key = this.#s.peers.resolve(command.user) ?? nicknameKey(command.user.trim());
        const before = this.#s.settings.ignore.length;
        this.#s.settings.ignore = this.#s.settings.ignore.filter((x) =>
          x !== key && x !== foldName(command.user)
        );
        this.#s.d.kept.saveSettings(this.#s.settings);
        this.#s.system(
          this.#s.t(
            before === this.#s.settings.ignore.length ? "ignore.notIgnored" : "ignore.removed",
            { name: sanitize(command.user) },
          ),
          here,
        );
        return;
      }
      case "set":
        if (command.name === "presence") this.#s.settings.presence = command.value;
        else this.#s.settings.bell = command.value;
        this.#s.d.kept.saveSettings(this.#s.settings);
        this.#s.system(
          this.#s.t(`set.${command.name}` as MessageKey, {
            value: String(command.name === "bell" ? (command.value ? "on" : "off") : command.value),
          }),
          here,
        );
        return;
      case "users": {
        const result = await client.request("users", { limit: 200 });
        for (const u of result.users) this.#s.peers.learn(u);
        this.#s.system(this.#s.t("users.title", { n: result.total }), here);
        this.#s.windows.add(
          here.kind,
          here.name,
          result.users.map((u) => formatUserLine(u, this.#s.o)),
        );
        if (result.more) {
          this.#s.system(this.#s.t("users.more", { n: result.total - result.users.length }), here);
        }
        return;
      }
      case "count": {
        if (command.room) {
          const c = await client.request("count", { room: command.room });
          this.#s.system(
            this.#s.t("count.room", {
              room: `#${sanitize(command.room)}`,
              members: c.members ?? 0,
              online: c.online ?? 0,
            }),
            here,
          );
        } else {
          const c = await client.request("count", {});
          this.#s.system(
            this.#s.t("count.all", { users: c.users ?? 0, sessions: c.sessions ?? 0 }),
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
            return this.#s.error(this.#s.t("room.needRoom", { command: "top" }), here);
          }
          fields.room = here.name;
        }
        const top = await client.request("top", fields);
        this.#s.windows.add(here.kind, here.name, formatTop(top, this.#s.o));
        return;
      }
      case "nick": {
        const { user } = await client.request("nick", { nickname: command.nickname });
        this.#s.system(this.#s.t("nick.done", { name: displayName(user) }), here);
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
        return await this.#quit();
      case "usage":
        this.#s.error(this.#s.t(`usage.${command.command}` as MessageKey), here);
        return;
      case "unknown":
        this.#s.error(
          this.#s.t(command.guess ? "unknown.guess" : "unknown.plain", {
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
    const name = this.#s.peers.resolve(user) ?? nicknameKey(user.trim());
    return this.#s.windows.ensure("query", name);
  }

  #send(target: Target, text: string, action: boolean, window: ChatWindow): void {
    const { entry } = this.#s.d.client.send(target, text, { action });
    const me = this.#s.d.client.user!;
    const preview: ChatMessage = {
      stream: "",
      seq: 0,
      ts: this.#s.now(),
      from: me.name,
      nick: me.nickname,
      text,
    };
    if (action) preview.action = true;
    const lines = formatMessage(preview, this.#s.o).map((l) => paint(this.#s.d.color, "dim", l));
    lines[0] += paint(this.#s.d.color, "dim", ` ${this.#s.t("send.pending")}`);
    window.pending.set(entry.ref, lines);
    this.#s.pendingIn.set(entry.ref, window);
  }

  async #history(here: ChatWindow, limit?: number, before?: number): Promise<void> {
    if (here.kind === "status") return this.#s.error(this.#s.t("history.status"), here);
    const fields = {
      ...(here.kind === "room" ? { room: here.name } : { with: here.name }),
      ...(limit ? { limit } : {}),
      ...(before ? { before } : {}),
    };
    const page = await this.#s.d.client.request("history", fields);
    if (page.messages.length === 0) {
      this.#s.system(this.#s.t(before ? "history.noEarlier" : "history.empty"), here);
      return;
    }
    this.#s.system(this.#s.t("history.title", { n: page.messages.length }), here);
    for (const msg of page.messages) {
      this.#s.peers.learn({ name: msg.from, nickname: msg.nick });
      this.#s.windows.add(here.kind, here.name, formatMessage(msg, this.#s.o));
    }
    // A window opened by nickname learns the login name from the conversation.
    const me = this.#s.d.client.user?.name;
    const peer = page.messages.map((m) => m.from === me ? m.to : m.from).find(Boolean);
    if (here.kind === "query" && peer && peer !== here.name) this.#s.windows.rename(here, peer);
    this.#s.system(
      page.more
        ? this.#s.t("history.more", { n: limit ?? 20, seq: page.messages[0].seq })
        : this.#s.t("history.end"),
      here,
    );
  }

  #help(here: ChatWindow, topic?: string): void {
    if (topic) {
      const name = COMMAND_NAMES.find((c) => c === topic.toLowerCase());
      if (name) {
        this.#s.windows.add(here.kind, here.name, [
          `  ${this.#s.t(`usage.${name}` as MessageKey)}`,
          `    ${this.#s.t(`help.${name}` as MessageKey)}`,
        ]);
        return;
      }
    }
    const lines = [this.#s.t("help.title")];
    for (const name of COMMAND_NAMES) {
      lines.push(
        `  ${padEnd(usageOf(this.#s.tx, name), 34)} ${this.#s.t(`help.${name}` as MessageKey)}`,
      );
    }
    lines.push(this.#s.t("help.keys1"), this.#s.t("help.keys2"), this.#s.t("help.keys3"));
    this.#s.windows.add(here.kind, here.name, lines);
  }
}

function usageOf(tx: Texts, name: CommandName): string {
  return tx.t(`usage.${name}` as MessageKey);
}

function padEnd(text: string, width: number): string {
  const w = [...text].length;
  return w >= width ? text : text + " ".repeat(width - w);
}
