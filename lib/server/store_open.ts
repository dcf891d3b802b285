/**
 * Opens the store the configuration asks for: Redis when a URL is given, else Deno KV.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Store, StoreSettings, StoreStatus } from "../store/contract/store.ts";
import { openKvStore } from "../store/kv/backend.ts";

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
  options: { takeOver?: boolean } = {},
): Promise<Store> {
  const settings = storeSettings(config, onStatus);
  if (config.redisUrl) {
    void options.takeOver;
    throw new Error("The Redis store is being rebuilt for protocol 2");
  }
  return await openKvStore(config.kvPath, settings, config.nodeId);
}
