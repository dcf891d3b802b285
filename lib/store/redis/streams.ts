/**
 * The `Streams` contract on Redis. Appends are group-committed per slot (one script call per
 * slot at a time, carrying everything queued meanwhile).
 *
 * A room message is one script in the room's slot. A private message from A to B is written
 * in two slots, by this rule:
 *
 * 1. A's copy in A's slot (`@A`, the conversation copy A/B, A's contacts, the idempotency key
 *    and a pending entry naming B's copy), published on `@A`;
 * 2. B's copy in B's slot, stored once per A's position (a marker in B's slot remembers it
 *    for the dedupe window plus an hour), published on `@B`;
 * 3. then the outcome; the pending entry is cleared in the background, in batches.
 *
 * A resend with the same key finds step 1 done and redoes step 2 while the pending entry
 * exists; `complete(A)` redoes step 2 for every pending entry of A (the server calls it at
 * A's login, the presence store when it reaps a dead node). A step 2 that fails is also
 * retried in the background until it succeeds.
 *
 * @module
 */

import type { ChatMessage, StreamName } from "../../protocol/messages.ts";
import { roomStream, userStream } from "../../protocol/messages.ts";
import {
  type AckBatch,
  type ActivityCount,
  type AppendOutcome,
  type HistoryPage,
  type NewMessage,
  type PageQuery,
  type Rankings,
  type StreamHead,
  type StreamRange,
  type Streams,
} from "../contract/streams.ts";
import { type StoreSettings, utcDay } from "../contract/store.ts";
import { GroupCommit } from "./group_commit.ts";
import { StepChain } from "./step_chain.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import {
  ACKNOWLEDGE,
  ADD_ACTIVITY,
  APPEND_RECEIVED,
  APPEND_ROOM,
  APPEND_SENT,
  HEAD_OF,
  PAGE,
  READ,
} from "./lua_streams.ts";

/** How long a day's activity counts are kept, s. */
const DAY_TTL_S = String(8 * 86_400);
/** How long a receiver's copy is remembered beyond the dedupe window, ms. */
const MARKER_EXTRA_MS = 3_600_000;
const MAX_BATCH = 256;
const CLEAR_DELAY_MS = 20;
const CLEAR_RETRY_MS = 1000;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5000;

interface Pending {
  message: NewMessage;
  origin: string;
}

/** One receiver's copy to store: the sender, their position, origin and JSON tail. */
interface Copy {
  from: string;
  sent: number;
  origin: string;
  tail: string;
}

type Sent =
  | { ok: true; message: ChatMessage; epoch: string; dup: boolean; copy: Copy | null }
  | { ok: false; error: "failed"; cause: unknown };

const epochBytes = new Uint8Array(6);

/** A random epoch. */
export function newEpoch(): string {
  crypto.getRandomValues(epochBytes);
  let out = "";
  for (const b of epochBytes) out += b.toString(36).padStart(2, "0");
  return out.slice(0, 10);
}

/** Streams in Redis. */
export class RedisStreams implements Streams {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #settings: StoreSettings;
  readonly #rooms: GroupCommit<Pending, AppendOutcome>;
  readonly #sent: GroupCommit<Pending, Sent>;
  readonly #received: GroupCommit<Copy, boolean>;
  /** Pending entries to clear: sender → positions. */
  readonly #clear = new Map<string, Set<number>>();
  #clearTimer: ReturnType<typeof setTimeout> | undefined;
  #clearing: Promise<void> = Promise.resolve();
  /** Senders whose second writes failed, retried in the background. */
  readonly #retry = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_FIRST_MS;
  #closed = false;

  constructor(link: RedisLink, keys: Keys, settings: StoreSettings) {
    this.#link = link;
    this.#keys = keys;
    this.#settings = settings;
    this.#rooms = new GroupCommit((room, items) => this.#appendRoom(room, items), MAX_BATCH);
    this.#sent = new GroupCommit((from, items) => this.#appendSent(from, items), MAX_BATCH);
    this.#received = new GroupCommit((to, items) => this.#appendReceived(to, items), MAX_BATCH);
  }

  append(messages: readonly NewMessage[], origin?: string): Promise<AppendOutcome[]> {
    if (this.#closed) return Promise.reject(new Error("The Redis store is closed"));
    const tag = (origin ?? "").replaceAll("\n", " ");
    const outcomes: Promise<AppendOutcome>[] = new Array(messages.length);
    const rooms = new Map<string, number[]>();
    const chain = new StepChain();
    messages.forEach((message, i) => {
      if (message.room !== undefined) {
        rooms.set(message.room, [...rooms.get(message.room) ?? [], i]);
      } else {
        outcomes[i] = this.#planPrivate(chain, { message, origin: tag });
      }
    });
    for (const [room, indexes] of rooms) {
      const unit = indexes.map((i) => ({ message: messages[i], origin: tag }));
      const done = this.#rooms.add(room, unit).catch((cause) =>
        unit.map((): AppendOutcome => ({ ok: false, error: "failed", cause }))
      );
      indexes.forEach((i, j) => outcomes[i] = done.then((results) => results[j]));
    }
    chain.launch((name, kind) =>
      kind === "sent"
        ? (items) => this.#sent.add(name, items as Pending[])
        : (items) => this.#received.add(name, items as Copy[])
    );
    return Promise.all(outcomes);
  }

  async head(stream: StreamName): Promise<StreamHead> {
    const [seq, epoch] = await this.#link.eval<[number, string]>(
      HEAD_OF,
      this.#base(stream),
      [newEpoch()],
    );
    return { seq: Number(seq), epoch };
  }

  async heads(streams: readonly StreamName[]): Promise<Map<StreamName, StreamHead>> {
    const heads = await Promise.all(streams.map((stream) => this.head(stream)));
    return new Map(streams.map((stream, i) => [stream, heads[i]]));
  }

  async read(stream: StreamName, after: number, limit: number): Promise<StreamRange> {
    const [seq, epoch, ...rows] = await this.#link.eval<string[]>(READ, this.#base(stream), [
      newEpoch(),
      String(Math.max(0, after)),
      String(Math.max(0, limit)),
    ]);
    const messages = rows.map((row) => JSON.parse(row) as ChatMessage);
    const head = { seq: Number(seq), epoch };
    return { messages, head, first: messages[0]?.seq ?? head.seq + 1 };
  }

  async page(query: PageQuery): Promise<HistoryPage> {
    const forward = query.after !== undefined;
    const bound = forward ? query.after : query.before;
    const [epoch, ...rows] = await this.#link.eval<string[]>(PAGE, this.#base(query.stream), [
      newEpoch(),
      query.peer === undefined ? ":s" : `:v:${query.peer}`,
      forward ? "after" : "before",
      bound === undefined ? "" : String(bound),
      String(Math.max(0, query.limit) + 1),
    ]);
    const more = rows.length > query.limit;
    const page = rows.slice(0, Math.max(0, query.limit)).map((row) =>
      JSON.parse(row) as ChatMessage
    );
    return { messages: forward ? page : page.reverse(), more, epoch };
  }

  async cursors(user: string): Promise<Map<StreamName, number>> {
    const base = this.#keys.user(user);
    const rows = await this.#link.command<string[]>(base, ["HGETALL", `${base}:c`]);
    const out = new Map<StreamName, number>();
    for (let i = 0; i < rows.length; i += 2) out.set(rows[i], Number(rows[i + 1]));
    return out;
  }

  async acknowledge(acks: AckBatch): Promise<void> {
    await Promise.all([...acks].map(([user, streams]) => {
      const args = [...streams].flatMap(([stream, seq]) => [stream, String(seq)]);
      if (args.length === 0) return undefined;
      return this.#link.eval(ACKNOWLEDGE, this.#keys.user(user), args, true);
    }));
  }

  async setCursor(user: string, stream: StreamName, seq: number): Promise<void> {
    const base = this.#keys.user(user);
    await this.#link.durable(base, ["HSET", `${base}:c`, stream, String(seq)]);
  }

  async contacts(user: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const base = this.#keys.user(user);
    return await this.#link.command<string[]>(base, [
      "ZREVRANGE",
      `${base}:k`,
      "0",
      String(limit - 1),
    ]);
  }

  async complete(user: string): Promise<number> {
    const base = this.#keys.user(user);
    const rows = await this.#link.command<string[]>(base, ["HGETALL", `${base}:q`]);
    const byReceiver = new Map<string, { sent: number; copy: Copy }[]>();
    for (let i = 0; i < rows.length; i += 2) {
      const sent = Number(rows[i]);
      const entry = parsePending(user, sent, rows[i + 1]);
      if (!entry) continue;
      byReceiver.set(entry.to, [...byReceiver.get(entry.to) ?? [], { sent, copy: entry.copy }]);
    }
    let stored = 0;
    await Promise.all([...byReceiver].map(async ([to, entries]) => {
      const results = await this.#received.add(to, entries.map((entry) => entry.copy));
      stored += results.filter(Boolean).length;
      for (const { sent } of entries) this.#scheduleClear(user, sent);
    }));
    await this.#flushClear();
    return stored;
  }

  async addActivity(day: string, counts: ReadonlyMap<string, number>): Promise<void> {
    if (counts.size === 0) return;
    const args = [day, DAY_TTL_S];
    for (const [name, count] of counts) args.push(name, String(count));
    await this.#link.eval(ADD_ACTIVITY, this.#keys.global, args, true);
  }

  async top(limit: number, day: string, room?: string): Promise<Rankings> {
    const base = room === undefined ? this.#keys.global : this.#keys.room(room);
    const [all, today] = room === undefined ? [`${base}:act`, `${base}:act:${day}`] : [
      `${base}:t`,
      `${base}:t:${day}`,
    ];
    const [allTime, todayList] = await Promise.all([
      this.#ranking(base, all, limit),
      this.#ranking(base, today, limit),
    ]);
    return { allTime, today: todayList };
  }

  /** Waits for appends in flight and clears pending entries; later appends are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#rooms.drained(), this.#sent.drained()]);
    await this.#received.drained();
    clearTimeout(this.#retryTimer);
    await this.#flushClear().catch(() => {});
    clearTimeout(this.#clearTimer);
  }

  #base(stream: StreamName): string {
    const base = this.#keys.stream(stream);
    if (base === null) throw new TypeError(`Not a stream: ${stream}`);
    return base;
  }

  async #appendRoom(room: string, items: Pending[]): Promise<AppendOutcome[]> {
    const { roomMax } = this.#settings.retention;
    const stream = roomStream(room);
    const args = [
      String(roomMax),
      String(this.#settings.dedupeWindowMs),
      newEpoch(),
      JSON.stringify(stream),
      DAY_TTL_S,
    ];
    for (const { message, origin } of items) {
      args.push(
        message.from,
        message.key ?? "",
        origin,
        utcDay(message.ts),
        String(message.ts),
        tailOf(message),
      );
    }
    const [epoch, ...out] = await this.#link.eval<string[]>(
      APPEND_ROOM,
      this.#keys.room(room),
      args,
      true,
    );
    return items.map(({ message }, i): AppendOutcome => {
      const [code, seq, json, ts] = out.slice(i * 4, i * 4 + 4);
      if (code === "no_room" || code === "not_member") return { ok: false, error: code };
      const stored = code === "dup" && json === ""
        ? messageOf(stream, Number(seq), { ...message, ts: Number(ts) })
        : json
        ? JSON.parse(json) as ChatMessage
        : messageOf(stream, Number(seq), message);
      return { ok: true, message: stored, epoch, dup: code === "dup" };
    });
  }

  /**
   * Plans steps 1 and 2 of one private message in the call's chain: the writes of one call
   * to one stream (sender's copies, receiver's copies) happen in call order.
   */
  async #planPrivate(chain: StepChain, item: Pending): Promise<AppendOutcome> {
    const { from, to } = item.message;
    const sending = chain.step<Pending, Sent>(from, "sent").add(Promise.resolve(item));
    const copy = sending.then((sent) => (sent?.ok ? sent.copy : null));
    const receiving = chain.step<Copy, boolean>(to!, "received").add(copy);
    receiving.catch(() => {});
    let sent: Sent | null;
    try {
      sent = await sending;
    } catch (cause) {
      return { ok: false, error: "failed", cause };
    }
    if (!sent?.ok) return sent ?? { ok: false, error: "failed" };
    try {
      await receiving;
    } catch (cause) {
      this.#retryLater(from);
      return { ok: false, error: "failed", cause };
    }
    if (sent.copy) this.#scheduleClear(from, sent.copy.sent);
    return { ok: true, message: sent.message, epoch: sent.epoch, dup: sent.dup };
  }

  async #appendSent(sender: string, items: Pending[]): Promise<Sent[]> {
    const { inboxMax, privateMax } = this.#settings.retention;
    const stream = userStream(sender);
    const args = [
      String(inboxMax),
      String(privateMax),
      String(this.#settings.dedupeWindowMs),
      newEpoch(),
      JSON.stringify(stream),
    ];
    for (const { message, origin } of items) {
      args.push(message.to!, message.key ?? "", origin, String(message.ts), tailOf(message));
    }
    const [epoch, ...out] = await this.#link.eval<string[]>(
      APPEND_SENT,
      this.#keys.user(sender),
      args,
      true,
    );
    return items.map(({ message, origin }, i): Sent => {
      const [code, seqText, json, ts, pending] = out.slice(i * 5, i * 5 + 5);
      const seq = Number(seqText);
      if (code === "dup") {
        const stored = json
          ? JSON.parse(json) as ChatMessage
          : messageOf(stream, seq, { ...message, ts: Number(ts) });
        const entry = pending ? parsePending(sender, seq, pending) : null;
        return { ok: true, message: stored, epoch, dup: true, copy: entry?.copy ?? null };
      }
      return {
        ok: true,
        message: messageOf(stream, seq, message),
        epoch,
        dup: false,
        copy: { from: sender, sent: seq, origin, tail: tailOf(message) },
      };
    });
  }

  async #appendReceived(to: string, copies: Copy[]): Promise<boolean[]> {
    const { inboxMax, privateMax } = this.#settings.retention;
    const args = [
      String(inboxMax),
      String(privateMax),
      String(this.#settings.dedupeWindowMs + MARKER_EXTRA_MS),
      String(Date.now()),
      newEpoch(),
      JSON.stringify(userStream(to)),
    ];
    for (const copy of copies) args.push(copy.from, String(copy.sent), copy.origin, copy.tail);
    const out = await this.#link.eval<number[]>(APPEND_RECEIVED, this.#keys.user(to), args, true);
    return out.map((stored) => Number(stored) === 1);
  }

  #scheduleClear(sender: string, seq: number): void {
    let set = this.#clear.get(sender);
    if (!set) this.#clear.set(sender, set = new Set());
    set.add(seq);
    this.#armClear(CLEAR_DELAY_MS);
  }

  #armClear(delay: number): void {
    if (this.#clearTimer !== undefined) return;
    this.#clearTimer = setTimeout(() => {
      this.#clearTimer = undefined;
      this.#flushClear().catch((error) => this.#failed(error, "clear_pending"));
    }, delay);
  }

  /** Clears the pending entries whose second write is done; failures are tried again later. */
  #flushClear(): Promise<void> {
    clearTimeout(this.#clearTimer);
    this.#clearTimer = undefined;
    const batch = [...this.#clear];
    this.#clear.clear();
    const run = async () => {
      let failure: unknown = null;
      await Promise.all(batch.map(async ([sender, seqs]) => {
        const base = this.#keys.user(sender);
        try {
          await this.#link.command(base, ["HDEL", `${base}:q`, ...[...seqs].map(String)]);
        } catch (error) {
          failure ??= error;
          const set = this.#clear.get(sender) ?? new Set();
          for (const seq of seqs) set.add(seq);
          this.#clear.set(sender, set);
        }
      }));
      if (failure !== null) {
        if (!this.#closed) this.#armClear(CLEAR_RETRY_MS);
        throw failure;
      }
    };
    this.#clearing = this.#clearing.catch(() => {}).then(run);
    return this.#clearing;
  }

  /** Completes a sender's pending second writes later, with backoff, until it succeeds. */
  #retryLater(sender: string): void {
    this.#retry.add(sender);
    this.#armRetry();
  }

  #armRetry(): void {
    if (this.#closed || this.#retryTimer !== undefined || this.#retry.size === 0) return;
    this.#retryTimer = setTimeout(async () => {
      this.#retryTimer = undefined;
      let failed = false;
      for (const name of [...this.#retry]) {
        try {
          await this.complete(name);
          this.#retry.delete(name);
        } catch (error) {
          failed = true;
          this.#failed(error, "complete");
        }
      }
      this.#retryMs = failed ? Math.min(this.#retryMs * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
      this.#armRetry();
    }, this.#retryMs);
  }

  #failed(error: unknown, op: string): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.#settings.onStatus?.({ event: "store_error", detail, op });
  }

  async #ranking(base: string, key: string, limit: number): Promise<ActivityCount[]> {
    if (limit <= 0) return [];
    const rows = await this.#link.command<string[]>(base, [
      "ZREVRANGE",
      key,
      "0",
      String(limit - 1),
      "WITHSCORES",
    ]);
    let out: ActivityCount[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      out.push({ name: rows[i], count: Number(rows[i + 1]) });
    }
    if (out.length === limit) {
      // Equal counts come by name descending; at the cut the first names win instead.
      const lowest = rows[rows.length - 1];
      const tied = await this.#link.command<string[]>(base, [
        "ZRANGEBYSCORE",
        key,
        lowest,
        lowest,
        "LIMIT",
        "0",
        String(limit),
      ]);
      const count = Number(lowest);
      out = [
        ...out.filter((entry) => entry.count > count),
        ...tied.map((name) => ({ name, count })),
      ].slice(0, limit);
    }
    return out.sort((x, y) => y.count - x.count || (x.name < y.name ? -1 : 1));
  }
}

/** The JSON of a message after its stream and position: `,"ts":…}`. */
function tailOf(message: NewMessage): string {
  const rest: Record<string, unknown> = { ts: message.ts, from: message.from, nick: message.nick };
  if (message.to !== undefined) rest.to = message.to;
  rest.text = message.text;
  if (message.action) rest.action = true;
  return "," + JSON.stringify(rest).slice(1);
}

function messageOf(stream: StreamName, seq: number, message: NewMessage): ChatMessage {
  return JSON.parse(`{"stream":${JSON.stringify(stream)},"seq":${seq}${tailOf(message)}`);
}

/** A pending entry ("to\norigin\ntail") as the receiver's copy to store. */
function parsePending(
  sender: string,
  sent: number,
  value: string,
): { to: string; copy: Copy } | null {
  const first = value.indexOf("\n");
  const second = value.indexOf("\n", first + 1);
  if (first < 0 || second < 0) return null;
  const to = value.slice(0, first);
  if (to === "") return null;
  return {
    to,
    copy: {
      from: sender,
      sent,
      origin: value.slice(first + 1, second),
      tail: value.slice(second + 1),
    },
  };
}
