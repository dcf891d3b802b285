/**
 * The client's network layer: one connection to a server, with typed request promises and
 * a stream of server events. No terminal code; the UI sits on top of it.
 *
 * @module
 */

import { decodePayload, encodeMessage } from "../protocol/codec.ts";
import { ChatError, isErrorCode } from "../protocol/errors.ts";
import { DEFAULT_MAX_FRAME, FrameDecoder } from "../protocol/frame.ts";
import {
  type ClientMessage,
  type HelloResult,
  PROTOCOL_VERSION,
  type ResultMap,
  type ServerEvent,
} from "../protocol/messages.ts";

/** Where and how to connect. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Connect over TLS. */
  tls?: boolean;
  /** PEM CA certificates to trust (for a private CA). */
  caCerts?: string[];
  /** Name sent in `hello`. */
  clientName?: string;
  /** Give up connecting after this long, ms. */
  timeoutMs?: number;
  /** Fail a request the server has not answered after this long, ms (default 30 s). */
  requestTimeoutMs?: number;
}

/** A request type (anything with an `ok` reply). */
export type RequestType = keyof ResultMap;
/** The fields of a request of type `T`, without `type` and `id`. */
export type RequestFields<T extends RequestType> = Omit<
  Extract<ClientMessage, { type: T }>,
  "type" | "id"
>;

/**
 * What the session logic needs of a connection: the real {@linkcode ChatConnection}, or an
 * in-memory one in tests.
 */
export interface Link {
  /** The server's `hello` reply. */
  readonly hello: HelloResult;
  readonly isOpen: boolean;
  /** Settles when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  on(listener: EventListener): () => void;
  request<T extends RequestType>(type: T, fields: RequestFields<T>): Promise<ResultMap[T]>;
  notify(message: Extract<ClientMessage, { type: "ack" | "pong" }>): void;
  close(): void;
}

/** Receives server events (everything that is not a reply). */
export type EventListener = (event: ServerEvent | ConnectionError) => void;

/** A connection-level error from the server (an `error` frame without `re`). */
export interface ConnectionError {
  type: "error";
  code: string;
  message: string;
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** Raised when the connection is gone. */
export class ConnectionClosedError extends Error {
  constructor(message = "Connection closed") {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

/**
 * One open connection that has completed the `hello` handshake.
 *
 * @example
 * ```ts
 * const conn = await ChatConnection.open({ host: "127.0.0.1", port: 8889 });
 * const result = await conn.request("login", { name: "alice", password: "secret123" });
 * ```
 */
export class ChatConnection implements Link {
  readonly #conn: Deno.Conn;
  readonly #requestTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<EventListener>();
  #nextId = 1;
  #maxFrame = DEFAULT_MAX_FRAME;
  #closed = false;
  #writeChain: Promise<unknown> = Promise.resolve();
  /** Settles when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** The server's `hello` reply. */
  hello!: HelloResult;

  private constructor(conn: Deno.Conn, requestTimeoutMs: number) {
    this.#conn = conn;
    this.#requestTimeoutMs = requestTimeoutMs;
    this.closed = this.#readLoop();
  }

  /** Connects, says hello, and resolves once the server has answered. */
  static async open(options: ConnectOptions): Promise<ChatConnection> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const connecting: Promise<Deno.Conn> = options.tls
      ? Deno.connectTls({ hostname: options.host, port: options.port, caCerts: options.caCerts })
      : Deno.connect({ hostname: options.host, port: options.port }).then((tcp) => {
        tcp.setNoDelay(true);
        return tcp;
      });
    const conn = await raceAbort(connecting, timeout, (c) => c.close());
    const connection = new ChatConnection(conn, options.requestTimeoutMs ?? 30_000);
    try {
      connection.hello = await raceAbort(
        connection.request("hello", {
          protocol: PROTOCOL_VERSION,
          client: options.clientName ?? "imchat-client",
        }),
        timeout,
      );
      connection.#maxFrame = connection.hello.maxFrame;
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** Whether the connection is still open. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Adds an event listener; returns a function that removes it. */
  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Sends a request and resolves with the fields of its `ok` reply.
   *
   * @throws {ChatError} with the server's code when it answers with an error.
   * @throws {ConnectionClosedError} when the connection closes first.
   */
  request<T extends RequestType>(type: T, fields: RequestFields<T>): Promise<ResultMap[T]> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError());
    const id = this.#nextId++;
    return new Promise<ResultMap[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`The server did not answer ${type} in time`));
      }, this.#requestTimeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as unknown as ResultMap[T]);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#write({ ...fields, type, id } as ClientMessage).catch(() => {});
    });
  }

  /** Sends a message that has no reply (`ack`, `pong`). */
  notify(message: Extract<ClientMessage, { type: "ack" | "pong" }>): void {
    if (!this.#closed) this.#write(message).catch(() => {});
  }

  /** Sends raw bytes (for tests of hostile input). */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#writeBytes(bytes);
  }

  /** Closes the connection; pending requests fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #write(message: ClientMessage): Promise<void> {
    return this.#writeBytes(encodeMessage(message, this.#maxFrame));
  }

  #writeBytes(bytes: Uint8Array): Promise<void> {
    const write = this.#writeChain.then(async () => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    });
    this.#writeChain = write.catch(() => this.close());
    return write;
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        for (const frame of decoder.push(buffer.subarray(0, n))) this.#handle(decodePayload(frame));
      }
    } catch {
      // reset or closed: same outcome as end of stream
    } finally {
      this.close();
      for (const pending of this.#pending.values()) pending.reject(new ConnectionClosedError());
      this.#pending.clear();
    }
  }

  #handle(value: Record<string, unknown>): void {
    const re = value.re;
    if ((value.type === "ok" || value.type === "error") && typeof re === "number") {
      const pending = this.#pending.get(re);
      if (!pending) return;
      this.#pending.delete(re);
      if (value.type === "ok") {
        const { type: _type, re: _re, ...result } = value;
        pending.resolve(result);
      } else {
        pending.reject(toChatError(value));
      }
      return;
    }
    if (value.type === "ping") this.notify({ type: "pong" });
    if (typeof value.type !== "string") return;
    for (const listener of this.#listeners) listener(value as unknown as ServerEvent);
  }
}

function toChatError(value: Record<string, unknown>): ChatError {
  const code = isErrorCode(value.code) ? value.code : "INTERNAL";
  const message = typeof value.message === "string" ? value.message : "Unknown error";
  const retryAfter = typeof value.retryAfter === "number" ? value.retryAfter : undefined;
  return new ChatError(code, message, retryAfter);
}

async function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  cleanup?: (value: T) => void,
): Promise<T> {
  if (signal.aborted) throw new Error("Timed out");
  const aborted = Promise.withResolvers<never>();
  const onAbort = () => aborted.reject(new Error("Timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([promise, aborted.promise]);
  } catch (error) {
    if (cleanup) promise.then(cleanup, () => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
