import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { ChatError } from "../lib/protocol/errors.ts";
import {
  DEFAULT_MAX_FRAME,
  encodeFrame,
  FrameDecoder,
  HEADER_BYTES,
} from "../lib/protocol/frame.ts";

/** A validator for `throws` matching a ChatError with `code`. */
function chatError(code: string) {
  return (error: unknown) => error instanceof ChatError && error.code === code;
}

/** Copies the frames (they may be views into the pushed chunk) into plain arrays. */
function plain(frames: Uint8Array[]): number[][] {
  return frames.map((frame) => [...frame]);
}

/** Concatenates byte arrays. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("encodeFrame prefixes a 4-byte big-endian length", () => {
  deepStrictEqual([...encodeFrame(new Uint8Array([123, 125]))], [0, 0, 0, 2, 123, 125]);
  deepStrictEqual([...encodeFrame(new Uint8Array(0))], [0, 0, 0, 0]);
  const big = encodeFrame(new Uint8Array(0x01_02_03), 0x01_02_03);
  deepStrictEqual([...big.subarray(0, HEADER_BYTES)], [0x00, 0x01, 0x02, 0x03]);
  strictEqual(big.length, HEADER_BYTES + 0x01_02_03);
});

Deno.test("FrameDecoder decodes one frame from a byte vector", () => {
  const decoder = new FrameDecoder();
  deepStrictEqual(plain(decoder.push(new Uint8Array([0, 0, 0, 3, 7, 8, 9]))), [[7, 8, 9]]);
  strictEqual(decoder.pendingBytes, 0);
});

Deno.test("FrameDecoder decodes several frames in one chunk", () => {
  const decoder = new FrameDecoder();
  const chunk = new Uint8Array([0, 0, 0, 1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 2, 0xbb, 0xcc]);
  deepStrictEqual(plain(decoder.push(chunk)), [[0xaa], [], [0xbb, 0xcc]]);
  strictEqual(decoder.pendingBytes, 0);
});

Deno.test("FrameDecoder yields the same frames however the stream is cut", () => {
  // Includes an empty payload and one longer than 255 bytes (multi-byte length).
  const payloads = [bytes(5, 1), new Uint8Array(0), bytes(300, 2), bytes(1, 3), bytes(17, 4)];
  const stream = concat(...payloads.map((p) => encodeFrame(p)));
  const expected = payloads.map((p) => [...p]);

  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const frames = [
      ...plain(decoder.push(stream.subarray(0, cut))),
      ...plain(decoder.push(stream.subarray(cut))),
    ];
    deepStrictEqual(frames, expected, `cut at ${cut}`);
    strictEqual(decoder.pendingBytes, 0, `cut at ${cut}`);
  }

  const decoder = new FrameDecoder();
  const frames: number[][] = [];
  for (let i = 0; i < stream.length; i++) {
    frames.push(...plain(decoder.push(stream.subarray(i, i + 1))));
  }
  deepStrictEqual(frames, expected);
  strictEqual(decoder.pendingBytes, 0);
});

Deno.test("FrameDecoder decodes from a chunk buffer the caller reuses", () => {
  // Frames may be views into the chunk: copies taken before the next push stay intact.
  const decoder = new FrameDecoder();
  const chunk = new Uint8Array([0, 0, 0, 2, 1, 2]);
  const first = decoder.push(chunk).map((f) => f.slice());
  chunk.set([0, 0, 0, 2, 3, 4]);
  const second = decoder.push(chunk);
  deepStrictEqual(plain(first), [[1, 2]]);
  deepStrictEqual(plain(second), [[3, 4]]);
});

Deno.test("FrameDecoder handles a zero-length payload whole and split", () => {
  const whole = new FrameDecoder();
  deepStrictEqual(plain(whole.push(new Uint8Array([0, 0, 0, 0]))), [[]]);
  strictEqual(whole.pendingBytes, 0);

  const split = new FrameDecoder();
  deepStrictEqual(split.push(new Uint8Array([0, 0])), []);
  strictEqual(split.pendingBytes, 2);
  deepStrictEqual(plain(split.push(new Uint8Array([0, 0]))), [[]]);
  strictEqual(split.pendingBytes, 0);
});

Deno.test("FrameDecoder rejects an oversized length from the header alone", () => {
  // 70000 = 0x00011170
  const header = new Uint8Array([0x00, 0x01, 0x11, 0x70]);
  throws(() => new FrameDecoder(65536).push(header), chatError("FRAME_TOO_LARGE"));

  // Header split over two pushes: the second push completes it and throws.
  const split = new FrameDecoder(65536);
  deepStrictEqual(split.push(header.subarray(0, 2)), []);
  throws(() => split.push(header.subarray(2)), chatError("FRAME_TOO_LARGE"));

  // After earlier complete frames in the same chunk: those frames come out first, the
  // failure is kept, and the next push throws it.
  const later = new FrameDecoder(65536);
  deepStrictEqual(plain(later.push(concat(encodeFrame(new Uint8Array([1])), header))), [[1]]);
  strictEqual(later.failure?.code, "FRAME_TOO_LARGE");
  throws(() => later.push(new Uint8Array([0])), chatError("FRAME_TOO_LARGE"));

  // The largest length a header can carry is read as unsigned, not negative.
  throws(
    () => new FrameDecoder().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])),
    chatError("FRAME_TOO_LARGE"),
  );
  throws(
    () => new FrameDecoder(10).push(new Uint8Array([0, 0, 0, 11])),
    chatError("FRAME_TOO_LARGE"),
  );
});

Deno.test("FrameDecoder keeps a truncated frame pending", () => {
  const decoder = new FrameDecoder();
  deepStrictEqual(decoder.push(new Uint8Array([0, 0])), []);
  strictEqual(decoder.pendingBytes, 2);
  deepStrictEqual(decoder.push(new Uint8Array([0, 10, 1, 2, 3, 4])), []);
  // The header has been read; the decoder now holds the body bytes received so far.
  strictEqual(decoder.pendingBytes, 4);
  deepStrictEqual(decoder.push(new Uint8Array([5, 6, 7])), []);
  strictEqual(decoder.pendingBytes, 7);
  deepStrictEqual(
    plain(decoder.push(new Uint8Array([8, 9, 10, 0, 0]))),
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
  );
  // The start of the next header is pending.
  strictEqual(decoder.pendingBytes, 2);

  const fast = new FrameDecoder();
  deepStrictEqual(fast.push(new Uint8Array([0, 0, 0, 3, 1])), []);
  strictEqual(fast.pendingBytes, 1);
});

Deno.test("FrameDecoder accepts a length exactly at the maximum", () => {
  const small = new FrameDecoder(16);
  const payload = bytes(16, 9);
  deepStrictEqual(plain(small.push(encodeFrame(payload, 16))), [[...payload]]);
  throws(() => small.push(new Uint8Array([0, 0, 0, 17])), chatError("FRAME_TOO_LARGE"));

  const full = new FrameDecoder();
  const max = bytes(DEFAULT_MAX_FRAME, 5);
  const frame = encodeFrame(max);
  const half = frame.length >> 1;
  deepStrictEqual(full.push(frame.subarray(0, half)), []);
  const [decoded, ...rest] = full.push(frame.subarray(half));
  deepStrictEqual(rest, []);
  deepStrictEqual(decoded, max);
});

Deno.test("encodeFrame refuses a payload over the maximum", () => {
  throws(() => encodeFrame(new Uint8Array(11), 10), RangeError);
  throws(() => encodeFrame(new Uint8Array(DEFAULT_MAX_FRAME + 1)), RangeError);
  strictEqual(encodeFrame(new Uint8Array(10), 10).length, 14);
});
