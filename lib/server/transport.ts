/**
 * What the server needs of a connection and of a listener, whether plain TCP (`Deno.listen`)
 * or TLS (`tls_listener.ts`).
 *
 * @module
 */

/** One accepted connection. */
export interface Transport {
  readonly remoteAddr: Deno.Addr;
  /** Reads into `buffer`; null at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves with how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes the connection (its socket too, at once). */
  close(): void;
}

/** Accepts connections until closed. */
export interface TransportListener {
  readonly addr: Deno.Addr;
  /** The next connection; rejects with `Deno.errors.BadResource` once closed. */
  accept(): Promise<Transport>;
  close(): void;
}
