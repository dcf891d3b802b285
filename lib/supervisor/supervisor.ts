/**
 * `--workers N`: the supervisor starts N server processes that share the port (SO_REUSEPORT)
 * and act as one node towards clients. With Redis each worker is an ordinary node (id
 * `<node>/<index>`). With Deno KV the supervisor owns the KV file and serves the store to the
 * workers over a Unix socket (`lib/store/link/`). A worker that dies is started again; its
 * users reconnect and resume on any worker. The supervisor serves `/metrics` and `/healthz`
 * for all workers, asking each over its control link.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Logger } from "../server/log.ts";
import { storeSettings } from "../server/store_open.ts";
import type { StoreStatus } from "../store/contract/store.ts";
import { KvBackend } from "../store/kv/backend.ts";
import { StoreOwner, type WorkerLink } from "../store/link/owner.ts";
import { labelMetrics, mergeMetrics } from "./metrics_text.ts";

/** Environment a worker process is started with. */
export const WORKER_ENV = { link: "IM_WORKER_LINK", index: "IM_WORKER_INDEX" } as const;

/** A running supervisor. */
export interface Supervisor {
  /** Stops every worker (they shut down gracefully), then the store. */
  shutdown(): Promise<void>;
  /** Settles when the supervisor has stopped. */
  readonly stopped: Promise<void>;
}

interface Worker {
  index: number;
  process: Deno.ChildProcess | null;
  startedAt: number;
  restarts: number;
}

const STOP_GRACE_MS = 15_000;
const HEALTH_TIMEOUT_MS = 2000;

/**
 * Starts the workers and, with Deno KV, the store they share; resolves once every worker
 * listens.
 *
 * @param command the command line that runs this server program (workers are started with it
 * and the same arguments).
 */
export async function startSupervisor(
  config: ServerConfig,
  args: readonly string[],
  command: readonly string[],
  log: Logger,
): Promise<Supervisor> {
  const dir = await Deno.makeTempDir({ prefix: "imchat-" });
  const path = `${dir}/link.sock`;
  const onStatus = (status: StoreStatus) => {
    const { event, ...fields } = status;
    (event === "store_error" ? log.error : log.info)(event, fields);
  };
  const backend = config.redisUrl
    ? null
    : await KvBackend.open(config.kvPath, storeSettings(config, onStatus));
  const links = new Map<number, WorkerLink>();
  const ready = new Map<number, PromiseWithResolvers<void>>();
  const owner = await StoreOwner.listen({
    path,
    nodeStore: backend ? (id) => backend.node(id) : undefined,
    control: (worker, op) => {
      if (op === "control.ready") {
        const index = indexOf(worker.nodeId);
        links.set(index, worker);
        ready.get(index)?.resolve();
        return true;
      }
      if (op === "control.metrics") return gatherMetrics();
      if (op === "control.health") return gatherHealth();
      throw new Error(`Unknown control call ${op}`);
    },
    onWorker: (worker, connected) => {
      if (!connected && links.get(indexOf(worker.nodeId)) === worker) {
        links.delete(indexOf(worker.nodeId));
      }
    },
  });
  let stopping = false;
  let started = false;
  const workers: Worker[] = Array.from({ length: config.workers }, (_, index) => ({
    index,
    process: null,
    startedAt: 0,
    restarts: 0,
  }));

  const spawn = (worker: Worker) => {
    const process = new Deno.Command(command[0], {
      args: [...command.slice(1), ...args],
      // Every worker is the same node towards clients (IM_NODE_ID: unless --node-id is given).
      env: {
        [WORKER_ENV.link]: path,
        [WORKER_ENV.index]: String(worker.index),
        IM_NODE_ID: config.nodeId,
      },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    worker.process = process;
    worker.startedAt = Date.now();
    ready.set(worker.index, Promise.withResolvers());
    log.info("worker_started", { worker: worker.index, pid: process.pid });
    process.status.then((status) => {
      worker.process = null;
      if (stopping) return;
      // A worker that ran for a minute is restarted at once; one that keeps dying, slower.
      if (Date.now() - worker.startedAt > 60_000) worker.restarts = 0;
      const wait = Math.min(30_000, 250 * 2 ** worker.restarts++);
      log.error("worker_exited", {
        worker: worker.index,
        code: status.code,
        signal: status.signal,
        restartIn: wait,
      });
      setTimeout(() => stopping || spawn(worker), wait);
    });
  };

  /** Every worker's metrics, each line labelled with its worker. */
  const gatherMetrics = async (): Promise<string> => {
    const parts = await Promise.all([...links].map(async ([index, worker]) => {
      try {
        return labelMetrics(
          await worker.link.call<string>("worker.metrics", []),
          "worker",
          String(index),
        );
      } catch {
        return "";
      }
    }));
    return mergeMetrics(parts);
  };

  /** One line per worker; healthy when every worker is there and its store answers. */
  const gatherHealth = async (): Promise<{ ok: boolean; text: string }> => {
    const lines: string[] = [];
    let ok = true;
    for (const worker of workers) {
      const link = links.get(worker.index);
      if (!link) {
        ok = false;
        lines.push(`worker ${worker.index}: down`);
        continue;
      }
      try {
        const answer = await withTimeout(
          link.link.call<string>("worker.health", []),
          HEALTH_TIMEOUT_MS,
        );
        lines.push(`worker ${worker.index}: ${answer}`);
        if (!answer.startsWith("ok")) ok = false;
      } catch (error) {
        ok = false;
        lines.push(`worker ${worker.index}: store unreachable: ${error}`);
      }
    }
    return { ok, text: lines.join("\n") + "\n" };
  };

  // A worker that exits before it ever listened (a store it cannot open, a port in use)
  // would fail again: the node does not start, with the worker's own error above.
  const firstExit = Promise.withResolvers<never>();
  for (const worker of workers) {
    spawn(worker);
    worker.process!.status.then((status) => {
      if (!links.has(worker.index) && !started) {
        firstExit.reject(
          new Error(`worker ${worker.index} exited with code ${status.code} before it listened`),
        );
      }
    });
  }
  try {
    await Promise.race([Promise.all([...ready.values()].map((r) => r.promise)), firstExit.promise]);
  } catch (error) {
    stopping = true;
    for (const worker of workers) {
      try {
        worker.process?.kill("SIGTERM");
      } catch {
        // gone
      }
    }
    await Promise.all(workers.map((w) => w.process?.status));
    await owner[Symbol.asyncDispose]();
    if (backend) await backend[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  started = true;
  log.info("supervisor_ready", {
    workers: config.workers,
    store: backend ? "kv" : "redis",
    port: config.port,
  });

  const done = Promise.withResolvers<void>();
  let stoppingPromise: Promise<void> | null = null;
  const shutdown = () => {
    stoppingPromise ??= (async () => {
      stopping = true;
      log.info("supervisor_stopping", {});
      const exits = workers.map(async (worker) => {
        const process = worker.process;
        if (!process) return;
        try {
          process.kill("SIGTERM");
        } catch {
          return;
        }
        const timer = setTimeout(() => {
          try {
            process.kill("SIGKILL");
          } catch {
            // gone
          }
        }, STOP_GRACE_MS);
        await process.status;
        clearTimeout(timer);
      });
      await Promise.all(exits);
      await owner[Symbol.asyncDispose]();
      if (backend) await backend[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      log.info("stopped", {});
      done.resolve();
    })();
    return stoppingPromise;
  };
  return { shutdown, stopped: done.promise };
}

/** The worker index in a worker's node id (`<node>/<index>`). */
function indexOf(nodeId: string): number {
  return Number(nodeId.slice(nodeId.lastIndexOf("/") + 1));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => timer = setTimeout(() => reject(new Error("timed out")), ms)),
  ]).finally(() => clearTimeout(timer));
}
