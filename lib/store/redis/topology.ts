/**
 * Which master of a Redis Cluster serves which hash slot, learnt with `CLUSTER SLOTS` from any
 * node that answers, and kept up to date: refreshed on demand (a redirection, a lost
 * connection) and on a timer, quickly while a master is unreachable, so that a failover to a
 * replica is picked up within a second of the cluster completing it.
 *
 * @module
 */

import { createClient } from "redis";
import type { Shard } from "./shard.ts";
import { slotOf, SLOTS } from "./slot.ts";

/** Callbacks of {@linkcode ClusterTopology}. */
export interface TopologyHooks {
  /** Makes the shard of a master found by discovery (`persistent`: keeps trying to connect). */
  makeShard(url: string, persistent: boolean): Promise<Shard>;
  /** The slot map changed; `removed` are masters that serve no slot any more. */
  changed(removed: Shard[]): void;
  /** A discovery round failed (it is retried). */
  failed(detail: string): void;
}

type SlotsReply = [number, number, [string, number, ...unknown[]], ...[string, number][]][];

const FAST_REFRESH_MS = 500;
const SLOW_REFRESH_MS = 5000;
const REPORT_EVERY_MS = 10_000;

/** The slot map of one cluster. Create with {@linkcode ClusterTopology.open}. */
export class ClusterTopology {
  readonly #seed: URL;
  readonly #hooks: TopologyHooks;
  #slots: (Shard | undefined)[] = new Array(SLOTS);
  readonly #masters = new Map<string, Shard>();
  /** Addresses to ask when no master answers: the seed and every node seen. */
  readonly #known = new Set<string>();
  #refreshing: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When a failed round was last reported (at most one report per interval). */
  #reported = 0;
  #closed = false;

  private constructor(seed: URL, hooks: TopologyHooks) {
    this.#seed = seed;
    this.#hooks = hooks;
    this.#known.add(seed.host);
  }

  /** Discovers the cluster through the seed URL; rejects when it cannot be reached. */
  static async open(url: string, hooks: TopologyHooks): Promise<ClusterTopology> {
    const topology = new ClusterTopology(new URL(url), hooks);
    const reply = await topology.#ask();
    if (!reply) throw new Error(`No Redis Cluster node answered at ${url}`);
    try {
      await topology.#apply(reply, false);
    } catch (error) {
      topology.close();
      throw error;
    }
    topology.#schedule();
    return topology;
  }

  /** The master serving `key`'s slot. */
  shardFor(key: string): Shard {
    const slot = slotOf(key);
    const shard = this.#slots[slot];
    if (!shard) {
      this.refresh();
      throw new Error(`No Redis Cluster master serves slot ${slot}`);
    }
    return shard;
  }

  /** The masters. */
  get shards(): Shard[] {
    return [...this.#masters.values()];
  }

  /** Whether every slot has a master whose connection is up. */
  get ready(): boolean {
    if (this.#masters.size === 0) return false;
    for (const shard of this.#masters.values()) if (!shard.ready) return false;
    for (let slot = 0; slot < SLOTS; slot++) if (!this.#slots[slot]) return false;
    return true;
  }

  /** Asks the cluster for its slot map now (one round at a time). */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#refreshing ??= (async () => {
      try {
        const reply = await this.#ask();
        if (reply) {
          this.#reported = 0;
          await this.#apply(reply, true);
        } else if (Date.now() - this.#reported > REPORT_EVERY_MS) {
          this.#reported = Date.now();
          this.#hooks.failed("no Redis Cluster node answered CLUSTER SLOTS");
        }
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** Stops refreshing (the link closes the shards). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await this.refresh().catch((error) => this.#hooks.failed(String(error)));
      this.#schedule();
    }, this.ready ? SLOW_REFRESH_MS : FAST_REFRESH_MS);
  }

  /** `CLUSTER SLOTS` from a reachable master, else from any node known. */
  async #ask(): Promise<SlotsReply | null> {
    for (const shard of this.#masters.values()) {
      if (!shard.ready) continue;
      try {
        return await shard.command<SlotsReply>(["CLUSTER", "SLOTS"], "CLUSTER");
      } catch {
        // try the next one
      }
    }
    for (const address of this.#known) {
      if (this.#closed) return null;
      const url = this.#urlOf(address);
      const client = createClient({
        url,
        RESP: 2,
        socket: { connectTimeout: 1000, reconnectStrategy: false },
      });
      client.on("error", () => {});
      try {
        await client.connect();
        return await client.sendCommand<SlotsReply>(["CLUSTER", "SLOTS"]);
      } catch {
        // try the next one
      } finally {
        if (client.isOpen) client.destroy();
      }
    }
    return null;
  }

  async #apply(reply: SlotsReply, persistent: boolean): Promise<void> {
    const slots: (Shard | undefined)[] = new Array(SLOTS);
    const masters = new Map<string, Shard>();
    for (const [from, to, master, ...replicas] of reply) {
      const address = `${master[0] || this.#seed.hostname}:${master[1]}`;
      let shard = masters.get(address) ?? this.#masters.get(address);
      if (!shard) shard = await this.#hooks.makeShard(this.#urlOf(address), persistent);
      masters.set(address, shard);
      this.#known.add(address);
      for (const [host, port] of replicas) {
        this.#known.add(`${host || this.#seed.hostname}:${port}`);
      }
      for (let slot = from; slot <= to; slot++) slots[slot] = shard;
    }
    let changed = masters.size !== this.#masters.size;
    for (let slot = 0; slot < SLOTS && !changed; slot++) {
      changed = slots[slot] !== this.#slots[slot];
    }
    if (!changed) return;
    const removed = [...this.#masters.values()].filter((shard) => !masters.has(shard.name));
    this.#slots = slots;
    this.#masters.clear();
    for (const [address, shard] of masters) this.#masters.set(address, shard);
    this.#hooks.changed(removed);
    for (const shard of removed) shard.destroy();
  }

  #urlOf(address: string): string {
    const url = new URL(this.#seed.href);
    url.host = address;
    return url.href;
  }
}
