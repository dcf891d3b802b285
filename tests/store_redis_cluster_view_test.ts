/**
 * The slot map merged from several nodes' `CLUSTER NODES`: a restarted master that still
 * believes in its old slots is outvoted by the newer config epoch of the replica that
 * replaced it, whichever node answers first.
 *
 * @module
 */

import assert from "node:assert/strict";
import { clusterView } from "../lib/store/redis/cluster_view.ts";

/** `CLUSTER NODES` of the master on 7000 killed and restarted before it heard of its failover. */
const STALE = [
  "a0 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460",
  "a1 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922",
  "a2 127.0.0.1:7002@17002 master - 0 1 3 connected 10923-16383",
  "a3 127.0.0.1:7003@17003 slave a0 0 1 1 connected",
].join("\n");

/** `CLUSTER NODES` of another master: 7003 won the failover with epoch 7. */
const CURRENT = [
  "a0 127.0.0.1:7000@17000 master,fail - 1 1 1 disconnected",
  "a1 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 5461-10922",
  "a2 127.0.0.1:7002@17002 master - 0 1 3 connected 10923-16383",
  "a3 127.0.0.1:7003@17003 master - 0 1 7 connected 0-5460",
].join("\n");

const after = [
  { from: 0, to: 5460, master: "127.0.0.1:7003" },
  { from: 5461, to: 10922, master: "127.0.0.1:7001" },
  { from: 10923, to: 16383, master: "127.0.0.1:7002" },
];

Deno.test("cluster view: the newer config epoch wins over a restarted master's old view", () => {
  const stale = { address: "127.0.0.1:7000", text: STALE };
  const current = { address: "127.0.0.1:7001", text: CURRENT };
  assert.deepEqual(clusterView([stale, current]).ranges, after);
  assert.deepEqual(clusterView([current, stale]).ranges, after);
  // Alone, the stale view is all there is.
  assert.equal(clusterView([stale]).ranges[0].master, "127.0.0.1:7000");
  assert.deepEqual(clusterView([stale, current]).nodes.sort(), [
    "127.0.0.1:7000",
    "127.0.0.1:7001",
    "127.0.0.1:7002",
    "127.0.0.1:7003",
  ]);
});

Deno.test("cluster view: migrations, unknown addresses and single slots", () => {
  const text = [
    // A node that does not know its own ip yet; a slot being migrated away.
    "b0 :7000@17000 myself,master - 0 0 4 connected 0-99 100 [101->-b1]",
    "b1 127.0.0.1:7001@17001,cache-1 master - 0 1 5 connected 101-16383 [50-<-b0]",
    "b2 :0@0 master,noaddr - 0 1 9 disconnected 0-16383",
    "b3 127.0.0.1:7003@17003 handshake - 0 1 9 disconnected",
  ].join("\n");
  const view = clusterView([{ address: "10.0.0.5:7000", text }]);
  assert.deepEqual(view.ranges, [
    { from: 0, to: 100, master: "10.0.0.5:7000" },
    { from: 101, to: 16383, master: "127.0.0.1:7001" },
  ]);
  assert.deepEqual(view.nodes, ["10.0.0.5:7000", "127.0.0.1:7001"]);
  assert.deepEqual(clusterView([{ address: "h:1", text: "" }]), { ranges: [], nodes: [] });
});
