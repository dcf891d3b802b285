import { openRedisStore } from "../lib/store/redis.ts";
import { type RedisServer, startRedis } from "./_redis.ts";
import { storeContract } from "./store_contract.ts";

let redis: RedisServer | undefined;

Deno.test.beforeAll(async () => {
  redis = await startRedis();
});

Deno.test.afterAll(async () => {
  await redis?.[Symbol.asyncDispose]();
});

storeContract("redis", () => {
  // Each test gets its own key prefix on the one server.
  const prefix = `test:${crypto.randomUUID()}:`;
  return Promise.resolve({
    open: (retention) =>
      openRedisStore({ url: redis!.url, nodeId: "test-node", prefix, retention }),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  });
});
