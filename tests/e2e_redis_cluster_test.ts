import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { spawnServer, userOn } from "./_harness.ts";
import { startRedisCluster } from "./_redis.ts";

Deno.test("two nodes on a three-master Redis Cluster behave as one server", async () => {
  await using cluster = await startRedisCluster();
  const args = (id: string) => [
    "--port",
    "0",
    "--redis",
    cluster.url,
    "--redis-cluster",
    "--node-id",
    id,
    "--node-ttl",
    "2",
  ];
  await using a = await spawnServer(args("node-a"));
  await using b = await spawnServer(args("node-b"));
  const alice = await userOn(a.port, "alice");
  const bob = await userOn(b.port, "bob");
  await alice.next("presence", (e) => e.user.name === "bob" && e.online);

  const group = await alice.conn.request("send", { text: "across the cluster" });
  equal(
    (await bob.next("message", (e) => e.msg.id === group.msgId)).msg.text,
    "across the cluster",
  );
  const reply = await bob.conn.request("send", { to: "alice", text: "private, other node" });
  ok(reply.msgId > group.msgId);
  equal((await alice.next("message", (e) => e.msg.id === reply.msgId)).msg.to, "alice");
  deepStrictEqual(await alice.conn.request("count", {}), { users: 2, sessions: 2 });

  bob.close();
  await alice.next("presence", (e) => e.user.name === "bob" && !e.online);
  const missed = await alice.conn.request("send", { to: "bob", text: "while you were gone" });
  const back = await userOn(a.port, "bob", false);
  await back.next("backlog");
  ok(back.messages().some((m) => m.msg.id === missed.msgId && m.away === true));
  const history = await back.conn.request("history", { with: "alice" });
  deepStrictEqual(history.messages.map((m) => m.text), [
    "private, other node",
    "while you were gone",
  ]);

  // Every key of the chat shares one hash tag, so one slot (and one shard) holds them.
  const keys: string[] = [];
  for (const port of cluster.ports) {
    const out = await new Deno.Command("redis-cli", { args: ["-p", String(port), "--scan"] })
      .output();
    keys.push(...new TextDecoder().decode(out.stdout).split("\n").filter(Boolean));
  }
  ok(keys.length > 5 && keys.every((k) => k.startsWith("{im}:")), keys.join(" "));

  for (const c of [alice, back]) c.close();
  await Promise.all([alice.conn.closed, back.conn.closed, bob.conn.closed]);
});
