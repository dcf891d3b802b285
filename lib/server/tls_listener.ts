/**
 * A TLS listener on `node:tls`. `Deno.listenTls` could not be used: a connection whose
 * handshake never finishes keeps its socket open after `close()` (the handshake holds it
 * until the peer sends or hangs up), so idle TCP connections to a TLS port exhausted the
 * server's descriptors. Here every accepted TCP socket is wrapped at once and handed out
 * before the handshake; the login timeout then bounds the handshake like any other silence,
 * and `close()` destroys the socket for real.
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import type { Transport, TransportListener } from "./transport.ts";

/** Where to listen and with which certificate. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key. */
  cert: string;
  key: string;
  /** Share the port with the node's other workers (SO_REUSEPORT). */
  reusePort?: boolean;
}

/** Reading pauses while this many received bytes wait for `read`. */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * Listens for TLS connections.
 *
 * @example
 * ```ts
 * const listener = await listenTls({ hostname: "0.0.0.0", port: 8889, cert, key });
 * const conn = await listener.accept();
 * ```
 */
export async function listenTls(options: TlsListenOptions): Promise<TransportListener> {
  const context = tls.createSecureContext({ cert: options.cert, key: options.key });
  const accepted: Transport[] = [];
  const waiting: { resolve(conn: Transport): void; reject(error: Error): void }[] = [];
  let closed = false;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const conn = new TlsTransport(socket, context);
    const next = waiting.shift();
    if (next) next.resolve(conn);
    else accepted.push(conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listen = { port: options.port, host: options.hostname, reusePort: options.reusePort };
    server.listen(listen as net.ListenOptions, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Errors of the listening socket after start (the accept loop retries on its own).
  server.on("error", () => {});
  const address = server.address() as net.AddressInfo;
  return {
    addr: { transport: "tcp", hostname: address.address, port: address.port },
    accept() {
      if (closed) return Promise.reject(new Deno.errors.BadResource("Listener closed"));
      const conn = accepted.shift();
      if (conn) return Promise.resolve(conn);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const conn of accepted.splice(0)) conn.close();
      for (const next of waiting.splice(0)) {
        next.reject(new Deno.errors.BadResource("Listener closed"));
      }
    },
  };
}

/** One TLS connection over a node socket, read and written like a `Deno.Conn`. */
class TlsTransport implements Transport {
  readonly remoteAddr: Deno.NetAddr;
  readonly #raw: net.Socket;
  readonly #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(raw: net.Socket, context: tls.SecureContext) {
    this.#raw = raw;
    this.remoteAddr = {
      transport: "tcp",
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.byteLength;
      if (this.#buffered >= READ_AHEAD_BYTES) socket.pause();
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      end();
    });
    raw.on("error", () => {}); // reported through the TLS socket
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#buffered -= n;
    if (this.#buffered < READ_AHEAD_BYTES && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#ended) return Promise.reject(this.#error ?? new Deno.errors.BrokenPipe());
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error?: Error | null) => {
        if (error) reject(error);
        else resolve(bytes.length);
      });
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#raw.destroy();
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
