/**
 * The title row, the status bar and the input prompt of the chat screen, from the shared
 * state. No I/O.
 *
 * @module
 */

import { sanitize } from "../format.ts";
import { type AppState, DEFAULT_MAX_TEXT } from "./app_state.ts";

/**
 * The prompt in front of the input: the current window's name.
 *
 * @example
 * ```ts
 * prompt(state); // "[#lobby] "
 * ```
 */
export function prompt(s: AppState): string {
  return `[${s.windowName(s.windows.current)}] `;
}

/** The title row: the room with its title and topic, the conversation, or the server. */
export function title(s: AppState): string {
  const w = s.windows.current;
  if (w.kind === "room") {
    const room = s.d.client.rooms.get(w.name);
    const topic = room?.topic ? ` — ${sanitize(room.topic)}` : "";
    const roomTitle = room?.title && room.title !== room.name ? ` (${sanitize(room.title)})` : "";
    return ` #${sanitize(w.name)}${roomTitle}${topic}`;
  }
  if (w.kind === "query") return ` ${s.t("ui.queryTitle", { name: s.windowName(w) })}`;
  return ` imchat — ${s.at()}`;
}

/**
 * The status bar: time, nickname (and away), current window, connection state, online
 * count, windows with unread messages (`!` for mentions), messages waiting in the outbox,
 * and the length of a draft near or over the limit. `typing` is false while a question is
 * asked (its answer is not a message).
 */
export function statusBar(s: AppState, typing: boolean): string {
  const parts: string[] = [`[${s.d.clock(s.now())}]`];
  const me = s.d.client.user;
  if (me) parts.push(`[${sanitize(me.nickname)}${s.d.client.away ? ` ${s.t("ui.away")}` : ""}]`);
  const w = s.windows.current;
  parts.push(`[${s.windows.currentIndex + 1}:${s.windowName(w)}]`);
  parts.push(`[${connectionText(s)}]`);
  if (s.loggedIn) {
    const room = w.kind === "room" ? s.d.client.rooms.get(w.name) : undefined;
    parts.push(
      room
        ? `[${s.t("ui.roomOnline", { online: room.online, members: room.members })}]`
        : `[${s.t("ui.online", { n: s.d.client.roster.size })}]`,
    );
  }
  const activity = s.windows.activity();
  if (activity.length > 0) {
    const list = activity.map((a) => a.mention ? `${a.n}!` : String(a.n)).join(",");
    parts.push(`[${s.t("ui.act")} ${list}]`);
  }
  const unsent = s.d.client.unsent.length;
  if (unsent > 0) parts.push(`[${s.t("ui.outbox", { n: unsent })}]`);
  if (typing) {
    const length = [...s.editor.text].length;
    const max = s.d.client.hello?.maxText ?? DEFAULT_MAX_TEXT;
    if (length > max * 0.9) parts.push(`[${length}/${max}]`);
  }
  return " " + parts.join(" ");
}

function connectionText(s: AppState): string {
  switch (s.connection) {
    case "connecting":
      return s.t("ui.connecting");
    case "connected":
      return s.t("ui.connected");
    case "offline":
      return s.t("ui.offline");
    case "reconnecting":
      return s.t("ui.reconnecting", { wait: s.reconnectWait() });
  }
}
