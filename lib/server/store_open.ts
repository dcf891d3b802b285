/**
 * Opens the store the configuration asks for: Redis when a URL is given, else Deno KV.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Store, StoreSettings, StoreStatus } from "../store/contract/store.ts";
import { openKvStore } from "../store/kv/backend.ts";
import type { Observer } from "../store/redis/shard.ts";
import { openRedisStore } from "../store/redis/open.ts";

/** The settings every backend takes, from the configuration. */
export function storeSettings(
  config: ServerConfig,
  onStatus: (status: StoreStatus) => void,
): StoreSettings {
  return {
    retention: config.retention,
    dedupeWindowMs: config.dedupeWindowMs,
    presenceRoomLimit: config.presenceRoomLimit,
    lobby: config.lobby,
    onStatus,
  };
}

/**
 * Opens the configured store for this node.
 *
 * @example
 * ```ts
 * await using store = await openStore(config, (status) => console.log(status));
 * ```
 */
export async function openStore(
  config: ServerConfig,
  onStatus: (status: StoreStatus) => void,
  options: { takeOver?: boolean; observer?: Observer } = {},
): Promise<Store> {
  const settings = storeSettings(config, onStatus);
  if (config.redisUrl) {
    return await openRedisStore({
      ...settings,
      url: config.redisUrl,
      cluster: config.redisCluster,
      prefix: config.redisPrefix,
      nodeId: config.nodeId,
      nodeTtlMs: config.nodeTtlMs,
      waitReplicas: config.redisWaitReplicas,
      takeOver: options.takeOver,
      observer: options.observer,
    });
  }
  return await openKvStore(config.kvPath, settings, config.nodeId);
}
