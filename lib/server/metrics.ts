/**
 * Counters and gauges of one node, rendered in the Prometheus text format. Updating a
 * counter is a field increment or one map lookup, cheap enough for the hot paths.
 *
 * @module
 */

import type { Store } from "../store/contract/store.ts";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** Gauges read at scrape time. */
export interface Gauges {
  connections: number;
  sessions: number;
  localUsers: number;
  queuedBytes: number;
  subscriptions: number;
  /** Redis: subscribed channels by shard. */
  shardSubscriptions?: Map<string, number>;
}

/**
 * The node's metrics.
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * metrics.frameIn("send");
 * metrics.render({ connections: 1, sessions: 1, localUsers: 1, queuedBytes: 0 });
 * ```
 */
export class Metrics {
  readonly #framesIn = new Map<string, number>();
  readonly #framesOut = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #storeOps = new Map<string, Histogram>();
  readonly #storeErrors = new Map<string, number>();
  readonly #shardOps = new Map<string, Histogram>();
  /** Chat messages written to recipients (one per recipient). */
  deliveries = 0;
  /** Bytes written to sockets. */
  bytesOut = 0;
  /** Connections accepted since start. */
  accepted = 0;
  /** Sessions cut off for not reading. */
  slowConsumers = 0;
  /** Longest event-loop delay seen since the last scrape, seconds. */
  eventLoopLag = 0;

  /** Counts a received frame by message type. */
  frameIn(type: string): void {
    this.#framesIn.set(type, (this.#framesIn.get(type) ?? 0) + 1);
  }

  /** Counts sent frames by type. */
  frameOut(type: string, n = 1): void {
    this.#framesOut.set(type, (this.#framesOut.get(type) ?? 0) + n);
  }

  /** Counts an error reply by code. */
  error(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  /** Counts a failed store operation that the node retries or reports (never silent). */
  storeError(op: string): void {
    this.#storeErrors.set(op, (this.#storeErrors.get(op) ?? 0) + 1);
  }

  /** Records how long a store operation took. */
  storeOp(op: string, seconds: number): void {
    observe(this.#storeOps, op, seconds);
  }

  /** Records how long a command took on one Redis shard (`host:port`). */
  shardOp(shard: string, seconds: number): void {
    observe(this.#shardOps, shard, seconds);
  }

  /** The Prometheus text exposition of every metric. */
  render(gauges: Gauges): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [string, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
    };
    const labelled = (label: string, map: Map<string, number>): [string, number][] =>
      [...map].map(([key, value]) => [`{${label}="${key}"}`, value]);
    metric("imchat_connections", "gauge", "Open connections.", [["", gauges.connections]]);
    metric("imchat_sessions", "gauge", "Logged-in sessions on this node.", [["", gauges.sessions]]);
    metric("imchat_users", "gauge", "Users with a session on this node.", [[
      "",
      gauges.localUsers,
    ]]);
    metric("imchat_queued_bytes", "gauge", "Bytes waiting in outbound queues.", [[
      "",
      gauges.queuedBytes,
    ]]);
    metric("imchat_bus_subscriptions", "gauge", "Channels this node is subscribed to.", [[
      "",
      gauges.subscriptions,
    ]]);
    metric("imchat_connections_accepted_total", "counter", "Connections accepted.", [[
      "",
      this.accepted,
    ]]);
    metric(
      "imchat_frames_in_total",
      "counter",
      "Frames received, by type.",
      labelled("type", this.#framesIn),
    );
    const framesOut = new Map(this.#framesOut).set("message", this.deliveries);
    metric(
      "imchat_frames_out_total",
      "counter",
      "Frames sent, by type.",
      labelled("type", framesOut),
    );
    metric("imchat_deliveries_total", "counter", "Chat messages written to recipients.", [[
      "",
      this.deliveries,
    ]]);
    metric("imchat_bytes_out_total", "counter", "Bytes written to clients.", [["", this.bytesOut]]);
    metric("imchat_slow_consumers_total", "counter", "Sessions cut off for not reading.", [[
      "",
      this.slowConsumers,
    ]]);
    metric(
      "imchat_store_errors_total",
      "counter",
      "Failed store operations (retried or reported), by operation.",
      labelled("op", this.#storeErrors),
    );
    metric(
      "imchat_errors_total",
      "counter",
      "Error replies, by code.",
      labelled("code", this.#errors),
    );
    histogram(out, "imchat_store_op_seconds", "Store operation latency.", "op", this.#storeOps);
    histogram(
      out,
      "imchat_redis_command_seconds",
      "Redis command latency, by shard.",
      "shard",
      this.#shardOps,
    );
    if (gauges.shardSubscriptions) {
      metric(
        "imchat_redis_subscriptions",
        "gauge",
        "Channels subscribed on each Redis shard.",
        labelled("shard", gauges.shardSubscriptions),
      );
    }
    metric(
      "imchat_event_loop_lag_seconds",
      "gauge",
      "Longest event-loop delay since last scrape.",
      [[
        "",
        this.eventLoopLag,
      ]],
    );
    this.eventLoopLag = 0;
    return out.join("\n") + "\n";
  }
}

function observe(map: Map<string, Histogram>, key: string, seconds: number): void {
  let h = map.get(key);
  if (!h) {
    h = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
    map.set(key, h);
  }
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    if (seconds <= LATENCY_BUCKETS[i]) h.buckets[i]++;
  }
  h.sum += seconds;
  h.count++;
}

function histogram(
  out: string[],
  name: string,
  help: string,
  label: string,
  map: Map<string, Histogram>,
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const [key, h] of map) {
    LATENCY_BUCKETS.forEach((le, i) =>
      out.push(`${name}_bucket{${label}="${key}",le="${le}"} ${h.buckets[i]}`)
    );
    out.push(`${name}_bucket{${label}="${key}",le="+Inf"} ${h.count}`);
    out.push(`${name}_sum{${label}="${key}"} ${h.sum}`);
    out.push(`${name}_count{${label}="${key}"} ${h.count}`);
  }
}

/** `method` bound to `object`, recording each call's latency under `op`. */
function timedMethod(
  object: unknown,
  method: (...args: unknown[]) => unknown,
  op: string,
  metrics: Metrics,
): (...args: unknown[]) => Promise<unknown> {
  return (...args) => {
    const start = performance.now();
    const done = () => metrics.storeOp(op, (performance.now() - start) / 1000);
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(method.apply(object, args));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(done, done);
    return result;
  };
}

/** The contracts whose operations' latency is recorded. */
const TIMED = ["accounts", "rooms", "streams", "presence"] as const;

/**
 * Wraps a store so every contract operation's latency lands in `metrics` (as
 * `contract.method`); everything else passes through untouched.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const wrapped: Record<string, unknown> = {};
  for (const part of TIMED) {
    const target = store[part] as unknown as Record<string, unknown>;
    // One timed wrapper per method, made at its first use (not at every call).
    const timed = new Map<string, { of: unknown; fn: unknown }>();
    wrapped[part] = new Proxy(target, {
      get(object, key) {
        const value = Reflect.get(object, key, object);
        if (typeof value !== "function" || typeof key !== "string") return value;
        const known = timed.get(key);
        if (known !== undefined && known.of === value) return known.fn;
        const fn = timedMethod(object, value, `${part}.${key}`, metrics);
        timed.set(key, { of: value, fn });
        return fn;
      },
    });
  }
  return new Proxy(store, {
    get(target, key) {
      if (typeof key === "string" && key in wrapped) return wrapped[key];
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
