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
import type { Session } from "./session.ts";
import { canSendNow, sendNow, socketFd } from "./sync_send.ts";
import type { Transport } from "./transport.ts";

/**
 * Read buffer sizes. An idle connection holds the smallest; a read that fills its buffer
 * doubles the next one (busy connections read in few large chunks), and small reads shrink
 * it back. Frames larger than the buffer are reassembled by the decoder.
 */
const READ_BUFFER_MIN = 512;
const READ_BUFFER_MAX = 65536;

/** Serves `conn` as connection `key` until it closes; resolves then. Never rejects. */
export function serveConnection(
  conn: Transport,
  ctx: ConnectionContext,
  key: string,
): Promise<void> {
  return new Promise((resolve) => new TcpConnection(conn, ctx, key, resolve).read());
}

/**
 * The read side of one connection. Between reads it holds no suspended async function, only
 * the pending read: a chunk whose frames are all `ack`s is handled without one, and the
 * frames after any other frame run in an async pass that reads on when they are done.
 */
class TcpConnection {
  readonly #conn: Transport;
  readonly #ctx: ConnectionContext;
  readonly #writer: TcpWriter;
  readonly #session: Session;
  readonly #runner: FrameRunner;
  readonly #decoder: FrameDecoder;
  readonly #done: () => void;
  #buffer = new Uint8Array(READ_BUFFER_MIN);
  #ended = false;
  readonly #onRead = (n: number | null) => {
    try {
      this.#received(n);
    } catch (error) {
      this.#failed(error);
    }
  };
  readonly #onFailure = (error: unknown) => this.#failed(error);

  constructor(conn: Transport, ctx: ConnectionContext, key: string, done: () => void) {
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.#conn = conn;
    this.#ctx = ctx;
    this.#done = done;
    this.#writer = new TcpWriter(conn);
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const writer = this.#writer;
    this.#session = openSession(
      ctx,
      key,
      `${addr.hostname}:${addr.port}`,
      writer,
      () => writer.close(),
    );
    this.#runner = new FrameRunner(ctx, this.#session);
    this.#decoder = new FrameDecoder(ctx.core.config.maxFrame);
  }

  /** Starts the next read. */
  read(): void {
    this.#conn.read(this.#buffer).then(this.#onRead, this.#onFailure);
  }

  #received(n: number | null): void {
    if (n === null) return this.#end();
    const session = this.#session;
    session.lastSeen = this.#ctx.core.now();
    session.pingedAt = 0;
    let frames: Uint8Array[];
    try {
      frames = this.#decoder.push(this.#buffer.subarray(0, n));
    } catch (error) {
      this.#refuse(error);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      const ack = matchAck(frames[i]);
      if (ack === null) {
        this.#runFrom(frames, i, n).catch(this.#onFailure);
        return;
      }
      if (!this.#runner.ack(ack.stream, ack.upTo)) return this.#end();
    }
    this.#readOn(n);
  }

  /** Runs `frames` from `start` on in order, then reads on (or ends). */
  async #runFrom(frames: Uint8Array[], start: number, n: number): Promise<void> {
    for (let i = start; i < frames.length; i++) {
      const ack = matchAck(frames[i]);
      if (ack !== null) {
        if (!this.#runner.ack(ack.stream, ack.upTo)) return this.#end();
        continue;
      }
      let value: Record<string, unknown>;
      try {
        value = decodePayload(frames[i]);
      } catch (error) {
        await this.#runner.bad(error);
        return this.#end();
      }
      if (!await this.#runner.run(value)) return this.#end();
    }
    this.#readOn(n);
  }

  /** After a chunk of `n` bytes: sizes the buffer and reads on, unless decoding failed. */
  #readOn(n: number): void {
    const failure = this.#decoder.failure;
    if (failure) return this.#refuse(failure);
    const size = this.#buffer.length;
    if (n === size && n < READ_BUFFER_MAX) {
      this.#buffer = new Uint8Array(n * 2);
    } else if (n < size / 8 && size > READ_BUFFER_MIN) {
      this.#buffer = new Uint8Array(size / 2);
    }
    this.read();
  }

  /** Input that cannot be decoded: answers what came before, reports, ends. */
  #refuse(error: unknown): void {
    this.#runner.bad(error).catch(() => {}).finally(() => this.#end());
  }

  #failed(error: unknown): void {
    const { log } = this.#ctx.core;
    if (this.#writer.open) {
      log.debug("read_error", { remote: this.#session.remote, error: String(error) });
    }
    this.#end();
  }

  /** Ends the connection once. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const session = this.#session;
    const user = session.user?.name;
    // After a fatal error the session is closing already: its last frame gets written.
    if (!session.closed) session.end();
    this.#ctx.core.log.info("disconnect", {
      user,
      remote: session.remote,
      reason: session.dropReason,
    });
    this.#done();
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
