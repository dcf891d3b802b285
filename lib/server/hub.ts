/**
 * The node's registry of live sessions: who is online here, presence events, live fan-out
 * of committed messages, and the batching of acknowledgements to the store.
 *
 * Fan-out encodes each message once and pushes the same bytes to every recipient's outbox;
 * it never awaits, so a slow peer cannot slow the others.
 *
 * @module
 */

import { encodeMessage } from "../protocol/codec.ts";
import type { ChatMessage, OfflineReason, ServerMessage, UserInfo } from "../protocol/messages.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "./log.ts";
import type { Session } from "./session.ts";

interface OnlineUser {
  info: UserInfo;
  sessions: Set<Session>;
  /** Settles when the store routes this user's messages to this node. */
  routed: Promise<void>;
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
  readonly #users = new Map<string, OnlineUser>();
  #acks = new Map<string, number>();

  constructor(store: Store, log: Logger, maxFrame: number) {
    this.#store = store;
    this.#log = log;
    this.#maxFrame = maxFrame;
    store.onCommitted((message, origin) => this.#fanOut(message, origin));
  }

  /** Users online on this node. */
  online(): UserInfo[] {
    return [...this.#users.values()].map((u) => ({ ...u.info }));
  }

  /** Online users and logged-in sessions on this node. */
  counts(): { users: number; sessions: number } {
    return { users: this.#users.size, sessions: this.#live.size };
  }

  /** Whether `name` has a session here. */
  isOnline(name: string): boolean {
    return this.#users.has(name);
  }

  /**
   * Makes a session live for `info`. Messages for it are held (see {@linkcode Session.held})
   * until the caller releases them after the backlog. Announces the user when this is their
   * first session.
   */
  async attach(session: Session, info: UserInfo): Promise<void> {
    session.user = info;
    session.phase = "user";
    session.held = [];
    let entry = this.#users.get(info.name);
    if (!entry) {
      entry = {
        info: { ...info },
        sessions: new Set(),
        routed: this.#store.route(info.name, true),
      };
      this.#users.set(info.name, entry);
      this.#broadcast({ type: "presence", user: { ...info }, online: true }, info.name);
    }
    entry.sessions.add(session);
    this.#live.add(session);
    await entry.routed;
  }

  /**
   * Removes a logged-in session. When it was the user's last, announces them offline and
   * writes their pending acknowledgement.
   */
  async detach(session: Session, reason: OfflineReason): Promise<void> {
    const info = session.user;
    if (!info || !this.#live.delete(session)) return;
    session.user = null;
    session.held = null;
    const entry = this.#users.get(info.name);
    if (!entry) return;
    entry.sessions.delete(session);
    if (entry.sessions.size > 0) return;
    this.#users.delete(info.name);
    this.#broadcast({ type: "presence", user: entry.info, online: false, reason }, info.name);
    await this.flushAcks();
    if (!this.#users.has(info.name)) await this.#store.route(info.name, false);
  }

  /** Records a nickname change on every session of the user and tells everyone else. */
  renamed(name: string, old: string, nickname: string, origin: Session): void {
    const entry = this.#users.get(name);
    if (entry) {
      entry.info.nickname = nickname;
      for (const session of entry.sessions) if (session.user) session.user.nickname = nickname;
    }
    const frame = encodeMessage({ type: "nick", name, old, nickname }, this.#maxFrame);
    for (const session of this.#live) if (session !== origin) session.outbox.push(frame);
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

  /** Sends one event to every live session. */
  broadcastAll(message: ServerMessage): void {
    this.#broadcast(message, undefined);
  }

  /** Encodes once; pushes to every live session not of user `except`. */
  #broadcast(message: ServerMessage, except: string | undefined): void {
    const frame = encodeMessage(message, this.#maxFrame);
    for (const session of this.#live) {
      if (session.user?.name !== except) session.outbox.push(frame);
    }
  }

  #fanOut(message: ChatMessage, origin: string | undefined): void {
    const frame = encodeMessage({ type: "message", msg: message }, this.#maxFrame);
    if (message.to === undefined) {
      for (const session of this.#live) {
        if (session.key !== origin) session.deliver(message, frame);
      }
      return;
    }
    for (const name of [message.to, message.from]) {
      const entry = this.#users.get(name);
      if (!entry) continue;
      for (const session of entry.sessions) {
        if (session.key !== origin) session.deliver(message, frame);
      }
    }
  }
}
