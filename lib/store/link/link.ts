/**
 * One end of the supervisor–worker link over a local socket: calls in both directions
 * (`call` → the other end's handler → result), one-way pushes, and writes coalesced per
 * event-loop turn.
 *
 * @module
 */

import { FrameDecoder } from "../../protocol/frame.ts";
import { concat } from "../../protocol/bytes.ts";
import { decodeLink, encodeLink, LINK_MAX_FRAME, type LinkFrame } from "./codec.ts";

/** Answers the other end's calls. */
export type CallHandler = (op: string, args: unknown[]) => unknown;

/** Raised for calls over a link that closed. */
export class LinkClosedError extends Error {
  constructor() {
    super("The link to the supervisor is closed");
    this.name = "LinkClosedError";
  }
}

/**
 * A link end.
 *
 * @example
 * ```ts
 * const link = new Link(await Deno.connect({ transport: "unix", path }));
 * const result = await link.call("ping", []);
 * ```
 */
export class Link {
  readonly #conn: Deno.Conn;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #handler: CallHandler = () => {
    throw new Error("No handler");
  };
  readonly #pushes = new Map<string, (...args: unknown[]) => void>();
  #queue: Uint8Array[] = [];
  #writing = false;
  #open = true;
  /** Settles when the link is closed, by either end. */
  readonly closed: Promise<void>;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.closed = this.#read();
  }

  /** Whether the link is open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Sets the handler of the other end's calls. */
  handle(handler: CallHandler): void {
    this.#handler = handler;
  }

  /** Sets the handler of pushes named `name`. */
  onPush(name: string, handler: (...args: unknown[]) => void): void {
    this.#pushes.set(name, handler);
  }

  /** Calls `op` on the other end. */
  call<T>(op: string, args: unknown[]): Promise<T> {
    if (!this.#open) return Promise.reject(new LinkClosedError());
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send({ id, op, args });
    });
  }

  /** Sends a push (no reply). */
  push(name: string, args: unknown[]): void {
    if (this.#open) this.#send({ push: name, args });
  }

  /** Closes the link; pending calls fail. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #send(frame: LinkFrame): void {
    this.#queue.push(encodeLink(frame));
    if (this.#writing) return;
    this.#writing = true;
    queueMicrotask(() => this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#open) {
        const data = this.#queue.length === 1 ? this.#queue[0] : concat(this.#queue);
        this.#queue = [];
        for (let offset = 0; offset < data.length;) {
          offset += await this.#conn.write(data.subarray(offset));
        }
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder(LINK_MAX_FRAME);
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        for (const payload of decoder.push(buffer.subarray(0, n))) {
          this.#dispatch(decodeLink(payload));
        }
      }
    } catch {
      // the other end went away
    } finally {
      this.close();
      for (const pending of this.#pending.values()) pending.reject(new LinkClosedError());
      this.#pending.clear();
    }
  }

  #dispatch(frame: LinkFrame): void {
    if ("re" in frame) {
      const pending = this.#pending.get(frame.re);
      if (!pending) return;
      this.#pending.delete(frame.re);
      if (frame.error !== undefined) pending.reject(new Error(frame.error));
      else pending.resolve(frame.ok);
      return;
    }
    if ("push" in frame) {
      this.#pushes.get(frame.push)?.(...frame.args);
      return;
    }
    const { id, op, args } = frame;
    Promise.resolve().then(() => this.#handler(op, args)).then(
      (ok) => this.#send({ re: id, ok }),
      (error) =>
        this.#send({ re: id, error: error instanceof Error ? error.message : String(error) }),
    );
  }
}
