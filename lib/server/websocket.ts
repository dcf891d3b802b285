/**
 * Serves one WebSocket session: each text message is one protocol message (the JSON object
 * without the TCP length header), with the same limits, phases and errors as TCP. The outbox
 * writes TCP frames; the writer here sends each as one text message (decoded once per buffer
 * that many sessions share) and waits while the socket's buffer is full, so a peer that does
 * not read is cut off by the same send-queue bound as on TCP.
 *
 * @module
 */

import { decodeText } from "../protocol/codec.ts";
import { ChatError } from "../protocol/errors.ts";
import { HEADER_BYTES } from "../protocol/frame.ts";
import { type ConnectionContext, FrameRunner, MAX_IN_FLIGHT, openSession } from "./frames.ts";
import type { FrameWriter } from "./outbox.ts";

/** Bytes buffered in the socket before a write waits. */
const SOCKET_HIGH_WATER = 64 * 1024;
/** Messages received and not yet run before the peer is taken for a flood. */
const QUEUE_MAX = MAX_IN_FLIGHT * 16;

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();
/** The text messages of a frame buffer, decoded once for every session writing it. */
const texts = new WeakMap<Uint8Array, string[]>();

/** Splits a buffer of length-prefixed frames into their payloads as text. */
export function frameTexts(bytes: Uint8Array): string[] {
  const cached = texts.get(bytes);
  if (cached) return cached;
  const out: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset + HEADER_BYTES <= bytes.length;) {
    const length = view.getUint32(offset);
    const start = offset + HEADER_BYTES;
    out.push(utf8.decode(bytes.subarray(start, start + length)));
    offset = start + length;
  }
  texts.set(bytes, out);
  return out;
}

/** Writes frame buffers to a WebSocket, one text message per frame. */
class SocketWriter implements FrameWriter {
  readonly #socket: WebSocket;

  constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  async write(bytes: Uint8Array): Promise<number> {
    if (this.#socket.readyState !== WebSocket.OPEN) throw new Error("WebSocket closed");
    for (const text of frameTexts(bytes)) this.#socket.send(text);
    while (this.#socket.bufferedAmount > SOCKET_HIGH_WATER) {
      if (this.#socket.readyState !== WebSocket.OPEN) throw new Error("WebSocket closed");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return bytes.length;
  }
}

/** Serves an upgraded WebSocket from `remote` (`host:port`) as `key` until it closes. */
export function serveWebSocket(
  socket: WebSocket,
  remote: string,
  ctx: ConnectionContext,
  key: string,
): Promise<void> {
  const { config, log, now } = ctx.core;
  const done = Promise.withResolvers<void>();
  const closeSocket = () => {
    try {
      socket.close();
    } catch {
      // already closed
    }
  };
  socket.onclose = () => done.resolve();
  socket.onopen = () => {
    const session = openSession(ctx, key, remote, new SocketWriter(socket), closeSocket);
    const runner = new FrameRunner(ctx, session);
    const queue: (Record<string, unknown> | Error)[] = [];
    let pumping = false;
    const pump = async () => {
      pumping = true;
      while (queue.length > 0 && !session.closed) {
        const next = queue.shift()!;
        if (next instanceof Error) {
          await runner.bad(next);
          break;
        }
        if (!await runner.run(next)) break;
      }
      pumping = false;
    };
    socket.onmessage = (event) => {
      if (session.closed) return;
      session.lastSeen = now();
      session.pingedAt = 0;
      let item: Record<string, unknown> | Error;
      try {
        item = decodeText(checkSize(event.data, config.maxFrame));
      } catch (error) {
        item = error as Error;
      }
      if (queue.length >= QUEUE_MAX) {
        item = new ChatError("FLOODING", "Disconnected for sending too fast");
      }
      queue.push(item);
      if (!pumping) pump();
    };
    socket.onclose = () => {
      const user = session.user?.name;
      if (!session.closed) session.end();
      log.info("disconnect", { user, remote, reason: session.dropReason, transport: "ws" });
      done.resolve();
    };
  };
  socket.onerror = () => {};
  return done.promise;
}

/** The text of a message within the frame limit; binary messages are not protocol messages. */
function checkSize(data: unknown, maxFrame: number): string {
  if (typeof data !== "string") {
    throw new ChatError("BAD_FRAME", "Cannot decode frame: binary messages are not used");
  }
  if (data.length * 3 > maxFrame) {
    const bytes = data.length > maxFrame ? data.length : utf8Encoder.encode(data).length;
    if (bytes > maxFrame) {
      throw new ChatError(
        "FRAME_TOO_LARGE",
        `Cannot decode frame: length ${bytes} exceeds ${maxFrame}`,
      );
    }
  }
  return data;
}
