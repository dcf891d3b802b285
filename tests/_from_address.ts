/**
 * Test connections from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...), so
 * tests of per-address limits can play several remote hosts. Deno.connect cannot choose
 * the local address; node:net can.
 *
 * @module
 */

import net from "node:net";
import { decodePayload, encodeMessage } from "../lib/protocol/codec.ts";
import { FrameDecoder } from "../lib/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../lib/protocol/messages.ts";

type Frame = Record<string, unknown>;

/** A greeted connection from `localAddress` that sends requests and returns their replies. */
export class AddressedClient {
  readonly #socket: net.Socket;
  readonly #frames: Frame[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #nextId = 1;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new FrameDecoder();
    socket.on("data", (chunk: Uint8Array) => {
      for (const frame of decoder.push(new Uint8Array(chunk))) {
        this.#frames.push(decodePayload(frame));
      }
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects from `localAddress` to 127.0.0.1:`port` and says hello. */
  static async open(port: number, localAddress: string): Promise<AddressedClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
      socket.once("error", reject);
    });
    const client = new AddressedClient(socket);
    const hello = await client.request({ type: "hello", protocol: PROTOCOL_VERSION });
    if (hello.type !== "ok") throw new Error(`hello failed: ${JSON.stringify(hello)}`);
    return client;
  }

  /** Sends `message` with a fresh id; resolves with its reply (`ok` or `error`). */
  async request(message: Frame, ms = 5000): Promise<Frame> {
    const id = this.#nextId++;
    this.#socket.write(encodeMessage({ ...message, id }));
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.#frames.findIndex((frame) => frame.re === id);
      if (index >= 0) return this.#frames.splice(index, 1)[0];
      if (this.#ended) throw new Error("connection closed before the reply");
      if (Date.now() > deadline) throw new Error(`no reply to ${JSON.stringify(message)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#ended) return resolve();
      this.#socket.once("close", () => resolve());
      this.#socket.destroy();
    });
  }
}
