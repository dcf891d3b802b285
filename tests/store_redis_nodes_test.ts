/**
 * Node ids, heartbeats and reaping on Redis, with real node processes that are killed
 * (SIGKILL) or stalled past their TTL (SIGSTOP/SIGCONT): a live id is refused, a dead node's
 * users go offline with `node_down` in bounded rounds and their interrupted sends are
 * completed, and a node that was reaped while stalled registers its users again and has its
 * channels refilled.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { BusDelivery, PresenceNote } from "../lib/store/contract/bus.ts";
import type { StoreStatus } from "../lib/store/contract/store.ts";
import { Keys } from "../lib/store/redis/keys.ts";
import { RedisLink } from "../lib/store/redis/link.ts";
import { APPEND_SENT } from "../lib/store/redis/lua_streams.ts";
import { REAP_BATCH } from "../lib/store/redis/nodes.ts";
import { openRedisStore, type RedisStoreOptions } from "../lib/store/redis/open.ts";
import { eventually, TEST_SETTINGS } from "./contract/_factory.ts";
import { startRedis } from "./_redis.ts";

const NODE = new URL("./_redis_node.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** A node process (tests/_redis_node.ts) and the JSON lines it printed. */
class NodeProcess implements AsyncDisposable {
  readonly events: Record<string, unknown>[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  #gone = false;

  private constructor(args: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", NODE, ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          this.events.push(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
        }
      }
    })();
  }

  /** Starts a node; resolves once its users are online. */
  static async start(url: string, prefix: string, id: string, ttl: number, users: string[]) {
    const node = new NodeProcess([url, prefix, id, String(ttl), users.join(",")]);
    await node.waitFor((e) => e.ready === true, "the node to start", 20_000);
    return node;
  }

  waitFor(
    check: (event: Record<string, unknown>) => boolean,
    what: string,
    ms = 10_000,
  ): Promise<Record<string, unknown>> {
    return eventually(() => this.events.find(check), what, ms);
  }

  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  async kill(): Promise<void> {
    if (this.#gone) return;
    this.#gone = true;
    this.#child.kill("SIGKILL");
    await this.#child.status;
    await this.#reading;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.kill();
  }
}

function settings(
  url: string,
  prefix: string,
  nodeId: string,
  extra: Partial<RedisStoreOptions> = {},
) {
  return { ...TEST_SETTINGS, url, prefix, nodeId, nodeTtlMs: 1000, ...extra };
}

function notes(store: { bus: { onDelivery(l: (c: string, d: BusDelivery) => void): void } }) {
  const heard: { channel: string; note: PresenceNote }[] = [];
  store.bus.onDelivery((channel, delivery) => {
    if (delivery.kind === "event" && delivery.event.type === "presence") {
      heard.push({ channel, note: delivery.event });
    }
  });
  return heard;
}

Deno.test("redis store: a live node id is refused; takeOver starts anyway", async () => {
  await using redis = await startRedis();
  await using first = await openRedisStore(settings(redis.url, "t:", "chat1"));
  await assert.rejects(
    () => openRedisStore(settings(redis.url, "t:", "chat1")),
    { message: "node id chat1 is in use by a running node" },
  );
  await first.presence.attach({ name: "alice", nickname: "A" }, []);
  const statuses: StoreStatus[] = [];
  await using second = await openRedisStore(
    settings(redis.url, "t:", "chat1", { takeOver: true, onStatus: (s) => statuses.push(s) }),
  );
  // The users of the incarnation taken over are gone; the new one serves.
  assert.deepEqual(await second.presence.status(["alice"]), new Map());
  await second.presence.attach({ name: "bob", nickname: "B" }, []);
  assert.equal((await second.presence.counts()).users, 1);
});

Deno.test("redis store: a node's own leftovers are cleared when it starts again", async () => {
  await using redis = await startRedis();
  {
    await using node = await NodeProcess.start(redis.url, "t:", "chat1", 1000, ["alice"]);
    await node.kill();
  }
  await using watcher = await openRedisStore(
    settings(redis.url, "t:", "watcher", { nodeTtlMs: 60_000 }),
  );
  assert.equal((await watcher.presence.status(["alice"])).size, 1);
  const heard = notes(watcher);
  await watcher.bus.subscribe(["~alice"]);
  await eventually(
    async () => {
      try {
        return await openRedisStore(settings(redis.url, "t:", "chat1"));
      } catch {
        return undefined;
      }
    },
    "the id to be free",
    5000,
  ).then((store) => store[Symbol.asyncDispose]());
  assert.deepEqual(await watcher.presence.status(["alice"]), new Map());
  const offline = await eventually(() => heard.find((h) => !h.note.online), "alice offline");
  assert.equal(offline.note.reason, "node_down");
});

Deno.test("redis store: a dead node's users go offline with node_down, in rounds", async () => {
  await using redis = await startRedis();
  const users = Array.from({ length: 450 }, (_, i) => `u${String(i).padStart(3, "0")}`);
  await using node = await NodeProcess.start(redis.url, "t:", "dying", 1000, [
    "alice:tea",
    ...users,
  ]);
  const link = await RedisLink.open({
    url: redis.url,
    cluster: false,
    waitReplicas: 0,
    status: () => {},
  });
  try {
    // alice's node dies between the two writes of a private message to bob.
    const keys = new Keys("t:");
    const tail = ',"ts":1,"from":"alice","nick":"A","to":"bob","text":"half-sent"}';
    await link.eval(APPEND_SENT, keys.user("alice"), [
      "15",
      "10",
      "60000",
      "epoch",
      '"@alice"',
      "bob",
      "",
      "",
      "1",
      tail,
    ]);
  } finally {
    await link.close();
  }
  const rounds: string[] = [];
  const statuses: StoreStatus[] = [];
  await using watcher = await openRedisStore(settings(redis.url, "t:", "watcher", {
    onStatus: (s) => statuses.push(s),
    observer: { command: (_shard, op) => void (op === "node_users" && rounds.push(op)) },
  }));
  await watcher.rooms.create({
    name: "tea",
    title: "t",
    topic: "",
    public: true,
    owner: "alice",
    createdAt: 1,
  }, 9);
  const heard = notes(watcher);
  await watcher.bus.subscribe(["~alice", "#tea"]);
  assert.equal((await watcher.presence.counts()).users, 451);
  await node.kill();
  const reaped = await eventually(
    () => statuses.find((s) => s.event === "node_reaped"),
    "the dead node to be reaped",
    10_000,
  );
  assert.ok(reaped.event === "node_reaped" && reaped.users === 451);
  assert.ok(rounds.length >= Math.ceil(451 / REAP_BATCH), `${rounds.length} rounds`);
  assert.equal((await watcher.presence.counts()).users, 0);
  const offline = await eventually(() => heard.find((h) => h.channel === "~alice"), "alice");
  assert.equal(offline.note.reason, "node_down");
  const bob = await watcher.streams.read("@bob", 0, 10);
  assert.deepEqual(bob.messages.map((m) => [m.from, m.text]), [["alice", "half-sent"]]);
  assert.equal(await watcher.streams.complete("alice"), 0);
});

Deno.test("redis store: a node reaped while stalled registers its users again", async () => {
  await using redis = await startRedis();
  await using node = await NodeProcess.start(redis.url, "t:", "sleepy", 1000, ["alice"]);
  await using watcher = await openRedisStore(settings(redis.url, "t:", "watcher"));
  const heard = notes(watcher);
  await watcher.bus.subscribe(["~alice"]);
  node.signal("SIGSTOP");
  try {
    const offline = await eventually(() => heard.find((h) => !h.note.online), "alice offline");
    assert.equal(offline.note.reason, "node_down");
  } finally {
    node.signal("SIGCONT");
  }
  await eventually(() => heard.find((h) => h.note.online), "alice online again");
  const restored = await node.waitFor((e) => Array.isArray(e.restored), "channels restored");
  assert.deepEqual(restored.restored, ["@alice"]);
  await eventually(
    async () => (await watcher.presence.status(["alice"])).size === 1 ? true : undefined,
    "alice listed online",
  );
});
