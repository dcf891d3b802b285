/**
 * The node's registry of live sessions: who is logged in here, live fan-out of committed
 * messages, cluster events (presence, nickname changes) passed to local sessions, and the
 * batching of acknowledgements to the store.
 *
 * Fan-out encodes each message once and pushes the same bytes to every recipient's outbox;
 * it never awaits, so a slow peer cannot slow the others.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type { ChatMessage, OfflineReason, UserInfo } from "../protocol/messages.ts";
import type { ClusterEvent, OnlineCounts, OnlineList, Store } from "../store/store.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { concat } from "./outbox.ts";
import type { Session } from "./session.ts";

/** Group messages fanned out in one event-loop turn, joined once for every session. */
interface GroupBatch {
  messages: ChatMessage[];
  frames: Uint8Array[];
  /** Sessions (by key) that skip some of the messages: the ones they sent themselves. */
  skip: Map<string, Set<number>>;
  bytes: number;
}

/** Longest wait for more group messages under load, ms. */
const COALESCE_MS = 2;
/** Most bytes in one batch: a quarter of the smallest allowed outbox bound. */
const BATCH_BYTES = 16 * 1024;

interface LocalUser {
  sessions: Set<Session>;
  /** Settles when the store has registered the user on this node. */
  joined: Promise<void>;
}

/** Live sessions of one node. */
export class Hub {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #maxFrame: number;
  /** Every open connection, logged in or not. */
  readonly connections = new Set<Session>();
  /** Logged-in sessions. */
  readonly #live = new Set<Session>();
  readonly #users = new Map<string, LocalUser>();
  #acks = new Map<string, number>();
  #batch: GroupBatch | null = null;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  #lastBatchAt = -Infinity;
  readonly #flushBatch = () => this.#deliverBatch();

  readonly #metrics: Metrics;

  constructor(store: Store, log: Logger, maxFrame: number, metrics: Metrics) {
    this.#metrics = metrics;
    this.#store = store;
    this.#log = log;
    this.#maxFrame = maxFrame;
    store.onCommitted((message, origin) => this.#fanOut(message, origin));
    store.onEvent((event, origin) => this.#onClusterEvent(event, origin));
  }

  /** Up to `limit` users online on any node, and how many there are. */
  online(limit: number): Promise<OnlineList> {
    return this.#store.online(limit);
  }

  /** Online users and sessions on all nodes. */
  counts(): Promise<OnlineCounts> {
    return this.#store.counts();
  }

  /** Logged-in sessions on this node. */
  get localSessions(): number {
    return this.#live.size;
  }

  /** Users with a session on this node. */
  get localUsers(): number {
    return this.#users.size;
  }

  /** Whether `name` has a session on this node. */
  isLocal(name: string): boolean {
    return this.#users.has(name);
  }

  /**
   * Makes a session live for `info`. Messages for it are held (see {@linkcode Session.held})
   * until the caller releases them after the backlog. The store announces the user when no
   * node held them before.
   */
  async attach(session: Session, info: UserInfo): Promise<void> {
    session.user = info;
    session.phase = "user";
    session.held = [];
    let entry = this.#users.get(info.name);
    if (!entry) {
      entry = { sessions: new Set(), joined: this.#store.join({ ...info }) };
      this.#users.set(info.name, entry);
    }
    entry.sessions.add(session);
    this.#live.add(session);
    this.#reportSessions();
    try {
      await entry.joined;
    } catch (error) {
      // The store re-registers held users when it reconnects; the session works meanwhile.
      this.#log.warn("join_failed", { user: info.name, error: String(error) });
    }
  }

  /**
   * Removes a logged-in session. When it was the user's last here, writes their pending
   * acknowledgement and tells the store, which announces them offline if no node holds them.
   */
  async detach(session: Session, reason: OfflineReason): Promise<void> {
    const info = session.user;
    if (!info || !this.#live.delete(session)) return;
    session.user = null;
    session.held = null;
    session.maxSentId = 0;
    this.#reportSessions();
    const entry = this.#users.get(info.name);
    if (!entry) return;
    entry.sessions.delete(session);
    if (entry.sessions.size > 0) return;
    this.#users.delete(info.name);
    await this.flushAcks();
    if (this.#users.has(info.name)) return;
    try {
      await this.#store.leave(info.name, reason);
    } catch (error) {
      // The store retries once it is reachable again.
      this.#log.warn("leave_failed", { user: info.name, error: String(error) });
    }
  }

  /** Notes that `name` acknowledged messages up to `upTo`; written by {@linkcode flushAcks}. */
  noteAck(name: string, upTo: number): void {
    if ((this.#acks.get(name) ?? 0) < upTo) this.#acks.set(name, upTo);
  }

  /** Writes the acknowledgements noted so far to the store in one call. */
  async flushAcks(): Promise<void> {
    if (this.#acks.size === 0) return;
    const acks = this.#acks;
    this.#acks = new Map();
    try {
      await this.#store.acknowledge(acks);
    } catch (error) {
      for (const [name, upTo] of acks) this.noteAck(name, upTo);
      this.#log.warn("ack_flush_failed", { error: String(error) });
    }
  }

  /** Writes out group messages still waiting to be batched (at shutdown). */
  flush(): void {
    this.#deliverBatch();
  }

  #reportSessions(): void {
    this.#store.setSessions(this.#live.size).catch(() => {});
  }

  #onClusterEvent(event: ClusterEvent, origin: string | undefined): void {
    this.#deliverBatch();
    const frame = encodeMessage(event, this.#maxFrame);
    this.#metrics.frameOut(event.type, this.#live.size);
    if (event.type === "presence") {
      // A user's own sessions are not told that they came or went.
      for (const session of this.#live) {
        if (session.user?.name !== event.user.name) session.outbox.push(frame);
      }
      return;
    }
    const entry = this.#users.get(event.name);
    if (entry) {
      for (const session of entry.sessions) {
        if (session.user) session.user.nickname = event.nickname;
      }
    }
    for (const session of this.#live) {
      if (session.key !== origin) session.outbox.push(frame);
    }
  }

  #fanOut(message: ChatMessage, origin: string | undefined): void {
    const frame = encodeMessage({ type: "message", msg: message }, this.#maxFrame);
    if (message.to === undefined) {
      // Group messages of this turn go out together: one joined buffer for all sessions.
      let batch = this.#batch;
      if (batch && batch.bytes + frame.length > BATCH_BYTES) {
        // A batch stays well under any session's outbox bound.
        this.#deliverBatch();
        batch = null;
      }
      if (!batch) {
        batch = this.#batch = { messages: [], frames: [], skip: new Map(), bytes: 0 };
        // Under load (the last batch went out moments ago) wait briefly so that the next
        // commits join this batch: one write per session for several commits.
        const since = performance.now() - this.#lastBatchAt;
        if (since < COALESCE_MS) {
          this.#batchTimer = setTimeout(this.#flushBatch, COALESCE_MS - since);
        } else queueMicrotask(this.#flushBatch);
      }
      if (origin !== undefined) {
        const skip = batch.skip.get(origin);
        if (skip) skip.add(batch.messages.length);
        else batch.skip.set(origin, new Set([batch.messages.length]));
      }
      batch.messages.push(message);
      batch.frames.push(frame);
      batch.bytes += frame.length;
      return;
    }
    this.#deliverBatch(); // keeps id order: earlier group messages go first
    for (const name of [message.to, message.from]) {
      const entry = this.#users.get(name);
      if (!entry) continue;
      for (const session of entry.sessions) {
        if (session.key !== origin) session.deliver(message, frame);
      }
    }
  }

  #deliverBatch(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = null;
    clearTimeout(this.#batchTimer);
    this.#lastBatchAt = performance.now();
    const { messages, frames, skip } = batch;
    const joined = frames.length === 1 ? frames[0] : concat(frames);
    const lastId = messages[messages.length - 1].id;
    for (const session of this.#live) {
      const skipped = skip.size === 0 ? undefined : skip.get(session.key);
      if (skipped === undefined && session.held === null) {
        session.deliverJoined(joined, frames.length, lastId);
        continue;
      }
      for (let i = 0; i < messages.length; i++) {
        if (!skipped?.has(i)) session.deliver(messages[i], frames[i]);
      }
    }
  }
}
