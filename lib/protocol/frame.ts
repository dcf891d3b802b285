/**
 * Length-prefixed framing: every frame is a 4-byte big-endian unsigned payload length
 * followed by that many payload bytes. Pure code: no I/O.
 *
 * @module
 */

import { ChatError } from "./errors.ts";

/** Bytes in the length header. */
export const HEADER_BYTES = 4;

/** Default maximum payload size in bytes. */
export const DEFAULT_MAX_FRAME = 65536;

/**
 * Prefixes `payload` with its length header.
 *
 * @example
 * ```ts
 * encodeFrame(new TextEncoder().encode("{}")); // Uint8Array [0, 0, 0, 2, 123, 125]
 * ```
 */
export function encodeFrame(payload: Uint8Array, maxFrame = DEFAULT_MAX_FRAME): Uint8Array {
  if (payload.length > maxFrame) {
    throw new RangeError(
      `Cannot encode frame: length ${payload.length} exceeds ${maxFrame}`,
    );
  }
  const frame = new Uint8Array(HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * Reassembles frames from a byte stream cut at arbitrary places.
 *
 * The length is checked against the maximum before any buffer for the payload is allocated,
 * so a hostile length costs nothing. Frames returned by {@linkcode FrameDecoder.push} may be
 * views into the chunk that was pushed: use them before the next push or copy them.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder(65536);
 * const frames = decoder.push(new Uint8Array([0, 0, 0, 2, 123, 125]));
 * // frames.length === 1
 * ```
 */
export class FrameDecoder {
  readonly #maxFrame: number;
  /** A header split across chunks: its bytes so far, as a number. */
  #headerValue = 0;
  #headerFill = 0;
  #body: Uint8Array | null = null;
  #bodyFill = 0;
  #failure: ChatError | null = null;

  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.#maxFrame = maxFrame;
  }

  /** Bytes of an unfinished frame held by the decoder (header bytes until the header is whole, then body bytes). */
  get pendingBytes(): number {
    return this.#headerFill + this.#bodyFill;
  }

  /**
   * The error that ended decoding, when frames completed in the same chunk were returned
   * first; further pushes throw it.
   */
  get failure(): ChatError | null {
    return this.#failure;
  }

  /**
   * Feeds one chunk and returns every frame it completes, in order. When the chunk also
   * holds an oversized header after complete frames, those frames are returned and the
   * error is kept in {@linkcode FrameDecoder.failure}.
   *
   * @throws {ChatError} `FRAME_TOO_LARGE` when a header announces more than the maximum
   * and no frame was completed before it (or on any push after a failure).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failure) throw this.#failure;
    const frames: Uint8Array[] = [];
    try {
      this.#decode(chunk, frames);
    } catch (error) {
      if (!(error instanceof ChatError) || frames.length === 0) throw error;
      this.#failure = error;
    }
    return frames;
  }

  #decode(chunk: Uint8Array, frames: Uint8Array[]): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#body === null) {
        if (this.#headerFill === 0 && chunk.length - offset >= HEADER_BYTES) {
          const length = readLength(chunk, offset);
          offset += HEADER_BYTES;
          this.#checkLength(length);
          if (chunk.length - offset >= length) {
            frames.push(chunk.subarray(offset, offset + length));
            offset += length;
            continue;
          }
          this.#startBody(length);
        } else {
          while (this.#headerFill < HEADER_BYTES && offset < chunk.length) {
            this.#headerValue = this.#headerValue * 256 + chunk[offset++];
            this.#headerFill++;
          }
          if (this.#headerFill < HEADER_BYTES) break;
          const length = this.#headerValue;
          this.#headerFill = 0;
          this.#headerValue = 0;
          this.#checkLength(length);
          this.#startBody(length);
        }
      }
      const body = this.#body!;
      const take = Math.min(body.length - this.#bodyFill, chunk.length - offset);
      body.set(chunk.subarray(offset, offset + take), this.#bodyFill);
      this.#bodyFill += take;
      offset += take;
      if (this.#bodyFill === body.length) {
        frames.push(body);
        this.#body = null;
        this.#bodyFill = 0;
      }
    }
  }

  #checkLength(length: number): void {
    if (length > this.#maxFrame) {
      throw new ChatError(
        "FRAME_TOO_LARGE",
        `Cannot decode frame: length ${length} exceeds ${this.#maxFrame}`,
      );
    }
  }

  #startBody(length: number): void {
    this.#body = new Uint8Array(length);
    this.#bodyFill = 0;
  }
}

function readLength(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) >>> 0) + (bytes[offset + 1] << 16) + (bytes[offset + 2] << 8) +
    bytes[offset + 3];
}
