/**
 * Which master of a Redis Cluster serves which hash slot, learnt with `CLUSTER NODES` from
 * every master that answers (merged by config epoch, see `cluster_view.ts`, so that a restarted
 * master with an old view cannot pass it on), and kept up to date: refreshed on demand (a
 * redirection, a lost connection or subscription) and on a timer, quickly while a master is
 * unreachable, so that a failover to a replica is picked up within a second of the cluster
 * completing it.
 *
 * @module
 */

import { createClient } from "redis";
import { type ClusterView, clusterView, type NodesReply } from "./cluster_view.ts";
import type { Shard } from "./shard.ts";
import { slotOf, SLOTS } from "./slot.ts";

/** Callbacks of {@linkcode ClusterTopology}. */
export interface TopologyHooks {
  /** Makes the shard of a master found by discovery (`persistent`: keeps trying to connect). */
  makeShard(url: string, persistent: boolean): Promise<Shard>;
  /** The slot map changed; `removed` are masters that serve no slot any more. */
  changed(removed: Shard[]): void;
  /** A round learnt the slot map (changed or not): what relies on it may be checked again. */
  refreshed(): void;
  /** A discovery round failed (it is retried). */
  failed(detail: string): void;
}

const FAST_REFRESH_MS = 500;
/** How long a node may take to answer `CLUSTER NODES` before its answer is left out. */
const ASK_TIMEOUT_MS = 1000;
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
  /** The round under way, and the one that will start when it ends. */
  #refreshing: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer's round is due. */
  #due = 0;
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
    const view = await topology.#ask();
    if (!view) throw new Error(`No Redis Cluster node answered at ${url}`);
    try {
      await topology.#apply(view, false);
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

  /**
   * Asks the cluster for its slot map in a round that starts after this call (one round at a
   * time: during a round, callers share the next one), so what it learns is not older than
   * whatever made the caller ask.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#next) return this.#next;
    const running = this.#refreshing;
    if (!running) return this.#round();
    this.#next = running.then(() => {
      this.#next = null;
      return this.#round();
    });
    return this.#next;
  }

  /** Stops refreshing (the link closes the shards). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** Arms the timer: soon while a master is unreachable, else at a slow pace. */
  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    const wait = this.ready ? SLOW_REFRESH_MS : FAST_REFRESH_MS;
    this.#due = Date.now() + wait;
    this.#timer = setTimeout(async () => {
      this.#due = 0;
      await this.refresh().catch((error) => this.#hooks.failed(String(error)));
      this.#schedule();
    }, wait);
  }

  #round(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const round = (async () => {
      try {
        const view = await this.#ask();
        // A master became unreachable since the timer was armed at the slow pace.
        if (!this.ready && this.#due - Date.now() > FAST_REFRESH_MS) this.#schedule();
        if (view) {
          this.#reported = 0;
          await this.#apply(view, true);
          if (!this.#closed) this.#hooks.refreshed();
        } else if (Date.now() - this.#reported > REPORT_EVERY_MS) {
          this.#reported = Date.now();
          this.#hooks.failed("no Redis Cluster node answered CLUSTER NODES");
        }
      } catch (error) {
        this.#hooks.failed(`cluster discovery: ${error instanceof Error ? error.message : error}`);
      }
    })();
    this.#refreshing = round;
    round.finally(() => {
      if (this.#refreshing === round) this.#refreshing = null;
    });
    return round;
  }

  /**
   * The slot map by the `CLUSTER NODES` of every reachable master; when none answers, of the
   * first node known (the seed, or any node seen) that does.
   */
  async #ask(): Promise<ClusterView | null> {
    const asked = await Promise.all(
      [...this.#masters.values()].filter((shard) => shard.ready).map(async (shard) => {
        try {
          const text = await withTimeout(
            shard.command<string>(["CLUSTER", "NODES"], "CLUSTER"),
            ASK_TIMEOUT_MS,
          );
          return { address: shard.name, text: String(text) };
        } catch {
          return null;
        }
      }),
    );
    const replies = asked.filter((reply): reply is NodesReply => reply !== null);
    if (replies.length > 0) return clusterView(replies);
    for (const address of this.#known) {
      if (this.#closed) return null;
      const client = createClient({
        url: this.#urlOf(address),
        RESP: 2,
        socket: { connectTimeout: ASK_TIMEOUT_MS, reconnectStrategy: false },
      });
      client.on("error", () => {});
      try {
        await client.connect();
        const text = await withTimeout(
          client.sendCommand<string>(["CLUSTER", "NODES"]),
          ASK_TIMEOUT_MS,
        );
        return clusterView([{ address, text: String(text) }]);
      } catch {
        // try the next one
      } finally {
        if (client.isOpen) client.destroy();
      }
    }
    return null;
  }

  async #apply(view: ClusterView, persistent: boolean): Promise<void> {
    const slots: (Shard | undefined)[] = new Array(SLOTS);
    const masters = new Map<string, Shard>();
    for (const address of view.nodes) this.#known.add(address);
    for (const { from, to, master: address } of view.ranges) {
      let shard = masters.get(address) ?? this.#masters.get(address);
      if (!shard) shard = await this.#hooks.makeShard(this.#urlOf(address), persistent);
      masters.set(address, shard);
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

/** `promise`, or a rejection after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
