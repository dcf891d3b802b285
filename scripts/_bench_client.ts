/**
 * A raw protocol-2 client for the load generator, built to absorb about a million `message`
 * frames per second on one core: one `read()` loop per connection into a reusable buffer,
 * length headers walked in place, and `message` frames picked apart by byte scanning instead
 * of `JSON.parse`. Everything else (replies, rooms, roster, presence, backlog...) is rare and
 * is parsed as JSON.
 *
 * The server encodes a message event as
 * `{"type":"message","msg":{"stream":"#room","seq":N,"ts":T,"from":"..","nick":"..",
 * "text":".."[,"to":".."][,"action":true]}[,"backlog":true]}`. The layout is verified
 * against `JSON.parse` on the first message of every connection and on every 100th message
 * afterwards; a mismatch switches all connections to parsing every frame as JSON.
 *
 * Each connection keeps, per stream, the highest `seq` it got and acknowledges it
 * (`{"type":"ack","stream":..,"upTo":..}`) when {@linkcode BenchConn.flushAck} is called
 * (every 100 ms by the scenarios). Stream names are compared as bytes against the streams
 * the connection already knows, so a delivery allocates nothing.
 *
 * Three links carry the bytes: Deno TCP (`Deno.connect`), node:net TCP when the connection
 * must come from a chosen local address (`Deno.connect` has no such option; node:net's
 * `localAddress` binds before connecting), and WebSocket (`/ws`, one payload per text
 * message).
 *
 * A message text `b:<epoch ms with fraction>` carries its send time; the receive time is
 * taken once per read (every frame of that read shares it) and every delivery is timed.
 *
 * @module
 */

import net from "node:net";
import { type DeliverySink, NULL_SINK, parseStamp, withTimeout } from "./_bench_common.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `{"type":"message","msg":{"stream":"` */
const MESSAGE_PREFIX = encoder.encode('{"type":"message","msg":{"stream":"');
const STREAM_AT = MESSAGE_PREFIX.length;
/** `"text":"` */
const TEXT_KEY = encoder.encode('"text":"');
/** Largest frame the reader accepts. */
const MAX_FRAME = 16 * 1024 * 1024;

/** Encodes one TCP frame (length header and JSON payload). */
export function frameOf(message: object): Uint8Array {
  return frameOfJson(JSON.stringify(message));
}

function frameOfJson(text: string): Uint8Array {
  const json = encoder.encode(text);
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

/** What a connection does with the payloads of its frames. */
interface PayloadHandler {
  /** The payload `b[s, e)`, received at `recvMs`; the bytes are valid during the call only. */
  payload(b: Uint8Array, s: number, e: number, recvMs: number): void;
}

/**
 * Cuts a TCP byte stream into frame payloads in one reusable buffer that the caller reads
 * into directly (`read(reader.space())`, then `commit(n, recvMs)`), or copies chunks into
 * (`push`). The buffer grows when one frame does not fit.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * const reader = new FrameReader(16, {
 *   payload: (b, s, e) => seen.push(new TextDecoder().decode(b.subarray(s, e))),
 * });
 * reader.push(frameOf({ type: "ping" }), 0); // seen: ['{"type":"ping"}']
 * ```
 */
export class FrameReader {
  #buf: Uint8Array;
  #fill = 0;
  readonly #handler: PayloadHandler;

  constructor(bufferBytes: number, handler: PayloadHandler) {
    this.#buf = new Uint8Array(Math.max(16, bufferBytes));
    this.#handler = handler;
  }

  /** Where the next read goes (never empty). */
  space(): Uint8Array {
    return this.#buf.subarray(this.#fill);
  }

  /** Copies `chunk` in and hands over every complete frame. */
  push(chunk: Uint8Array, recvMs: number): void {
    let at = 0;
    while (at < chunk.length) {
      const space = this.space();
      const n = Math.min(space.length, chunk.length - at);
      space.set(chunk.subarray(at, at + n));
      this.commit(n, recvMs);
      at += n;
    }
  }

  /** Takes `n` bytes just written into {@linkcode space}; hands over every complete frame. */
  commit(n: number, recvMs: number): void {
    let buf = this.#buf;
    const fill = this.#fill + n;
    let pos = 0;
    while (fill - pos >= 4) {
      const len = ((buf[pos] << 24) >>> 0) + (buf[pos + 1] << 16) + (buf[pos + 2] << 8) +
        buf[pos + 3];
      if (fill - pos - 4 < len) break;
      this.#handler.payload(buf, pos + 4, pos + 4 + len, recvMs);
      pos += 4 + len;
    }
    if (pos > 0 && pos < fill) buf.copyWithin(0, pos, fill);
    this.#fill = fill - pos;
    if (this.#fill >= 4) {
      const len = ((buf[0] << 24) >>> 0) + (buf[1] << 16) + (buf[2] << 8) + buf[3];
      if (len > MAX_FRAME) throw new RangeError(`Cannot read frame: length ${len} too large`);
      if (len + 4 > buf.length) {
        const bigger = new Uint8Array(len + 4);
        bigger.set(buf.subarray(0, this.#fill));
        this.#buf = buf = bigger;
      }
    } else if (this.#fill === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      this.#buf = bigger;
    }
  }
}

/** How a connection reaches the server. */
export type Transport = "tcp" | "ws";

/** Options of {@linkcode BenchConn.open}. */
export interface OpenOptions {
  host: string;
  port: number;
  /** `ws`: a WebSocket to `ws://host:port/ws` (`port` is the HTTP port). Default `tcp`. */
  transport?: Transport;
  /** Local address to connect from (TCP only; uses node:net). */
  localAddress?: string;
  /** Initial read buffer (grows for larger frames). */
  bufferBytes?: number;
  timeoutMs?: number;
}

/** The byte link under a connection. */
interface Link {
  /** Writes one protocol message (its JSON text). */
  send(json: string): void;
  close(): void;
}

/** One stream a connection received messages of. */
interface StreamPos {
  bytes: Uint8Array;
  name: string;
  max: number;
  acked: number;
}

/** Resolves when `promise` does, or with null after `ms` (the connect is then abandoned). */
async function timed<T>(promise: Promise<T>, ms: number, onLate: (v: T) => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let late = false;
  const out = await Promise.race([
    promise,
    new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms)),
  ]).finally(() => clearTimeout(timer));
  if (out === null) {
    late = true;
    promise.then((v) => late && onLate(v), () => {});
    throw new Error(`connect timed out after ${ms} ms`);
  }
  return out as T;
}

/** One raw connection. */
export class BenchConn {
  #link: Link | null = null;
  readonly #reader: FrameReader;
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
  readonly #streams: StreamPos[] = [];
  readonly #framing: boolean;
  /** Message frames received. */
  received = 0;
  /** Frames of every type received. */
  frames = 0;
  /** Where deliveries are counted. */
  sink: DeliverySink = NULL_SINK;
  /** Called for events other than messages and replies. */
  onEvent: ((event: Record<string, unknown>) => void) | null = null;
  /** Settles when the connection is closed. */
  readonly closed: Promise<void>;
  #settle!: () => void;
  /** Why it closed, when not by us. */
  closeReason: string | null = null;

  private constructor(bufferBytes: number, framing: boolean) {
    this.#framing = framing;
    this.#reader = new FrameReader(bufferBytes, {
      payload: (b, s, e, recvMs) => this.#payload(b, s, e, recvMs),
    });
    this.closed = new Promise((resolve) => this.#settle = resolve);
  }

  /** Connects (no hello yet). */
  static async open(options: OpenOptions): Promise<BenchConn> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const bufferBytes = options.bufferBytes ?? 65536;
    if (options.transport === "ws") {
      const conn = new BenchConn(bufferBytes, false);
      await conn.#openWs(options.host, options.port, timeoutMs);
      return conn;
    }
    const conn = new BenchConn(bufferBytes, true);
    if (options.localAddress) {
      await conn.#openNode(options.host, options.port, options.localAddress, timeoutMs);
    } else {
      const tcp = await timed(
        Deno.connect({ hostname: options.host, port: options.port }),
        timeoutMs,
        (c) => c.close(),
      );
      tcp.setNoDelay(true);
      conn.#link = {
        send: (json) => conn.#queue(frameOfJson(json)),
        close: () => tcp.close(),
      };
      conn.#tcpWriter = tcp;
      conn.#tcpLoop(tcp);
    }
    return conn;
  }

  #tcpWriter: Deno.TcpConn | null = null;

  async #tcpLoop(tcp: Deno.TcpConn): Promise<void> {
    try {
      for (;;) {
        const n = await tcp.read(this.#reader.space());
        if (n === null) {
          this.closeReason ??= "closed by server";
          break;
        }
        this.#chunk(n, null);
      }
    } catch (error) {
      if (!this.#closed) {
        this.closeReason ??= `read failed: ${error instanceof Error ? error.message : error}`;
      }
    } finally {
      this.#finish();
    }
  }

  #openNode(host: string, port: number, localAddress: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, localAddress, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect from ${localAddress} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        this.#link = {
          send: (json) => socket.write(frameOfJson(json)),
          close: () => socket.destroy(),
        };
        resolve();
      });
      socket.on("data", (chunk: Uint8Array) => this.#chunk(0, chunk));
      socket.on("error", (error: Error) => {
        clearTimeout(timer);
        this.closeReason ??= `socket error: ${error.message}`;
        reject(error);
      });
      socket.on("close", () => {
        this.closeReason ??= "closed by server";
        this.#finish();
      });
    });
  }

  #openWs(host: string, port: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${host}:${port}/ws`);
      let buf = new Uint8Array(4096);
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error(`WebSocket to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        this.#link = {
          send: (json) => ws.send(json),
          close: () => ws.close(),
        };
        resolve();
      };
      ws.onmessage = (event) => {
        const text = typeof event.data === "string" ? event.data : "";
        if (text.length * 3 > buf.length) buf = new Uint8Array(text.length * 3 + 1024);
        const { written } = encoder.encodeInto(text, buf);
        const recvMs = performance.timeOrigin + performance.now();
        const sink = this.sink;
        sink.bytes += written;
        sink.reads++;
        const before = this.received;
        this.#payload(buf, 0, written, recvMs);
        if (this.received > before) sink.onRead?.();
      };
      ws.onerror = () => {
        clearTimeout(timer);
        this.closeReason ??= "WebSocket error";
        reject(new Error(`WebSocket to ${host}:${port} failed`));
      };
      ws.onclose = () => {
        this.closeReason ??= "closed by server";
        this.#finish();
      };
    });
  }

  /** `n` bytes read into the reader's space, or a `chunk` to copy in. */
  #chunk(n: number, chunk: Uint8Array | null): void {
    const recvMs = performance.timeOrigin + performance.now();
    const sink = this.sink;
    sink.bytes += chunk ? chunk.length : n;
    sink.reads++;
    const before = this.received;
    try {
      if (chunk) this.#reader.push(chunk, recvMs);
      else this.#reader.commit(n, recvMs);
    } catch (error) {
      this.closeReason ??= `bad input: ${error instanceof Error ? error.message : error}`;
      this.close();
    }
    if (this.received > before) sink.onRead?.();
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Pending requests. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Highest position received per stream. */
  positions(): Record<string, number> {
    return Object.fromEntries(this.#streams.map((p) => [p.name, p.max]));
  }

  /** Sends a request; resolves with its `ok` reply, rejects with {@linkcode ReplyError}. */
  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#link!.send(JSON.stringify({ ...message, id }));
    });
  }

  /** Sends a notice (no reply). */
  notify(message: Record<string, unknown>): void {
    if (!this.#closed) this.#link!.send(JSON.stringify(message));
  }

  /** Resolves with the next event of `type` (register before it can arrive). */
  nextEvent(type: string): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ type, resolve, reject }));
  }

  /** Sends one cumulative ack per stream that got messages since its last ack. */
  flushAck(): void {
    if (this.#closed) return;
    for (const p of this.#streams) {
      if (p.max > p.acked) {
        p.acked = p.max;
        this.notify({ type: "ack", stream: p.name, upTo: p.max });
      }
    }
  }

  /** Closes the connection; pending requests fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#link?.close();
    } catch {
      // already closed
    }
    if (!this.#tcpWriter) this.#finish();
  }

  #finish(): void {
    this.#closed = true;
    try {
      this.#link?.close();
    } catch {
      // already closed
    }
    const gone = new Error(`connection closed (${this.closeReason ?? "by the bench"})`);
    for (const p of this.#pending.values()) p.reject(gone);
    this.#pending.clear();
    for (const w of this.#waiters.splice(0)) w.reject(gone);
    this.#settle();
  }

  #queue(bytes: Uint8Array): void {
    this.#out.push(bytes);
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #flush(): Promise<void> {
    const tcp = this.#tcpWriter!;
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
          offset += await tcp.write(offset === 0 ? data : data.subarray(offset));
        }
      }
    } catch (error) {
      this.closeReason ??= `write failed: ${error instanceof Error ? error.message : error}`;
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  /** Handles the payload in `b[s..e)`. */
  #payload(b: Uint8Array, s: number, e: number, recvMs: number): void {
    this.frames++;
    if (fastPath && e - s > STREAM_AT + 40 && b[s + 9] === 0x6d && b[s + 26] === 0x73) {
      let k = 0;
      while (k < STREAM_AT && b[s + k] === MESSAGE_PREFIX[k]) k++;
      if (k === STREAM_AT && this.#fast(b, s, e, recvMs)) return;
    }
    this.#slow(b, s, e, recvMs);
  }

  /** Byte-scans a message frame; false when it must be parsed as JSON instead. */
  #fast(b: Uint8Array, s: number, e: number, recvMs: number): boolean {
    if (!this.#verified) {
      this.#verified = true;
      if (!this.#verify(b, s, e)) return false;
    }
    const from = s + STREAM_AT;
    let i = from;
    while (i < e && b[i] !== 0x22) i++;
    const stream = this.#stream(b, from, i);
    // `","seq":`
    i += 8;
    let seq = 0;
    let c = b[i];
    while (c >= 48 && c <= 57) {
      seq = seq * 10 + (c - 48);
      c = b[++i];
    }
    if (seq > stream.max) stream.max = seq;
    const sink = this.sink;
    sink.total++;
    this.received++;
    // Live frames end with `}}`, backlog ones with `},"backlog":true}`.
    const backlog = b[e - 2] !== 0x7d;
    let sendMs = -1;
    let t = e - TEXT_KEY.length;
    while (t > i) {
      if (
        b[t] === 0x22 && b[t + 1] === 0x74 && b[t + 2] === 0x65 && b[t + 5] === 0x22 &&
        b[t + 6] === 0x3a && b[t + 7] === 0x22
      ) break;
      t--;
    }
    if (t > i) {
      const start = t + TEXT_KEY.length;
      let end = start;
      while (end < e && b[end] !== 0x22) end++;
      sendMs = parseStamp(b, start, end);
    }
    if (backlog) sink.away++;
    else if (sendMs >= 0) sink.record(sendMs, recvMs);
    else sink.untimed++;
    if (sink.sample()) this.#crossCheck(b, s, e, stream.name, seq, backlog ? -1 : sendMs);
    return true;
  }

  /** The stream whose name is `b[from, to)`, compared as bytes. */
  #stream(b: Uint8Array, from: number, to: number): StreamPos {
    const len = to - from;
    for (const p of this.#streams) {
      const bytes = p.bytes;
      if (bytes.length !== len) continue;
      let k = 0;
      while (k < len && bytes[k] === b[from + k]) k++;
      if (k === len) return p;
    }
    const bytes = b.slice(from, to);
    const p = { bytes, name: decoder.decode(bytes), max: 0, acked: 0 };
    this.#streams.push(p);
    return p;
  }

  /** Checks the first message frame of the connection against JSON. */
  #verify(b: Uint8Array, s: number, e: number): boolean {
    let value;
    try {
      value = JSON.parse(decoder.decode(b.subarray(s, e)));
    } catch {
      return this.#fail("not JSON", b, s, e);
    }
    const keys = Object.keys(value.msg ?? {});
    const head = ["stream", "seq", "ts", "from", "nick", "text"];
    const rest = keys.slice(head.length);
    if (
      keys.slice(0, head.length).join() !== head.join() ||
      !rest.every((k) => k === "to" || k === "action")
    ) return this.#fail(`msg keys ${keys}`, b, s, e);
    const top = Object.keys(value);
    const expected = value.backlog === true ? "type,msg,backlog" : "type,msg";
    if (top.join() !== expected) return this.#fail(`keys ${top}`, b, s, e);
    return true;
  }

  #fail(why: string, b: Uint8Array, s: number, e: number): boolean {
    fastPath = false;
    fastPathFailure ??= `${why}: ${decoder.decode(b.subarray(s, Math.min(e, s + 300)))}`;
    return false;
  }

  /** Compares a byte-scanned result with JSON.parse of the same frame. */
  #crossCheck(
    b: Uint8Array,
    s: number,
    e: number,
    stream: string,
    seq: number,
    sendMs: number,
  ): void {
    const sink = this.sink;
    sink.checked++;
    try {
      const value = JSON.parse(decoder.decode(b.subarray(s, e)));
      const text: string = value.msg.text;
      const jsonSend = value.backlog !== true && text.startsWith("b:") ? Number(text.slice(2)) : -1;
      if (
        value.msg.stream !== stream || value.msg.seq !== seq || Math.abs(jsonSend - sendMs) > 1e-6
      ) sink.mismatches++;
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
      const msg = value.msg as { stream: string; seq: number; text: string };
      const sink = this.sink;
      sink.total++;
      this.received++;
      const bytes = encoder.encode(msg.stream);
      const p = this.#stream(bytes, 0, bytes.length);
      if (msg.seq > p.max) p.max = msg.seq;
      if (value.backlog === true) sink.away++;
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

/** What the login sequence of one session brought. */
export interface LoginSequence {
  /** The `ok` reply of `login`/`resume`. */
  reply: Record<string, unknown>;
  /** Rooms listed by the `rooms` events. */
  rooms: number;
  /** Users listed by the `roster` events. */
  roster: number;
  /** `messages` of the `backlog` event. */
  backlog: number;
}

/**
 * Runs the login sequence after `request` (a `login` or `resume`): waits for the `ok`, every
 * `rooms` and `roster` event up to the one with `done: true`, and the `backlog` event.
 */
async function loginSequence(
  conn: BenchConn,
  request: Record<string, unknown>,
  timeoutMs: number,
  what: string,
): Promise<LoginSequence> {
  let rooms = 0;
  let roster = 0;
  let rosterDone = false;
  const previous = conn.onEvent;
  conn.onEvent = (event) => {
    if (event.type === "rooms") rooms += (event.rooms as unknown[]).length;
    if (event.type === "roster") {
      roster += (event.users as unknown[]).length;
      if (event.done === true) rosterDone = true;
    }
    previous?.(event);
  };
  try {
    const backlog = conn.nextEvent("backlog");
    backlog.catch(() => {});
    const hello = conn.request({ type: "hello", protocol: 2, client: "imchat-bench" });
    const reply = conn.request(request);
    const [, ok, end] = await withTimeout(Promise.all([hello, reply, backlog]), timeoutMs, what);
    if (!rosterDone) throw new Error(`${what}: backlog before the roster was done`);
    return { reply: ok, rooms, roster, backlog: Number(end.messages) };
  } finally {
    conn.onEvent = previous;
  }
}

/** Says hello and resumes with `token`; resolves after the `backlog` event. */
export function helloResume(
  conn: BenchConn,
  token: string,
  timeoutMs: number,
): Promise<LoginSequence> {
  return loginSequence(conn, { type: "resume", token }, timeoutMs, "hello+resume");
}

/** Says hello and logs in with a password; resolves with the token after `backlog`. */
export async function helloLogin(
  conn: BenchConn,
  name: string,
  password: string,
  timeoutMs: number,
): Promise<string> {
  const seq = await loginSequence(
    conn,
    { type: "login", name, password },
    timeoutMs,
    "hello+login",
  );
  return String(seq.reply.token);
}
