import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { install } from "@sinonjs/fake-timers";
import { decodePayload, encodeMessage } from "../lib/protocol/codec.ts";
import { FrameDecoder } from "../lib/protocol/frame.ts";
import type { ChatMessage } from "../lib/protocol/messages.ts";
import { Metrics } from "../lib/server/metrics.ts";
import { Outbox } from "../lib/server/outbox.ts";
import { Session, SessionClosedError } from "../lib/server/session.ts";

/** A peer whose reads the test controls: each write waits until `release()`. */
class Peer {
  readonly written: Record<string, unknown>[] = [];
  readonly #decoder = new FrameDecoder();
  #waiting: (() => void)[] = [];
  closed = false;

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting.push(() => {
        for (const frame of this.#decoder.push(bytes)) this.written.push(decodePayload(frame));
        resolve(bytes.length);
      });
    });
  }

  /** Lets the pending writes complete. */
  async release(): Promise<void> {
    while (this.#waiting.length > 0) {
      for (const done of this.#waiting.splice(0)) done();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  }
}

/** Sessions told that they closed (they leave the node at that moment). */
const left: Session[] = [];

function session(peer: Peer): Session {
  const outbox = new Outbox(peer, 1 << 20, { overflowed() {} });
  return new Session(
    "n#1",
    "192.0.2.1:4000",
    0,
    { outbox, close: () => peer.closed = true, onClose: (s) => left.push(s) },
    65536,
    new Metrics(),
  );
}

const message = (seq: number): ChatMessage => ({
  stream: "#r",
  seq,
  ts: 0,
  from: "bob",
  nick: "Bob",
  text: "hi",
});
const frameOf = (m: ChatMessage) => encodeMessage({ type: "message", msg: m });

Deno.test("close seals the outbox: the fatal error is the last frame written", async () => {
  const peer = new Peer();
  const s = session(peer);
  s.write(frameOf(message(1)), 1);
  await Promise.resolve(); // the first write is now in progress
  s.write(frameOf(message(2)), 1);
  s.fail("TIMEOUT", "No answer to ping");
  ok(s.signal.aborted, "the signal aborts at once");
  ok(s.signal.reason instanceof SessionClosedError);
  ok(left.includes(s), "the session left the node at once");
  // Everything after the close is refused, whatever path it takes.
  equal(s.write(frameOf(message(3)), 1), false);
  s.send({ type: "ping" });
  equal(s.outbox.push(frameOf(message(5))), false);
  await peer.release();
  deepStrictEqual(peer.written.map((f) => f.type === "message" ? (f.msg as ChatMessage).seq : f), [
    1,
    2,
    { type: "error", code: "TIMEOUT", message: "No answer to ping" },
  ]);
  ok(peer.closed, "the transport closes once the last frame is written");
});

Deno.test("a closed session's transport closes after the grace period when the peer does not read", async () => {
  const clock = install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    const peer = new Peer();
    const s = session(peer);
    s.write(frameOf(message(1)), 1);
    await Promise.resolve();
    s.close(1000);
    await clock.tickAsync(999);
    equal(peer.closed, false);
    await clock.tickAsync(1);
    equal(peer.closed, true);
  } finally {
    clock.uninstall();
  }
});

Deno.test("end drops what is queued and closes at once", async () => {
  const peer = new Peer();
  const s = session(peer);
  s.write(frameOf(message(1)), 1);
  s.end();
  ok(s.signal.aborted);
  ok(peer.closed);
  await peer.release();
  deepStrictEqual(peer.written, [], "nothing queued is written");
});
