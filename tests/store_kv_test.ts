/**
 * The store contract suites on the Deno KV backend (an in-memory KV file; one view per node,
 * as the workers of one process get), and what is particular to it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KvBackend } from "../lib/store/kv/backend.ts";
import { ACCOUNT_CASES } from "./contract/accounts.ts";
import { BUS_CASES } from "./contract/bus.ts";
import { type MakeFactory, runContract, TEST_SETTINGS } from "./contract/_factory.ts";
import { PRESENCE_CASES } from "./contract/presence.ts";
import { ROOM_CASES } from "./contract/rooms.ts";
import { STREAM_CASES } from "./contract/streams.ts";

const makeKv: MakeFactory = async (settings) => {
  const backend = await KvBackend.open(":memory:", settings);
  return {
    open: (nodeId) => Promise.resolve(backend.node(nodeId)),
    [Symbol.asyncDispose]: () => backend[Symbol.asyncDispose](),
  };
};

runContract("kv", "accounts", ACCOUNT_CASES, makeKv);
runContract("kv", "rooms", ROOM_CASES, makeKv);
runContract("kv", "streams", STREAM_CASES, makeKv);
runContract("kv", "bus", BUS_CASES, makeKv);
runContract("kv", "presence", PRESENCE_CASES, makeKv);

Deno.test("kv store: a second process cannot open the same file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using _owner = await KvBackend.open(`${dir}/chat.kv`, TEST_SETTINGS);
    const other = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--unstable-kv",
        `import { KvBackend } from "${new URL("../lib/store/kv/backend.ts", import.meta.url)}";
         try { await KvBackend.open("${dir}/chat.kv", { retention: { roomMax: 1, inboxMax: 1, privateMax: 1 }, dedupeWindowMs: 1, presenceRoomLimit: 1, lobby: null }); console.log("opened"); }
         catch (e) { console.log(e.message); }`,
      ],
      stdout: "piped",
      stderr: "null",
    });
    const out = new TextDecoder().decode((await other.output()).stdout);
    assert.match(out, /in use by another server process/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv store: data survives closing and reopening the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.kv`;
    let epoch: string;
    {
      await using backend = await KvBackend.open(path, TEST_SETTINGS);
      const store = backend.node("n1");
      await store.rooms.create({
        name: "tea",
        title: "t",
        topic: "",
        public: true,
        owner: "alice",
        createdAt: 1,
      }, 9);
      await store.streams.append([{ room: "tea", from: "alice", nick: "A", ts: 1, text: "kept" }]);
      epoch = (await store.streams.head("#tea")).epoch;
    }
    await using backend = await KvBackend.open(path, TEST_SETTINGS);
    const store = backend.node("n1");
    assert.deepEqual(await store.streams.head("#tea"), { seq: 1, epoch });
    const [next] = await store.streams.append([{
      room: "tea",
      from: "alice",
      nick: "A",
      ts: 2,
      text: "more",
    }]);
    assert.ok(next.ok && next.message.seq === 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
