import { deepStrictEqual, equal, rejects } from "node:assert/strict";
import { type BatchSender, ReadBatcher } from "../lib/store/redis/read_batch.ts";

/** A sender that records what it was asked and answers from `replies`. */
function recorder(replies: unknown[][] = []) {
  const ones: string[][] = [];
  const manies: { key: string; words: string[] }[] = [];
  const sender: BatchSender = {
    one: (_key, args) => {
      ones.push(args);
      return Promise.resolve(`one:${args[0]}`);
    },
    many: (key, words) => {
      manies.push({ key, words });
      return Promise.resolve(replies);
    },
  };
  return { sender, ones, manies };
}

Deno.test("read batch: only reads of keys with a hash tag are batched", () => {
  equal(ReadBatcher.tagOf("p{u:alice}:a", ["HGET", "p{u:alice}:a", "name"]), "u:alice");
  equal(ReadBatcher.tagOf("p{u:alice}:a", ["HSET", "p{u:alice}:a", "name", "x"]), null);
  equal(ReadBatcher.tagOf("plain", ["GET", "plain"]), null);
  equal(ReadBatcher.tagOf("p{}:a", ["GET", "p{}:a"]), null);
});

Deno.test("read batch: reads of one tag in one turn go as one script call", async () => {
  const { sender, ones, manies } = recorder([["alice"], [null], [false, "WRONGTYPE"]]);
  const batcher = new ReadBatcher(sender);
  const a = batcher.read("u:a", "p{u:a}:a", ["HGET", "p{u:a}:a", "name"]);
  const b = batcher.read("u:a", "p{u:a}:c", ["GET", "p{u:a}:c"]);
  const c = batcher.read("u:a", "p{u:a}:x", ["ZCARD", "p{u:a}:x"]);
  const d = batcher.read("u:b", "p{u:b}:a", ["GET", "p{u:b}:a"]);
  equal(await a, "alice");
  equal(await b, null);
  await rejects(c, /WRONGTYPE/);
  equal(await d, "one:GET");
  deepStrictEqual(manies, [{
    key: "p{u:a}:a",
    words: ["3", "HGET", "p{u:a}:a", "name", "2", "GET", "p{u:a}:c", "2", "ZCARD", "p{u:a}:x"],
  }]);
  deepStrictEqual(ones, [["GET", "p{u:b}:a"]]);
});

Deno.test("read batch: a failed script call fails every read of the batch", async () => {
  const sender: BatchSender = {
    one: () => Promise.reject(new Error("down")),
    many: () => Promise.reject(new Error("down")),
  };
  const batcher = new ReadBatcher(sender);
  const reads = [
    batcher.read("t", "{t}:a", ["GET", "{t}:a"]),
    batcher.read("t", "{t}:b", ["GET", "{t}:b"]),
  ];
  for (const read of reads) await rejects(read, /down/);
});
