/**
 * The command table: for each client message type, who may send it, whether later frames wait
 * for it, and what it does. Preconditions are checked in one place (`dispatch.ts`) before any
 * handler runs; handlers return the fields of the `ok` reply or throw a `ChatError`. They never
 * touch sockets.
 *
 * @module
 */

import type { ClientType } from "../../protocol/messages.ts";
import { CHAT_HANDLERS } from "./chat.ts";
import type { Rows } from "./common.ts";
import { ROOM_HANDLERS } from "./rooms.ts";
import { SESSION_HANDLERS } from "./session.ts";

export type { Access, Handler } from "./common.ts";

/** Every client message type's row. */
export const HANDLERS: Rows<ClientType> = {
  ...SESSION_HANDLERS,
  ...CHAT_HANDLERS,
  ...ROOM_HANDLERS,
};
