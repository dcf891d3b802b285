/**
 * The store contract suites over the worker link: a Deno KV owner serving worker stores over a
 * Unix socket, as `--workers` runs it on the embedded store.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Store } from "../lib/store/contract/store.ts";
import { KvBackend } from "../lib/store/kv/backend.ts";
import { StoreOwner } from "../lib/store/link/owner.ts";
import { openLinkStore } from "../lib/store/link/remote.ts";
import { ACCOUNT_CASES } from "./contract/accounts.ts";
import { BUS_CASES } from "./contract/bus.ts";
import { eventually, type MakeFactory, runContract, TEST_SETTINGS } from "./contract/_factory.ts";
import { PRESENCE_CASES } from "./contract/presence.ts";
import { ROOM_CASES } from "./contract/rooms.ts";
import { STREAM_CASES } from "./contract/streams.ts";

const makeLink: MakeFactory = async (settings) => {
  const dir = await Deno.makeTempDir();
  const backend = await KvBackend.open(":memory:", settings);
  const owner = await StoreOwner.listen({
    path: `${dir}/store.sock`,
    nodeStore: (id) => backend.node(id),
  });
  const stores: Store[] = [];
  return {
    async open(nodeId) {
      const store = await openLinkStore(`${dir}/store.sock`, nodeId);
      stores.push(store);
      return store;
    },
    async [Symbol.asyncDispose]() {
      for (const store of stores) await store[Symbol.asyncDispose]();
      await owner[Symbol.asyncDispose]();
      await backend[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
};

runContract("link", "accounts", ACCOUNT_CASES, makeLink);
runContract("link", "rooms", ROOM_CASES, makeLink);
runContract("link", "streams", STREAM_CASES, makeLink);
runContract("link", "bus", BUS_CASES, makeLink);
runContract("link", "presence", PRESENCE_CASES, makeLink);

Deno.test("link store: a worker whose link closes takes its users offline (node_down)", async () => {
  await using f = await makeLink(TEST_SETTINGS);
  const watcher = await f.open("watcher");
  const worker = await f.open("worker");
  const heard: string[] = [];
  watcher.bus.onDelivery((_, d) => {
    if (d.kind === "event" && d.event.type === "presence" && !d.event.online) {
      heard.push(d.event.reason!);
    }
  });
  await watcher.bus.subscribe(["~alice"]);
  await worker.presence.attach({ name: "alice", nickname: "Alice" }, []);
  await worker[Symbol.asyncDispose]();
  await eventually(() => heard.length > 0 ? true : undefined, "alice offline");
  assert.deepEqual(heard, ["node_down"]);
  assert.deepEqual(await watcher.presence.status(["alice"]), new Map());
});
