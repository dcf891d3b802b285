/**
 * Coalescing of presence on one node. Changes of a user (presence notes and nickname notes,
 * each with the user's presence version) reach the node over several channels — every small
 * room the user is in, their contact channel — and each copy names its own receivers. The
 * relay passes each change on once per receiver, and at most one change per user per window
 * (1 s): changes inside the window are merged and the last state goes out at its end, or
 * nothing when that state is the one last told. Going offline always waits one window, so a
 * drop followed by a quick resume (a reconnect) is no news at all.
 *
 * Pure: the clock and the timer are injected.
 *
 * @module
 */

import type { NickEvent, PresenceEvent } from "../protocol/messages.ts";
import type { NickNote, PresenceNote } from "../store/contract/bus.ts";

/** A change to relay. */
export type Note = PresenceNote | NickNote;

/** What receivers are told. */
export type RelayedEvent = PresenceEvent | NickEvent;

/** Timers of the relay (the real ones by default). */
export interface RelayClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

interface State {
  online: boolean;
  away?: string;
  nickname: string;
}

interface Entry<R> {
  lastPv: number;
  told: State | null;
  lastAt: number;
  /** Who was told the change with version `sentPv` (a later copy reaches only the others). */
  sentPv: number;
  sentTo: Set<R>;
  pending: { note: Note; receivers: Set<R> } | null;
  timer: unknown;
}

/**
 * The relay, generic over the receiver type.
 *
 * @example
 * ```ts
 * const relay = new PresenceRelay<string>((to, event) => console.log([...to], event));
 * relay.offer(note, ["session-1"]);
 * ```
 */
export class PresenceRelay<R> {
  readonly #deliver: (receivers: ReadonlySet<R>, event: RelayedEvent) => void;
  readonly #clock: RelayClock;
  readonly #windowMs: number;
  readonly #users = new Map<string, Entry<R>>();

  constructor(
    deliver: (receivers: ReadonlySet<R>, event: RelayedEvent) => void,
    clock: RelayClock = {
      now: () => performance.now(),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (id) => clearTimeout(id as number),
    },
    windowMs = 1000,
  ) {
    this.#deliver = deliver;
    this.#clock = clock;
    this.#windowMs = windowMs;
  }

  /** Users with relay state (for tests and metrics). */
  get size(): number {
    return this.#users.size;
  }

  /**
   * Records what a session already knows about a user (from a roster), so that an equal
   * change is not news.
   */
  know(name: string, online: boolean, nickname: string, away?: string): void {
    const entry = this.#entry(name);
    if (entry.told === null) entry.told = { online, nickname, away };
  }

  /** One copy of a change, with the receivers of the channel it came on. */
  offer(note: Note, receivers: Iterable<R>): void {
    const name = note.type === "presence" ? note.user.name : note.name;
    const entry = this.#entry(name);
    if (note.pv < entry.lastPv) return;
    if (note.pv === entry.lastPv) {
      if (entry.pending?.note.pv === note.pv) {
        for (const r of receivers) entry.pending.receivers.add(r);
      } else if (entry.sentPv === note.pv) {
        const fresh = new Set<R>();
        for (const r of receivers) if (!entry.sentTo.has(r)) fresh.add(r);
        for (const r of fresh) entry.sentTo.add(r);
        if (fresh.size > 0) this.#deliver(fresh, toEvent(note));
      }
      return;
    }
    entry.lastPv = note.pv;
    const now = this.#clock.now();
    const offline = note.type === "presence" && !note.online;
    if (!offline && entry.pending === null && now - entry.lastAt >= this.#windowMs) {
      this.#send(entry, note, new Set(receivers), now);
      return;
    }
    const merged = entry.pending?.receivers ?? new Set<R>();
    for (const r of receivers) merged.add(r);
    entry.pending = { note, receivers: merged };
    if (entry.timer === null) {
      const wait = offline ? this.#windowMs : Math.max(0, entry.lastAt + this.#windowMs - now);
      entry.timer = this.#clock.setTimeout(() => this.#flush(entry), wait);
    }
  }

  /** Forgets users without news for a while (keeps memory bounded). */
  sweep(idleMs = 10_000): void {
    const now = this.#clock.now();
    for (const [name, entry] of this.#users) {
      if (entry.pending === null && now - entry.lastAt > idleMs) this.#users.delete(name);
    }
  }

  /** Stops every timer. */
  close(): void {
    for (const entry of this.#users.values()) {
      if (entry.timer !== null) this.#clock.clearTimeout(entry.timer);
    }
    this.#users.clear();
  }

  #flush(entry: Entry<R>): void {
    entry.timer = null;
    const pending = entry.pending;
    entry.pending = null;
    if (!pending) return;
    const state = stateAfter(entry.told, pending.note);
    if (entry.told && sameState(state, entry.told)) {
      entry.lastAt = this.#clock.now();
      return;
    }
    this.#send(entry, pending.note, pending.receivers, this.#clock.now());
  }

  #send(entry: Entry<R>, note: Note, receivers: Set<R>, now: number): void {
    entry.told = stateAfter(entry.told, note);
    entry.lastAt = now;
    entry.sentPv = note.pv;
    entry.sentTo = receivers;
    if (receivers.size > 0) this.#deliver(receivers, toEvent(note));
  }

  #entry(name: string): Entry<R> {
    let entry = this.#users.get(name);
    if (!entry) {
      entry = {
        lastPv: -1,
        told: null,
        lastAt: -Infinity,
        sentPv: -1,
        sentTo: new Set(),
        pending: null,
        timer: null,
      };
      this.#users.set(name, entry);
    }
    return entry;
  }
}

function stateAfter(told: State | null, note: Note): State {
  if (note.type === "nick") {
    return { online: told?.online ?? true, away: told?.away, nickname: note.nickname };
  }
  return {
    online: note.online,
    away: note.online ? note.away : undefined,
    nickname: note.user.nickname,
  };
}

function sameState(a: State, b: State): boolean {
  return a.online === b.online && a.away === b.away && a.nickname === b.nickname;
}

/** The event as receivers see it (without the presence version). */
function toEvent(note: Note): RelayedEvent {
  if (note.type === "nick") {
    return { type: "nick", name: note.name, old: note.old, nickname: note.nickname };
  }
  const event: PresenceEvent = {
    type: "presence",
    user: { name: note.user.name, nickname: note.user.nickname },
    online: note.online,
  };
  if (note.reason !== undefined) event.reason = note.reason;
  if (note.online && note.away !== undefined) event.away = note.away;
  return event;
}
