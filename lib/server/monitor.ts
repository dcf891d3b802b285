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

/** Starts the listener on `--metrics-host`:`--metrics-port`; `stop()` ends it. */
export function startMonitor(
  config: ServerConfig,
  store: Store,
  hub: Hub,
  metrics: Metrics,
  log: Logger,
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
    onListen: ({ port }) => log.info("metrics_listening", { host: config.metricsHost, port }),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      let queuedBytes = 0;
      for (const session of hub.connections) queuedBytes += session.outbox.queuedBytes;
      const body = metrics.render({
        connections: hub.connections.size,
        sessions: hub.localSessions,
        localUsers: hub.localUsers,
        queuedBytes,
      });
      return new Response(body, { headers: { "content-type": "text/plain; version=0.0.4" } });
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
