/**
 * The embedded store on Deno KV: one process per KV file. Appends are group-committed in
 * atomic operations; the message id sequence lives in the same atomic operation, guarded by
 * its versionstamp, so a second process writing the same file is detected, not tolerated.
 *
 * @module
 */

import type { ChatMessage, OfflineReason, UserInfo } from "../protocol/messages.ts";
import { nicknameKey } from "../protocol/rules.ts";
import { Batcher } from "./batcher.ts";
import { LocalPresence } from "./local_presence.ts";
import {
  type ActivityCount,
  type Backlog,
  type BacklogOptions,
  type ClusterListener,
  type CreateUserResult,
  DEFAULT_RETENTION,
  type FeedListener,
  type HistoryPage,
  type HistoryQuery,
  type NewMessage,
  type OnlineCounts,
  type OnlineList,
  pairOf,
  type Retention,
  type SetNicknameResult,
  type Store,
  type TokenInfo,
  type UserRecord,
  utcDay,
} from "./store.ts";

const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Messages per atomic operation; bounded in bytes too (Deno KV caps an operation's size). */
const BATCH_MESSAGES = 64;
const BATCH_BYTES = 200_000;
/** Accounts kept in memory for logins and lookups. */
const USER_CACHE = 50_000;

interface Sequence {
  seq: number;
  gseq: number;
}

type GroupEntry = [gseq: number, message: ChatMessage];

interface Appending {
  message: NewMessage;
  origin: string | undefined;
}

/**
 * Opens (or creates) a KV store at `path` (`":memory:"` for a throwaway one).
 *
 * @example
 * ```ts
 * await using store = await openKvStore(":memory:");
 * ```
 */
export async function openKvStore(
  path: string,
  retention: Retention = DEFAULT_RETENTION,
): Promise<KvStore> {
  const kv = await Deno.openKv(path);
  try {
    const seq = await kv.get<Sequence>(["seq"]);
    const oldest = await firstValue<GroupEntry>(kv.list({ prefix: ["g"] }, { limit: 1 }));
    return new KvStore(kv, retention, seq.value ?? { seq: 0, gseq: 0 }, seq.versionstamp, oldest);
  } catch (error) {
    kv.close();
    throw error;
  }
}

/** {@linkcode Store} on Deno KV. Create it with {@linkcode openKvStore}. */
export class KvStore implements Store {
  readonly backend = "kv" as const;
  readonly available = true;
  readonly #kv: Deno.Kv;
  readonly #retention: Retention;
  #seq: Sequence;
  #seqStamp: string | null;
  #oldestGseq: number;
  #listeners: FeedListener[] = [];
  readonly #presence = new LocalPresence();
  /** Accounts read recently (at most `USER_CACHE`, oldest dropped first). */
  readonly #users = new Map<string, UserRecord>();
  readonly #batcher = new Batcher<Appending, ChatMessage>(
    (items) => this.#commitAll(items),
    BATCH_MESSAGES * 4,
  );
  /**
   * Entry counts of capped key ranges (inboxes, conversations), loaded on first use, with
   * the newest message id counted, so a message is never counted twice.
   */
  readonly #counts = new Map<string, { count: number; last: number }>();
  #trimming: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    kv: Deno.Kv,
    retention: Retention,
    seq: Sequence,
    stamp: string | null,
    oldest: GroupEntry | null,
  ) {
    this.#kv = kv;
    this.#retention = retention;
    this.#seq = seq;
    this.#seqStamp = stamp;
    this.#oldestGseq = oldest ? oldest[0] : seq.gseq + 1;
  }

  async createUser(user: UserRecord): Promise<CreateUserResult> {
    const nickKey = ["n", nicknameKey(user.nickname)];
    for (;;) {
      const result = await this.#kv.atomic()
        .check({ key: ["u", user.name], versionstamp: null })
        .check({ key: nickKey, versionstamp: null })
        .set(["u", user.name], user)
        .set(nickKey, user.name)
        .set(["c", user.name], this.#seq.seq)
        .commit();
      if (result.ok) return "ok";
      const [existing, nickOwner] = await this.#kv.getMany([["u", user.name], nickKey]);
      if (existing.versionstamp !== null) return "name_taken";
      if (nickOwner.versionstamp !== null) return "nick_taken";
    }
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const cached = this.#users.get(name);
    if (cached) return cached;
    const user = (await this.#kv.get<UserRecord>(["u", name])).value;
    if (user) {
      // This process is the only writer of the file, so the cache cannot go stale.
      if (this.#users.size >= USER_CACHE) this.#users.delete(this.#users.keys().next().value!);
      this.#users.set(name, user);
    }
    return user;
  }

  async getUsers(names: readonly string[]): Promise<UserInfo[]> {
    const out: UserInfo[] = [];
    for (let i = 0; i < names.length; i += 10) {
      const entries = await this.#kv.getMany<UserRecord[]>(
        names.slice(i, i + 10).map((name) => ["u", name]),
      );
      for (const entry of entries) {
        if (entry.value) out.push({ name: entry.value.name, nickname: entry.value.nickname });
      }
    }
    return out;
  }

  async setNickname(name: string, nickname: string, origin?: string): Promise<SetNicknameResult> {
    const newKey = ["n", nicknameKey(nickname)];
    for (;;) {
      const user = await this.#kv.get<UserRecord>(["u", name]);
      if (!user.value) return "unknown_user";
      const oldKey = ["n", nicknameKey(user.value.nickname)];
      const updated = { ...user.value, nickname };
      const op = this.#kv.atomic().check(user).set(["u", name], updated);
      if (oldKey[1] !== newKey[1]) {
        const owner = await this.#kv.get<string>(newKey);
        if (owner.value !== null && owner.value !== name) return "nick_taken";
        op.check(owner).delete(oldKey).set(newKey, name);
      }
      if ((await op.commit()).ok) {
        if (this.#users.has(name)) this.#users.set(name, updated);
        this.#presence.renamed(name, user.value.nickname, nickname, origin);
        return "ok";
      }
    }
  }

  async saveToken(tokenHash: string, name: string, ttlMs: number): Promise<void> {
    await this.#kv.set(["t", tokenHash], { name, expiresAt: Date.now() + ttlMs }, {
      expireIn: ttlMs,
    });
  }

  async lookupToken(tokenHash: string): Promise<TokenInfo | null> {
    const entry = await this.#kv.get<TokenInfo>(["t", tokenHash]);
    if (!entry.value || entry.value.expiresAt <= Date.now()) return null;
    return { name: entry.value.name, expiresAt: entry.value.expiresAt };
  }

  async revokeToken(tokenHash: string): Promise<void> {
    await this.#kv.delete(["t", tokenHash]);
  }

  append(messages: readonly NewMessage[], origin?: string): Promise<ChatMessage[]> {
    if (this.#closed) return Promise.reject(new Error("Store is closed"));
    return Promise.all(messages.map((message) => this.#batcher.add({ message, origin })));
  }

  onCommitted(listener: FeedListener): void {
    this.#listeners.push(listener);
  }

  join(user: UserInfo): Promise<void> {
    this.#presence.join(user);
    return Promise.resolve();
  }

  leave(name: string, reason: OfflineReason): Promise<void> {
    this.#presence.leave(name, reason);
    return Promise.resolve();
  }

  onEvent(listener: ClusterListener): void {
    this.#presence.onEvent(listener);
  }

  online(limit: number): Promise<OnlineList> {
    return Promise.resolve(this.#presence.online(limit));
  }

  setSessions(count: number): Promise<void> {
    this.#presence.setSessions(count);
    return Promise.resolve();
  }

  counts(): Promise<OnlineCounts> {
    return Promise.resolve(this.#presence.counts());
  }

  async #commitAll(items: Appending[]): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    let start = 0;
    while (start < items.length) {
      let end = start;
      let bytes = 0;
      while (end < items.length && end - start < BATCH_MESSAGES && bytes < BATCH_BYTES) {
        bytes += items[end].message.text.length * 6 + 200;
        end++;
      }
      out.push(...await this.#commit(items.slice(start, end)));
      start = end;
    }
    return out;
  }

  async #commit(items: Appending[]): Promise<ChatMessage[]> {
    const before = this.#seq;
    const next = { ...before };
    const op = this.#kv.atomic().check({ key: ["seq"], versionstamp: this.#seqStamp });
    const committed: ChatMessage[] = [];
    // Activity counts summed per sender and day: one mutation each, not one per message.
    const counts = new Map<string, { key: Deno.KvKey; n: bigint }>();
    const count = (key: Deno.KvKey) => {
      const id = JSON.stringify(key);
      const entry = counts.get(id);
      if (entry) entry.n++;
      else counts.set(id, { key, n: 1n });
    };
    for (const item of items) {
      const message: ChatMessage = { id: ++next.seq, ...item.message };
      committed.push(message);
      if (message.to === undefined) {
        op.set(["g", message.id], [++next.gseq, message] satisfies GroupEntry);
      } else {
        const [a, b] = pairOf(message.from, message.to);
        op.set(["d", a, b, message.id], message).set(["i", message.to, message.id], message);
      }
      count(["a", message.from]);
      count(["ad", utcDay(message.ts), message.from]);
    }
    for (const { key, n } of counts.values()) op.sum(key, n);
    op.set(["seq"], next);
    const result = await op.commit();
    if (!result.ok) {
      throw new Error("The KV file was written by another process: use one server per KV file");
    }
    this.#seq = next;
    this.#seqStamp = result.versionstamp;
    for (let i = 0; i < committed.length; i++) {
      for (const listener of this.#listeners) {
        try {
          listener(committed[i], items[i].origin);
        } catch {
          // A listener's failure must not undo a commit or stop the others.
        }
      }
    }
    this.#scheduleTrim(committed, next.gseq);
    return committed;
  }

  #scheduleTrim(committed: ChatMessage[], gseq: number): void {
    const ranges = new Map<string, { prefix: Deno.KvKey; max: number; ids: number[] }>();
    const add = (prefix: Deno.KvKey, max: number, id: number) => {
      const key = JSON.stringify(prefix);
      const range = ranges.get(key);
      if (range) range.ids.push(id);
      else ranges.set(key, { prefix, max, ids: [id] });
    };
    for (const message of committed) {
      if (message.to === undefined) continue;
      add(["i", message.to], this.#retention.inboxMax, message.id);
      add(["d", ...pairOf(message.from, message.to)], this.#retention.privateMax, message.id);
    }
    // May overestimate (the oldest group entry is updated by the trims queued before this
    // one), so the excess is computed again when the trim runs. The group log is trimmed in
    // steps of 1% of its bound, so a busy log is not trimmed one message at a time.
    const slack = Math.floor(this.#retention.groupMax / 100);
    const groupExcess = gseq - this.#oldestGseq + 1 - this.#retention.groupMax - slack;
    if (ranges.size === 0 && groupExcess <= 0) return;
    this.#trimming = this.#trimming.then(async () => {
      for (const range of ranges.values()) {
        await this.#trimRange(range.prefix, range.max, range.ids);
      }
      const excess = this.#seq.gseq - this.#oldestGseq + 1 - this.#retention.groupMax;
      if (excess > 0) await this.#trimGroup(excess);
    }).catch(() => {});
  }

  /** The entries of a capped range, after the messages `ids` were added to it. */
  async #count(prefix: Deno.KvKey, ids: number[]): Promise<{ count: number; last: number }> {
    const key = JSON.stringify(prefix);
    let counted = this.#counts.get(key);
    if (counted === undefined) {
      // The listing sees every message committed so far, `ids` included.
      counted = { count: 0, last: 0 };
      for await (const entry of this.#kv.list({ prefix }, { batchSize: 500 })) {
        counted.count++;
        counted.last = entry.key[prefix.length] as number;
      }
      if (this.#counts.size > 100_000) this.#counts.clear();
      this.#counts.set(key, counted);
    } else {
      for (const id of ids) {
        if (id > counted.last) {
          counted.count++;
          counted.last = id;
        }
      }
    }
    return counted;
  }

  async #trimRange(prefix: Deno.KvKey, max: number, ids: number[]): Promise<void> {
    const counted = await this.#count(prefix, ids);
    if (counted.count <= max) return;
    const removed = await this.#deleteKeys(
      this.#kv.list({ prefix }, { limit: counted.count - max }),
    );
    counted.count -= removed;
  }

  async #trimGroup(excess: number): Promise<void> {
    const iter = this.#kv.list<GroupEntry>({ prefix: ["g"] }, { limit: excess + 1 });
    const entries: Deno.KvEntry<GroupEntry>[] = [];
    for await (const entry of iter) entries.push(entry);
    const remove = entries.slice(0, excess);
    await this.#deleteKeys(remove);
    const next = entries[excess];
    this.#oldestGseq = next ? next.value[0] : this.#seq.gseq + 1;
  }

  async #deleteKeys(entries: AsyncIterable<{ key: Deno.KvKey }> | Iterable<{ key: Deno.KvKey }>) {
    let op = this.#kv.atomic();
    let pending = 0;
    let removed = 0;
    for await (const entry of entries) {
      op.delete(entry.key);
      removed++;
      if (++pending === 500) {
        await op.commit();
        op = this.#kv.atomic();
        pending = 0;
      }
    }
    if (pending > 0) await op.commit();
    return removed;
  }

  async backlog(name: string, options: BacklogOptions): Promise<Backlog> {
    const stored = options.since ?? (await this.#kv.get<number>(["c", name])).value ?? 0;
    const cursor = Math.min(stored, MAX_ID - 1);
    // The newest `inboxMax`: older ones are about to be trimmed.
    const privateMessages: ChatMessage[] = [];
    const inbox = this.#kv.list<ChatMessage>({ prefix: ["i", name] }, {
      limit: this.#retention.inboxMax,
      reverse: true,
    });
    for await (const entry of inbox) privateMessages.push(entry.value);
    privateMessages.reverse();
    const newest: GroupEntry[] = [];
    let skipped = 0;
    // Nothing can be newer than the last id assigned.
    if (cursor < this.#seq.seq) {
      const range = { start: ["g", cursor + 1], end: ["g", MAX_ID] };
      if (options.groupLimit > 0) {
        const list = this.#kv.list<GroupEntry>(range, { limit: options.groupLimit, reverse: true });
        for await (const entry of list) newest.push(entry.value);
        newest.reverse();
      }
      const first = await firstValue<GroupEntry>(this.#kv.list(range, { limit: 1 }));
      if (first) {
        skipped = newest.length > 0 ? newest[0][0] - first[0] : this.#seq.gseq - first[0] + 1;
      }
    }
    return { private: privateMessages, group: newest.map(([, m]) => m), skipped };
  }

  async acknowledge(acks: ReadonlyMap<string, number>): Promise<void> {
    for (const [name, upTo] of acks) {
      // Retry when a concurrent acknowledgement moved the cursor, until it is at least upTo.
      for (;;) {
        const cursor = await this.#kv.get<number>(["c", name]);
        if ((cursor.value ?? 0) >= upTo) break;
        if ((await this.#kv.atomic().check(cursor).set(["c", name], upTo).commit()).ok) break;
      }
      const removed = await this.#deleteKeys(
        this.#kv.list({ start: ["i", name, 0], end: ["i", name, upTo + 1] }),
      );
      const counted = this.#counts.get(JSON.stringify(["i", name]));
      if (counted !== undefined) counted.count = Math.max(0, counted.count - removed);
    }
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const prefix = query.between ? ["d", ...pairOf(...query.between)] : ["g"];
    const list = this.#kv.list<ChatMessage | GroupEntry>(
      { start: [...prefix, 0], end: [...prefix, query.before ?? MAX_ID] },
      { limit: query.limit + 1, reverse: true },
    );
    const messages: ChatMessage[] = [];
    for await (const entry of list) {
      const value = entry.value;
      messages.push(Array.isArray(value) ? value[1] : value);
    }
    const more = messages.length > query.limit;
    return { messages: messages.slice(0, query.limit), more };
  }

  async top(
    limit: number,
    day: string,
  ): Promise<{ allTime: ActivityCount[]; today: ActivityCount[] }> {
    return {
      allTime: await this.#ranking(["a"], limit),
      today: await this.#ranking(["ad", day], limit),
    };
  }

  async #ranking(prefix: Deno.KvKey, limit: number): Promise<ActivityCount[]> {
    const all: ActivityCount[] = [];
    for await (const entry of this.#kv.list<Deno.KvU64>({ prefix }, { batchSize: 500 })) {
      all.push({ name: String(entry.key[prefix.length]), count: Number(entry.value.value) });
    }
    all.sort((x, y) => y.count - x.count || (x.name < y.name ? -1 : 1));
    return all.slice(0, limit);
  }

  async ping(): Promise<void> {
    await this.#kv.get(["seq"]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#batcher.drained();
    await this.#trimming;
    this.#kv.close();
  }
}

async function firstValue<T>(iter: Deno.KvListIterator<T>): Promise<T | null> {
  for await (const entry of iter) return entry.value;
  return null;
}
