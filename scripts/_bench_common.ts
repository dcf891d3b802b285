/**
 * Server-independent parts of the load generator: send stamps, the delivery sink with its
 * measurement windows, and small async helpers. The imchat client (`_bench_client.ts`) and
 * the IRC driver (`_bench_irc.ts`) both report into a {@linkcode DeliverySink}.
 *
 * @module
 */

import { Histogram } from "./_bench_stats.ts";

/** Milliseconds since the Unix epoch with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The text a timed message carries: `b:` and its send time in epoch milliseconds.
 *
 * @example
 * ```ts
 * stampText(1700000000123.25); // "b:1700000000123.250"
 * ```
 */
export function stampText(sendMs: number): string {
  return `b:${sendMs.toFixed(3)}`;
}

/**
 * The send time in `b[from, to)` when it holds a {@linkcode stampText} text, else -1.
 * Digits are not validated: the byte-scanning receivers cross-check against a slow parse.
 *
 * @example
 * ```ts
 * const b = new TextEncoder().encode("b:12.5");
 * parseStamp(b, 0, b.length); // 12.5
 * ```
 */
export function parseStamp(b: Uint8Array, from: number, to: number): number {
  if (to - from < 3 || b[from] !== 0x62 || b[from + 1] !== 0x3a) return -1;
  let v = 0;
  let scale = 0;
  for (let k = from + 2; k < to; k++) {
    const d = b[k];
    if (d === 0x2e) {
      scale = 1;
    } else {
      v = v * 10 + (d - 48);
      if (scale) scale *= 10;
    }
  }
  return scale ? v / scale : v;
}

/** Deliveries whose send time falls in [from, until), with their latencies. */
export interface Window {
  name: string;
  from: number;
  until: number;
  /** Sends accepted by the server whose send time falls in the window. */
  sent: number;
  /** Deliveries of those sends. */
  count: number;
  hist: Histogram;
}

/** Where receivers report deliveries. One per scenario. */
export class DeliverySink {
  readonly windows: Window[] = [];
  /** Every message received (timed or not). */
  total = 0;
  /** Bytes the receivers read (every byte on their connections), and in how many reads. */
  bytes = 0;
  reads = 0;
  /** Timed deliveries outside every window (warm-up, or after a window closed). */
  outside = 0;
  /** Backlog (`away`) messages. */
  away = 0;
  /** Messages without a `b:` timestamp. */
  untimed = 0;
  /** Cross-checks of byte-scanned messages against a full parse, and how many disagreed. */
  checked = 0;
  mismatches = 0;
  /** Called by a receiver after a read that brought at least one message. */
  onRead: (() => void) | null = null;
  #counter = 0;

  /** Opens a window collecting deliveries of messages sent from `from` on. */
  open(name: string, from: number, until = Infinity): Window {
    const w: Window = { name, from, until, sent: 0, count: 0, hist: new Histogram() };
    this.windows.push(w);
    return w;
  }

  /** Counts one timed delivery in the window of its send time. */
  record(sendMs: number, recvMs: number): void {
    const ws = this.windows;
    for (let i = ws.length - 1; i >= 0; i--) {
      const w = ws[i];
      if (sendMs >= w.from && sendMs < w.until) {
        w.count++;
        w.hist.record((recvMs - sendMs) * 1000);
        return;
      }
    }
    this.outside++;
  }

  /** Counts an accepted send in its window. */
  countSent(sendMs: number): void {
    const ws = this.windows;
    for (let i = ws.length - 1; i >= 0; i--) {
      if (sendMs >= ws[i].from && sendMs < ws[i].until) {
        ws[i].sent++;
        return;
      }
    }
  }

  /** True on every 100th message: the caller cross-checks it with a full parse. */
  sample(): boolean {
    return ++this.#counter % 100 === 0;
  }
}

/** A sink that discards (for connections whose deliveries are not measured). */
export const NULL_SINK = new DeliverySink();

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what timed out` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; stops at `deadline`. */
export async function pool(
  count: number,
  concurrency: number,
  deadline: number,
  task: (i: number) => Promise<void>,
): Promise<{ done: number; failed: number; errors: Map<string, number> }> {
  let next = 0;
  let done = 0;
  let failed = 0;
  const errors = new Map<string, number>();
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try {
        await task(i);
        done++;
      } catch (error) {
        failed++;
        const key = error instanceof Error ? error.message.slice(0, 80) : String(error);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { done, failed, errors };
}

/**
 * Calls `issue()` `rate` times per second from now until stopped, without catching up after
 * a stall (ticks are at least ~1 ms apart, so several sends may share one tick). Returns the
 * stop function.
 */
export function pace(rate: number, issue: () => void): () => void {
  const start = nowMs();
  let slots = 0;
  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    if (!running) return;
    const now = nowMs();
    const due = Math.floor(((now - start) * rate) / 1000) + 1;
    // After a long stall, skip the slots that are more than 50 ms late.
    const floor = due - Math.max(1, Math.ceil(rate / 20));
    if (slots < floor) slots = floor;
    while (slots < due && running) {
      slots++;
      issue();
    }
    timer = setTimeout(tick, Math.max(0, start + (slots * 1000) / rate - nowMs()));
  };
  tick();
  return () => {
    running = false;
    clearTimeout(timer);
  };
}
