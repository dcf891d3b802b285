/**
 * Synchronous writes to a plain TCP connection on Linux: libc's `send(2)` through Deno's FFI
 * on the connection's own socket, non-blocking, so a write the kernel takes at once costs no
 * async op and no promise. Whatever it does not take (a full socket buffer, an error) is left
 * to the connection's ordinary async `write`, which waits or reports the error, so the bytes
 * stay in order and errors surface as before.
 *
 * Used only where it can be: Linux, `--allow-ffi` granted, glibc's `libc.so.6`, and a
 * connection that exposes its descriptor (Deno's `TcpConn`); anything else (TLS, WebSocket,
 * another system) writes as before.
 *
 * @module
 */

/** `MSG_DONTWAIT | MSG_NOSIGNAL`: never block, no SIGPIPE from a peer that went away. */
const SEND_FLAGS = 0x40 | 0x4000;
/** Most bytes offered to one call (the length and the result pass as 32-bit integers). */
const SEND_MAX = 1 << 30;

const SYMBOLS = {
  // Lengths pass as 32 bits (at most 1 GiB per call, below): a 64-bit parameter given a
  // number, or a 64-bit result, takes FFI's slow path, about 7 times as slow per call.
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;

/** libc's `send`, loaded once; null where it cannot be used. */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null;
  }
  return libc;
}

/** The socket descriptor of a Deno `TcpConn`, or null when it has none to give. */
export function socketFd(conn: object): number | null {
  const key = Object.getOwnPropertySymbols(conn).find((s) => s.description === "Deno.internal.fd");
  const fd = key === undefined ? undefined : (conn as Record<symbol, unknown>)[key];
  return typeof fd === "number" && Number.isInteger(fd) && fd >= 0 ? fd : null;
}

/** Whether {@linkcode sendNow} can be used in this process. */
export function canSendNow(): boolean {
  return loadLibc() !== null;
}

/**
 * Writes what the kernel takes now of `bytes` to socket `fd` and returns how many bytes that
 * was: 0 when it takes nothing or fails (the caller's async write then waits or reports the
 * error), and always 0 where {@linkcode canSendNow} is false.
 *
 * The descriptor must still belong to the connection: stop calling once it is closed, as the
 * number may be reused.
 *
 * @example
 * ```ts
 * const fd = socketFd(conn);
 * const sent = fd === null ? 0 : sendNow(fd, frame);
 * if (sent < frame.length) await conn.write(frame.subarray(sent));
 * ```
 */
export function sendNow(fd: number, bytes: Uint8Array): number {
  const lib = loadLibc();
  if (lib === null || bytes.length === 0) return 0;
  const length = Math.min(bytes.length, SEND_MAX);
  const sent = lib.send(
    fd,
    length === bytes.length ? bytes : bytes.subarray(0, length),
    length,
    SEND_FLAGS,
  );
  return sent > 0 ? sent : 0;
}
