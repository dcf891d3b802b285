/**
 * Which master serves which hash slot, decided from the `CLUSTER NODES` replies of several
 * nodes the way Redis Cluster decides it: when two masters claim a slot, the claim with the
 * greater config epoch wins. One node's view alone can be stale: a master that was failed over
 * and restarts believes, until it hears from the others, that it still serves its slots (and
 * answers `CLUSTER SLOTS` and `SSUBSCRIBE` as their master); the replica that replaced it
 * claims them with a newer epoch.
 *
 * @module
 */

import { SLOTS } from "./slot.ts";

/** One node's `CLUSTER NODES` reply, and the `host:port` it was asked at. */
export interface NodesReply {
  address: string;
  text: string;
}

/** A run of slots served by one master. */
export interface SlotRange {
  from: number;
  to: number;
  /** `host:port` of the master. */
  master: string;
}

/** The slot map agreed from several replies. */
export interface ClusterView {
  /** The served slots in order (slots no master claims are left out). */
  ranges: SlotRange[];
  /** The `host:port` of every node mentioned, masters and replicas. */
  nodes: string[];
}

/**
 * Merges `CLUSTER NODES` replies: each slot goes to the master whose claim on it carries the
 * greatest config epoch in any reply.
 *
 * @example
 * ```ts
 * const view = clusterView([{
 *   address: "127.0.0.1:7000",
 *   text: "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n",
 * }]);
 * // view.ranges: [{ from: 0, to: 16383, master: "127.0.0.1:7000" }]
 * ```
 */
export function clusterView(replies: readonly NodesReply[]): ClusterView {
  const epochs = new Float64Array(SLOTS).fill(-1);
  const owners: (string | undefined)[] = new Array(SLOTS);
  const addresses = new Map<string, string>();
  for (const reply of replies) {
    for (const line of reply.text.split("\n")) {
      const fields = line.trim().split(" ");
      if (fields.length < 8) continue;
      const [id, endpoint, flagList, , , , epochText, , ...slots] = fields;
      const flags = flagList.split(",");
      if (flags.includes("handshake") || flags.includes("noaddr")) continue;
      const address = addressOf(endpoint, flags.includes("myself") ? reply.address : "");
      if (address === null) continue;
      if (!addresses.has(id)) addresses.set(id, address);
      if (!flags.includes("master")) continue;
      const epoch = Number(epochText);
      for (const range of slots) {
        // `[slot->-id]` and `[slot-<-id]` are migrations in progress, not ownership.
        const match = /^(\d+)(?:-(\d+))?$/.exec(range);
        if (!match) continue;
        const from = Number(match[1]);
        const to = Math.min(Number(match[2] ?? match[1]), SLOTS - 1);
        for (let slot = from; slot <= to; slot++) {
          if (epoch > epochs[slot]) {
            epochs[slot] = epoch;
            owners[slot] = id;
          }
        }
      }
    }
  }
  const ranges: SlotRange[] = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    const owner = owners[slot];
    if (owner === undefined) continue;
    const master = addresses.get(owner)!;
    const last = ranges.at(-1);
    if (last && last.to === slot - 1 && last.master === master) last.to = slot;
    else ranges.push({ from: slot, to: slot, master });
  }
  return { ranges, nodes: [...new Set(addresses.values())] };
}

/**
 * `host:port` of a `CLUSTER NODES` endpoint (`ip:port@cport` or `ip:port@cport,hostname`);
 * a node that does not know its own ip yet shows `:port@cport`, so `self` (the address it
 * was asked at) stands in for it. Null for a node without an address.
 */
function addressOf(endpoint: string, self: string): string | null {
  const [hostPort, hostname] = endpoint.split(",");
  const at = hostPort.indexOf("@");
  const main = at < 0 ? hostPort : hostPort.slice(0, at);
  const colon = main.lastIndexOf(":");
  if (colon < 0) return null;
  const port = main.slice(colon + 1);
  if (port === "" || port === "0") return null;
  let host = main.slice(0, colon) || hostname || "";
  if (host === "" && self !== "") host = self.slice(0, self.lastIndexOf(":"));
  if (host === "") return null;
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}
