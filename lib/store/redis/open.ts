/**
 * Opens the Redis backend of the five store contracts, on a standalone Redis or a Redis
 * Cluster. See `keys.ts` for the key layout, `streams.ts` for the private-message rule,
 * `presence.ts` and `nodes.ts` for presence, heartbeats and reaping.
 *
 * @module
 */

import type { Store, StoreSettings } from "../contract/store.ts";
import { RedisAccounts } from "./accounts.ts";
import { RedisBus } from "./bus.ts";
import { Keys } from "./keys.ts";
import { RedisLink } from "./link.ts";
import { migrateV1 } from "./migrate_v1.ts";
import { NodeLife } from "./nodes.ts";
import { type NodeIdentity, RedisPresence } from "./presence.ts";
import { RedisRooms } from "./rooms.ts";
import type { Observer } from "./shard.ts";
import { RedisStreams } from "./streams.ts";

export type { Observer } from "./shard.ts";

/** Options of {@linkcode openRedisStore}: where Redis is, who this node is, and the settings. */
export interface RedisStoreOptions extends StoreSettings {
  /** `redis://host:port` (`rediss://` for TLS); a seed node of a cluster. */
  url: string;
  /** Redis Cluster (sharded pub/sub, slots spread over the masters). */
  cluster?: boolean;
  /** Prefix of every key and channel (default `im:`). */
  prefix?: string;
  /** This node's id, unique among running nodes (no `{` or `}`). */
  nodeId: string;
  /** A node silent this long is taken for dead, ms (default 10000; heartbeats every third). */
  nodeTtlMs?: number;
  /** Replicas that must confirm each write (`WAIT n 1000`); fewer: the write fails. */
  waitReplicas?: number;
  /** Start although the node id's heartbeat is alive (its users are taken over). */
  takeOver?: boolean;
  /** Per-shard command latency. */
  observer?: Observer;
}

/** A {@linkcode Store} on Redis, with what metrics read per shard. */
export interface RedisStore extends Store {
  /** The masters, as `host:port`. */
  readonly shards: string[];
  /** Effective channel subscriptions of this node by shard. */
  subscriptionsByShard(): Map<string, number>;
}

const DEFAULT_NODE_TTL_MS = 10_000;

/**
 * Connects, converts data of version 1 if there is any, registers the node and returns the
 * store. Rejects when Redis cannot be reached or the node id is in use.
 *
 * @example
 * ```ts
 * await using store = await openRedisStore({
 *   url: "redis://127.0.0.1:6379",
 *   nodeId: "chat1",
 *   retention: DEFAULT_RETENTION,
 *   dedupeWindowMs: 600_000,
 *   presenceRoomLimit: 500,
 *   lobby: "lobby",
 * });
 * ```
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<RedisStore> {
  if (/[{}]/.test(options.nodeId) || options.nodeId === "") {
    throw new TypeError(`A node id must not be empty or contain { or }: ${options.nodeId}`);
  }
  const settings: StoreSettings = {
    retention: options.retention,
    dedupeWindowMs: options.dedupeWindowMs,
    presenceRoomLimit: options.presenceRoomLimit,
    lobby: options.lobby,
    onStatus: options.onStatus,
  };
  const link = await RedisLink.open({
    url: options.url,
    cluster: options.cluster ?? false,
    waitReplicas: options.waitReplicas ?? 0,
    observer: options.observer,
    status: (status) => options.onStatus?.(status),
  });
  try {
    const keys = new Keys(options.prefix ?? "im:");
    await migrateV1(link, keys, settings);
    const node: NodeIdentity = { id: options.nodeId, incarnation: "" };
    const failed = (detail: string) =>
      options.onStatus?.({ event: "store_error", detail, op: "bus" });
    const accounts = new RedisAccounts(link, keys);
    const rooms = new RedisRooms(link, keys);
    const streams = new RedisStreams(link, keys, settings);
    const bus = new RedisBus(link, keys, failed);
    const presence = new RedisPresence(link, keys, settings, node);
    const life = new NodeLife(link, keys, settings, {
      nodeId: options.nodeId,
      nodeTtlMs: options.nodeTtlMs ?? DEFAULT_NODE_TTL_MS,
      takeOver: options.takeOver ?? false,
    }, { node, presence, streams, bus });
    await life.start();
    let closed: Promise<void> | null = null;
    return {
      backend: "redis",
      get available() {
        return link.ready;
      },
      accounts,
      rooms,
      streams,
      bus,
      presence,
      get shards() {
        return link.shardNames;
      },
      subscriptionsByShard: () => link.subscriptionsByShard(),
      async ping() {
        await link.everyShard(["PING"]);
      },
      [Symbol.asyncDispose]() {
        closed ??= (async () => {
          await streams.close();
          await life.stop().catch(() => {});
          await link.close();
        })();
        return closed;
      },
    };
  } catch (error) {
    await link.close();
    throw error;
  }
}
