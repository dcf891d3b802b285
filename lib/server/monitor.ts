/**
 * The operations side of a node: an HTTP listener with `/metrics` (Prometheus text) and
 * `/healthz`, and the event-loop lag probe.
 *
 * @module
 */

import type { ServerConfig } from "../config/server_config.ts";
import type { Store } from "../store/contract/store.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

const LAG_PROBE_MS = 100;
const HEALTH_TIMEOUT_MS = 2000;

/** The whole node's view, when this process is one of its workers. */
export interface NodeView {
  metrics(): Promise<string>;
  health(): Promise<{ ok: boolean; text: string }>;
}

/** This process's own metrics text. */
export function renderMetrics(hub: Hub, metrics: Metrics): string {
  let queuedBytes = 0;
  for (const session of hub.connections) queuedBytes += session.outbox.queuedBytes;
  return metrics.render({
    connections: hub.connections.size,
    sessions: hub.localSessions,
    localUsers: hub.localUsers,
    queuedBytes,
    subscriptions: hub.subscriptions,
  });
}

/**
 * Starts the listener on `--metrics-host`:`--metrics-port`; `stop()` ends it. With `node`
 * (a worker), every worker listens on the port and answers for the whole node.
 */
export function startMonitor(
  config: ServerConfig,
  store: Store,
  hub: Hub,
  metrics: Metrics,
  log: Logger,
  node?: NodeView,
): { stop(): Promise<void> } {
  let expected = performance.now() + LAG_PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    metrics.eventLoopLag = Math.max(metrics.eventLoopLag, Math.max(0, now - expected) / 1000);
    expected = now + LAG_PROBE_MS;
  }, LAG_PROBE_MS);
  const http = Deno.serve({
    hostname: config.metricsHost,
    port: config.metricsPort,
    reusePort: node !== undefined,
    onListen: ({ port }) => log.info("metrics_listening", { host: config.metricsHost, port }),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      const body = node ? await node.metrics() : renderMetrics(hub, metrics);
      return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
    }
    if (path === "/healthz" && node) {
      const { ok, text } = await node.health();
      return new Response(text, { status: ok ? 200 : 503 });
    }
    if (path === "/healthz") {
      try {
        await withDeadline(store.ping(), HEALTH_TIMEOUT_MS);
        return new Response(`ok ${store.backend}\n`);
      } catch (error) {
        return new Response(`store unreachable: ${error}\n`, { status: 503 });
      }
    }
    return new Response("not found\n", { status: 404 });
  });
  return {
    async stop() {
      clearInterval(probe);
      await http.shutdown();
    },
  };
}

function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => {}),
    new Promise<void>((_, reject) => timer = setTimeout(() => reject(new Error("timed out")), ms)),
  ]).finally(() => clearTimeout(timer));
}
