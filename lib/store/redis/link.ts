/**
 * A node's link to Redis, standalone or cluster, behind one interface: commands and Lua
 * scripts routed by key (every script touches the one slot of its key), durable writes
 * confirmed by replicas, publishing, and channel subscriptions that come back by themselves
 * after an outage, a failover or a move, on the master that serves their slot by a slot map
 * learnt after the loss, with a callback naming the channels that may have missed messages
 * once they are effective there.
 *
 * Standalone: one {@linkcode Shard}, `PUBLISH`/`SUBSCRIBE`. Cluster: one shard per master,
 * sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE` on the master of the channel's slot), and a
 * {@linkcode ClusterTopology} that follows failovers.
 *
 * Subscriptions are reconciled on their own besides: after every slot map learnt each wanted
 * channel's placement is compared with it, and every {@linkcode RECONCILE_MS} each shard checks
 * that Redis still holds what it believes subscribed (see {@linkcode Shard.verify}); whatever
 * differs is placed again and reported restored, so that no missed event can leave a channel
 * deaf for longer.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { StoreStatus } from "../contract/store.ts";
import { READ_BATCH, ReadBatcher } from "./read_batch.ts";
import { type Observer, Shard, type ShardEvents } from "./shard.ts";
import { Subscriptions } from "./subscriptions.ts";
import { ClusterTopology } from "./topology.ts";

/**
 * A Lua script. Its source may call `redis.call(PUB, channel, payload)`: `PUB` is `PUBLISH`
 * on a standalone server and `SPUBLISH` in a cluster.
 */
export interface Script {
  readonly name: string;
  readonly source: string;
}

/** Options of {@linkcode RedisLink.open}. */
export interface LinkOptions {
  /** `redis://host:port` (a seed node of a cluster). */
  url: string;
  cluster: boolean;
  /** Replicas that must confirm each durable write; 0: none. */
  waitReplicas: number;
  observer?: Observer;
  /** Connection events and failures that are being retried. */
  status: (status: StoreStatus) => void;
}

/** How often subscriptions are checked against Redis. */
export const RECONCILE_MS = 5000;

interface Compiled {
  source: string;
  sha: string;
}

/** A node's connections to Redis. Create with {@linkcode RedisLink.open}. */
export class RedisLink {
  readonly cluster: boolean;
  readonly #options: LinkOptions;
  #single: Shard | null = null;
  #topology: ClusterTopology | null = null;
  readonly #subscriptions: Subscriptions;
  readonly #compiled = new Map<Script, Compiled>();
  /** Scripts being loaded, by shard: the calls meanwhile wait for the one `SCRIPT LOAD`. */
  readonly #loading = new WeakMap<Shard, Map<string, Promise<void>>>();
  readonly #reads = new ReadBatcher({
    one: (key, args) => this.#send(key, args, args[0]),
    many: (key, words) => this.eval<unknown[][]>(READ_BATCH, key, words),
  });
  #onMessage: (channel: string, payload: string) => void = () => {};
  #onRestored: (channels: string[]) => void = () => {};
  readonly #onUp: (() => void)[] = [];
  #available = true;
  #reconciler: ReturnType<typeof setInterval> | undefined;
  #opened = false;
  #closed = false;

  private constructor(options: LinkOptions) {
    this.cluster = options.cluster;
    this.#options = options;
    this.#subscriptions = new Subscriptions({
      route: (channel) => this.#shardFor(channel),
      refresh: () => this.#topology?.refresh() ?? Promise.resolve(),
      restored: (channels) => this.#onRestored(channels),
      failed: (detail) => {
        if (/MOVED|ASK|CLUSTERDOWN/.test(detail)) this.#topology?.refresh();
        this.#failed(detail, "subscribe");
      },
    });
  }

  /**
   * Connects. Rejects when Redis cannot be reached.
   *
   * @example
   * ```ts
   * const link = await RedisLink.open({
   *   url: "redis://127.0.0.1:6379",
   *   cluster: false,
   *   waitReplicas: 0,
   *   status: console.log,
   * });
   * await link.command("k", ["GET", "k"]);
   * await link.close();
   * ```
   */
  static async open(options: LinkOptions): Promise<RedisLink> {
    const link = new RedisLink(options);
    const events = link.#shardEvents();
    const make = (url: string, persistent: boolean) =>
      Shard.connect({
        url,
        sharded: options.cluster,
        waitReplicas: options.waitReplicas,
        events,
        observer: options.observer,
      }, !persistent);
    if (options.cluster) {
      link.#topology = await ClusterTopology.open(options.url, {
        makeShard: make,
        changed: (removed) => {
          for (const shard of removed) link.#subscriptions.shardGone(shard);
          link.#subscriptions.recheck();
          link.#checkAvailable();
        },
        refreshed: () => link.#subscriptions.recheck(),
        failed: (detail) => link.#failed(detail, "cluster_slots"),
      });
    } else {
      link.#single = await make(options.url, false);
    }
    link.#opened = true;
    link.#reconciler = setInterval(() => {
      link.#reconcile().catch((error) => link.#failed(errorText(error), "subscribe"));
    }, RECONCILE_MS);
    return link;
  }

  /** Whether every shard answers now. */
  get ready(): boolean {
    if (this.#closed) return false;
    return this.#topology ? this.#topology.ready : this.#single?.ready ?? false;
  }

  /** Names (`host:port`) of the masters. */
  get shardNames(): string[] {
    return this.#shards().map((shard) => shard.name);
  }

  /** The name of the shard serving `key`. */
  shardOf(key: string): string {
    return this.#shardFor(key).name;
  }

  /**
   * Sends a command to the shard serving `key`. Reads of one slot issued in the same turn go
   * as one script call (see `read_batch.ts`).
   */
  command<T>(key: string, args: string[], op = args[0]): Promise<T> {
    const tag = op === args[0] ? ReadBatcher.tagOf(key, args) : null;
    if (tag !== null) return this.#reads.read<T>(tag, key, args);
    return this.#send(key, args, op);
  }

  /** Sends a write that replicas must confirm (see {@linkcode Shard.durable}). */
  durable<T>(key: string, args: string[], op = args[0]): Promise<T> {
    return this.#routed(key, op, (shard, o) => shard.durable<T>(args, o));
  }

  /** Runs a script with `KEYS[1] = key` on the shard serving it; `durable`: replicas confirm. */
  async eval<T>(script: Script, key: string, args: string[], durable = false): Promise<T> {
    const { source, sha } = this.#compile(script);
    const send = durable
      ? (shard: Shard, call: string[]) => shard.durable<T>(call, script.name)
      : (shard: Shard, call: string[]) => shard.command<T>(call, script.name);
    return await this.#routed(key, script.name, async (shard) => {
      if (!shard.scripts.has(sha)) await this.#load(shard, sha, source);
      try {
        return await send(shard, ["EVALSHA", sha, "1", key, ...args]);
      } catch (error) {
        if (!errorText(error).startsWith("NOSCRIPT")) throw error;
        shard.scripts.delete(sha);
        return await send(shard, ["EVAL", source, "1", key, ...args]);
      }
    });
  }

  /** Publishes on a channel (sharded in a cluster). */
  async publish(channel: string, payload: string): Promise<void> {
    await this.command(channel, [this.cluster ? "SPUBLISH" : "PUBLISH", channel, payload]);
  }

  /** Subscribes; resolves once effective (failed channels are retried in the background). */
  subscribe(channels: readonly string[]): Promise<void> {
    return this.#subscriptions.add(channels);
  }

  /** Unsubscribes. */
  unsubscribe(channels: readonly string[]): Promise<void> {
    return this.#subscriptions.remove(channels);
  }

  /** How many channels are wanted. */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  /** Effective subscriptions by shard name. */
  subscriptionsByShard(): Map<string, number> {
    return this.#subscriptions.perShard();
  }

  /**
   * Tells the restored-listener that every channel may have missed messages (each once it is
   * effective).
   */
  restoreAll(): void {
    this.#subscriptions.restoreAll();
  }

  /** Sets the receiver of messages on subscribed channels. */
  onMessage(listener: (channel: string, payload: string) => void): void {
    this.#onMessage = listener;
  }

  /** Sets the receiver of channels that are effective again after a loss. */
  onRestored(listener: (channels: string[]) => void): void {
    this.#onRestored = listener;
  }

  /** Adds a callback for when Redis answers again after an outage. */
  onUp(listener: () => void): void {
    this.#onUp.push(listener);
  }

  /** Sends a command to every master. */
  everyShard<T>(args: string[], op = args[0]): Promise<T[]> {
    return Promise.all(this.#shards().map((shard) => shard.command<T>(args, op)));
  }

  /** Keys matching `pattern` on the shard serving `key`, in batches (`SCAN`). */
  async *scan(key: string, pattern: string, count = 1000): AsyncGenerator<string[]> {
    let cursor = "0";
    do {
      const [next, keys] = await this.command<[string, string[]]>(key, [
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        String(count),
      ]);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== "0");
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#reconciler);
    this.#subscriptions.close();
    this.#topology?.close();
    await Promise.all(this.#shards().map((shard) => shard.close()));
  }

  #load(shard: Shard, sha: string, source: string): Promise<void> {
    let loading = this.#loading.get(shard);
    if (!loading) this.#loading.set(shard, loading = new Map());
    let load = loading.get(sha);
    if (!load) {
      load = shard.command(["SCRIPT", "LOAD", source], "SCRIPT").then(() => {
        shard.scripts.add(sha);
      }).finally(() => loading.delete(sha));
      loading.set(sha, load);
    }
    return load;
  }

  #send<T>(key: string, args: string[], op: string): Promise<T> {
    return this.#routed(key, op, (shard, o) => shard.command<T>(args, o));
  }

  #shards(): Shard[] {
    if (this.#topology) return this.#topology.shards;
    return this.#single ? [this.#single] : [];
  }

  #shardFor(key: string): Shard {
    return this.#topology ? this.#topology.shardFor(key) : this.#single!;
  }

  /**
   * Runs `send` on the shard serving `key`. In a cluster a redirection (`MOVED`, or `ASK` and
   * `TRYAGAIN` while a slot migrates, after a short pause) refreshes the slot map and tries
   * again, at most twice; a lost connection makes the map be refreshed in the background.
   */
  async #routed<T>(
    key: string,
    op: string,
    send: (shard: Shard, op: string) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const shard = this.#shardFor(key);
      try {
        return await send(shard, op);
      } catch (error) {
        const text = errorText(error);
        const topology = this.#topology;
        if (!topology) throw error;
        if (attempt < 2 && /^(MOVED|ASK|TRYAGAIN) /.test(`${text} `)) {
          if (!text.startsWith("MOVED")) await new Promise((resolve) => setTimeout(resolve, 50));
          await topology.refresh();
          continue;
        }
        if (!shard.ready || text.startsWith("CLUSTERDOWN")) topology.refresh();
        throw error;
      }
    }
  }

  /**
   * Checks every shard's subscriptions against Redis (one dropped silently makes it report
   * them lost), then places whatever is not where the slot map says.
   */
  async #reconcile(): Promise<void> {
    if (this.#closed || this.#subscriptions.size === 0) return;
    await Promise.all(
      this.#shards().filter((shard) => shard.channels.size > 0).map(async (shard) => {
        if (!await shard.verify()) {
          this.#failed(
            `${shard.name}: subscriptions dropped unannounced, resubscribing`,
            "subscribe",
          );
        }
      }),
    );
    this.#subscriptions.recheck();
  }

  #compile(script: Script): Compiled {
    let compiled = this.#compiled.get(script);
    if (!compiled) {
      const source = `local PUB = '${this.cluster ? "SPUBLISH" : "PUBLISH"}'\n${script.source}`;
      compiled = { source, sha: createHash("sha1").update(source).digest("hex") };
      this.#compiled.set(script, compiled);
    }
    return compiled;
  }

  #shardEvents(): ShardEvents {
    return {
      down: (_shard, detail) => {
        this.#topology?.refresh();
        this.#checkAvailable(detail);
      },
      up: () => {
        this.#checkAvailable();
        this.#subscriptions.resume();
      },
      message: (channel, payload) => {
        if (this.#subscriptions.wants(channel)) this.#onMessage(channel, payload);
      },
      lost: (_shard, channels) => this.#subscriptions.lost(channels),
    };
  }

  /** Reports `store_down`/`store_up` when availability changes. */
  #checkAvailable(detail = ""): void {
    if (this.#closed || !this.#opened) return;
    const now = this.ready;
    if (now === this.#available) return;
    this.#available = now;
    if (now) {
      this.#options.status({ event: "store_up", detail: "redis" });
      for (const listener of this.#onUp) listener();
    } else {
      this.#options.status({ event: "store_down", detail: detail || "redis" });
    }
  }

  #failed(detail: string, op: string): void {
    if (!this.#closed) this.#options.status({ event: "store_error", detail, op });
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
