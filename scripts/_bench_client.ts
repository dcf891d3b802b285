/**
 * A raw protocol client for the load generator, built to absorb about a million `message`
 * frames per second on one core: one `read()` loop per connection into a reusable buffer,
 * length headers walked in place, and `message` frames picked apart by byte scanning instead
 * of `JSON.parse`. Everything else (replies, presence, backlog...) is rare and is parsed as
 * JSON.
 *
 * The server encodes a live message as
 * `{"type":"message","msg":{"id":N,"ts":T,"from":"..","nick":"..",["to":"..",]"text":".."}}`
 * (`,"away":true` before the last brace for backlog messages). The layout is verified
 * against `JSON.parse` on the first message of every connection and on every 100th message
 * afterwards; a mismatch switches all connections to parsing every frame as JSON.
 *
 * A message text `b:<epoch ms with fraction>` carries its send time; the receive time is
 * taken once per `read()` (every frame of that read shares it) and every delivery is timed.
 *
 * @module
 */

import { type DeliverySink, NULL_SINK, parseStamp, withTimeout } from "./_bench_common.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `{"type":"message","msg":{"id":` */
const MESSAGE_PREFIX = encoder.encode('{"type":"message","msg":{"id":');
const ID_AT = MESSAGE_PREFIX.length;

/** Encodes one frame. */
export function frameOf(message: object): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(4 + json.length);
  new DataView(frame.buffer).setUint32(0, json.length);
  frame.set(json, 4);
  return frame;
}

/** Whether frames are byte-scanned (true until a layout check fails). */
let fastPath = true;
/** Why the fast path was turned off. */
export let fastPathFailure: string | null = null;

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

/** An error reply. */
export class ReplyError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

/** Options of {@linkcode BenchConn.open}. */
export interface OpenOptions {
  host: string;
  port: number;
  /** Initial read buffer (grows for larger frames). */
  bufferBytes?: number;
  timeoutMs?: number;
}

/** One raw connection. */
export class BenchConn {
  readonly #conn: Deno.TcpConn;
  #buf: Uint8Array;
  #out: Uint8Array[] = [];
  #writing = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #waiters: {
    type: string;
    resolve: (v: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }[] = [];
  #verified = false;
  #closed = false;
  /** Highest message id received; acknowledged by {@linkcode flushAck}. */
  maxId = 0;
  /** Message frames received. */
  received = 0;
  #acked = 0;
  /** Where deliveries are counted. */
  sink: DeliverySink = NULL_SINK;
  /** Called for events other than messages and replies. */
  onEvent: ((event: Record<string, unknown>) => void) | null = null;
  /** Settles when the connection is closed. */
  readonly closed: Promise<void>;
  /** Why it closed, when not by us. */
  closeReason: string | null = null;

  private constructor(conn: Deno.TcpConn, bufferBytes: number) {
    this.#conn = conn;
    this.#buf = new Uint8Array(bufferBytes);
    this.closed = this.#readLoop();
  }

  /** Connects (no hello yet). */
  static async open(options: OpenOptions): Promise<BenchConn> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const connecting = Deno.connect({ hostname: options.host, port: options.port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), timeoutMs)
    );
    const conn = await Promise.race([connecting, timedOut]).finally(() => clearTimeout(timer));
    if (conn === null) {
      connecting.then((c) => c.close(), () => {});
      throw new Error(`connect to ${options.host}:${options.port} timed out`);
    }
    conn.setNoDelay(true);
    return new BenchConn(conn, options.bufferBytes ?? 65536);
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Pending requests. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Sends a request; resolves with its `ok` reply, rejects with {@linkcode ReplyError}. */
  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#write(frameOf({ ...message, id }));
    });
  }

  /** Sends a notice (no reply). */
  notify(message: Record<string, unknown>): void {
    if (!this.#closed) this.#write(frameOf(message));
  }

  /** Resolves with the next event of `type` (register before it can arrive). */
  nextEvent(type: string): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ type, resolve, reject }));
  }

  /** Sends one cumulative ack when messages arrived since the last one. */
  flushAck(): void {
    if (this.maxId > this.#acked && !this.#closed) {
      this.#acked = this.maxId;
      this.notify({ type: "ack", upTo: this.maxId });
    }
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

  #write(bytes: Uint8Array): void {
    this.#out.push(bytes);
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const chunks = this.#out;
        this.#out = [];
        let data: Uint8Array;
        if (chunks.length === 1) {
          data = chunks[0];
        } else {
          let length = 0;
          for (const c of chunks) length += c.length;
          data = new Uint8Array(length);
          let offset = 0;
          for (const c of chunks) {
            data.set(c, offset);
            offset += c.length;
          }
        }
        let offset = 0;
        while (offset < data.length) {
          offset += await this.#conn.write(offset === 0 ? data : data.subarray(offset));
        }
      }
    } catch (error) {
      this.closeReason ??= `write failed: ${error instanceof Error ? error.message : error}`;
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(): Promise<void> {
    let fill = 0;
    try {
      for (;;) {
        let buf = this.#buf;
        const n = await this.#conn.read(fill === 0 ? buf : buf.subarray(fill));
        if (n === null) {
          this.closeReason ??= "closed by server";
          break;
        }
        fill += n;
        const recvMs = performance.timeOrigin + performance.now();
        const sink = this.sink;
        sink.bytes += n;
        sink.reads++;
        const before = this.received;
        let pos = 0;
        while (fill - pos >= 4) {
          const len = ((buf[pos] << 24) >>> 0) + (buf[pos + 1] << 16) + (buf[pos + 2] << 8) +
            buf[pos + 3];
          if (fill - pos - 4 < len) break;
          this.#frame(buf, pos + 4, pos + 4 + len, recvMs);
          pos += 4 + len;
        }
        if (this.received > before) sink.onRead?.();
        if (pos > 0) {
          if (pos < fill) buf.copyWithin(0, pos, fill);
          fill -= pos;
        }
        if (fill >= 4) {
          const len = ((buf[0] << 24) >>> 0) + (buf[1] << 16) + (buf[2] << 8) + buf[3];
          if (len + 4 > buf.length) {
            if (len > 16 * 1024 * 1024) throw new Error(`frame of ${len} bytes`);
            const bigger = new Uint8Array(len + 4);
            bigger.set(buf.subarray(0, fill));
            this.#buf = buf = bigger;
          }
        }
      }
    } catch (error) {
      if (!this.#closed) {
        this.closeReason ??= `read failed: ${error instanceof Error ? error.message : error}`;
      }
    } finally {
      this.close();
      const gone = new Error(`connection closed (${this.closeReason ?? "by the bench"})`);
      for (const p of this.#pending.values()) p.reject(gone);
      this.#pending.clear();
      for (const w of this.#waiters.splice(0)) w.reject(gone);
    }
  }

  /** Handles the payload in `b[s..e)`. */
  #frame(b: Uint8Array, s: number, e: number, recvMs: number): void {
    if (
      fastPath && e - s > ID_AT + 10 && b[s + 9] === 0x6d && b[s + 10] === 0x65 &&
      b[s + 17] === 0x2c && b[s + 2] === 0x74
    ) {
      if (!this.#verified) {
        this.#verified = true;
        if (!this.#verify(b, s, e)) {
          this.#slow(b, s, e, recvMs);
          return;
        }
      }
      const sink = this.sink;
      sink.total++;
      this.received++;
      let i = s + ID_AT;
      let id = 0;
      let c = b[i];
      while (c >= 48 && c <= 57) {
        id = id * 10 + (c - 48);
        c = b[++i];
      }
      if (id > this.maxId) this.maxId = id;
      let sendMs = -1;
      if (b[e - 1] === 0x7d && b[e - 2] === 0x7d && b[e - 3] === 0x22) {
        // Live: the text is the last value; find its opening quote.
        let j = e - 4;
        while (j > i && b[j] !== 0x22) j--;
        sendMs = parseStamp(b, j + 1, e - 3);
        if (sendMs >= 0) sink.record(sendMs, recvMs);
        else sink.untimed++;
      } else {
        sink.away++;
      }
      if (sink.sample()) this.#crossCheck(b, s, e, id, sendMs);
      return;
    }
    this.#slow(b, s, e, recvMs);
  }

  /** Checks the first message frame of the connection byte for byte against JSON. */
  #verify(b: Uint8Array, s: number, e: number): boolean {
    for (let k = 0; k < MESSAGE_PREFIX.length; k++) {
      if (b[s + k] !== MESSAGE_PREFIX[k]) return this.#fail("prefix differs", b, s, e);
    }
    const value = JSON.parse(decoder.decode(b.subarray(s, e)));
    const keys = Object.keys(value.msg ?? {});
    const expected = value.msg?.to === undefined
      ? ["id", "ts", "from", "nick", "text"]
      : ["id", "ts", "from", "nick", "to", "text"];
    if (keys.join() !== expected.join()) return this.#fail(`msg keys ${keys}`, b, s, e);
    const tail = value.away === true ? ["type", "msg", "away"] : ["type", "msg"];
    if (Object.keys(value).join() !== tail.join()) {
      return this.#fail(`keys ${Object.keys(value)}`, b, s, e);
    }
    return true;
  }

  #fail(why: string, b: Uint8Array, s: number, e: number): boolean {
    fastPath = false;
    fastPathFailure ??= `${why}: ${decoder.decode(b.subarray(s, Math.min(e, s + 300)))}`;
    return false;
  }

  /** Compares a byte-scanned result with JSON.parse of the same frame. */
  #crossCheck(b: Uint8Array, s: number, e: number, id: number, sendMs: number): void {
    const sink = this.sink;
    sink.checked++;
    try {
      const value = JSON.parse(decoder.decode(b.subarray(s, e)));
      const text: string = value.msg.text;
      const jsonSend = value.away !== true && text.startsWith("b:") ? Number(text.slice(2)) : -1;
      if (value.msg.id !== id || Math.abs(jsonSend - sendMs) > 1e-6) sink.mismatches++;
    } catch {
      sink.mismatches++;
    }
  }

  /** Any frame as JSON (replies, events, and messages when the fast path is off). */
  #slow(b: Uint8Array, s: number, e: number, recvMs: number): void {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(decoder.decode(b.subarray(s, e)));
    } catch {
      return;
    }
    const type = value.type;
    if (type === "message") {
      const msg = value.msg as { id: number; text: string };
      const sink = this.sink;
      sink.total++;
      this.received++;
      if (msg.id > this.maxId) this.maxId = msg.id;
      if (value.away === true) sink.away++;
      else if (msg.text.startsWith("b:")) sink.record(Number(msg.text.slice(2)), recvMs);
      else sink.untimed++;
      return;
    }
    const re = value.re;
    if ((type === "ok" || type === "error") && typeof re === "number") {
      const p = this.#pending.get(re);
      if (!p) return;
      this.#pending.delete(re);
      if (type === "ok") p.resolve(value);
      else p.reject(new ReplyError(String(value.code), String(value.message)));
      return;
    }
    if (type === "ping") this.notify({ type: "pong" });
    if (type === "error" || type === "shutdown") {
      this.closeReason ??= `${type} ${value.code ?? ""} ${value.message ?? ""}`.trim();
    }
    if (this.#waiters.length > 0) {
      const i = this.#waiters.findIndex((w) => w.type === type);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(value);
    }
    this.onEvent?.(value);
  }
}

/**
 * `since` for every bench login and resume: far above any message id, so no group backlog is
 * replayed. (Not 2^53-1: the Deno KV backend then builds a key range whose start is above its
 * end and answers the login with INTERNAL.)
 */
export const SINCE_NONE = 1e15;

/** Says hello and resumes with `token`; resolves after the `backlog` event. */
export async function helloResume(
  conn: BenchConn,
  token: string,
  timeoutMs: number,
): Promise<void> {
  const backlog = conn.nextEvent("backlog");
  backlog.catch(() => {});
  const hello = conn.request({ type: "hello", protocol: 1, client: "imchat-bench" });
  const resume = conn.request({ type: "resume", token, since: SINCE_NONE });
  await withTimeout(Promise.all([hello, resume, backlog]), timeoutMs, "hello+resume");
}

/** Says hello and logs in with a password; resolves with the token after `backlog`. */
export async function helloLogin(
  conn: BenchConn,
  name: string,
  password: string,
  timeoutMs: number,
): Promise<string> {
  const backlog = conn.nextEvent("backlog");
  backlog.catch(() => {});
  const hello = conn.request({ type: "hello", protocol: 1, client: "imchat-bench" });
  const login = conn.request({
    type: "login",
    name,
    password,
    since: SINCE_NONE,
  });
  const [, reply] = await withTimeout(
    Promise.all([hello, login, backlog]),
    timeoutMs,
    "hello+login",
  );
  return String(reply.token);
}
