/**
 * Serves one TCP (or TLS) connection: reads with an adaptive buffer, reassembles
 * length-prefixed frames and runs them (`frames.ts`).
 *
 * @module
 */

import { decodePayload } from "../protocol/codec.ts";
import { matchAck } from "../protocol/fast_ack.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { type ConnectionContext, FrameRunner, openSession } from "./frames.ts";
import type { FrameWriter } from "./outbox.ts";
import { canSendNow, sendNow, socketFd } from "./sync_send.ts";
import type { Transport } from "./transport.ts";

/**
 * Read buffer sizes. An idle connection holds the smallest; a read that fills its buffer
 * doubles the next one (busy connections read in few large chunks), and small reads shrink
 * it back. Frames larger than the buffer are reassembled by the decoder.
 */
const READ_BUFFER_MIN = 512;
const READ_BUFFER_MAX = 65536;

/** Serves `conn` until it closes. Never throws. */
export async function serveConnection(conn: Transport, ctx: ConnectionContext): Promise<void> {
  const { config, log, now } = ctx.core;
  const addr = conn.remoteAddr as Deno.NetAddr;
  const remote = `${addr.hostname}:${addr.port}`;
  const writer = new TcpWriter(conn);
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  const session = openSession(ctx, remote, writer, () => writer.close());
  const runner = new FrameRunner(ctx, session);
  const decoder = new FrameDecoder(config.maxFrame);
  let buffer = new Uint8Array(READ_BUFFER_MIN);
  try {
    reading: for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      session.lastSeen = now();
      session.pingedAt = 0;
      let frames: Uint8Array[];
      try {
        frames = decoder.push(buffer.subarray(0, n));
      } catch (error) {
        await runner.bad(error);
        break;
      }
      for (const frame of frames) {
        const ack = matchAck(frame);
        if (ack !== null) {
          if (!runner.ack(ack.stream, ack.upTo)) break reading;
          continue;
        }
        let value: Record<string, unknown>;
        try {
          value = decodePayload(frame);
        } catch (error) {
          await runner.bad(error);
          break reading;
        }
        if (!await runner.run(value)) break reading;
      }
      if (n === buffer.length && n < READ_BUFFER_MAX) {
        buffer = new Uint8Array(n * 2);
      } else if (n < buffer.length / 8 && buffer.length > READ_BUFFER_MIN) {
        buffer = new Uint8Array(buffer.length / 2);
      }
      if (decoder.failure) {
        await runner.bad(decoder.failure);
        break;
      }
    }
  } catch (error) {
    if (writer.open) log.debug("read_error", { remote, error: String(error) });
  } finally {
    const user = session.user?.name;
    // After a fatal error the session is closing already: its last frame gets written.
    if (!session.closed) session.end();
    log.info("disconnect", { user, remote, reason: session.dropReason });
  }
}

/**
 * The write side of one connection: frames go out synchronously where the socket allows it
 * (`sync_send.ts`), else through the connection's async write.
 */
class TcpWriter implements FrameWriter {
  readonly #conn: Transport;
  /** The socket for synchronous sends; -1 when there are none. */
  readonly #fd: number;
  #open = true;

  constructor(conn: Transport) {
    this.#conn = conn;
    this.#fd = canSendNow() ? socketFd(conn) ?? -1 : -1;
  }

  /** Whether the connection has not been closed from this side. */
  get open(): boolean {
    return this.#open;
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes);
  }

  writeSync(bytes: Uint8Array): number {
    return this.#open && this.#fd >= 0 ? sendNow(this.#fd, bytes) : 0;
  }

  /** Closes the connection (once); no synchronous send follows, the descriptor is gone. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}
