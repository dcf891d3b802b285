/**
 * The connections of one node to one Redis server (a standalone server or one cluster master):
 * a command connection, a second one for durable writes when replicas must confirm them
 * (`WAIT` blocks the connection it runs on), and a subscriber connection made on first use.
 * Commands fail at once while a connection is down (no offline queue), and after
 * {@linkcode COMMAND_TIMEOUT_MS} without a reply (a server that stalls); node-redis reconnects
 * the command connections with backoff, and the shard reports each loss and recovery.
 *
 * The subscriber connection does not come back by itself: when it is lost, the shard reports
 * its channels lost and the next subscription opens a new one. node-redis would reconnect to
 * the same address and replay the subscriptions there, but after a failover that address may
 * be a demoted master, or a killed master restarted with its old view of the slots that
 * accepts `SSUBSCRIBE` for a while as their master: a replayed subscription is no proof that
 * the channel is served there. Placing channels again is the link's job, with a slot map
 * learnt after the loss (see `subscriptions.ts`).
 *
 * Redis drops sharded subscriptions by itself when their slot moves, with a `sunsubscribe`
 * push; node-redis reports it only when no command awaits a reply on that connection (else
 * it takes the push for that reply). {@linkcode Shard.verify} finds such a silent drop: Redis
 * can only take subscriptions away, so the connection holding fewer than the shard believes
 * confirmed (`CLIENT LIST`) means some are gone; the connection is then dropped and all its
 * channels reported lost.
 *
 * @module
 */

import { createClient } from "redis";
import { ChatError } from "../../protocol/errors.ts";
import { Deadlines } from "./deadlines.ts";
import { slotOf } from "./slot.ts";

type Client = ReturnType<typeof createClient>;

/** Per-shard latency, for metrics. */
export interface Observer {
  /** One command or script on `shard` took `seconds`. */
  command(shard: string, op: string, seconds: number): void;
}

/** What a shard reports to its link. */
export interface ShardEvents {
  /** The command connection was lost. */
  down(shard: Shard, detail: string): void;
  /** The command connection is ready (first connection, or back after a loss). */
  up(shard: Shard): void;
  /** A message on a subscribed channel. */
  message(channel: string, payload: string): void;
  /**
   * These subscriptions are gone: the subscriber connection was lost, or Redis dropped them
   * (their slot is now served elsewhere).
   */
  lost(shard: Shard, channels: string[]): void;
}

/** Options of a {@linkcode Shard}. */
export interface ShardOptions {
  /** `redis://host:port` (user, password and TLS as in the seed URL). */
  url: string;
  /** Sharded pub/sub (`SSUBSCRIBE`, Redis Cluster) instead of `SUBSCRIBE`. */
  sharded: boolean;
  /** Replicas that must confirm each durable write (`WAIT n 1000`); 0: none. */
  waitReplicas: number;
  events: ShardEvents;
  observer?: Observer;
}

const MAX_BACKOFF_MS = 1000;
/** A command without a reply for this long fails (node-redis' default command timeout). */
export const COMMAND_TIMEOUT_MS = 5000;
/** How often the commands in flight are checked against their deadline. */
const DEADLINE_SWEEP_MS = 1000;
/** How long a count that disagrees may take to agree (a push on its way) before it counts. */
const VERIFY_SETTLE_MS = 250;

interface Durable {
  args: string[];
  op: string;
  started: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}
const WAIT_TIMEOUT_MS = "1000";

/** One Redis server's connections. Create with {@linkcode Shard.connect}. */
export class Shard {
  /** `host:port`, the name used in metrics. */
  readonly name: string;
  readonly #options: ShardOptions;
  readonly #client: Client;
  #writer: Client | null = null;
  #subscriber: Client | null = null;
  #subscriberReady: Promise<Client> | null = null;
  /** The subscriber connection's id on the server (`CLIENT ID`). */
  #subscriberId: string | null = null;
  readonly #subscribed = new Set<string>();
  /** Channels being subscribed (how many calls), and those Redis dropped meanwhile. */
  readonly #subscribing = new Map<string, number>();
  readonly #droppedWhileSubscribing = new Set<string>();
  /** (Un)subscriptions sent and not answered yet, and how many were ever sent. */
  #inFlight = 0;
  #sent = 0;
  /** Durable writes of this event-loop turn, sent together before one `WAIT`. */
  #durables: Durable[] | null = null;
  /** SHA1s of the scripts loaded on this server (forgotten when the connection is lost). */
  readonly scripts = new Set<string>();
  /** Deadlines of the commands in flight (one sweep, instead of a timer per command). */
  readonly #deadlines: Deadlines;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closed = false;
  /** Keep retrying a first connection that fails (a shard found by discovery). */
  readonly #persistent: boolean;
  readonly #listener = (message: string, channel: string) =>
    this.#options.events.message(channel, message);

  private constructor(options: ShardOptions, persistent: boolean) {
    this.#options = options;
    this.#persistent = persistent;
    const url = new URL(options.url);
    this.name = `${url.hostname}:${url.port || "6379"}`;
    this.#deadlines = new Deadlines(COMMAND_TIMEOUT_MS, this.name);
    this.#sweeper = setInterval(() => this.#deadlines.sweep(performance.now()), DEADLINE_SWEEP_MS);
    Deno.unrefTimer(this.#sweeper);
    this.#client = this.#makeClient("commands", true, (down, detail) => {
      if (down) {
        this.scripts.clear();
        options.events.down(this, detail);
      } else {
        options.events.up(this);
      }
    });
  }

  /**
   * Connects the command connection. With `failFast` a first attempt that fails rejects;
   * otherwise it keeps trying in the background and the promise resolves at once.
   */
  static async connect(options: ShardOptions, failFast: boolean): Promise<Shard> {
    const shard = new Shard(options, !failFast);
    const connecting = shard.#client.connect();
    if (!failFast) {
      connecting.catch(() => {});
      return shard;
    }
    try {
      await connecting;
      if (options.waitReplicas > 0) await shard.#writerClient();
    } catch (error) {
      shard.destroy();
      throw error;
    }
    return shard;
  }

  /** Whether the command connection is up. */
  get ready(): boolean {
    return this.#client.isReady;
  }

  /** Channels this shard is subscribed to (confirmed by Redis). */
  get channels(): ReadonlySet<string> {
    return this.#subscribed;
  }

  /** Sends one command; `op` names it in metrics. */
  command<T>(args: string[], op: string): Promise<T> {
    const started = performance.now();
    return this.#deadlines.track(
      this.#client.sendCommand<T>(args),
      started,
      () => this.#observe(op, started),
    );
  }

  /**
   * Sends a write that must be confirmed by `waitReplicas` replicas. The durable writes of
   * one event-loop turn go down one connection back to back, followed by one `WAIT`, which
   * covers them all. Without replicas to wait for it is a plain command.
   *
   * @throws {ChatError} `UNAVAILABLE` when fewer replicas confirmed in time
   */
  durable<T>(args: string[], op: string): Promise<T> {
    if (this.#options.waitReplicas === 0) return this.command<T>(args, op);
    this.#assertReady();
    return new Promise<T>((resolve, reject) => {
      if (!this.#durables) {
        this.#durables = [];
        queueMicrotask(() => this.#flushDurables());
      }
      this.#durables.push({
        args,
        op,
        started: performance.now(),
        resolve: resolve as (value: unknown) => void,
        reject,
      });
    });
  }

  async #flushDurables(): Promise<void> {
    const batch = this.#durables ?? [];
    this.#durables = null;
    const wanted = this.#options.waitReplicas;
    let writer: Client;
    try {
      writer = await this.#writerClient();
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    const sent = performance.now();
    const replies = batch.map((write) =>
      this.#deadlines.track(writer.sendCommand(write.args), sent)
    );
    for (const reply of replies) reply.catch(() => {});
    let confirmed: number | Error;
    try {
      const wait = writer.sendCommand(["WAIT", String(wanted), WAIT_TIMEOUT_MS]);
      confirmed = Number(await this.#deadlines.track(wait, sent));
    } catch (error) {
      confirmed = error instanceof Error ? error : new Error(String(error));
    }
    await Promise.all(batch.map(async (write, i) => {
      try {
        const reply = await replies[i];
        if (confirmed instanceof Error) throw confirmed;
        if (confirmed < wanted) {
          throw new ChatError(
            "UNAVAILABLE",
            `Only ${confirmed} of ${wanted} replicas of ${this.name} confirmed the write`,
          );
        }
        write.resolve(reply);
      } catch (error) {
        write.reject(error);
      } finally {
        this.#observe(write.op, write.started);
      }
    }));
  }

  /**
   * Subscribes to channels; resolves once Redis confirmed. Rejects when a channel's slot left
   * this server before its confirmation was taken in (it is not subscribed then).
   */
  async subscribe(channels: string[]): Promise<void> {
    const fresh = channels.filter((channel) => !this.#subscribed.has(channel));
    if (fresh.length === 0) return;
    this.#assertReady();
    const subscriber = await this.#subscriberClient();
    const down = () => new Error(`The subscriber connection to ${this.name} is down`);
    if (!subscriber.isReady) throw down();
    for (const channel of fresh) {
      this.#subscribing.set(channel, (this.#subscribing.get(channel) ?? 0) + 1);
    }
    // One command per slot: the confirmed ones count even when another one failed.
    const lists = this.#options.sharded ? bySlot(fresh) : [fresh];
    this.#inFlight++;
    this.#sent++;
    const results = await Promise.allSettled(lists.map(async (list) => {
      if (this.#options.sharded) await subscriber.sSubscribe(list, this.#listener);
      else await subscriber.subscribe(list, this.#listener);
    }));
    this.#inFlight--;
    // A moved push read right after a confirmation, before this continuation: that channel
    // is gone again.
    const dropped = fresh.filter((channel) => this.#droppedWhileSubscribing.has(channel));
    for (const channel of fresh) {
      const left = this.#subscribing.get(channel)! - 1;
      if (left > 0) {
        this.#subscribing.set(channel, left);
      } else {
        this.#subscribing.delete(channel);
        this.#droppedWhileSubscribing.delete(channel);
      }
    }
    // Confirmed on a connection that was lost meanwhile: its loss did not report them.
    if (this.#subscriber !== subscriber) throw down();
    results.forEach((result, i) => {
      if (result.status !== "fulfilled") return;
      for (const channel of lists[i]) if (!dropped.includes(channel)) this.#subscribed.add(channel);
    });
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    if (dropped.length > 0) {
      throw new Error(`${dropped.join(", ")} moved away from ${this.name} while subscribing`);
    }
  }

  /** Unsubscribes; channels it is not subscribed to are skipped. */
  async unsubscribe(channels: string[]): Promise<void> {
    const held = channels.filter((channel) => this.#subscribed.has(channel));
    if (held.length === 0 || !this.#subscriber) return;
    for (const channel of held) this.#subscribed.delete(channel);
    const subscriber = this.#subscriber;
    await this.#sending(() =>
      this.#options.sharded
        ? Promise.all(bySlot(held).map((list) => subscriber.sUnsubscribe(list, this.#listener)))
        : subscriber.unsubscribe(held, this.#listener)
    );
  }

  /**
   * Checks that the subscriber connection holds as many subscriptions as this shard believes
   * confirmed; when it holds fewer (Redis dropped some without node-redis reporting it), and
   * still after a moment for a push on its way, drops the connection: its channels are
   * reported lost. Resolves false when it did, true otherwise (also when it could not tell:
   * (un)subscriptions under way, or the command connection down).
   */
  async verify(): Promise<boolean> {
    for (let attempt = 0;; attempt++) {
      const subscriber = this.#subscriber;
      const id = this.#subscriberId;
      const sent = this.#sent;
      if (!subscriber || id === null || this.#inFlight > 0 || !this.#client.isReady) return true;
      let line: string;
      try {
        line = String(await this.command(["CLIENT", "LIST", "ID", id], "CLIENT"));
      } catch {
        return true;
      }
      // Anything sent or lost meanwhile makes the count meaningless: next time.
      if (this.#subscriber !== subscriber || this.#sent !== sent || this.#inFlight > 0) {
        return true;
      }
      const held = subscriptionCount(line, this.#options.sharded);
      if (held === null || held >= this.#subscribed.size) return true;
      if (attempt > 0) {
        this.#dropSubscriber(subscriber);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, VERIFY_SETTLE_MS));
    }
  }

  /** Runs an (un)subscription, counted as under way until it settles. */
  async #sending(send: () => Promise<unknown>): Promise<void> {
    this.#inFlight++;
    this.#sent++;
    try {
      await send();
    } finally {
      this.#inFlight--;
    }
  }

  /** Closes the connections after what was sent is answered. */
  async close(): Promise<void> {
    this.#closed = true;
    const clients = [this.#client, this.#writer, this.#subscriber].filter((c) => c !== null);
    await Promise.allSettled(clients.map((client) => client.isOpen ? client.close() : undefined));
    this.destroy();
  }

  /** Drops the connections at once. */
  destroy(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const client of [this.#client, this.#writer, this.#subscriber]) {
      if (client?.isOpen) client.destroy();
    }
  }

  #assertReady(): void {
    if (!this.#client.isReady) throw new Error(`The connection to ${this.name} is down`);
  }

  #observe(op: string, started: number): void {
    this.#options.observer?.command(this.name, op, (performance.now() - started) / 1000);
  }

  async #writerClient(): Promise<Client> {
    if (this.#writer) return this.#writer;
    const writer = this.#makeClient("durable writes", true, () => {});
    this.#writer = writer;
    try {
      await writer.connect();
    } catch (error) {
      this.#writer = null;
      if (writer.isOpen) writer.destroy();
      throw error;
    }
    return writer;
  }

  /** The subscriber connection, opened on first use and again after a loss. */
  #subscriberClient(): Promise<Client> {
    if (this.#subscriberReady) return this.#subscriberReady;
    const subscriber = this.#makeClient("subscriber", false, (down) => {
      if (down) this.#dropSubscriber(subscriber);
    });
    // A sharded channel's slot left this server (a failover demoted it, or a migration):
    // Redis says so channel by channel; the pushes of one read are reported together.
    let moved: string[] = [];
    subscriber.on("sharded-channel-moved", (channel: string) => {
      if (this.#subscriber !== subscriber) return;
      if (!this.#subscribed.delete(channel)) {
        if (this.#subscribing.has(channel)) this.#droppedWhileSubscribing.add(channel);
        return;
      }
      if (moved.push(channel) > 1) return;
      queueMicrotask(() => {
        const channels = moved;
        moved = [];
        this.#options.events.lost(this, channels);
      });
    });
    this.#subscriber = subscriber;
    this.#subscriberId = null;
    this.#subscriberReady = (async () => {
      try {
        await subscriber.connect();
        // Asked before any subscription: in subscriber mode only (un)subscriptions pass.
        const id = String(
          await this.#deadlines.track(subscriber.sendCommand(["CLIENT", "ID"]), performance.now()),
        );
        if (this.#subscriber === subscriber) this.#subscriberId = id;
        return subscriber as Client;
      } catch (error) {
        if (this.#subscriber === subscriber) {
          this.#subscriber = null;
          this.#subscriberReady = null;
        }
        if (subscriber.isOpen) subscriber.destroy();
        throw error;
      }
    })();
    return this.#subscriberReady;
  }

  /** Forgets the subscriber connection and reports its channels lost. */
  #dropSubscriber(subscriber: Client): void {
    if (this.#subscriber !== subscriber) return;
    this.#subscriber = null;
    this.#subscriberReady = null;
    this.#subscriberId = null;
    if (subscriber.isOpen) subscriber.destroy();
    const lost = [...this.#subscribed];
    this.#subscribed.clear();
    if (lost.length > 0) this.#options.events.lost(this, lost);
  }

  /**
   * A client that reports `change(true)` when it is lost, `change(false)` whenever it is
   * ready. With `reconnect` it reconnects with backoff once it was connected (a first
   * connection that fails ends it, unless the shard is persistent); without, a loss ends it.
   */
  #makeClient(
    role: string,
    reconnect: boolean,
    change: (down: boolean, detail: string) => void,
  ): Client {
    let connected = false;
    let down = false;
    const client = createClient({
      url: this.#options.url,
      RESP: 2,
      disableOfflineQueue: true,
      // No per-command timer: the command connection's deadlines are swept (see above).
      commandOptions: { timeout: 0 },
      socket: {
        connectTimeout: 2000,
        reconnectStrategy: (retries: number, cause: Error) =>
          reconnect && (connected || this.#persistent) && !this.#closed
            ? Math.min(50 * 2 ** Math.min(retries, 5), MAX_BACKOFF_MS)
            : cause,
      },
    }) as Client;
    const lost = (detail: string) => {
      if (!connected || down || this.#closed) return;
      down = true;
      change(true, `${this.name} ${role}: ${detail}`);
    };
    client.on("error", (error: Error) => lost(error.message));
    client.on("reconnecting", () => lost("reconnecting"));
    client.on("ready", () => {
      connected = true;
      down = false;
      if (!this.#closed) change(false, `${this.name} ${role}`);
    });
    return client;
  }
}

/**
 * How many subscriptions a `CLIENT LIST` line shows: shard channels (`ssub=`) when `sharded`,
 * else channels (`sub=`). A client the server does not know (an empty reply) holds none; null
 * when the server does not show the count.
 *
 * @example
 * ```ts
 * subscriptionCount("id=7 addr=127.0.0.1:5000 sub=0 psub=0 ssub=2 cmd=ssubscribe", true); // 2
 * subscriptionCount("", true); // 0
 * subscriptionCount("id=7 addr=127.0.0.1:5000 sub=0 psub=0", true); // null
 * ```
 */
export function subscriptionCount(line: string, sharded: boolean): number | null {
  if (line.trim() === "") return 0;
  const match = new RegExp(`(?:^| )${sharded ? "ssub" : "sub"}=(\\d+)`).exec(line);
  return match ? Number(match[1]) : null;
}

/** Channels grouped by hash slot (a sharded (un)subscribe names channels of one slot). */
function bySlot(channels: string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const channel of channels) {
    const slot = slotOf(channel);
    groups.set(slot, [...groups.get(slot) ?? [], channel]);
  }
  return [...groups.values()];
}
