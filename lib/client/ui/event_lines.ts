/**
 * Turns {@linkcode ChatClient} events into lines in the right windows: messages (with
 * mentions, the bell, ignored users left out), presence and membership (coalesced with
 * `/set presence summary`), own messages once accepted, refusals given back to the user,
 * connection state, and the end of a session.
 *
 * @module
 */

import type { ChatError } from "../../protocol/errors.ts";
import {
  type ChatMessage,
  type LoginResult,
  ownMessage,
  parseStream,
  type RoomState,
  type SendResult,
  type UserInfo,
} from "../../protocol/messages.ts";
import { nicknameKey } from "../../protocol/rules.ts";
import type { ClientEvent } from "../chat_client.ts";
import type { PresenceMode } from "../commands.ts";
import {
  describeError,
  displayName,
  formatDigest,
  formatMember,
  formatMessage,
  formatPresence,
  mentions,
  sanitize,
} from "../format.ts";
import type { OutboxEntry } from "../outbox.ts";
import { PresenceDigest } from "../presence_digest.ts";
import type { ChatWindow } from "../windows.ts";
import type { AppState } from "./app_state.ts";

/**
 * Shows client events in the windows of an {@linkcode AppState}.
 *
 * @example
 * ```ts
 * const lines = new EventLines(state, () => backToMenu());
 * client.on((event) => lines.show(event));
 * ```
 */
export class EventLines {
  readonly #s: AppState;
  readonly #ended: () => void;
  readonly #digest: PresenceDigest;
  #digestTimer: ReturnType<typeof setTimeout> | null = null;
  #firstRooms = true;

  /** `ended` runs when the session ended for good (back to the menu). */
  constructor(state: AppState, ended: () => void) {
    this.#s = state;
    this.#ended = ended;
    this.#digest = new PresenceDigest(state.d.digestMs ?? 3000);
  }

  /** Stops the coalescing timer. */
  stop(): void {
    if (this.#digestTimer !== null) clearTimeout(this.#digestTimer);
    this.#digestTimer = null;
  }

  /** Shows a client event. */
  show(event: ClientEvent): void {
    const o = this.#s.o;
    switch (event.kind) {
      case "ready":
        return this.#ready(event.login, event.resumed);
      case "rooms":
        for (const room of event.rooms) this.enterRoom(room, false);
        if (this.#firstRooms && !event.resumed && event.rooms.length > 0) {
          this.#s.windows.select(2);
        }
        this.#firstRooms = false;
        return;
      case "roster":
        for (const u of event.users) this.#s.peers.learn(u);
        return;
      case "message":
        return this.#message(event.msg, event.backlog);
      case "backlog":
        if (!event.resumed && event.messages > 0) {
          this.#s.system(this.#s.t("backlog.count", { n: event.messages }));
        }
        return;
      case "presence": {
        this.#s.peers.learn(event.user);
        if (event.online) this.#s.toldOffline.delete(event.user.name);
        const line = formatPresence(event.user, event.online, event.reason, event.away, o);
        const query = this.#s.windows.find("query", event.user.name);
        if (query && this.#s.settings.presence !== "off") this.#s.system(line, query, "--");
        if (
          event.away !== undefined ||
          (event.online && this.#s.d.client.roster.get(event.user.name)?.away)
        ) {
          if (this.#s.settings.presence === "all") {
            this.#s.system(line, this.#s.windows.list[0], "--");
          }
          return;
        }
        this.#presenceLine("status", event.online ? "join" : "leave", event.user, line);
        return;
      }
      case "nick": {
        this.#s.peers.learn({ name: event.name, nickname: event.nickname });
        const line = this.#s.t("nick.changed", {
          old: sanitize(event.old),
          name: displayName({ name: event.name, nickname: event.nickname }),
        });
        const query = this.#s.windows.find("query", event.name);
        this.#s.system(line, query ?? this.#s.windows.list[0], "--");
        return;
      }
      case "member": {
        this.#s.peers.learn(event.user);
        const line = formatMember(event.room, event.user, event.action, event.by, o);
        const window = this.#s.windows.find("room", event.room) ?? this.#s.windows.list[0];
        const me = event.user.name === this.#s.d.client.user?.name;
        if (!me && (event.action === "join" || event.action === "part")) {
          this.#presenceLine(
            `#${event.room}`,
            event.action === "join" ? "join" : "leave",
            event.user,
            line,
          );
          return;
        }
        this.#s.system(line, window, "--");
        if (me && (event.action === "kick" || event.action === "ban")) this.#s.bell();
        return;
      }
      case "topic": {
        const window = this.#s.windows.find("room", event.room) ?? this.#s.windows.list[0];
        this.#s.system(
          this.#s.t("topic.changed", {
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
        this.#s.roomsSeen.add(event.room.name);
        this.#s.system(
          this.#s.t("invite.got", {
            name: displayName(event.by),
            room: `#${sanitize(event.room.name)}`,
            join: sanitize(event.room.name),
          }),
        );
        if (this.#s.windows.currentIndex !== 0) {
          this.#s.system(
            this.#s.t("invite.got", {
              name: displayName(event.by),
              room: `#${sanitize(event.room.name)}`,
              join: sanitize(event.room.name),
            }),
            this.#s.windows.current,
          );
        }
        this.#s.bell();
        return;
      case "occupancy":
        return;
      case "gap": {
        const window = this.#streamWindow(event.stream, undefined);
        const n = event.next - event.after - 1;
        if (window && n > 0) this.#s.system(this.#s.t("gap.lost", { n }), window);
        return;
      }
      case "status":
        if (event.state === "reconnecting") {
          if (this.#s.connection !== "reconnecting") {
            this.#s.system(
              this.#s.t("status.lost", { s: Math.ceil((event.retryInMs ?? 0) / 1000) }),
              this.#s.windows.current,
            );
          }
          this.#s.connection = "reconnecting";
          this.#s.reconnectAt = this.#s.now() + (event.retryInMs ?? 0);
        } else {
          this.#s.connection = "connected";
          this.#s.reconnectAt = null;
          this.#s.system(this.#s.t("status.back"), this.#s.windows.current);
        }
        return;
      case "notice":
        if (event.code === "SHUTTING_DOWN") {
          this.#s.system(
            this.#s.t("notice.shutdown", { text: sanitize(event.text) }),
            this.#s.windows.current,
          );
        } else if (event.code) {
          this.#s.error(describeError(this.#s.tx, event.code, event.text), this.#s.windows.current);
        } else {this.#s.system(
            this.#s.t("notice.server", { text: sanitize(event.text) }),
            this.#s.windows.current,
          );}
        return;
      case "ended":
        return this.#sessionEnded(event.code, event.reason, event.unsent);
      case "sent":
        return this.#sent(event.entry, event.result);
      case "queued": {
        const window = this.#s.pendingIn.get(event.entry.ref);
        if (!window) return;
        if (event.reason === "rate") {
          this.#s.system(
            this.#s.t("send.rate", { s: Math.ceil((event.retryInMs ?? 1000) / 1000) }),
            window,
          );
        } else if (event.reason === "unavailable") {
          this.#s.system(this.#s.t("send.unavailable"), window);
        }
        return;
      }
      case "refused":
        return this.#refused(event.entry, event.error);
    }
  }

  #ready(login: LoginResult, resumed: boolean): void {
    this.#s.loggedIn = true;
    this.#s.connection = "connected";
    this.#s.peers.learn(login.user);
    if (resumed) return;
    this.#s.system(
      this.#s.t("login.welcome", {
        name: displayName(login.user),
        rooms: login.rooms,
        online: login.onlineTotal,
      }),
    );
    if (login.notice) this.#s.system(this.#s.t("notice.server", { text: sanitize(login.notice) }));
    if (login.away) this.#s.system(this.#s.t("away.still", { reason: sanitize(login.away) }));
    for (const invite of login.invites) {
      this.#s.roomsSeen.add(invite.room);
      this.#s.system(
        this.#s.t("invite.got", {
          name: displayName(invite.by),
          room: `#${sanitize(invite.room)}`,
          join: sanitize(invite.room),
        }),
      );
    }
    const peers = Object.entries(login.inbox.peers).filter(([, n]) => n > 0);
    for (const [name] of peers) this.#s.windows.ensure("query", name);
    this.#s.system(this.#s.t("login.hint"));
  }

  /** Opens (or shows) the window of a room the user is in. */
  enterRoom(room: RoomState, show: boolean): void {
    this.#s.roomsSeen.add(room.name);
    const exists = this.#s.windows.find("room", room.name);
    const window = this.#s.windows.ensure("room", room.name);
    if (!exists) {
      this.#s.system(
        room.topic
          ? this.#s.t("topic.is", { room: `#${sanitize(room.name)}`, topic: sanitize(room.topic) })
          : this.#s.t("room.entered", {
            room: `#${sanitize(room.name)}`,
            members: room.members,
            online: room.online,
          }),
        window,
      );
    }
    if (room.skipped > 0) this.#s.system(this.#s.t("backlog.skipped", { n: room.skipped }), window);
    if (show) this.#s.windows.show("room", room.name);
  }

  #message(msg: ChatMessage, backlog: boolean): void {
    const me = this.#s.d.client.user;
    this.#s.peers.learn({ name: msg.from, nickname: msg.nick });
    if (this.#ignored(msg) && msg.from !== me?.name) return;
    const window = this.#streamWindow(msg.stream, msg);
    if (!window) return;
    const mine = msg.from === me?.name;
    const isPrivate = msg.to !== undefined;
    const mention = !mine && me !== null && (isPrivate || mentions(msg.text, me));
    if (isPrivate && !mine) this.#s.lastPrivate = window.name;
    this.#s.windows.add(
      window.kind,
      window.name,
      formatMessage(msg, this.#s.o, mention && !isPrivate),
      {
        message: !mine,
        mention,
      },
    );
    if (!backlog && mention) this.#s.bell();
  }

  /** The window a message (or stream) belongs to, created when missing. */
  #streamWindow(stream: string, msg: ChatMessage | undefined): ChatWindow | undefined {
    const parsed = parseStream(stream);
    if (!parsed) return undefined;
    if (parsed.kind === "room") return this.#s.windows.ensure("room", parsed.name);
    if (!msg) return this.#s.windows.list[0];
    const me = this.#s.d.client.user?.name;
    const peer = msg.from === me ? msg.to! : msg.from;
    const peerNick = msg.from === me ? this.#s.peers.get(peer)?.nickname : msg.nick;
    const byNick = peerNick ? this.#s.windows.find("query", nicknameKey(peerNick)) : undefined;
    if (byNick && byNick.name !== peer) this.#s.windows.rename(byNick, peer);
    return this.#s.windows.ensure("query", peer);
  }

  #ignored(msg: ChatMessage): boolean {
    const list = this.#s.settings.ignore;
    return list.length > 0 && (list.includes(msg.from) || list.includes(nicknameKey(msg.nick)));
  }

  #sent(entry: OutboxEntry, result: SendResult): void {
    const window = this.#s.pendingIn.get(entry.ref);
    this.#s.pendingIn.delete(entry.ref);
    if (!window) return;
    window.pending.delete(entry.ref);
    const me = this.#s.d.client.user!;
    const msg = ownMessage(result, me, entry.text, entry.action);
    this.#s.windows.add(window.kind, window.name, formatMessage(msg, this.#s.o));
    const current = this.#s.windows.current;
    if (window !== current && "to" in entry.target) {
      this.#s.system(
        this.#s.t("send.elsewhere", {
          name: sanitize(entry.target.to),
          n: this.#s.windows.list.indexOf(window) + 1,
          text: sanitize(entry.text),
        }),
        current,
        "->",
      );
    }
    if ("to" in entry.target) {
      const peer = window.name;
      if (result.online === false && !this.#s.toldOffline.has(peer)) {
        this.#s.toldOffline.add(peer);
        this.#s.system(this.#s.t("send.offline", { name: sanitize(entry.target.to) }), window);
      }
      if (result.away !== undefined && this.#s.toldAway.get(peer) !== result.away) {
        this.#s.toldAway.set(peer, result.away);
        this.#s.system(
          this.#s.t("send.away", {
            name: sanitize(entry.target.to),
            reason: sanitize(result.away),
          }),
          window,
        );
      }
    }
  }

  #refused(entry: OutboxEntry, error: ChatError): void {
    const window = this.#s.pendingIn.get(entry.ref) ?? this.#s.windows.current;
    this.#s.pendingIn.delete(entry.ref);
    window.pending.delete(entry.ref);
    const sentence = error.code === "UNKNOWN_USER" && "to" in entry.target
      ? this.#s.t("send.unknownUser", { name: sanitize(entry.target.to) })
      : describeError(this.#s.tx, error.code, error.message, error.retryAfter);
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
    if (this.#s.editor.text === "") {
      this.#s.editor.set(input);
      this.#s.error(this.#s.t("send.refusedBack", { why: sentence }), window);
      this.#s.windows.show(window.kind, window.name);
    } else {
      this.#s.error(
        this.#s.t("send.refusedShown", { why: sentence, text: sanitize(entry.text) }),
        window,
      );
    }
  }

  #sessionEnded(code: string, reason: string, unsent: OutboxEntry[]): void {
    this.#s.loggedIn = false;
    this.#s.connection = "offline";
    this.#s.error(
      this.#s.t("ended", { why: describeError(this.#s.tx, code, reason) }),
      this.#s.windows.list[0],
    );
    for (const entry of unsent) {
      const window = this.#s.pendingIn.get(entry.ref) ?? this.#s.windows.list[0];
      window.pending.delete(entry.ref);
      this.#s.pendingIn.delete(entry.ref);
      this.#s.error(this.#s.t("quit.lost", { text: sanitize(entry.text) }), window);
    }
    this.#s.windows.select(1);
    this.#ended();
  }

  #presenceLine(scope: string, what: "join" | "leave", user: UserInfo, line: string): void {
    const mode: PresenceMode = this.#s.settings.presence;
    if (mode === "off") return;
    const window = scope === "status"
      ? this.#s.windows.list[0]
      : this.#s.windows.find("room", scope.slice(1));
    if (!window) return;
    if (mode === "all") {
      this.#s.system(line, window, what === "join" ? "-->" : "<--");
      return;
    }
    this.#digest.add(scope, what, user, this.#s.now());
    this.#scheduleDigest();
  }

  #scheduleDigest(): void {
    if (this.#digestTimer !== null) return;
    const at = this.#digest.nextDue();
    if (at === null) return;
    this.#digestTimer = setTimeout(() => {
      this.#digestTimer = null;
      for (const d of this.#digest.due(this.#s.now())) {
        const window = d.scope === "status"
          ? this.#s.windows.list[0]
          : this.#s.windows.find("room", d.scope.slice(1));
        if (window) {
          this.#s.system(
            formatDigest(d.joined, d.left, this.#s.o, d.scope === "status" ? "presence" : "member"),
            window,
            "--",
          );
        }
      }
      this.#scheduleDigest();
      this.#s.render();
    }, Math.max(0, at - this.#s.now()));
  }
}
