/**
 * One WebSocket session with the server (docs/PROTOCOL.md §14): requests matched to their
 * replies by id, notices, and every other frame handed on as an event. It needs only the
 * WebSocket interface, so it runs in the browser and, in tests, under Deno.
 *
 * @module
 */

import { decodeText } from "../protocol/codec.ts";
import { ChatError, isErrorCode } from "../protocol/errors.ts";
import type {
  AckNotice,
  ClientMessage,
  ErrorReply,
  PongNotice,
  ResultMap,
  ServerEvent,
} from "../protocol/messages.ts";

/** The part of `WebSocket` used here. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => unknown) | null;
  onmessage: ((event: MessageEvent) => unknown) | null;
  onclose: ((event: CloseEvent) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
}

/** Opens a socket to a URL (`new WebSocket(url)` in a browser). */
export type SocketFactory = (url: string) => SocketLike;

/** The fields of a request of type `T`, without `type` and `id`. */
export type RequestFields<T extends keyof ResultMap> = Omit<
  Extract<ClientMessage, { type: T }>,
  "type" | "id"
>;

/** An event, or an `error` frame without `re` (a connection-level error). */
export type ConnectionEvent = ServerEvent | Omit<ErrorReply, "re">;

/** The connection closed before a reply came. */
export class ConnectionClosed extends Error {
  constructor() {
    super("The connection to the server closed");
    this.name = "ConnectionClosed";
  }
}

const OPEN = 1;

/**
 * A greeted-or-not connection. `onEvent` gets every frame that is not a reply.
 *
 * @example
 * ```ts
 * const conn = await Connection.open(() => new WebSocket("ws://127.0.0.1:8080/ws"));
 * await conn.request("hello", { protocol: 2 });
 * ```
 */
export class Connection {
  readonly #socket: SocketLike;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;
  #open = true;
  readonly #closed = Promise.withResolvers<void>();
  /** Called for every event frame. */
  onEvent: (event: ConnectionEvent) => void = () => {};
  /** Called for every frame received (for liveness). */
  onFrame: () => void = () => {};

  private constructor(socket: SocketLike) {
    this.#socket = socket;
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => this.#end();
    socket.onerror = () => {};
  }

  /** Opens a socket and waits until it is open; rejects when it closes first. */
  static open(connect: () => SocketLike): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let socket: SocketLike;
      try {
        socket = connect();
      } catch (error) {
        reject(error);
        return;
      }
      socket.onopen = () => resolve(new Connection(socket));
      socket.onclose = () => reject(new ConnectionClosed());
      socket.onerror = () => {};
    });
  }

  /** Resolves when the connection has closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Whether the connection is still open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Sends a request; resolves with the `ok` fields or rejects with a `ChatError`. */
  request<T extends keyof ResultMap>(type: T, fields: RequestFields<T>): Promise<ResultMap[T]> {
    if (!this.#open) return Promise.reject(new ConnectionClosed());
    const id = this.#nextId++;
    return new Promise<ResultMap[T]>((resolve, reject) => {
      this.#pending.set(id, { resolve: (v) => resolve(v as ResultMap[T]), reject });
      this.#write({ ...fields, type, id } as ClientMessage);
    });
  }

  /** Sends a notice (`ack`, `pong`); nothing comes back. */
  notify(notice: AckNotice | PongNotice): void {
    if (this.#open) this.#write(notice);
  }

  /** Closes the connection; pending requests fail with `ConnectionClosed`. */
  close(): void {
    try {
      this.#socket.close();
    } catch {
      // closed already
    }
    this.#end();
  }

  #write(message: ClientMessage): void {
    if (this.#socket.readyState !== OPEN) {
      this.#end();
      return;
    }
    this.#socket.send(JSON.stringify(message));
  }

  #receive(data: unknown): void {
    if (!this.#open || typeof data !== "string") return;
    let frame: Record<string, unknown>;
    try {
      frame = decodeText(data);
    } catch {
      return;
    }
    this.onFrame();
    const re = frame.re;
    if ((frame.type === "ok" || frame.type === "error") && typeof re === "number") {
      const pending = this.#pending.get(re);
      if (!pending) return;
      this.#pending.delete(re);
      if (frame.type === "ok") {
        const { type: _type, re: _re, ...result } = frame;
        pending.resolve(result);
      } else {
        pending.reject(toError(frame));
      }
      return;
    }
    if (typeof frame.type === "string") this.onEvent(frame as unknown as ConnectionEvent);
  }

  #end(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const pending of this.#pending.values()) pending.reject(new ConnectionClosed());
    this.#pending.clear();
    this.#closed.resolve();
  }
}

/** The `ChatError` of an `error` frame. */
export function toError(frame: Record<string, unknown>): ChatError {
  const code = isErrorCode(frame.code) ? frame.code : "INTERNAL";
  const message = typeof frame.message === "string" ? frame.message : code;
  const retry = typeof frame.retryAfter === "number" ? frame.retryAfter : undefined;
  return new ChatError(code, message, retry);
}
