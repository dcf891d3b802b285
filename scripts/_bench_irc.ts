/**
 * A small IRC driver for the reference peer of the benchmark (ngircd): registration
 * (NICK/USER), JOIN, PRIVMSG, PING/PONG, and receivers built like the imchat ones: one
 * `read()` loop per connection into a reusable buffer, lines cut in place, and PRIVMSG lines
 * picked apart by byte scanning; every other line is decoded and parsed. Every 100th
 * PRIVMSG is cross-checked against the full parse.
 *
 * A PRIVMSG text `b:<epoch ms with fraction>` carries its send time (the same text the
 * imchat sender sends); the receive time is taken once per `read()`. IRC has no delivery
 * acknowledgements, so receivers send nothing back while they receive.
 *
 * @module
 */

import { type DeliverySink, NULL_SINK, parseStamp, pool, withTimeout } from "./_bench_common.ts";
import { type NgircdProc, type Pinning, spawnNgircd } from "./_bench_proc.ts";
import {
  type IdleConn,
  type IdleTarget,
  type Receiver,
  receiverName,
  type RoomTarget,
  type Sender,
  senderName,
} from "./_bench_target.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Longest line the reader accepts (RFC 1459 says 512 bytes; servers send less). */
export const MAX_LINE = 65536;

/** The channel of the room scenarios. */
export const CHANNEL = "#bench";

/**
 * ngircd listens with a backlog of 10: more connections at once overflow its accept queue,
 * the kernel drops their SYNs and they retry after 1, 3, 7... seconds.
 */
const NGIRCD_BACKLOG = 10;

/** One parsed IRC line. */
export interface IrcMessage {
  /** Source without the leading colon, or null. */
  prefix: string | null;
  /** Command or three-digit numeric, upper case. */
  command: string;
  /** Parameters; a trailing parameter (after ` :`) is the last one, spaces kept. */
  params: string[];
}

/**
 * Parses one IRC line (without its CR LF).
 *
 * @example
 * ```ts
 * parseIrcLine(":a!u@h PRIVMSG #c :hi there");
 * // { prefix: "a!u@h", command: "PRIVMSG", params: ["#c", "hi there"] }
 * ```
 */
export function parseIrcLine(line: string): IrcMessage {
  let rest = line;
  let prefix: string | null = null;
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    prefix = space < 0 ? rest.slice(1) : rest.slice(1, space);
    rest = space < 0 ? "" : rest.slice(space + 1);
  }
  const words: string[] = [];
  let i = 0;
  while (i < rest.length) {
    if (rest[i] === " ") {
      i++;
      continue;
    }
    if (rest[i] === ":" && words.length > 0) {
      words.push(rest.slice(i + 1));
      break;
    }
    const space = rest.indexOf(" ", i);
    const end = space < 0 ? rest.length : space;
    words.push(rest.slice(i, end));
    i = end;
  }
  const command = words.shift();
  if (!command) throw new SyntaxError(`Cannot parse IRC line: no command in "${line}"`);
  return { prefix, command: command.toUpperCase(), params: words };
}

/** What an {@linkcode IrcLineReader} hands its lines to. */
export interface IrcLineHandler {
  /**
   * A PRIVMSG: the line is `b[start, end)`, its text `b[text, end)`. The bytes are only
   * valid during the call.
   */
  privmsg(b: Uint8Array, start: number, text: number, end: number, recvMs: number): void;
  /** Any other line, decoded. */
  line(text: string): void;
}

/**
 * Cuts a byte stream into IRC lines (CR LF, or a bare LF) in one reusable buffer that the
 * caller reads into directly: `read(reader.space())`, then `commit(n, recvMs)`. PRIVMSG lines
 * are recognised by byte comparison and never decoded. The buffer doubles, up to
 * {@linkcode MAX_LINE}, when one line does not fit.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * const reader = new IrcLineReader(64, {
 *   privmsg: (b, _s, t, e) => seen.push(new TextDecoder().decode(b.subarray(t, e))),
 *   line: (text) => seen.push(text),
 * });
 * const bytes = new TextEncoder().encode("PING :x\r\n:a PRIVMSG #c :hi\r\n");
 * reader.space().set(bytes);
 * reader.commit(bytes.length, 0); // seen: ["PING :x", "hi"]
 * ```
 */
export class IrcLineReader {
  #buf: Uint8Array;
  #fill = 0;
  readonly #handler: IrcLineHandler;

  constructor(bufferBytes: number, handler: IrcLineHandler) {
    this.#buf = new Uint8Array(Math.max(16, Math.min(bufferBytes, MAX_LINE)));
    this.#handler = handler;
  }

  /** Where the next read goes (never empty). */
  space(): Uint8Array {
    return this.#buf.subarray(this.#fill);
  }

  /** Takes `n` bytes just written into {@linkcode space}; hands over every complete line. */
  commit(n: number, recvMs: number): void {
    const b = this.#buf;
    const from = this.#fill;
    const fill = from + n;
    let start = 0;
    for (let i = from; i < fill; i++) {
      if (b[i] !== 0x0a) continue;
      const end = i > start && b[i - 1] === 0x0d ? i - 1 : i;
      if (end > start) this.#line(b, start, end, recvMs);
      start = i + 1;
    }
    if (start > 0 && start < fill) b.copyWithin(0, start, fill);
    this.#fill = fill - start;
    if (this.#fill === b.length) {
      if (b.length >= MAX_LINE) {
        throw new RangeError(`Cannot read IRC line: longer than ${MAX_LINE} bytes`);
      }
      const bigger = new Uint8Array(Math.min(b.length * 2, MAX_LINE));
      bigger.set(b);
      this.#buf = bigger;
    }
  }

  #line(b: Uint8Array, s: number, e: number, recvMs: number): void {
    let c = s;
    if (b[c] === 0x3a) {
      while (c < e && b[c] !== 0x20) c++;
      c++;
    }
    // "PRIVMSG "
    if (
      e - c > 8 && b[c] === 0x50 && b[c + 1] === 0x52 && b[c + 2] === 0x49 &&
      b[c + 3] === 0x56 && b[c + 4] === 0x4d && b[c + 5] === 0x53 && b[c + 6] === 0x47 &&
      b[c + 7] === 0x20
    ) {
      let t = c + 8;
      while (t < e && b[t] !== 0x20) t++;
      t++;
      if (t < e && b[t] === 0x3a) t++;
      this.#handler.privmsg(b, s, Math.min(t, e), e, recvMs);
      return;
    }
    this.#handler.line(decoder.decode(b.subarray(s, e)));
  }
}

/** Options of {@linkcode IrcConn.open}. */
export interface IrcOpenOptions {
  host: string;
  port: number;
  /** Initial read buffer (grows for longer lines). */
  bufferBytes?: number;
  timeoutMs?: number;
}

interface ReplyWaiter {
  match: (m: IrcMessage) => boolean;
  resolve: (m: IrcMessage) => void;
  reject: (e: Error) => void;
}

const SENT: Promise<void> = Promise.resolve();

/** One raw IRC client connection: a room receiver, a sender, or an idle session. */
export class IrcConn implements Receiver, Sender, IdleConn {
  readonly #conn: Deno.TcpConn;
  readonly #reader: IrcLineReader;
  #out: Uint8Array[] = [];
  #writing = false;
  #closed = false;
  #waiters: ReplyWaiter[] = [];
  /** Where deliveries are counted. */
  sink: DeliverySink = NULL_SINK;
  /** PRIVMSG lines received. */
  received = 0;
  /** Channel that {@linkcode send} writes to. */
  channel = CHANNEL;
  /** Settles when the connection is closed. */
  readonly closed: Promise<void>;
  /** Why it closed, when not by us. */
  closeReason: string | null = null;

  private constructor(conn: Deno.TcpConn, bufferBytes: number) {
    this.#conn = conn;
    this.#reader = new IrcLineReader(bufferBytes, {
      privmsg: (b, s, t, e, recvMs) => this.#privmsg(b, s, t, e, recvMs),
      line: (text) => this.#other(text),
    });
    this.closed = this.#readLoop();
  }

  /** Connects (not registered yet). */
  static async open(options: IrcOpenOptions): Promise<IrcConn> {
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
    return new IrcConn(conn, options.bufferBytes ?? 65536);
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** Writes raw protocol text (lines with CR LF). */
  raw(text: string): void {
    if (this.#closed) return;
    this.#out.push(encoder.encode(text));
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** Resolves with the next line that `match` accepts (register before it can arrive). */
  nextReply(match: (m: IrcMessage) => boolean): Promise<IrcMessage> {
    if (this.#closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => this.#waiters.push({ match, resolve, reject }));
  }

  /** PRIVMSG to {@linkcode channel}; IRC has no reply, so it resolves at once. */
  send(text: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("closed"));
    this.raw(`PRIVMSG ${this.channel} :${text}\r\n`);
    return SENT;
  }

  /** IRC has no delivery acknowledgements: nothing to send. */
  flushAck(): void {}

  /** Closes the connection; waiting replies fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
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
    try {
      for (;;) {
        const n = await this.#conn.read(this.#reader.space());
        if (n === null) {
          this.closeReason ??= "closed by server";
          break;
        }
        const recvMs = performance.timeOrigin + performance.now();
        const sink = this.sink;
        sink.bytes += n;
        sink.reads++;
        const before = this.received;
        this.#reader.commit(n, recvMs);
        if (this.received > before) sink.onRead?.();
      }
    } catch (error) {
      if (!this.#closed) {
        this.closeReason ??= `read failed: ${error instanceof Error ? error.message : error}`;
      }
    } finally {
      this.close();
      const gone = new Error(`connection closed (${this.closeReason ?? "by the bench"})`);
      for (const w of this.#waiters.splice(0)) w.reject(gone);
    }
  }

  #privmsg(b: Uint8Array, s: number, t: number, e: number, recvMs: number): void {
    const sink = this.sink;
    sink.total++;
    this.received++;
    const sendMs = parseStamp(b, t, e);
    if (sendMs >= 0) sink.record(sendMs, recvMs);
    else sink.untimed++;
    if (sink.sample()) {
      sink.checked++;
      try {
        const m = parseIrcLine(decoder.decode(b.subarray(s, e)));
        const text = m.params[m.params.length - 1] ?? "";
        const slow = m.command === "PRIVMSG" && text.startsWith("b:") ? Number(text.slice(2)) : -1;
        if (Math.abs(slow - sendMs) > 1e-6) sink.mismatches++;
      } catch {
        sink.mismatches++;
      }
    }
  }

  #other(text: string): void {
    let m: IrcMessage;
    try {
      m = parseIrcLine(text);
    } catch {
      return;
    }
    if (m.command === "PING") {
      this.raw(`PONG :${m.params[m.params.length - 1] ?? ""}\r\n`);
      return;
    }
    if (m.command === "ERROR") this.closeReason ??= `ERROR ${m.params.join(" ")}`;
    if (this.#waiters.length > 0) {
      const i = this.#waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(m);
    }
  }
}

/** Whether a line is an error numeric (4xx, 5xx) or ERROR. */
function isError(m: IrcMessage): boolean {
  return m.command === "ERROR" || /^[45]\d\d$/.test(m.command);
}

/**
 * Registers with NICK and USER; resolves at the end of the welcome burst (end of MOTD, or no
 * MOTD), rejects on an error reply.
 */
export async function ircRegister(conn: IrcConn, nick: string, timeoutMs: number): Promise<void> {
  const done = conn.nextReply((m) => m.command === "376" || m.command === "422" || isError(m));
  conn.raw(`NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`);
  const m = await withTimeout(done, timeoutMs, "NICK+USER");
  if (isError(m)) throw new Error(`registration of ${nick} refused: ${m.command} ${m.params}`);
}

/** Joins `channel`; resolves at the end of its NAMES list, rejects on an error reply. */
export async function ircJoin(conn: IrcConn, channel: string, timeoutMs: number): Promise<void> {
  const done = conn.nextReply((m) =>
    (m.command === "366" && m.params[1]?.toLowerCase() === channel.toLowerCase()) || isError(m)
  );
  conn.raw(`JOIN ${channel}\r\n`);
  const m = await withTimeout(done, timeoutMs, "JOIN");
  if (isError(m)) throw new Error(`JOIN ${channel} refused: ${m.command} ${m.params}`);
}

/** Opens, registers as `nick` and joins {@linkcode CHANNEL}; closes again on failure. */
async function member(
  server: NgircdProc,
  nick: string,
  sink: DeliverySink,
): Promise<IrcConn> {
  const conn = await IrcConn.open({ host: server.listen[0], port: server.port });
  try {
    await ircRegister(conn, nick, 15_000);
    await ircJoin(conn, CHANNEL, 15_000);
  } catch (error) {
    conn.close();
    throw error;
  }
  conn.sink = sink;
  return conn;
}

/**
 * ngircd as a room target: receivers and senders (named as on imchat) join
 * {@linkcode CHANNEL}; a message is a PRIVMSG to it.
 */
export function ircRoom(server: NgircdProc): RoomTarget {
  return {
    side: { nodes: [{ pid: server.pid }], redis: null },
    acks: false,
    async openReceivers(n, sink) {
      const conns: Receiver[] = [];
      const res = await pool(n, NGIRCD_BACKLOG, Date.now() + 60_000, async (i) => {
        conns.push(await member(server, receiverName(i), sink));
      });
      return { conns, failed: res.failed, errors: [...res.errors.keys()] };
    },
    openSender: (i) => member(server, senderName(i), NULL_SINK),
  };
}

/**
 * ngircd as an idle target: connection i registers as `i<i>` (NICK/USER) and stays out of
 * channels. With `spread`, ngircd listens on those loopback addresses.
 */
export async function ircIdle(pin: Pinning, spread: string[] | null): Promise<IdleTarget> {
  const hosts = spread ?? ["127.0.0.1"];
  const server = await spawnNgircd(pin.serverCore, hosts);
  return {
    pid: server.pid,
    pidNote: server.pidNote,
    hosts,
    maxConcurrency: {
      limit: NGIRCD_BACKLOG,
      why: `ngircd listens with a backlog of ${NGIRCD_BACKLOG}`,
    },
    async openIdle(i, host) {
      const conn = await IrcConn.open({ host, port: server.port, bufferBytes: 1024 });
      try {
        await ircRegister(conn, `i${i}`, 30_000);
      } catch (error) {
        conn.close();
        throw error;
      }
      return conn;
    },
    stop: () => server.stop(),
  };
}
