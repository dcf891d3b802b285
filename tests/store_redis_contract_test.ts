/**
 * The shared store contract suites (tests/contract/) on the Redis backend: on one
 * redis-server and on a three-master Redis Cluster. Each case runs on a fresh key prefix of
 * one server started per suite, with one store per node id.
 *
 * @module
 */

import { ACCOUNT_CASES } from "./contract/accounts.ts";
import { BUS_CASES } from "./contract/bus.ts";
import { type ContractCase, type StoreFactory, TEST_SETTINGS } from "./contract/_factory.ts";
import { PRESENCE_CASES } from "./contract/presence.ts";
import { ROOM_CASES } from "./contract/rooms.ts";
import { STREAM_CASES } from "./contract/streams.ts";
import { startRedis, startRedisCluster } from "./_redis.ts";
import { openRedisStore } from "../lib/store/redis/open.ts";
import type { Store } from "../lib/store/contract/store.ts";

const SUITES: [string, ContractCase[]][] = [
  ["accounts", ACCOUNT_CASES],
  ["rooms", ROOM_CASES],
  ["streams", STREAM_CASES],
  ["bus", BUS_CASES],
  ["presence", PRESENCE_CASES],
];

let prefixes = 0;

/** Stores of one key prefix on one Redis, one per node id. */
function factory(url: string, cluster: boolean): StoreFactory {
  const prefix = `c${++prefixes}:`;
  const stores: Store[] = [];
  return {
    async open(nodeId) {
      const store = await openRedisStore({
        ...TEST_SETTINGS,
        url,
        cluster,
        prefix,
        nodeId,
        nodeTtlMs: 5000,
      });
      stores.push(store);
      return store;
    },
    async [Symbol.asyncDispose]() {
      for (const store of stores) await store[Symbol.asyncDispose]();
    },
  };
}

async function runCases(
  t: Deno.TestContext,
  url: string,
  cluster: boolean,
  cases: ContractCase[],
): Promise<void> {
  for (const [name, run] of cases) {
    await t.step(name, async () => {
      await using f = factory(url, cluster);
      await run(f);
    });
  }
}

for (const [title, cases] of SUITES) {
  Deno.test(`redis store: ${title} contract`, async (t) => {
    await using redis = await startRedis();
    await runCases(t, redis.url, false, cases);
  });
}

Deno.test("redis cluster store: the five contracts", async (t) => {
  await using cluster = await startRedisCluster();
  for (const [title, cases] of SUITES) {
    await t.step(title, (s) => runCases(s, cluster.url, true, cases));
  }
});
