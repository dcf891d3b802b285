/**
 * The chat server the terminal end-to-end tests run against, on 127.0.0.1 and a free port.
 */

import { startFakeTcp } from "./_fake_tcp.ts";

/** A running server for end-to-end tests. */
export interface E2eServer extends AsyncDisposable {
  port: number;
}

/** Starts the server. */
export function startChatServer(): Promise<E2eServer> {
  return Promise.resolve(startFakeTcp());
}
