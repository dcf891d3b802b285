/**
 * A small client of the wire protocol for server tests, written from docs/PROTOCOL.md alone:
 * TCP framing, typed requests matched by `re`, and every event recorded. Independent of the
 * reference client in lib/client, so the server is tested against the document.
 *
 * @module
 */

import { decodePayload, encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError, isErrorCode } from "../lib/protocol/errors.ts";
import { FrameDecoder } from "../lib/protocol/frame.ts";
import {
  type ClientMessage,
  type HelloResult,
  PROTOCOL_VERSION,
  type ResultMap,
  type ServerEvent,
} from "../lib/protocol/messages.ts";

type RequestType = keyof ResultMap;
type Fields<T extends RequestType> = Omit<Extract<ClientMessage, { type: T }>, "type" | "id">;

/** An event, or an error frame without `re`. */
export type WireEvent = ServerEvent | { type: "error"; code: string; message: string };

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** Raised when the connection closed before the reply. */
export class WireClosed extends Error {
  constructor() {
    super("Connection closed");
    this.name = "WireClosed";
  }
}

/**
 * One connection.
 *
 * @example
 * ```ts
 * const c = await Wire.open(port);
 * await c.request("login", { name: "alice", password: "password1" });
 * ```
 */
export class Wire {
  readonly conn: Deno.Conn;
  readonly events: WireEvent[] = [];
  hello!: HelloResult;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #waiters: (() => void)[] = [];
  #open = true;
  readonly closed: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.closed = this.#read();
  }

  /** Connects and says hello (unless `hello` is false). */
  static async open(port: number, hello = true, host = "127.0.0.1"): Promise<Wire> {
    return await Wire.over(await Deno.connect({ hostname: host, port }), hello);
  }

  /** Speaks the protocol over a connection already open (TLS, say); says hello unless not. */
  static async over(conn: Deno.Conn, hello = true): Promise<Wire> {
    const wire = new Wire(conn);
    if (hello) {
      wire.hello = await wire.request("hello", { protocol: PROTOCOL_VERSION, client: "test" });
    }
    return wire;
  }

  /** Whether the server has not closed the connection. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Sends a request; resolves with the `ok` fields or rejects with a `ChatError`. */
  request<T extends RequestType>(type: T, fields: Fields<T>): Promise<ResultMap[T]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (!this.#open) return reject(new WireClosed());
      this.#pending.set(id, { resolve: (v) => resolve(v as unknown as ResultMap[T]), reject });
      this.send({ ...fields, type, id } as ClientMessage).catch(reject);
    });
  }

  /** Sends any message (requests without waiting, notices, malformed ones). */
  async send(message: ClientMessage | Record<string, unknown>): Promise<void> {
    await this.raw(encodeMessage(message, 16 * 1024 * 1024));
  }

  /** Sends bytes as they are. */
  async raw(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length;) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Messages received, as `message` events. */
  messages(stream?: string): Extract<ServerEvent, { type: "message" }>[] {
    return this.events.filter((e): e is Extract<ServerEvent, { type: "message" }> =>
      e.type === "message" && (stream === undefined || e.msg.stream === stream)
    );
  }

  /** Waits until `predicate` holds over the events, or fails after `ms`. */
  async waitFor(
    predicate: (events: readonly WireEvent[]) => boolean,
    what: string,
    ms = 5000,
  ): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for ${what}; ${this.events.length} events, last: ${
            JSON.stringify(this.events.slice(-8))
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Waits for an event of `type` matching `match` (searching all so far); returns it. */
  async next<T extends WireEvent["type"]>(
    type: T,
    match: (event: Extract<WireEvent, { type: T }>) => boolean = () => true,
    ms = 5000,
  ): Promise<Extract<WireEvent, { type: T }>> {
    let found: Extract<WireEvent, { type: T }> | undefined;
    await this.waitFor(
      (events) => {
        found = events.find((e) => e.type === type && match(e as never)) as typeof found;
        return found !== undefined;
      },
      `a ${type} event`,
      ms,
    );
    return found!;
  }

  /** Acknowledges every stream up to the highest position received. */
  async ackAll(): Promise<void> {
    const top = new Map<string, number>();
    for (const { msg } of this.messages()) {
      top.set(msg.stream, Math.max(top.get(msg.stream) ?? 0, msg.seq));
    }
    for (const [stream, upTo] of top) await this.send({ type: "ack", stream, upTo });
  }

  /** Closes the connection. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        for (const frame of decoder.push(buffer.subarray(0, n))) this.#handle(decodePayload(frame));
      }
    } catch {
      // reset or closed
    } finally {
      this.#open = false;
      try {
        this.conn.close();
      } catch {
        // already closed
      }
      for (const pending of this.#pending.values()) pending.reject(new WireClosed());
      this.#pending.clear();
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  #handle(value: Record<string, unknown>): void {
    if ((value.type === "ok" || value.type === "error") && typeof value.re === "number") {
      const pending = this.#pending.get(value.re);
      if (pending) {
        this.#pending.delete(value.re);
        if (value.type === "ok") {
          const { type: _t, re: _r, ...rest } = value;
          pending.resolve(rest);
        } else {
          const code = isErrorCode(value.code) ? value.code : "INTERNAL";
          const retry = typeof value.retryAfter === "number" ? value.retryAfter : undefined;
          pending.reject(new ChatError(code, String(value.message), retry));
        }
        return;
      }
    }
    if (value.type === "ping") this.send({ type: "pong" }).catch(() => {});
    this.events.push(value as unknown as WireEvent);
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
