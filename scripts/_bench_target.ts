/**
 * What the room scenarios (fan-out, light load) and the idle scenario need from a server
 * under test, so that imchat and a reference peer (ngircd) are driven by the same code with
 * the same rules. Each server's client side implements these interfaces in its own module
 * (`_bench_load.ts` for imchat, `_bench_irc.ts` for IRC).
 *
 * @module
 */

import { type DeliverySink, nowMs, pace, sleep, stampText } from "./_bench_common.ts";

/** Server-side processes whose CPU and memory are measured. */
export interface ServerSide {
  /** Server processes; each counts with its direct children (imchat's hashing workers). */
  nodes: readonly { pid: number }[];
  /** The redis-server processes (one, or the masters of a cluster), counted apart, or null. */
  redis: { pids: readonly number[] } | null;
}

/** A connection that receives the room's messages. */
export interface Receiver {
  readonly isOpen: boolean;
  /** Why it closed, when not by us. */
  readonly closeReason: string | null;
  /** Messages this connection received. */
  readonly received: number;
  /** Settles when the connection is closed. */
  readonly closed: Promise<void>;
  /** Acknowledges what arrived, where the protocol has acknowledgements (none on IRC). */
  flushAck(): void;
  close(): void;
}

/** A connection that sends messages to the room (and receives the other senders'). */
export interface Sender {
  readonly isOpen: boolean;
  readonly closeReason: string | null;
  /**
   * Sends one room message. Resolves when the server accepted it (imchat: its `ok` reply;
   * IRC has no reply, so at once); rejects with an error whose message is a short code.
   */
  send(text: string): Promise<void>;
  /** Acknowledges what arrived, where the protocol has acknowledgements. */
  flushAck(): void;
  close(): void;
}

/** A server under test as the room scenarios see it. */
export interface RoomTarget {
  /** Server processes measured. */
  side: ServerSide;
  /** Whether receivers acknowledge deliveries (every 100 ms); IRC has no acknowledgements. */
  acks: boolean;
  /** Opens `n` receivers in the room, each counting its deliveries into `sink`. */
  openReceivers(
    n: number,
    sink: DeliverySink,
  ): Promise<{ conns: Receiver[]; failed: number; errors: string[] }>;
  /** Opens sender `i` (from 0) in the room. */
  openSender(i: number): Promise<Sender>;
  /** Driver-specific facts for the results, read after a run. */
  info?(): Record<string, unknown>;
}

/** An idle logged-in connection. */
export interface IdleConn {
  readonly isOpen: boolean;
  close(): void;
}

/** A server under test as the idle scenario sees it. */
export interface IdleTarget {
  /** The one server process whose RSS is read. */
  pid: number;
  /** Addresses the connections are spread over, round robin. */
  hosts: string[];
  /** How the pid was verified. */
  pidNote: string;
  /** Most connections to open at once, when the server needs fewer than the bench's. */
  maxConcurrency?: { limit: number; why: string };
  /** Opens connection `i` to `host` and logs it in (imchat: resume; IRC: NICK/USER). */
  openIdle(i: number, host: string): Promise<IdleConn>;
  stop(): Promise<void>;
}

/** Name of receiver `i` (from 0) on every server: `r0000`, `r0001`... */
export function receiverName(i: number): string {
  return `r${String(i).padStart(4, "0")}`;
}

/** Name of sender `i` (from 0) on every server: `sender01`, `sender02`... */
export function senderName(i: number): string {
  return `sender${String(i + 1).padStart(2, "0")}`;
}

/** Loopback destinations of large idle runs (see the idle scenario in `bench.ts`). */
export const SPREAD_HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

/**
 * Senders of room messages under one window counted at the receivers: at most `window`
 * messages per sender worth of deliveries are outstanding (messages issued × open receivers
 * − deliveries ≤ senders × window × open receivers). The rule needs no acknowledgement from
 * the server, so it is the same for every server, and a receiver that stops reading stops
 * the senders within `senders × window` messages.
 *
 * Unpaced (`rate` null), a sender is refilled whenever a receiver's read brings deliveries,
 * round robin over the senders. Paced, `rate` messages per second go out round robin; a slot
 * whose window is full is skipped and counted in {@linkcode missed}.
 */
export class RoomSenders {
  readonly #senders: Sender[];
  readonly #sink: DeliverySink;
  readonly #window: number;
  readonly #rate: number | null;
  #open: number;
  /** Deliveries counted in the sink before the start, and by receivers that closed since. */
  #discount = 0;
  #issued = 0;
  #next = 0;
  #running = false;
  #stopPace: (() => void) | null = null;
  /** Sends the server accepted. */
  ok = 0;
  /** Sends that failed, by error message. */
  errors: Record<string, number> = {};
  #failed = 0;
  /** Paced slots skipped because the window was full. */
  missed = 0;

  constructor(
    senders: Sender[],
    receivers: Receiver[],
    sink: DeliverySink,
    window: number,
    rate: number | null,
  ) {
    this.#senders = senders;
    this.#sink = sink;
    this.#window = window;
    this.#rate = rate;
    this.#open = receivers.filter((r) => r.isOpen).length;
    this.#discount = sink.total;
    for (const r of receivers) {
      if (!r.isOpen) continue;
      r.closed.then(() => {
        this.#open--;
        this.#discount += r.received;
        this.#fill();
      });
    }
  }

  /** Deliveries still to come for the messages issued so far. */
  get outstanding(): number {
    return (this.#issued - this.#failed) * this.#open - (this.#sink.total - this.#discount);
  }

  /** Starts issuing. */
  start(): void {
    this.#running = true;
    if (this.#rate !== null) {
      this.#stopPace = pace(this.#rate, () => {
        if (this.#hasRoom()) this.#issue();
        else this.missed++;
      });
      return;
    }
    this.#sink.onRead = () => this.#fill();
    this.#fill();
  }

  /** Stops issuing; waits up to `ms` for the sends not yet accepted or refused. */
  async stop(ms = 5000): Promise<void> {
    this.#running = false;
    this.#stopPace?.();
    this.#sink.onRead = null;
    const deadline = Date.now() + ms;
    while (this.ok + this.#failed < this.#issued && Date.now() < deadline) await sleep(5);
  }

  #hasRoom(): boolean {
    const open = this.#open;
    return open > 0 && this.outstanding + open <= this.#senders.length * this.#window * open;
  }

  #fill(): void {
    if (this.#rate !== null) return;
    while (this.#running && this.#hasRoom()) {
      if (!this.#issue()) return;
    }
  }

  /** Sends one message from the next open sender; false when none is open. */
  #issue(): boolean {
    const n = this.#senders.length;
    let sender: Sender | null = null;
    for (let k = 0; k < n && sender === null; k++) {
      const candidate = this.#senders[this.#next];
      this.#next = (this.#next + 1) % n;
      if (candidate.isOpen) sender = candidate;
    }
    if (sender === null) return false;
    const sendMs = nowMs();
    this.#issued++;
    sender.send(stampText(sendMs)).then(() => {
      this.ok++;
      this.#sink.countSent(sendMs);
    }, (error) => {
      this.#failed++;
      const key = error instanceof Error ? error.message : String(error);
      this.errors[key] = (this.errors[key] ?? 0) + 1;
      this.#fill();
    });
    return true;
  }
}
