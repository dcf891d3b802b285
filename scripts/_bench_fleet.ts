/**
 * A load generator in several processes, for more connections than one process may hold
 * (the open-files limit is 20,000 per process here). Each member process resumes its share
 * of the accounts from its own loopback source addresses (127.0.0.2, 127.0.0.3, ...:
 * `Deno.connect` cannot choose a local address, so these connections use node:net's
 * `localAddress`), keeps them idle (answering pings), and reports deliveries. The parent
 * drives the members with one JSON line per command on their stdin and reads one JSON line
 * per event from their stdout.
 *
 * Member: `deno run -A scripts/_bench_fleet.ts <config.json>`.
 *
 * @module
 */

import { BenchConn, helloResume } from "./_bench_client.ts";
import { DeliverySink, pool, sleep } from "./_bench_common.ts";
import { manage } from "./_bench_proc.ts";

/** What one member is given. */
export interface MemberConfig {
  host: string;
  port: number;
  /** Local addresses to connect from, round robin. */
  localAddresses: string[];
  tokens: string[];
  /** Resumes in flight. */
  atOnce: number;
  /** No resume starts later than this after `connect`, ms. */
  connectMs: number;
}

/** Events a member writes. */
export type MemberEvent =
  | { ev: "ready"; pid: number }
  | { ev: "progress"; done: number; failed: number; open: number }
  | {
    ev: "connected";
    done: number;
    failed: number;
    errors: Record<string, number>;
    seconds: number;
    /** Why connections that had logged in were closed since, by reason. */
    closed: Record<string, number>;
  }
  | {
    ev: "delivered";
    expected: number;
    got: number;
    /** Latency of the last and the median delivery, ms (from the send stamp). */
    maxMs: number | null;
    p50Ms: number | null;
    open: number;
    closed: Record<string, number>;
  }
  | { ev: "closed" };

/** Commands a member reads. */
export type MemberCommand =
  | { cmd: "connect" }
  | { cmd: "expect"; perConnection: number; timeoutMs: number }
  | { cmd: "close" };

/**
 * The loopback source addresses of member `i` of `members`, `perMember` each, from
 * 127.0.0.2 on.
 *
 * @example
 * ```ts
 * sourceAddresses(1, 2); // ["127.0.0.4", "127.0.0.5"]
 * ```
 */
export function sourceAddresses(i: number, perMember: number): string[] {
  return Array.from({ length: perMember }, (_, k) => {
    const n = 2 + i * perMember + k;
    return `127.0.${Math.floor(n / 256)}.${n % 256}`;
  });
}

/**
 * Splits `count` items into `parts` contiguous ranges of nearly equal size.
 *
 * @example
 * ```ts
 * shares(10, 3); // [[0, 4], [4, 7], [7, 10]]
 * ```
 */
export function shares(count: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < parts; i++) {
    const to = from + Math.floor(count / parts) + (i < count % parts ? 1 : 0);
    out.push([from, to]);
    from = to;
  }
  return out;
}

/** Close reasons of the connections that are closed, by reason. */
function closeReasons(conns: readonly BenchConn[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of conns) {
    if (c.isOpen) continue;
    const key = (c.closeReason ?? "closed").slice(0, 80);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

function emit(event: MemberEvent): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(event) + "\n"));
}

/** Runs one member until `close` or the end of its stdin. */
async function member(config: MemberConfig): Promise<void> {
  const conns: BenchConn[] = [];
  let sink = new DeliverySink();
  sink.open("all", 0);
  emit({ ev: "ready", pid: Deno.pid });
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let rest = "";
  for await (const chunk of lines) {
    rest += chunk;
    const parts = rest.split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      if (!line.trim()) continue;
      const command = JSON.parse(line) as MemberCommand;
      if (command.cmd === "connect") {
        const started = performance.now();
        let failed = 0;
        const ticker = setInterval(() => {
          const open = conns.filter((c) => c.isOpen).length;
          emit({ ev: "progress", done: conns.length, failed, open });
        }, 500);
        const result = await pool(
          config.tokens.length,
          config.atOnce,
          Date.now() + config.connectMs,
          async (i) => {
            const conn = await BenchConn.open({
              host: config.host,
              port: config.port,
              localAddress: config.localAddresses[i % config.localAddresses.length],
              bufferBytes: 512,
              timeoutMs: 30_000,
            });
            try {
              await helloResume(conn, config.tokens[i], 60_000);
            } catch (error) {
              failed++;
              conn.close();
              throw error;
            }
            conn.sink = sink;
            conns.push(conn);
          },
        );
        clearInterval(ticker);
        emit({
          ev: "connected",
          done: result.done,
          failed: result.failed,
          errors: Object.fromEntries(result.errors),
          seconds: (performance.now() - started) / 1000,
          closed: closeReasons(conns),
        });
      } else if (command.cmd === "expect") {
        const open = conns.filter((c) => c.isOpen).length;
        const expected = open * command.perConnection;
        const deadline = Date.now() + command.timeoutMs;
        while (sink.total < expected && Date.now() < deadline) await sleep(5);
        const summary = sink.windows[0]?.hist.summary();
        emit({
          ev: "delivered",
          expected,
          got: sink.total,
          maxMs: summary?.maxMs ?? null,
          p50Ms: summary?.p50Ms ?? null,
          open,
          closed: closeReasons(conns),
        });
        sink = new DeliverySink();
        sink.open("all", 0);
        for (const c of conns) c.sink = sink;
      } else if (command.cmd === "close") {
        for (const c of conns) c.close();
        await sleep(200);
        emit({ ev: "closed" });
        return;
      }
    }
  }
  for (const c of conns) c.close();
}

/** One member process seen from the parent. */
export class FleetMember {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiters: { ev: string; resolve: (e: MemberEvent) => void }[] = [];
  /** The newest progress report. */
  progress = { done: 0, failed: 0, open: 0 };
  readonly pid: number;
  readonly #reading: Promise<void>;
  #exited = false;
  #untrack: () => void = () => {};

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    child.status.then(() => this.#exited = true);
    this.#reading = this.#read();
  }

  /** Starts a member with `config`; resolves once it is ready. */
  static async start(config: MemberConfig): Promise<FleetMember> {
    const file = await Deno.makeTempFile({ prefix: "imchat-fleet-", suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(config));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, file],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const m = new FleetMember(child);
    const untrack = manage(() => m.kill());
    m.#untrack = untrack;
    try {
      await m.next("ready", 30_000);
    } catch (error) {
      await m.kill();
      throw error;
    } finally {
      await Deno.remove(file).catch(() => {});
    }
    return m;
  }

  async #read(): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          if (!line.trim()) continue;
          const event = JSON.parse(line) as MemberEvent;
          if (event.ev === "progress") {
            this.progress = { done: event.done, failed: event.failed, open: event.open };
          }
          const i = this.#waiters.findIndex((w) => w.ev === event.ev);
          if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(event);
        }
      }
    } catch {
      // the member is gone
    }
  }

  /** Sends a command. */
  async send(command: MemberCommand): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }

  /** Resolves with the next event named `ev`, rejects after `ms`. */
  next<E extends MemberEvent["ev"]>(ev: E, ms: number): Promise<Extract<MemberEvent, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const waiter = {
        ev,
        resolve: (e: MemberEvent) => {
          clearTimeout(timer);
          resolve(e as Extract<MemberEvent, { ev: E }>);
        },
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`fleet member ${this.pid}: no "${ev}" within ${ms} ms`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** Asks the member to close its connections and exit; kills it when it does not. */
  async stop(): Promise<void> {
    if (!this.#exited) {
      try {
        await this.send({ cmd: "close" });
        await this.next("closed", 10_000);
      } catch {
        // killed below
      }
    }
    await this.kill();
  }

  /** Kills the member at once. */
  async kill(): Promise<void> {
    this.#untrack();
    try {
      await this.#writer.close();
    } catch {
      // closed
    }
    if (!this.#exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }
    await this.#child.status;
    await Promise.race([this.#reading, sleep(1000)]);
  }
}

if (import.meta.main) {
  const config = JSON.parse(await Deno.readTextFile(Deno.args[0])) as MemberConfig;
  await member(config);
  Deno.exit(0);
}
