/**
 * One worker of a node run with `--workers`: it reaches the supervisor over the control link,
 * the store over the link (Deno KV) or on its own (Redis), serves on the shared port and
 * answers the supervisor's calls for metrics and health. It stops when the supervisor goes.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Logger } from "../server/log.ts";
import { Metrics } from "../server/metrics.ts";
import { type ChatServer, startServer } from "../server/server.ts";
import { openStore } from "../server/store_open.ts";
import type { Store, StoreStatus } from "../store/contract/store.ts";
import { openControlLink, openLinkStore } from "../store/link/remote.ts";

/** A running worker. */
export interface RunningWorker {
  server: ChatServer;
  /** Settles once the worker has shut down (asked to, or the supervisor is gone). */
  stopped: Promise<void>;
  shutdown(): Promise<void>;
}

/** Starts worker `index` of the node, linked to the supervisor at `linkPath`. */
export async function startWorker(
  config: ServerConfig,
  linkPath: string,
  index: number,
  log: Logger,
  workerCommand: string[] | undefined,
): Promise<RunningWorker> {
  const instanceId = `${config.nodeId}/${index}`;
  const control = await openControlLink(linkPath, instanceId);
  const onStatus = (status: StoreStatus) => {
    const { event, ...fields } = status;
    (event === "store_error" ? log.error : log.info)(event, fields);
  };
  const metrics = new Metrics();
  let store: Store;
  try {
    store = config.redisUrl
      ? await openStore({ ...config, nodeId: instanceId }, onStatus, {
        takeOver: true,
        observer: { command: (shard, _op, seconds) => metrics.shardOp(shard, seconds) },
      })
      : await openLinkStore(linkPath, instanceId);
  } catch (error) {
    control.close();
    throw error;
  }
  const server = await startServer(config, {
    log,
    store,
    metrics,
    workerCommand,
    worker: { index, instanceId },
    node: {
      metrics: () => control.call<string>("control.metrics", []),
      health: () => control.call<{ ok: boolean; text: string }>("control.health", []),
    },
  });
  control.handle(async (op) => {
    if (op === "worker.metrics") return server.metricsText();
    if (op === "worker.health") {
      await store.ping();
      return `ok ${store.backend === "link" ? "kv" : store.backend}`;
    }
    throw new Error(`Unknown worker call ${op}`);
  });
  let stopping: Promise<void> | null = null;
  const shutdown = () =>
    stopping ??= (async () => {
      await server.shutdown();
      await store[Symbol.asyncDispose]();
      control.close();
    })();
  // The supervisor is gone: nobody restarts or routes for this worker any more.
  control.closed.then(() => shutdown());
  await control.call("control.ready", []);
  return { server, shutdown, stopped: control.closed.then(() => stopping ?? undefined) };
}
