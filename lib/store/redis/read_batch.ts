/**
 * Batching of reads: the read-only commands issued in one turn for keys of one hash tag (one
 * slot) go to Redis as one script call ({@linkcode READ_BATCH}), not as one command each — a
 * login reads its user's slot several times at once, and each command costs the client far
 * more than its share of a script.
 *
 * @module
 */

import type { Script } from "./link.ts";

/** Commands that only read, and may be batched. */
const READS = new Set([
  "EXISTS",
  "GET",
  "HEXISTS",
  "HGET",
  "HGETALL",
  "HKEYS",
  "HMGET",
  "HVALS",
  "PTTL",
  "SCARD",
  "SISMEMBER",
  "SMEMBERS",
  "ZCARD",
  "ZRANGE",
  "ZRANGEBYLEX",
  "ZREVRANGE",
  "ZSCORE",
]);

/**
 * Runs commands given as ARGV: for each, its length then its words. Returns one entry per
 * command: {reply} when it succeeded, {false, message} when it failed.
 */
export const READ_BATCH: Script = {
  name: "read_batch",
  source: `
local out, i = {}, 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local ok, reply = pcall(redis.call, unpack(ARGV, i + 1, i + n))
  if ok then
    out[#out + 1] = {reply}
  else
    out[#out + 1] = {false, type(reply) == 'table' and reply.err or tostring(reply)}
  end
  i = i + n + 1
end
return out
`,
};

/** How a batch reaches Redis. */
export interface BatchSender {
  /** Sends one command alone. */
  one(key: string, args: string[]): Promise<unknown>;
  /** Runs {@linkcode READ_BATCH} in the slot of `key` with these words. */
  many(key: string, words: string[]): Promise<unknown[][]>;
}

interface Call {
  args: string[];
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Batch {
  key: string;
  calls: Call[];
}

/**
 * Groups reads by hash tag until the end of the turn.
 *
 * @example
 * ```ts
 * const batcher = new ReadBatcher(sender);
 * const [a, b] = await Promise.all([
 *   batcher.read("u:alice", "im:{u:alice}:a", ["HGET", "im:{u:alice}:a", "nickname"]),
 *   batcher.read("u:alice", "im:{u:alice}:c", ["HGETALL", "im:{u:alice}:c"]),
 * ]); // one script call
 * ```
 */
export class ReadBatcher {
  readonly #sender: BatchSender;
  #batches: Map<string, Batch> | null = null;

  constructor(sender: BatchSender) {
    this.#sender = sender;
  }

  /** Whether `args` may go through {@linkcode read}; null when not: the hash tag. */
  static tagOf(key: string, args: readonly string[]): string | null {
    if (!READS.has(args[0])) return null;
    const open = key.indexOf("{");
    if (open < 0) return null;
    const close = key.indexOf("}", open + 1);
    return close > open + 1 ? key.slice(open + 1, close) : null;
  }

  /** Queues a read of `key`'s slot under hash tag `tag`; settles with its reply. */
  read<T>(tag: string, key: string, args: string[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#batches === null) {
        this.#batches = new Map();
        queueMicrotask(() => this.#flush());
      }
      let batch = this.#batches.get(tag);
      if (!batch) this.#batches.set(tag, batch = { key, calls: [] });
      batch.calls.push({ args, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  #flush(): void {
    const batches = this.#batches!;
    this.#batches = null;
    for (const batch of batches.values()) {
      if (batch.calls.length === 1) {
        const call = batch.calls[0];
        this.#sender.one(batch.key, call.args).then(call.resolve, call.reject);
        continue;
      }
      const words: string[] = [];
      for (const call of batch.calls) words.push(String(call.args.length), ...call.args);
      this.#sender.many(batch.key, words).then((replies) => {
        batch.calls.forEach((call, i) => {
          const reply = replies[i];
          if (reply.length > 1) call.reject(new Error(String(reply[1])));
          else call.resolve(reply[0]);
        });
      }, (error) => {
        for (const call of batch.calls) call.reject(error);
      });
    }
  }
}
