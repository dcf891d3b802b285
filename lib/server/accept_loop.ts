/**
 * The accept loop: takes connections from a listener and hands each to `serve`. A failed
 * accept of one connection (the peer connected and reset before it was accepted: `accept`
 * fails with `NotConnected`) is logged at debug level and the loop goes on at once; only
 * when the process is out of file descriptors does it pause, so that the connections it
 * serves can close some.
 *
 * @module
 */

import type { Logger } from "./log.ts";
import type { Transport, TransportListener } from "./transport.ts";

/** Pause after running out of file descriptors, ms. */
export const DESCRIPTOR_RETRY_MS = 100;

/** Whether `error` says the process or the system has no file descriptors left. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === "EMFILE" || code === "ENFILE") return true;
  return /\bos error 2[34]\b|too many open files/i.test(String(error));
}

/**
 * Accepts until the listener closes or `stopping()` holds.
 *
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 8889 });
 * await acceptLoop(listener, (conn) => void serve(conn), log, () => false);
 * ```
 */
export async function acceptLoop(
  listener: TransportListener,
  serve: (conn: Transport) => void,
  log: Logger,
  stopping: () => boolean,
): Promise<void> {
  for (;;) {
    let conn: Transport;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (stopping() || error instanceof Deno.errors.BadResource) return;
      if (isOutOfDescriptors(error)) {
        log.error("accept_failed", { error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, DESCRIPTOR_RETRY_MS));
      } else {
        log.debug("accept_reset", { error: String(error) });
      }
      continue;
    }
    serve(conn);
  }
}
