/**
 * Opens the store the configuration asks for: Redis when a URL is given, else Deno KV.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Logger } from "../server/log.ts";
import { openKvStore } from "./kv.ts";
import { openRedisStore } from "./redis.ts";
import type { Store } from "./store.ts";

/**
 * Opens the configured store; creates the KV file's directory when needed.
 *
 * @example
 * ```ts
 * await using store = await openStore(config, log);
 * ```
 */
export async function openStore(config: ServerConfig, log: Logger): Promise<Store> {
  if (config.redisUrl) {
    return await openRedisStore({
      url: config.redisUrl,
      nodeId: config.nodeId,
      prefix: config.redisPrefix,
      cluster: config.redisCluster,
      retention: config.retention,
      nodeTtlMs: config.nodeTtlMs,
      onStatus: (event, detail) =>
        event === "redis_down" ? log.warn(event, { detail }) : log.info(event, { detail }),
    });
  }
  if (config.kvPath !== ":memory:") {
    const slash = config.kvPath.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(config.kvPath.slice(0, slash), { recursive: true });
  }
  return await openKvStore(config.kvPath, config.retention);
}
