/**
 * The `Streams` contract on Deno KV. The owner process is the only writer of the file: stream
 * heads, activity counts and contacts are kept in memory once read, so a commit writes without
 * reading first. Appends are group-committed: messages queued while a commit runs go together
 * in the next (one atomic operation per at most 64 messages), each message with its own
 * outcome. A private message's two copies are one atomic operation.
 *
 * Keys: `["s", stream, seq]` → message; `["head", stream]` → {@linkcode StreamHead};
 * `["dm", user, peer, seq]` → the user's copy of a message exchanged with `peer` (`seq` is its
 * position in `@user`); `["cur", user, stream]` → acknowledged position (KvU64, only grows);
 * `["peer", user, peer]` → time of the last exchange (made to grow, see `#exchange`);
 * `["dd", target, from, key]` → first outcome of an idempotency key (expiring);
 * `["cnt", scope, name]` → activity count and `["rank", scope, -count, name]` its index, so a
 * ranking reads only `limit` keys. Scopes: `all`, `d:<day>`,
 * `#<room>`, `#<room>:<day>`. Appends do not touch counts: they are summed in memory and
 * written within a second ({@linkcode COUNTS_MS}) and before any ranking is read, so an append
 * costs two mutations (message and head) and rankings read as exact.
 *
 * @module
 */

import type { ChatMessage, StreamName } from "../../protocol/messages.ts";
import { roomStream, userStream } from "../../protocol/messages.ts";
import { Batcher } from "../batcher.ts";
import type {
  AckBatch,
  AppendOutcome,
  HistoryPage,
  NewMessage,
  PageQuery,
  Rankings,
  StreamHead,
  StreamRange,
  Streams,
} from "../contract/streams.ts";
import type { Retention, StoreStatus } from "../contract/store.ts";
import type { BusHub } from "../local/bus_hub.ts";
import type { Serial } from "./serial.ts";

const BATCH_MESSAGES = 64;
const BATCH_BYTES = 200_000;
const CONTACTS_MAX = 200;
const DAY_MS = 86_400_000;
const DEDUPE_CACHE = 50_000;
const TRIM_CHUNK = 500;
/** Longest time activity counts summed in memory wait to be written, ms. */
export const COUNTS_MS = 1000;
/** Counts per atomic operation when writing activity (three mutations each). */
const COUNTS_CHUNK = 300;

/** What the streams need to know about rooms. */
export interface RoomOracle {
  exists(room: string): Promise<boolean>;
  isMember(room: string, user: string): Promise<boolean>;
}

interface Head extends StreamHead {
  /** Lowest position still stored. */
  first: number;
}

interface Item {
  message: NewMessage;
  origin: string | undefined;
}

type Done = Extract<AppendOutcome, { ok: true }>;

/** Settings of {@linkcode KvStreams}. */
export interface KvStreamsOptions {
  retention: Retention;
  dedupeWindowMs: number;
  onStatus?: (status: StoreStatus) => void;
}

/** Streams in a KV file. */
export class KvStreams implements Streams {
  readonly #kv: Deno.Kv;
  readonly #serial: Serial;
  readonly #rooms: RoomOracle;
  readonly #bus: BusHub;
  readonly #options: KvStreamsOptions;
  readonly #heads = new Map<StreamName, Head>();
  readonly #counts = new Map<string, number>();
  /** Stored copies per (user, peer) conversation, once counted. */
  readonly #conversations = new Map<string, number>();
  readonly #dedupe = new Map<string, { outcome: Done; until: number }>();
  /** Activity counts not yet written: scope → sender → messages. */
  readonly #pendingCounts = new Map<string, Map<string, number>>();
  #countsTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #batcher = new Batcher<Item, AppendOutcome>(
    (items) => this.#serial.run(() => this.#commitAll(items)),
    BATCH_MESSAGES * 4,
  );
  #trimming: Promise<void> = Promise.resolve();
  /**
   * Time of the last private exchange written, made to grow: two exchanges in one millisecond
   * still rank in the order they were written (this process is the file's only writer).
   */
  #exchanged = 0;

  constructor(
    kv: Deno.Kv,
    serial: Serial,
    rooms: RoomOracle,
    bus: BusHub,
    options: KvStreamsOptions,
  ) {
    this.#kv = kv;
    this.#serial = serial;
    this.#rooms = rooms;
    this.#bus = bus;
    this.#options = options;
  }

  append(messages: readonly NewMessage[], origin?: string): Promise<AppendOutcome[]> {
    return Promise.all(messages.map((message) => this.#batcher.add({ message, origin })));
  }

  async head(stream: StreamName): Promise<StreamHead> {
    const head = await this.#head(stream);
    return { seq: head.seq, epoch: head.epoch };
  }

  async heads(streams: readonly StreamName[]): Promise<Map<StreamName, StreamHead>> {
    const out = new Map<StreamName, StreamHead>();
    for (const stream of streams) out.set(stream, await this.head(stream));
    return out;
  }

  async read(stream: StreamName, after: number, limit: number): Promise<StreamRange> {
    const head = await this.#head(stream);
    const messages: ChatMessage[] = [];
    if (limit > 0 && after < head.seq) {
      const list = this.#kv.list<ChatMessage>(
        { start: ["s", stream, after + 1], end: ["s", stream, head.seq + 1] },
        { limit },
      );
      for await (const entry of list) messages.push(entry.value);
    }
    return {
      messages,
      head: { seq: head.seq, epoch: head.epoch },
      first: messages.length > 0 ? messages[0].seq : head.seq + 1,
    };
  }

  async page(query: PageQuery): Promise<HistoryPage> {
    const head = await this.#head(query.stream);
    const prefix: Deno.KvKey = query.peer === undefined
      ? ["s", query.stream]
      : ["dm", query.stream.slice(1), query.peer];
    const messages: ChatMessage[] = [];
    let more: boolean;
    if (query.after !== undefined) {
      const list = this.#kv.list<ChatMessage>(
        { start: [...prefix, query.after + 1], end: [...prefix, Number.MAX_SAFE_INTEGER] },
        { limit: query.limit + 1 },
      );
      for await (const entry of list) messages.push(entry.value);
      more = messages.length > query.limit;
      messages.length = Math.min(messages.length, query.limit);
    } else {
      const list = this.#kv.list<ChatMessage>(
        { start: [...prefix, 0], end: [...prefix, query.before ?? Number.MAX_SAFE_INTEGER] },
        { limit: query.limit + 1, reverse: true },
      );
      for await (const entry of list) messages.push(entry.value);
      more = messages.length > query.limit;
      messages.length = Math.min(messages.length, query.limit);
      messages.reverse();
    }
    return { messages, more, epoch: head.epoch };
  }

  async cursors(user: string): Promise<Map<StreamName, number>> {
    const out = new Map<StreamName, number>();
    for await (const entry of this.#kv.list<Deno.KvU64>({ prefix: ["cur", user] })) {
      out.set(entry.key[2] as string, Number(entry.value.value));
    }
    return out;
  }

  async acknowledge(acks: AckBatch): Promise<void> {
    let op = this.#kv.atomic();
    let pending = 0;
    for (const [user, streams] of acks) {
      for (const [stream, seq] of streams) {
        if (seq <= 0) continue;
        op.max(["cur", user, stream], BigInt(seq));
        if (++pending === TRIM_CHUNK) {
          await mustCommit(op);
          op = this.#kv.atomic();
          pending = 0;
        }
      }
    }
    if (pending > 0) await mustCommit(op);
  }

  async setCursor(user: string, stream: StreamName, seq: number): Promise<void> {
    await mustCommit(this.#kv.atomic().max(["cur", user, stream], BigInt(seq)));
  }

  async contacts(user: string, limit: number): Promise<string[]> {
    const peers = await this.#contactsOf(user);
    return [...peers].sort((a, b) => b[1] - a[1]).slice(0, limit).map(([peer]) => peer);
  }

  complete(): Promise<number> {
    // Both copies of a private message are written in one atomic operation.
    return Promise.resolve(0);
  }

  /** Takes the counts over: what cannot be written now is written on a later try. */
  async addActivity(day: string, counts: ReadonlyMap<string, number>): Promise<void> {
    for (const [name, n] of counts) {
      this.#addCount("all", name, n);
      this.#addCount(`d:${day}`, name, n);
    }
    await this.#flushCounts().catch(() => {});
  }

  async top(limit: number, day: string, room?: string): Promise<Rankings> {
    await this.#flushCounts();
    const scopes = room === undefined ? ["all", `d:${day}`] : [`#${room}`, `#${room}:${day}`];
    const [allTime, today] = await Promise.all(scopes.map(async (scope) => {
      const out: { name: string; count: number }[] = [];
      if (limit <= 0) return out;
      for await (const entry of this.#kv.list({ prefix: ["rank", scope] }, { limit })) {
        out.push({ name: entry.key[3] as string, count: -(entry.key[2] as number) });
      }
      return out;
    }));
    return { allTime, today };
  }

  /** Resolves once every queued append and trim is done (before closing the file). */
  async drained(): Promise<void> {
    await this.#batcher.drained();
    await this.#flushCounts().catch(() => {});
    clearTimeout(this.#countsTimer);
    this.#countsTimer = undefined;
    await this.#trimming;
  }

  // ---- appending ----

  async #commitAll(items: Item[]): Promise<AppendOutcome[]> {
    const out: AppendOutcome[] = [];
    let start = 0;
    while (start < items.length) {
      let end = start;
      let bytes = 0;
      while (end < items.length && end - start < BATCH_MESSAGES && bytes < BATCH_BYTES) {
        bytes += items[end].message.text.length * 6 + 400;
        end++;
      }
      out.push(...await this.#commit(items.slice(start, end)));
      start = end;
    }
    return out;
  }

  /** Commits one atomic batch; every message gets its own outcome. */
  async #commit(items: Item[]): Promise<AppendOutcome[]> {
    const outcomes: AppendOutcome[] = [];
    const op = this.#kv.atomic();
    /** Heads as they will be after this commit, and counts likewise. */
    const next = new Map<StreamName, Head>();
    const published: { stream: StreamName; message: ChatMessage; origin?: string }[] = [];
    const keys = new Map<string, number>();
    const load = async (stream: StreamName) => {
      if (!next.has(stream)) next.set(stream, { ...await this.#head(stream) });
    };
    // Positions are taken only after every read of a message succeeded, so a failure can
    // never leave a hole in a stream.
    const take = (stream: StreamName) => ++next.get(stream)!.seq;
    for (const { message, origin } of items) {
      try {
        const dedupe = message.key === undefined ? undefined : dedupeKey(message);
        if (dedupe !== undefined) {
          const first = keys.has(dedupe) ? outcomes[keys.get(dedupe)!] : await this.#seen(dedupe);
          if (first && first.ok) {
            outcomes.push({ ...first, dup: true });
            continue;
          }
        }
        const base = { ts: message.ts, from: message.from, nick: message.nick, text: message.text };
        const extra = message.action ? { action: true as const } : {};
        let outcome: Done;
        if (message.room !== undefined) {
          if (!await this.#rooms.exists(message.room)) {
            outcomes.push({ ok: false, error: "no_room" });
            continue;
          }
          if (!await this.#rooms.isMember(message.room, message.from)) {
            outcomes.push({ ok: false, error: "not_member" });
            continue;
          }
          const stream = roomStream(message.room);
          await load(stream);
          const seq = take(stream);
          const stored: ChatMessage = { stream, seq, ...base, ...extra };
          op.set(["s", stream, seq], stored);
          published.push({ stream, message: stored, origin });
          outcome = { ok: true, message: stored, epoch: next.get(stream)!.epoch, dup: false };
        } else {
          const to = message.to!;
          const mine = userStream(message.from);
          const theirs = userStream(to);
          await load(mine);
          await load(theirs);
          const sent: ChatMessage = { stream: mine, seq: take(mine), ...base, to, ...extra };
          const received: ChatMessage = {
            stream: theirs,
            seq: take(theirs),
            ...base,
            to,
            ...extra,
          };
          op.set(["s", mine, sent.seq], sent).set(["s", theirs, received.seq], received)
            .set(["dm", message.from, to, sent.seq], sent)
            .set(["dm", to, message.from, received.seq], received)
            .set(["peer", message.from, to], this.#exchange(message.ts))
            .set(["peer", to, message.from], this.#exchanged);
          published.push({ stream: mine, message: sent, origin });
          published.push({ stream: theirs, message: received, origin });
          outcome = { ok: true, message: sent, epoch: next.get(mine)!.epoch, dup: false };
        }
        if (dedupe !== undefined) {
          // Deno KV removes expired keys lazily: the entry carries its own end too.
          const until = Date.now() + this.#options.dedupeWindowMs;
          op.set(["dd", ...dedupe.split("\n")], { outcome, until }, {
            expireIn: this.#options.dedupeWindowMs,
          });
          keys.set(dedupe, outcomes.length);
        }
        outcomes.push(outcome);
      } catch (error) {
        outcomes.push({ ok: false, error: "failed", cause: error });
      }
    }
    if (published.length === 0) return outcomes;
    for (const [stream, head] of next) {
      op.set(["head", stream], { seq: head.seq, epoch: head.epoch });
    }
    let committed = false;
    try {
      committed = (await op.commit()).ok;
    } catch (error) {
      this.#status("append", error);
    }
    if (!committed) {
      // Nothing of this batch was written: its new messages fail, resends keep their result.
      return outcomes.map((o) => o.ok && !o.dup ? { ok: false, error: "failed" } : o);
    }
    for (const [stream, head] of next) {
      const current = this.#heads.get(stream);
      if (current) current.seq = head.seq;
      else this.#heads.set(stream, head);
    }
    for (const { message } of published) {
      if (message.stream[0] === "#") this.#countRoom(message);
    }
    const until = Date.now() + this.#options.dedupeWindowMs;
    for (const [key, index] of keys) {
      const outcome = outcomes[index];
      if (outcome.ok) this.#remember(key, outcome, until);
    }
    for (const { stream, message, origin } of published) {
      this.#bus.publish(stream, { kind: "message", message, origin });
    }
    this.#scheduleTrim(next, published);
    return outcomes;
  }

  async #seen(key: string): Promise<Done | null> {
    const cached = this.#dedupe.get(key);
    if (cached) {
      if (cached.until > Date.now()) return cached.outcome;
      this.#dedupe.delete(key);
    }
    const stored = (await this.#kv.get<{ outcome: Done; until: number }>(
      ["dd", ...key.split("\n")],
    )).value;
    return stored !== null && stored.until > Date.now() ? stored.outcome : null;
  }

  /** A contact time for an exchange at `ts`: above every one given before. */
  #exchange(ts: number): number {
    // 1/256 ms: exact in binary, and far above a double's resolution at today's times.
    this.#exchanged = Math.max(ts, this.#exchanged + 1 / 256);
    return this.#exchanged;
  }

  #remember(key: string, outcome: Done, until: number): void {
    if (this.#dedupe.size >= DEDUPE_CACHE) this.#dedupe.delete(this.#dedupe.keys().next().value!);
    this.#dedupe.set(key, { outcome, until });
  }

  /** Counts a committed room message towards its room's rankings (written later). */
  #countRoom(message: ChatMessage): void {
    const room = message.stream.slice(1);
    const day = new Date(message.ts).toISOString().slice(0, 10);
    this.#addCount(`#${room}`, message.from, 1);
    this.#addCount(`#${room}:${day}`, message.from, 1);
  }

  /** Adds to a count not yet written; the write follows within {@linkcode COUNTS_MS}. */
  #addCount(scope: string, name: string, n: number): void {
    let senders = this.#pendingCounts.get(scope);
    if (!senders) this.#pendingCounts.set(scope, senders = new Map());
    senders.set(name, (senders.get(name) ?? 0) + n);
    this.#countsTimer ??= setTimeout(() => {
      this.#countsTimer = undefined;
      this.#flushCounts().catch(() => {});
    }, COUNTS_MS);
  }

  /**
   * Writes the counts summed so far with their ranking index entries, in chunks; what a failed
   * chunk held stays pending for the next try. Day scopes (`d:<day>`, `#<room>:<day>`; room
   * names have no colon) expire after 8 days.
   */
  #flushCounts(): Promise<void> {
    if (this.#pendingCounts.size === 0) return Promise.resolve();
    clearTimeout(this.#countsTimer);
    this.#countsTimer = undefined;
    return this.#serial.run(async () => {
      const pending = this.#pendingCounts;
      const chunk: { scope: string; name: string; n: number; count: number }[] = [];
      let op = this.#kv.atomic();
      const commit = async () => {
        await mustCommit(op);
        for (const { scope, name, n, count } of chunk) {
          this.#counts.set(`${scope}\n${name}`, count);
          const senders = pending.get(scope)!;
          const left = senders.get(name)! - n;
          if (left > 0) senders.set(name, left);
          else senders.delete(name);
          if (senders.size === 0) pending.delete(scope);
        }
        if (this.#counts.size > 200_000) this.#counts.clear();
        chunk.length = 0;
        op = this.#kv.atomic();
      };
      try {
        for (const [scope, senders] of [...pending]) {
          const options = scope.includes(":") ? { expireIn: 8 * DAY_MS } : undefined;
          for (const [name, n] of [...senders]) {
            const id = `${scope}\n${name}`;
            const count = this.#counts.get(id) ??
              (await this.#kv.get<number>(["cnt", scope, name])).value ?? 0;
            if (count > 0) op.delete(["rank", scope, -count, name]);
            op.set(["cnt", scope, name], count + n, options)
              .set(["rank", scope, -(count + n), name], true, options);
            chunk.push({ scope, name, n, count: count + n });
            if (chunk.length === COUNTS_CHUNK) await commit();
          }
        }
        if (chunk.length > 0) await commit();
      } catch (error) {
        this.#status("activity", error);
        this.#countsTimer ??= setTimeout(() => {
          this.#countsTimer = undefined;
          this.#flushCounts().catch(() => {});
        }, COUNTS_MS);
        throw error;
      }
    });
  }

  /** A stream's head, made (with a new epoch, stored at once) when it has none. */
  async #head(stream: StreamName): Promise<Head> {
    const cached = this.#heads.get(stream);
    if (cached) return cached;
    const entry = await this.#kv.get<StreamHead>(["head", stream]);
    let head: Head;
    if (entry.value) {
      let first = entry.value.seq + 1;
      for await (const row of this.#kv.list({ prefix: ["s", stream] }, { limit: 1 })) {
        first = row.key[2] as number;
      }
      head = { ...entry.value, first };
    } else {
      head = { seq: 0, epoch: newEpoch(), first: 1 };
      const made = await this.#kv.atomic().check(entry)
        .set(["head", stream], { seq: 0, epoch: head.epoch }).commit();
      if (!made.ok) return await this.#head(stream);
    }
    // Another caller may have loaded it meanwhile: keep one object per stream.
    const raced = this.#heads.get(stream);
    if (raced) return raced;
    this.#heads.set(stream, head);
    return head;
  }

  /** A user's contacts with the time of the last exchange (read from the file). */
  async #contactsOf(user: string): Promise<Map<string, number>> {
    const peers = new Map<string, number>();
    for await (const entry of this.#kv.list<number>({ prefix: ["peer", user] })) {
      peers.set(entry.key[2] as string, entry.value);
    }
    return peers;
  }

  // ---- retention ----

  #scheduleTrim(
    heads: ReadonlyMap<StreamName, Head>,
    published: readonly { stream: StreamName; message: ChatMessage }[],
  ): void {
    const { roomMax, inboxMax, privateMax } = this.#options.retention;
    const jobs: (() => Promise<void>)[] = [];
    for (const [stream, head] of heads) {
      const max = stream[0] === "#" ? roomMax : inboxMax;
      // Trimmed in steps of 1 % of the bound, so a busy stream is not trimmed per message.
      if (head.seq - head.first + 1 > max + Math.floor(max / 100)) {
        jobs.push(() => this.#trimStream(stream, max));
      }
    }
    for (const { stream, message } of published) {
      if (stream[0] !== "@") continue;
      const user = stream.slice(1);
      const peer = message.from === user ? message.to! : message.from;
      jobs.push(() => this.#trimConversation(user, peer, message.seq, privateMax));
    }
    jobs.push(() => this.#trimContacts(published));
    this.#trimming = this.#trimming.then(async () => {
      for (const job of jobs) await this.#retry("trim", job);
    });
  }

  async #trimStream(stream: StreamName, max: number): Promise<void> {
    const head = this.#heads.get(stream);
    if (!head) return;
    const until = head.seq - max + 1;
    while (head.first < until) {
      const stop = Math.min(until, head.first + TRIM_CHUNK);
      const op = this.#kv.atomic();
      for (let seq = head.first; seq < stop; seq++) op.delete(["s", stream, seq]);
      await mustCommit(op);
      head.first = stop;
    }
  }

  async #trimConversation(user: string, peer: string, seq: number, max: number): Promise<void> {
    const id = `${user}\n${peer}`;
    let count = this.#conversations.get(id);
    if (count === undefined) {
      count = 0;
      for await (const _ of this.#kv.list({ prefix: ["dm", user, peer] })) count++;
    } else if (seq > 0) {
      count++;
    }
    if (count > max) {
      const old: Deno.KvKey[] = [];
      for await (
        const entry of this.#kv.list({ prefix: ["dm", user, peer] }, { limit: count - max })
      ) {
        old.push(entry.key);
      }
      for (let i = 0; i < old.length; i += TRIM_CHUNK) {
        const op = this.#kv.atomic();
        for (const key of old.slice(i, i + TRIM_CHUNK)) op.delete(key);
        await mustCommit(op);
      }
      count -= old.length;
    }
    if (this.#conversations.size > 200_000) this.#conversations.clear();
    this.#conversations.set(id, count);
  }

  /** Keeps the newest {@linkcode CONTACTS_MAX} contacts of the users just written to. */
  async #trimContacts(published: readonly { stream: StreamName }[]): Promise<void> {
    for (
      const user of new Set(
        published.filter((p) => p.stream[0] === "@").map((p) => p.stream.slice(1)),
      )
    ) {
      const peers = await this.#contactsOf(user);
      if (peers.size <= CONTACTS_MAX) continue;
      const oldest = [...peers].sort((a, b) => b[1] - a[1]).slice(CONTACTS_MAX);
      const op = this.#kv.atomic();
      for (const [peer] of oldest) op.delete(["peer", user, peer]);
      await mustCommit(op);
    }
  }

  /** Runs background work until it succeeds, with backoff; failures are reported. */
  async #retry(op: string, job: () => Promise<void>): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        return await job();
      } catch (error) {
        this.#status(op, error);
        if (attempt >= 8) return; // the next write of the same stream schedules it again
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 5000)));
      }
    }
  }

  #status(op: string, error: unknown): void {
    this.#options.onStatus?.({ event: "store_error", op, detail: String(error) });
  }
}

/** The dedupe identity of a keyed message: target, sender, key. */
function dedupeKey(message: NewMessage): string {
  const target = message.room !== undefined ? roomStream(message.room) : userStream(message.to!);
  return `${target}\n${message.from}\n${message.key}`;
}

/** A new random stream epoch. */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((b) => (b % 36).toString(36)).join("");
}

async function mustCommit(op: Deno.AtomicOperation): Promise<void> {
  if (!(await op.commit()).ok) throw new Error("A KV write was refused");
}
