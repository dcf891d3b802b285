/**
 * The operations side of a node: its metrics text, its health, and the event-loop lag probe.
 *
 * @module
 */

import type { Store } from "../store/contract/store.ts";
import type { Hub } from "./hub.ts";
import type { Metrics } from "./metrics.ts";

const LAG_PROBE_MS = 100;
const HEALTH_TIMEOUT_MS = 2000;

/** The whole node's view, when this process is one of its workers. */
export interface NodeView {
  metrics(): Promise<string>;
  health(): Promise<{ ok: boolean; text: string }>;
}

/** This process's own metrics text. */
export function renderMetrics(hub: Hub, metrics: Metrics, store?: Store): string {
  let queuedBytes = 0;
  for (const session of hub.connections) queuedBytes += session.outbox.queuedBytes;
  const byShard = (store as { subscriptionsByShard?: () => Map<string, number> } | undefined)
    ?.subscriptionsByShard?.();
  return metrics.render({
    shardSubscriptions: byShard,
    connections: hub.connections.size,
    sessions: hub.localSessions,
    localUsers: hub.localUsers,
    queuedBytes,
    subscriptions: hub.subscriptions,
  });
}

/** This process's health: whether its store answers within 2 s. */
export async function health(store: Store): Promise<{ ok: boolean; text: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error("timed out")), HEALTH_TIMEOUT_MS)
      ),
    ]);
    return { ok: true, text: `ok ${store.backend === "link" ? "kv" : store.backend}\n` };
  } catch (error) {
    return { ok: false, text: `store unreachable: ${error}\n` };
  } finally {
    clearTimeout(timer);
  }
}

/** Measures event-loop lag into `metrics`; returns the function that stops it. */
export function startLagProbe(metrics: Metrics): () => void {
  let expected = performance.now() + LAG_PROBE_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    metrics.eventLoopLag = Math.max(metrics.eventLoopLag, Math.max(0, now - expected) / 1000);
    expected = now + LAG_PROBE_MS;
  }, LAG_PROBE_MS);
  return () => clearInterval(probe);
}
