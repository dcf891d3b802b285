/**
 * The chat server the terminal end-to-end tests run against: the real server, in this
 * process, on Deno KV in memory, 127.0.0.1 and a free port.
 */

import { startTestServer } from "./_harness.ts";

/** A running server for end-to-end tests. */
export interface E2eServer extends AsyncDisposable {
  port: number;
}

/** Starts the server; `extra` are server flags. */
export async function startChatServer(extra: string[] = []): Promise<E2eServer> {
  const server = await startTestServer({ kind: "kv" }, extra);
  return { port: server.port, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
}
