/**
 * Server configuration: parsed once from flags and environment into a typed, validated
 * object that is passed down. Pure code.
 *
 * @module
 */

import { DEFAULT_MAX_FRAME } from "../protocol/frame.ts";
import type { Retention } from "../store/contract/store.ts";
import { type OptionSpec, parseOptions, UsageError } from "./flags.ts";

/** Port of the HTTP listener when none is given. */
export const DEFAULT_HTTP_PORT = 8080;

/** Log verbosity. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Everything the server needs to start. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Deno KV file of the embedded store (used when `redisUrl` is absent). */
  kvPath: string;
  /** Redis URL; when set the Redis store is used. */
  redisUrl?: string;
  /** Key prefix in Redis. */
  redisPrefix: string;
  /** `redisUrl` is a seed node of a Redis Cluster. */
  redisCluster: boolean;
  /** Replicas that must confirm each write before `ok` (Redis `WAIT`). */
  redisWaitReplicas: number;
  /** This node's id (default `hostname:port`). */
  nodeId: string;
  /** Redis mode: a node silent for this long is taken for dead, ms. */
  nodeTtlMs: number;
  maxFrame: number;
  /** Longest message text, in code points. */
  maxText: number;
  /** Most messages per room delivered at login after an absence. */
  backlogLimit: number;
  retention: Retention;
  /** The lobby every account joins at registration; null: none. */
  lobby: string | null;
  /** Rooms above this many members get occupancy counts instead of per-user presence. */
  presenceRoomLimit: number;
  /** Rooms a user may be a member of. */
  maxRooms: number;
  /** Rooms a user may create per hour. */
  roomCreateLimit: number;
  /** How long idempotency keys of `send` are remembered, ms. */
  dedupeWindowMs: number;
  /** Server processes sharing the port (1: this process serves alone). */
  workers: number;
  /** Resume token lifetime, ms. */
  tokenTtlMs: number;
  /** A connection that has not logged in by then is closed, ms. */
  loginTimeoutMs: number;
  /** Idle time after which a session is pinged, ms; unanswered for as long again, dropped. */
  pingIntervalMs: number;
  /** Bytes queued for one client before it is cut off as a slow consumer. */
  sendQueueBytes: number;
  /** Requests per second per session (0: unlimited) and the burst allowed. */
  rate: number;
  burst: number;
  /** With `hashWorkers` 0: hashes computed at once on threads (0: one per core). */
  hashConcurrency: number;
  /** Low-priority hashing processes (0: hash on in-process threads). */
  hashWorkers: number;
  /** Hashing jobs that may wait. */
  hashQueue: number;
  /** Wrong passwords allowed per account and address pair within `loginWindowMs`. */
  loginLimit: number;
  /** Failed logins and resumes allowed per address within `loginWindowMs`. */
  addressLimit: number;
  /** Wrong passwords per account (all addresses) before new addresses are slowed. */
  accountLimit: number;
  loginWindowMs: number;
  /** Port of the HTTP listener (WebSocket, web client, metrics); absent: off (`--no-http`). */
  httpPort?: number;
  httpHost: string;
  /** Origins allowed to open WebSocket sessions (empty: the server's own). */
  allowedOrigins: string[];
  /** Serve /metrics and /healthz to any client, not only loopback ones. */
  metricsOpen: boolean;
  /** Directory of the built web client. */
  webDir: string;
  /** Registrations per address, and per node, within `registerWindowMs`. */
  registerAddressLimit: number;
  registerLimit: number;
  registerWindowMs: number;
  /** IPv6 addresses count for per-address limits by this prefix length (bits). */
  ipv6Prefix: number;
  /** PEM files for TLS; both or neither. */
  tlsCert?: string;
  tlsKey?: string;
  logLevel: LogLevel;
}

/** The server's options, in `--help` order. */
export const SERVER_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "host",
    env: "IM_HOST",
    kind: "string",
    default: "0.0.0.0",
    help: "Address to listen on",
  },
  {
    flag: "port",
    env: "IM_PORT",
    kind: "int",
    default: 8889,
    min: 0,
    max: 65535,
    help: "TCP port",
  },
  {
    flag: "http",
    env: "IM_HTTP",
    kind: "bool",
    default: true,
    help: "Run the HTTP listener (--no-http: TCP only)",
  },
  {
    flag: "http-port",
    env: "IM_HTTP_PORT",
    kind: "int",
    min: 0,
    max: 65535,
    help: "Port of the HTTP listener: WebSocket sessions (/ws), the web client (/), /metrics and " +
      "/healthz (default 8080; 0: any free port)",
  },
  {
    flag: "http-host",
    env: "IM_HTTP_HOST",
    kind: "string",
    help: "Address of the HTTP listener (default: --host)",
  },
  {
    flag: "metrics-port",
    env: "IM_METRICS_PORT",
    kind: "int",
    min: 0,
    max: 65535,
    help: "Alias of --http-port",
  },
  {
    flag: "metrics-host",
    env: "IM_METRICS_HOST",
    kind: "string",
    help: "Alias of --http-host",
  },
  {
    flag: "allowed-origin",
    env: "IM_ALLOWED_ORIGIN",
    kind: "string",
    help: "Origins allowed to open WebSocket sessions, comma-separated (default: the server's own)",
  },
  {
    flag: "metrics-open",
    env: "IM_METRICS_OPEN",
    kind: "bool",
    default: false,
    help: "Serve /metrics and /healthz to every client (default: loopback clients only)",
  },
  {
    flag: "web-dir",
    env: "IM_WEB_DIR",
    kind: "string",
    help: "Directory of the built web client (default: dist/web of the program)",
  },
  {
    flag: "tls-cert",
    env: "IM_TLS_CERT",
    kind: "string",
    help: "PEM certificate chain: serve over TLS",
  },
  { flag: "tls-key", env: "IM_TLS_KEY", kind: "string", help: "PEM private key for --tls-cert" },
  {
    flag: "kv",
    env: "IM_KV_PATH",
    kind: "string",
    default: "data/imchat.kv",
    help: "Deno KV file of the embedded store (':memory:' for none)",
  },
  {
    flag: "redis",
    env: "REDIS_URL",
    kind: "string",
    help: "Use Redis at this URL (redis://host:port) instead of Deno KV",
  },
  {
    flag: "redis-cluster",
    env: "IM_REDIS_CLUSTER",
    kind: "bool",
    default: false,
    help: "The --redis URL is a node of a Redis Cluster (sharded pub/sub; rooms and users spread " +
      "over the shards)",
  },
  {
    flag: "redis-wait-replicas",
    env: "IM_REDIS_WAIT_REPLICAS",
    kind: "int",
    default: 0,
    min: 0,
    max: 16,
    help: "Redis: replicas that must have each message before its ok (WAIT; 0: the master's " +
      "memory is enough)",
  },
  {
    flag: "redis-prefix",
    env: "IM_REDIS_PREFIX",
    kind: "string",
    default: "im:",
    help: "Redis key prefix",
  },
  {
    flag: "node-id",
    env: "IM_NODE_ID",
    kind: "string",
    help: "Node id (default hostname:port; hostname:0-pid with --port 0)",
  },
  {
    flag: "node-ttl",
    env: "IM_NODE_TTL",
    kind: "int",
    default: 10,
    min: 2,
    max: 3600,
    help: "Redis mode: seconds after which a silent node's users are shown offline",
  },
  {
    flag: "workers",
    env: "IM_WORKERS",
    kind: "int",
    min: 1,
    max: 64,
    help: "Server processes sharing the port, each with its own event loop (default: one per " +
      "CPU core; 1: a single process)",
  },
  {
    flag: "max-frame",
    env: "IM_MAX_FRAME",
    kind: "int",
    default: DEFAULT_MAX_FRAME,
    min: 1024,
    max: 16 * 1024 * 1024,
    help: "Largest frame payload accepted, bytes",
  },
  {
    flag: "max-text",
    env: "IM_MAX_TEXT",
    kind: "int",
    default: 4000,
    min: 1,
    max: 8000,
    help: "Longest message text, characters (bounded so one message fits a store value)",
  },
  {
    flag: "backlog-limit",
    env: "IM_BACKLOG_LIMIT",
    kind: "int",
    default: 200,
    min: 0,
    max: 100_000,
    help: "Most messages per room delivered at login after an absence (the newest kept)",
  },
  {
    flag: "room-retention",
    env: "IM_ROOM_RETENTION",
    kind: "int",
    default: 10_000,
    min: 1,
    help: "Messages kept per room",
  },
  {
    flag: "private-retention",
    env: "IM_PRIVATE_RETENTION",
    kind: "int",
    default: 1_000,
    min: 1,
    help: "Messages kept per private conversation",
  },
  {
    flag: "inbox-limit",
    env: "IM_INBOX_LIMIT",
    kind: "int",
    default: 1_000,
    min: 1,
    help: "Private messages kept in each user's private stream (oldest dropped)",
  },
  {
    flag: "dedupe-window",
    env: "IM_DEDUPE_WINDOW",
    kind: "int",
    default: 600,
    min: 1,
    help: "Seconds a send key is remembered (a resend with it stores nothing new)",
  },
  {
    flag: "lobby",
    env: "IM_LOBBY",
    kind: "string",
    default: "lobby",
    help: 'Room every new account joins ("" for none)',
  },
  {
    flag: "presence-room-limit",
    env: "IM_PRESENCE_ROOM_LIMIT",
    kind: "int",
    default: 500,
    min: 1,
    help: "Rooms with more members get online counts instead of per-user presence",
  },
  {
    flag: "max-rooms",
    env: "IM_MAX_ROOMS",
    kind: "int",
    default: 100,
    min: 1,
    help: "Rooms a user may be a member of",
  },
  {
    flag: "room-create-limit",
    env: "IM_ROOM_CREATE_LIMIT",
    kind: "int",
    default: 10,
    min: 1,
    help: "Rooms a user may create per hour",
  },
  {
    flag: "token-ttl",
    env: "IM_TOKEN_TTL",
    kind: "int",
    default: 7 * 24 * 3600,
    min: 1,
    help: "Resume token lifetime, seconds (a resume renews it once less than half is left)",
  },
  {
    flag: "login-timeout",
    env: "IM_LOGIN_TIMEOUT",
    kind: "int",
    default: 10,
    min: 1,
    help: "Seconds a connection may stay without logging in",
  },
  {
    flag: "ping-interval",
    env: "IM_PING_INTERVAL",
    kind: "int",
    default: 30,
    min: 1,
    help: "Seconds of silence before a ping; as long again without answer drops the session",
  },
  {
    flag: "send-queue",
    env: "IM_SEND_QUEUE",
    kind: "int",
    default: 1024 * 1024,
    min: 65536,
    help: "Bytes queued for one client before it is cut off as a slow consumer",
  },
  {
    flag: "rate",
    env: "IM_RATE",
    kind: "int",
    default: 20,
    min: 0,
    help: "Requests per second per session (acks and pongs excluded; 0: unlimited)",
  },
  {
    flag: "burst",
    env: "IM_BURST",
    kind: "int",
    default: 40,
    min: 1,
    help: "Requests a session may send at once above the rate",
  },
  {
    flag: "login-limit",
    env: "IM_LOGIN_LIMIT",
    kind: "int",
    default: 5,
    min: 1,
    help: "Wrong passwords per account from one address within the login window before " +
      "that account and address pair must wait",
  },
  {
    flag: "address-limit",
    env: "IM_ADDRESS_LIMIT",
    kind: "int",
    default: 20,
    min: 1,
    help: "Failed logins and resumes per remote address within the login window before it " +
      "must wait",
  },
  {
    flag: "account-limit",
    env: "IM_ACCOUNT_LIMIT",
    kind: "int",
    default: 10,
    min: 1,
    help: "Wrong passwords per account (all addresses) within the login window before it is " +
      "slowed for addresses it never logged in from (never locked)",
  },
  {
    flag: "login-window",
    env: "IM_LOGIN_WINDOW",
    kind: "int",
    default: 300,
    min: 1,
    help: "Seconds over which failed logins are counted",
  },
  {
    flag: "ipv6-prefix",
    env: "IM_IPV6_PREFIX",
    kind: "int",
    default: 64,
    min: 1,
    max: 128,
    help: "Per-address limits count an IPv6 address by its network prefix of this many bits",
  },
  {
    flag: "register-address-limit",
    env: "IM_REGISTER_ADDRESS_LIMIT",
    kind: "int",
    default: 10,
    min: 1,
    help: "Registrations per remote address within the register window",
  },
  {
    flag: "register-limit",
    env: "IM_REGISTER_LIMIT",
    kind: "int",
    default: 1000,
    min: 1,
    help: "Registrations per node within the register window, all addresses together",
  },
  {
    flag: "register-window",
    env: "IM_REGISTER_WINDOW",
    kind: "int",
    default: 3600,
    min: 1,
    help: "Seconds over which registrations are counted",
  },
  {
    flag: "hash-workers",
    env: "IM_HASH_WORKERS",
    kind: "int",
    min: 0,
    max: 64,
    help: "Hash passwords in this many idle-priority worker processes; 0: in-process threads " +
      "(default: one per CPU core)",
  },
  {
    flag: "hash-concurrency",
    env: "IM_HASH_CONCURRENCY",
    kind: "int",
    default: 0,
    min: 0,
    max: 256,
    help: "Password hashes computed at once on in-process threads, only with --hash-workers 0 " +
      "(0: one per core)",
  },
  {
    flag: "hash-queue",
    env: "IM_HASH_QUEUE",
    kind: "int",
    default: 1000,
    min: 1,
    help: "Logins and registrations waiting for hashing before more are refused (LOGIN_THROTTLED)",
  },
  {
    flag: "log-level",
    env: "IM_LOG_LEVEL",
    kind: "string",
    default: "info",
    choices: ["debug", "info", "warn", "error", "silent"],
    help: "Log verbosity",
  },
];

/**
 * Builds the server configuration from command-line arguments and environment.
 *
 * @throws {UsageError} for unknown flags or invalid values.
 *
 * @example
 * ```ts
 * const config = parseServerConfig(["--port", "9000"], () => undefined, "myhost");
 * config.nodeId; // "myhost:9000"
 * ```
 */
export function parseServerConfig(
  args: readonly string[],
  env: (name: string) => string | undefined,
  hostname: string,
  cores = 1,
  processId?: number,
): ServerConfig {
  const o = parseOptions(SERVER_OPTIONS, args, env);
  const port = o.port as number;
  // With port 0 (any free port) every node would be "host:0": the process id tells them apart.
  const nodeId = (o["node-id"] as string | undefined) ??
    (port === 0 && processId !== undefined ? `${hostname}:0-${processId}` : `${hostname}:${port}`);
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(nodeId)) {
    throw new UsageError("A node id has 1 to 64 of A-Z a-z 0-9 _ . : -");
  }
  const redisUrl = o.redis as string | undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new UsageError("The Redis URL must start with redis:// or rediss://");
  }
  const maxText = o["max-text"] as number;
  const maxFrame = o["max-frame"] as number;
  // A message event carries the text JSON-escaped (up to 6 bytes per character) plus its
  // other fields and, in a reply, the reply's own fields.
  if (maxText * 6 + 2048 > maxFrame) {
    throw new UsageError(
      `--max-frame ${maxFrame} is too small for --max-text ${maxText}: it needs at least ${
        maxText * 6 + 2048
      }`,
    );
  }
  const tlsCert = o["tls-cert"] as string | undefined;
  const tlsKey = o["tls-key"] as string | undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  return {
    host: o.host as string,
    port,
    kvPath: o.kv as string,
    redisUrl,
    redisPrefix: o["redis-prefix"] as string,
    redisCluster: o["redis-cluster"] as boolean,
    redisWaitReplicas: o["redis-wait-replicas"] as number,
    nodeId,
    nodeTtlMs: (o["node-ttl"] as number) * 1000,
    maxFrame,
    maxText,
    backlogLimit: o["backlog-limit"] as number,
    retention: {
      roomMax: o["room-retention"] as number,
      privateMax: o["private-retention"] as number,
      inboxMax: o["inbox-limit"] as number,
    },
    lobby: lobbyName(o.lobby as string),
    presenceRoomLimit: o["presence-room-limit"] as number,
    maxRooms: o["max-rooms"] as number,
    roomCreateLimit: o["room-create-limit"] as number,
    dedupeWindowMs: (o["dedupe-window"] as number) * 1000,
    workers: (o.workers as number | undefined) ?? Math.max(1, cores),
    tokenTtlMs: (o["token-ttl"] as number) * 1000,
    loginTimeoutMs: (o["login-timeout"] as number) * 1000,
    pingIntervalMs: (o["ping-interval"] as number) * 1000,
    sendQueueBytes: o["send-queue"] as number,
    rate: o.rate as number,
    hashConcurrency: o["hash-concurrency"] as number,
    hashWorkers: (o["hash-workers"] as number | undefined) ?? cores,
    hashQueue: o["hash-queue"] as number,
    burst: o.burst as number,
    loginLimit: o["login-limit"] as number,
    addressLimit: o["address-limit"] as number,
    accountLimit: o["account-limit"] as number,
    loginWindowMs: (o["login-window"] as number) * 1000,
    httpPort: o.http === false
      ? undefined
      : (o["http-port"] ?? o["metrics-port"] ?? DEFAULT_HTTP_PORT) as number,
    httpHost: (o["http-host"] ?? o["metrics-host"] ?? o.host) as string,
    allowedOrigins: ((o["allowed-origin"] as string | undefined) ?? "").split(",")
      .map((origin) => origin.trim()).filter((origin) => origin !== ""),
    metricsOpen: o["metrics-open"] as boolean,
    webDir: (o["web-dir"] as string | undefined) ??
      new URL("../../dist/web/", import.meta.url).pathname,
    registerAddressLimit: o["register-address-limit"] as number,
    registerLimit: o["register-limit"] as number,
    registerWindowMs: (o["register-window"] as number) * 1000,
    ipv6Prefix: o["ipv6-prefix"] as number,
    tlsCert,
    tlsKey,
    logLevel: o["log-level"] as LogLevel,
  };
}

/** The lobby option: empty means none; otherwise a valid room name. */
function lobbyName(value: string): string | null {
  if (value.trim() === "") return null;
  const folded = value.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{2,31}$/.test(folded)) {
    throw new UsageError("--lobby must be a room name (3-32 of a-z 0-9 _ . -) or empty");
  }
  return folded;
}
