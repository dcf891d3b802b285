/**
 * The life of a node on Redis: its id, heartbeats, and the reaping of dead nodes.
 *
 * A node id names one running node. Each start makes a new incarnation (a random tag): the
 * heartbeat `p{node:<id>}:hb` holds it with a TTL of `nodeTtlMs`, renewed every third of it,
 * and `p{g}:nodes` maps the id to it. A start refuses while the id's heartbeat is alive
 * (unless `takeOver`), and first takes the users of the id's previous incarnation offline.
 *
 * A node that finds another node's heartbeat gone (or holding another incarnation) reaps that
 * incarnation: under a lock, in rounds of {@linkcode REAP_BATCH} users with a pause between,
 * each user loses that incarnation (offline with `node_down` when it was their last) and has
 * their interrupted private sends completed. A node whose own heartbeat had expired (a stall,
 * or Redis lost its data) starts a new incarnation, registers its users again, then reaps
 * its old one, and tells the bus that every channel may have missed deliveries.
 *
 * @module
 */

import type { OfflineReason } from "../../protocol/messages.ts";
import type { StoreSettings } from "../contract/store.ts";
import type { RedisBus } from "./bus.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink, Script } from "./link.ts";
import { memberOf, type NodeIdentity, type RedisPresence } from "./presence.ts";
import { newEpoch, type RedisStreams } from "./streams.ts";

/** Users taken offline per reaping round. */
export const REAP_BATCH = 200;

/** Forgets a reaped incarnation in the global slot. ARGV: id, incarnation, member. */
const FORGET_NODE: Script = {
  name: "forget_node",
  source: `
if redis.call('HGET', KEYS[1] .. ':nodes', ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1] .. ':nodes', ARGV[1])
end
redis.call('HDEL', KEYS[1] .. ':sess', ARGV[3])
return 1
`,
};

/** Deletes a key if it holds `ARGV[1]`. */
const DELETE_IF: Script = {
  name: "delete_if",
  source: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`,
};

/** Options of {@linkcode NodeLife}. */
export interface NodeOptions {
  nodeId: string;
  nodeTtlMs: number;
  takeOver: boolean;
}

/** Heartbeats and reaping for one node. */
export class NodeLife {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #settings: StoreSettings;
  readonly #options: NodeOptions;
  readonly #node: NodeIdentity;
  readonly #presence: RedisPresence;
  readonly #streams: RedisStreams;
  readonly #bus: RedisBus;
  readonly #reaping = new Map<string, Promise<void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #beating: Promise<void> | null = null;
  #chores: Promise<void> | null = null;
  #stopped = false;
  /** Users to register again under a new incarnation. */
  #restoring = false;
  /** Own earlier incarnations still to reap. */
  readonly #stale = new Set<string>();

  constructor(
    link: RedisLink,
    keys: Keys,
    settings: StoreSettings,
    options: NodeOptions,
    parts: { node: NodeIdentity; presence: RedisPresence; streams: RedisStreams; bus: RedisBus },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#settings = settings;
    this.#options = options;
    this.#node = parts.node;
    this.#presence = parts.presence;
    this.#streams = parts.streams;
    this.#bus = parts.bus;
  }

  /**
   * Registers the node: refuses when its id is alive elsewhere (unless taking over), takes the
   * users of its previous incarnation offline, starts the heartbeat.
   *
   * @throws {Error} "node id X is in use by a running node"
   */
  async start(): Promise<void> {
    const { nodeId, takeOver } = this.#options;
    const alive = await this.#link.command<string | null>(this.#heartbeat, [
      "GET",
      this.#heartbeat,
    ]);
    if (alive !== null && !takeOver) {
      throw new Error(`node id ${nodeId} is in use by a running node`);
    }
    const nodes = `${this.#keys.global}:nodes`;
    const previous = await this.#link.command<string | null>(nodes, ["HGET", nodes, nodeId]);
    await this.#register();
    for (const old of new Set([previous, alive])) {
      if (old !== null && old !== this.#node.incarnation) await this.reap(nodeId, old);
    }
    this.#link.onUp(() => this.beat());
    this.#schedule();
  }

  /** Beats now (one beat at a time). */
  beat(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#beating ??= this.#beat().catch((error) => this.#failed(error, "heartbeat")).finally(
      () => this.#beating = null,
    );
    return this.#beating;
  }

  /**
   * Reaps one incarnation of a node (`reason` for its users' offline announcements), unless
   * another node is reaping it. Resolves when done.
   */
  reap(id: string, incarnation: string, reason: OfflineReason = "node_down"): Promise<void> {
    const what = memberOf(id, incarnation);
    let running = this.#reaping.get(what);
    if (!running) {
      running = this.#reap(id, incarnation, reason).finally(() => this.#reaping.delete(what));
      this.#reaping.set(what, running);
    }
    return running;
  }

  /** Stops the heartbeat and leaves as a clean node: its users go offline with `drop`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#beating;
    await this.#chores;
    await Promise.allSettled(this.#reaping.values());
    if (!this.#link.ready) return;
    const { id, incarnation } = this.#node;
    await this.#reap(id, incarnation, "drop", true);
    await this.#link.eval(DELETE_IF, this.#heartbeat, [incarnation]);
  }

  get #heartbeat(): string {
    return `${this.#keys.node(this.#options.nodeId)}:hb`;
  }

  async #register(): Promise<void> {
    this.#node.incarnation = newEpoch();
    const nodes = `${this.#keys.global}:nodes`;
    await this.#link.command(this.#heartbeat, [
      "SET",
      this.#heartbeat,
      this.#node.incarnation,
      "PX",
      String(this.#options.nodeTtlMs),
    ], "heartbeat");
    await this.#link.command(nodes, ["HSET", nodes, this.#options.nodeId, this.#node.incarnation]);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      await this.beat();
      this.#schedule();
    }, this.#options.nodeTtlMs / 3);
  }

  async #beat(): Promise<void> {
    const { incarnation } = this.#node;
    const before = await this.#link.command<string | null>(this.#heartbeat, [
      "SET",
      this.#heartbeat,
      incarnation,
      "PX",
      String(this.#options.nodeTtlMs),
      "GET",
    ], "heartbeat");
    if (before === null) {
      // Our heartbeat had expired: other nodes may have taken our users offline.
      await this.#register();
      this.#stale.add(incarnation);
      this.#restoring = true;
    } else if (before !== incarnation) {
      this.#stopped = true;
      clearTimeout(this.#timer);
      this.#failed(
        new Error(`node id ${this.#options.nodeId} was taken over by another node`),
        "heartbeat",
      );
      return;
    }
    this.#chores ??= this.#choresOnce().finally(() => this.#chores = null);
  }

  /**
   * What a beat starts besides the heartbeat itself, one round at a time and not awaited by
   * the beat (so a long round never delays the heartbeat): registering the users again after
   * a new incarnation, failed presence steps, reaping dead nodes.
   */
  async #choresOnce(): Promise<void> {
    try {
      await this.#restore();
      await this.#presence.retryRepairs();
      await this.#reapDead();
    } catch (error) {
      this.#failed(error, "heartbeat");
    }
  }

  /**
   * After a new incarnation: registers the users again and has every channel refilled, then
   * reaps the old incarnations (no one goes offline: they are registered again first). Left
   * for the next beat when it fails.
   */
  async #restore(): Promise<void> {
    if (this.#restoring) {
      await this.#presence.reregister();
      this.#restoring = false;
      this.#bus.restoreAll();
    }
    for (const old of [...this.#stale]) {
      this.reap(this.#options.nodeId, old).then(
        () => this.#stale.delete(old),
        (error) => this.#failed(error, "reap"),
      );
    }
  }

  async #reapDead(): Promise<void> {
    const nodes = `${this.#keys.global}:nodes`;
    const rows = await this.#link.command<string[]>(nodes, ["HGETALL", nodes]);
    for (let i = 0; i < rows.length; i += 2) {
      const [id, incarnation] = [rows[i], rows[i + 1]];
      if (id === this.#options.nodeId && incarnation === this.#node.incarnation) continue;
      const heartbeat = `${this.#keys.node(id)}:hb`;
      const alive = await this.#link.command<string | null>(heartbeat, ["GET", heartbeat]);
      if (alive !== incarnation) this.reap(id, incarnation).catch((e) => this.#failed(e, "reap"));
    }
  }

  async #reap(id: string, incarnation: string, reason: OfflineReason, own = false): Promise<void> {
    const base = this.#keys.node(id);
    const users = `${base}:u:${incarnation}`;
    const lock = `${base}:reap:${incarnation}`;
    const lockMs = String(this.#options.nodeTtlMs * 2);
    const me = memberOf(this.#options.nodeId, this.#node.incarnation);
    const locked = await this.#link.command(lock, ["SET", lock, me, "NX", "PX", lockMs]);
    if (locked === null && !own) return;
    const member = memberOf(id, incarnation);
    let count = 0;
    for (;;) {
      const [, found] = await this.#link.command<[string, string[]]>(users, [
        "SSCAN",
        users,
        "0",
        "COUNT",
        String(REAP_BATCH),
      ]);
      const batch = found.slice(0, REAP_BATCH);
      if (batch.length === 0) break;
      await Promise.all(batch.map(async (name) => {
        await this.#presence.leaveAs(member, name, reason);
        await this.#streams.complete(name);
      }));
      await this.#link.command(users, ["SREM", users, ...batch], "node_users");
      await this.#link.command(lock, ["PEXPIRE", lock, lockMs]);
      count += batch.length;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await this.#link.eval(FORGET_NODE, this.#keys.global, [id, incarnation, member]);
    await this.#link.command(lock, ["DEL", lock]);
    if (!own) {
      this.#settings.onStatus?.({ event: "node_reaped", detail: member, users: count });
    }
  }

  #failed(error: unknown, op: string): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.#settings.onStatus?.({ event: "store_error", detail, op });
  }
}
