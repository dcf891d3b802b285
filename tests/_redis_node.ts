/**
 * Test helper: a node in a process of its own, for the tests that kill or stall a node
 * (SIGKILL, SIGSTOP). It opens the Redis store, brings users online, subscribes to their
 * inbox channels and prints one JSON line per event on stdout (`ready`, `restored`,
 * `status`); it runs until killed. Arguments: url, prefix, node id, node TTL ms, a comma
 * list of `user` or `user:room` entries, and `cluster` to use a Redis Cluster.
 *
 * @module
 */

import { openRedisStore } from "../lib/store/redis/open.ts";
import { TEST_SETTINGS } from "./contract/_factory.ts";

const [url, prefix, nodeId, ttl, list, mode] = Deno.args;
const say = (value: unknown) => console.log(JSON.stringify(value));
const store = await openRedisStore({
  ...TEST_SETTINGS,
  url,
  prefix,
  nodeId,
  nodeTtlMs: Number(ttl),
  cluster: mode === "cluster",
  onStatus: (status) => say({ status }),
});
store.bus.onRestored((channels) => say({ restored: channels }));
const users = list === "" ? [] : list.split(",");
const channels: string[] = [];
for (let i = 0; i < users.length; i += 200) {
  await Promise.all(
    users.slice(i, i + 200).map((entry) => {
      const [name, room] = entry.split(":");
      channels.push(`@${name}`);
      return store.presence.attach({ name, nickname: name.toUpperCase() }, room ? [room] : []);
    }),
  );
}
await store.bus.subscribe(channels);
say({ ready: true });
await new Promise(() => {});
