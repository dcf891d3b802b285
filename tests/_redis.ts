/**
 * Test helper: starts a real redis-server on a free loopback port in a temp directory and
 * stops it on dispose.
 *
 * @module
 */

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (SIGTERM, or SIGKILL when `hard`) and waits for it to exit. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and directory (for restart tests). */
  restart(): Promise<void>;
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Options of {@linkcode startRedis}. */
export interface StartOptions {
  /** An RDB file to start from (copied into the server's directory). */
  rdb?: string;
}

/**
 * Starts redis-server with the given extra arguments (e.g. `["--appendonly", "yes"]`).
 *
 * @example
 * ```ts
 * await using redis = await startRedis();
 * ```
 */
export async function startRedis(
  extra: string[] = [],
  options: StartOptions = {},
): Promise<RedisServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "imchat-redis-" });
  if (options.rdb) {
    await Deno.copyFile(options.rdb, `${dir}/redis.rdb`);
    extra = ["--dbfilename", "redis.rdb", ...extra];
  }
  let child: Deno.ChildProcess | null = null;
  const spawn = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        ...extra,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port);
  };
  const stop = async (hard = false) => {
    if (!child) return;
    const running = child;
    child = null;
    try {
      running.kill(hard ? "SIGKILL" : "SIGTERM");
    } catch {
      // already gone
    }
    await running.status;
  };
  await spawn();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    restart: spawn,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      conn.close();
      if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs redis-cli against a local port; resolves with its output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`redis-cli ${args.join(" ")}: exit ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}

/** A running Redis Cluster of three masters (and their replicas, if asked for). */
export interface RedisCluster extends AsyncDisposable {
  /** A seed node's URL. */
  readonly url: string;
  readonly ports: number[];
  /** Every node, masters and replicas. */
  readonly nodes: RedisServer[];
  /** The ports of the nodes that are masters now. */
  masters(): Promise<number[]>;
}

/** Options of {@linkcode startRedisCluster}. */
export interface ClusterOptions {
  /** Replicas per master (default 0). */
  replicas?: number;
}

/**
 * Starts three redis-server masters (with `replicas` replicas each) on free loopback ports
 * and joins them into a cluster; resolves once every slot is served and every replica is in
 * sync.
 */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0;
  const nodes: RedisServer[] = [];
  const masters = async () => {
    const out: number[] = [];
    for (const node of nodes) {
      try {
        if ((await redisCli(node.port, "ROLE")).startsWith("master")) out.push(node.port);
      } catch {
        // a stopped node
      }
    }
    return out;
  };
  try {
    nodes.push(
      ...await Promise.all(
        Array.from(
          { length: 3 * (1 + replicas) },
          () =>
            startRedis([
              "--cluster-enabled",
              "yes",
              "--cluster-node-timeout",
              "2000",
              "--repl-diskless-sync-delay",
              "0",
            ]),
        ),
      ),
    );
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (create.code !== 0) {
      throw new Error(
        `redis-cli --cluster create failed: ${new TextDecoder().decode(create.stderr)}`,
      );
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(nodes.map((n) => redisCli(n.port, "CLUSTER", "INFO")));
      let ready = infos.every((info) => info.includes("cluster_state:ok"));
      if (ready && replicas > 0) {
        for (const port of await masters()) {
          const info = await redisCli(port, "INFO", "replication");
          const synced = info.match(/state=online/g)?.length ?? 0;
          if (synced < replicas) ready = false;
        }
      }
      // Every node must also see every other as it is: a master that still takes a replica
      // for a master refuses it its vote ("it is a master node"), and a CLUSTER FAILOVER made
      // then times out without a failover.
      if (ready) {
        const views = await Promise.all(
          nodes.map(async (n) => clusterRoles(await redisCli(n.port, "CLUSTER", "NODES"))),
        );
        ready = views.every((view) => view === views[0]) &&
          views[0].split("\n").length === nodes.length;
      }
      if (ready) break;
      if (Date.now() > deadline) throw new Error("the Redis Cluster did not become ready");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    for (const node of nodes) await node[Symbol.asyncDispose]();
    throw error;
  }
  return {
    url: nodes[0].url,
    ports: nodes.map((n) => n.port),
    nodes,
    masters,
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    },
  };
}

/**
 * What a `CLUSTER NODES` reply says of each node's role, its master and its config epoch, one
 * sorted line per node (what every node must agree on before a failover can be voted).
 */
function clusterRoles(text: string): string {
  return text.trim().split("\n").map((line) => {
    const [id, , flags, master, , , epoch, , ...slots] = line.trim().split(" ");
    const role = flags.split(",").filter((flag) => flag !== "myself").join(",");
    return `${id} ${role} ${master} ${epoch} ${slots.join(" ")}`;
  }).sort().join("\n");
}

/** A TCP relay to a local port whose connections can be cut, as a network failure would. */
export interface Relay extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again. */
  restore(): void;
}

/**
 * Starts a relay on a free loopback port to `target`.
 *
 * @example
 * ```ts
 * await using relay = await startRelay(redis.port);
 * await relay.cut();
 * ```
 */
export function startRelay(target: number): Promise<Relay> {
  const port = freePort();
  const open = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let listener: Deno.Listener | null = null;
  let accepting: Promise<void> = Promise.resolve();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // cut
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // closed already
      }
      open.delete(conn);
    }
  };
  const listen = () => {
    const server = Deno.listen({ hostname: "127.0.0.1", port });
    listener = server;
    accepting = (async () => {
      for await (const client of server) {
        try {
          const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
          open.add(client).add(upstream);
          for (const pump of [pipe(client, upstream), pipe(upstream, client)]) {
            pumps.add(pump);
            pump.finally(() => pumps.delete(pump));
          }
        } catch {
          client.close();
        }
      }
    })();
  };
  const cut = async () => {
    listener?.close();
    listener = null;
    await accepting;
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
    open.clear();
    await Promise.all(pumps);
  };
  listen();
  return Promise.resolve({
    url: `redis://127.0.0.1:${port}`,
    port,
    cut,
    restore: listen,
    [Symbol.asyncDispose]: cut,
  });
}
