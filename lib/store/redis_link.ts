/**
 * The connections of one node to Redis, standalone or cluster, behind one small interface:
 * raw commands, same-slot transactions, pub/sub and reconnect notifications. A standalone
 * link holds a command client and a subscriber client; a cluster link holds one
 * node-redis cluster client and uses sharded pub/sub.
 *
 * @module
 */

import { createClient, createCluster } from "redis";

type Client = ReturnType<typeof createClient>;

/** Notable connection events, for the log. */
export type LinkStatus = "redis_down" | "redis_up";

/** Options of {@linkcode openRedisLink}. */
export interface LinkOptions {
  url: string;
  /** Connect to a Redis Cluster through `url` as a seed node. */
  cluster?: boolean;
  onStatus?: (event: LinkStatus, detail: string) => void;
}

/** A node's connections to Redis. */
export interface RedisLink {
  /** Whether this is a Redis Cluster (sharded pub/sub, `SPUBLISH` in scripts). */
  readonly cluster: boolean;
  /** Whether commands can be sent now. */
  readonly ready: boolean;
  /** Sends one command; `key` routes it in a cluster (default: the command's first key). */
  command<T>(args: string[], key?: string): Promise<T>;
  /** Runs commands in one MULTI/EXEC (their keys must share a slot in a cluster). */
  multi<T extends unknown[]>(commands: string[][]): Promise<T>;
  /** Subscribes to channels (sharded in a cluster). */
  subscribe(channels: string[], listener: (message: string) => void): Promise<void>;
  /** Calls `listener` whenever commands work again after an outage. */
  onReconnect(listener: () => void): void;
  /** Calls `listener` whenever the subscription is back after an outage. */
  onResubscribe(listener: () => void): void;
  close(): Promise<void>;
  destroy(): void;
}

const reconnect = (connected: () => boolean) => (retries: number, cause: Error) =>
  connected() ? Math.min(100 * 2 ** Math.min(retries, 5), 2000) : cause;

/**
 * Connects. Rejects when Redis cannot be reached.
 *
 * @example
 * ```ts
 * const link = await openRedisLink({ url: "redis://127.0.0.1:6379" });
 * await link.command(["PING"]);
 * ```
 */
export async function openRedisLink(options: LinkOptions): Promise<RedisLink> {
  const onStatus = options.onStatus ?? (() => {});
  return options.cluster
    ? await openCluster(options, onStatus)
    : await openStandalone(options, onStatus);
}

async function openStandalone(
  options: LinkOptions,
  onStatus: (event: LinkStatus, detail: string) => void,
): Promise<RedisLink> {
  const connect = async (role: string, onBack: (() => void)[]): Promise<Client> => {
    let connected = false;
    let down = false;
    const client = createClient({
      url: options.url,
      RESP: 2,
      // Fail fast while disconnected: a request gets UNAVAILABLE instead of hanging.
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: reconnect(() => connected) },
    });
    client.on("error", (error: Error) => {
      if (connected && !down) {
        down = true;
        onStatus("redis_down", `${role}: ${error.message}`);
      }
    });
    client.on("ready", () => {
      if (!connected || !down) return;
      down = false;
      onStatus("redis_up", role);
      for (const listener of onBack) listener();
    });
    await client.connect();
    connected = true;
    return client as Client;
  };
  const reconnected: (() => void)[] = [];
  const resubscribed: (() => void)[] = [];
  const commands = await connect("commands", reconnected);
  let subscriber: Client;
  try {
    subscriber = await connect("subscriber", resubscribed);
  } catch (error) {
    commands.destroy();
    throw error;
  }
  return {
    cluster: false,
    get ready() {
      return commands.isReady;
    },
    command: <T>(args: string[]) => commands.sendCommand<T>(args),
    async multi<T extends unknown[]>(list: string[][]) {
      const multi = commands.multi();
      for (const args of list) multi.addCommand(args);
      return await multi.exec() as unknown as T;
    },
    subscribe: (channels, listener) => subscriber.subscribe(channels, listener),
    onReconnect: (listener) => void reconnected.push(listener),
    onResubscribe: (listener) => void resubscribed.push(listener),
    async close() {
      await Promise.allSettled([subscriber.close(), commands.close()]);
    },
    destroy() {
      subscriber.destroy();
      commands.destroy();
    },
  };
}

async function openCluster(
  options: LinkOptions,
  onStatus: (event: LinkStatus, detail: string) => void,
): Promise<RedisLink> {
  let connected = false;
  let down = false;
  const back: (() => void)[] = [];
  const cluster = createCluster({
    rootNodes: [{ url: options.url }],
    RESP: 2,
    defaults: {
      disableOfflineQueue: true,
      socket: { connectTimeout: 5000, reconnectStrategy: reconnect(() => connected) },
    },
  });
  const failed = (error: Error) => {
    if (connected && !down) {
      down = true;
      onStatus("redis_down", `cluster: ${error.message}`);
    }
  };
  cluster.on("error", failed);
  cluster.on("node-error", failed);
  cluster.on("node-ready", () => {
    if (!connected || !down) return;
    down = false;
    onStatus("redis_up", "cluster");
    for (const listener of back) listener();
  });
  await cluster.connect();
  connected = true;
  return {
    cluster: true,
    get ready() {
      return cluster.isReady;
    },
    command: <T>(args: string[], key?: string) =>
      cluster.sendCommand<T>(key ?? args[1], false, args),
    async multi<T extends unknown[]>(list: string[][]) {
      const multi = cluster.multi(list[0][1]);
      for (const args of list) multi.addCommand(args[1], false, args);
      return await multi.exec() as unknown as T;
    },
    subscribe: (channels, listener) => cluster.sSubscribe(channels, listener),
    onReconnect: (listener) => void back.push(listener),
    onResubscribe: (listener) => void back.push(listener),
    close: () => cluster.close(),
    destroy: () => cluster.destroy(),
  };
}
