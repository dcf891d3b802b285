/**
 * The channels a node wants and where each is subscribed. A channel that could not be
 * subscribed (its shard down, or moved) stays wanted and is retried with backoff until it is;
 * whenever a channel becomes effective again after a loss, the `restored` callback hears of it
 * (messages published meanwhile were missed).
 *
 * A lost channel is placed again only by a slot map asked for after the loss, and is reported
 * restored only once a shard confirmed it while the slot map names that shard as its slot's
 * master: an `SSUBSCRIBE` that a demoted master (or a killed master that restarted with its
 * old view) accepted is no proof that the channel is served there.
 *
 * Events can be missed (a push that node-redis did not report, a pass asked for while one was
 * ending), so the link also asks for a {@linkcode Subscriptions.recheck} after every slot map
 * and every few seconds: a channel counts as placed only while the slot map names its shard
 * and that shard still holds it (see {@linkcode placement}).
 *
 * @module
 */

import type { Shard } from "./shard.ts";

/** Callbacks of {@linkcode Subscriptions}. */
export interface SubscriptionHooks {
  /** The shard that serves a channel now; throws when none does. */
  route(channel: string): Shard;
  /** Brings `route` up to date: resolves once a slot map asked for after this call is in use. */
  refresh(): Promise<void>;
  /** Channels that are effective again after a loss. */
  restored(channels: string[]): void;
  /** A failure that is being retried. */
  failed(detail: string): void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

/** Wanted channels and their subscriptions. */
export class Subscriptions {
  readonly #hooks: SubscriptionHooks;
  readonly #wanted = new Set<string>();
  /** Channels confirmed by the shard that serves them, and which. */
  readonly #placed = new Map<string, Shard>();
  /** Wanted channels that were not effective at some point: reported once placed again. */
  readonly #lostOnce = new Set<string>();
  /** Lost channels waiting for a slot map asked for after their loss, by that loss. */
  readonly #held = new Map<string, number>();
  #losses = 0;
  /** Whether a recheck is under way, and whether another one was asked for meanwhile. */
  #checking = false;
  #again = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = FIRST_RETRY_MS;
  #closed = false;

  constructor(hooks: SubscriptionHooks) {
    this.#hooks = hooks;
  }

  /** How many channels are wanted. */
  get size(): number {
    return this.#wanted.size;
  }

  /** Whether a channel is wanted (deliveries on others are dropped). */
  wants(channel: string): boolean {
    return this.#wanted.has(channel);
  }

  /** Confirmed subscriptions by shard name. */
  perShard(): Map<string, number> {
    const out = new Map<string, number>();
    for (const shard of this.#placed.values()) out.set(shard.name, (out.get(shard.name) ?? 0) + 1);
    return out;
  }

  /**
   * Wants channels; resolves once every one is subscribed. On failure the channels stay
   * wanted (retried in the background) and the promise rejects.
   */
  async add(channels: readonly string[]): Promise<void> {
    for (const channel of channels) this.#wanted.add(channel);
    const failure = await this.#place([...new Set(channels)]);
    if (failure !== null) {
      this.#later();
      throw failure;
    }
  }

  /** Stops wanting channels and unsubscribes them (best effort: deliveries are dropped). */
  async remove(channels: readonly string[]): Promise<void> {
    const byShard = new Map<Shard, string[]>();
    for (const channel of channels) {
      this.#wanted.delete(channel);
      this.#lostOnce.delete(channel);
      this.#held.delete(channel);
      const shard = this.#placed.get(channel);
      if (!shard) continue;
      this.#placed.delete(channel);
      byShard.set(shard, [...byShard.get(shard) ?? [], channel]);
    }
    await Promise.all(
      [...byShard].map(([shard, list]) =>
        shard.unsubscribe(list).catch((error) =>
          this.#hooks.failed(`unsubscribe on ${shard.name}: ${message(error)}`)
        )
      ),
    );
  }

  /**
   * Reports every wanted channel as restored: the effective ones now, the others once they
   * are placed.
   */
  restoreAll(): void {
    const effective: string[] = [];
    for (const channel of this.#wanted) {
      if (this.#placed.has(channel) && !this.#held.has(channel)) effective.push(channel);
      else this.#lostOnce.add(channel);
    }
    if (effective.length > 0) this.#hooks.restored(effective);
  }

  /**
   * Subscriptions that are gone (their connection was lost, or Redis dropped them): placed
   * again once the slot map has been asked for anew.
   */
  lost(channels: readonly string[]): void {
    const loss = ++this.#losses;
    const held: string[] = [];
    for (const channel of channels) {
      this.#placed.delete(channel);
      if (!this.#wanted.has(channel)) continue;
      this.#lostOnce.add(channel);
      this.#held.set(channel, loss);
      held.push(channel);
    }
    if (held.length === 0) return;
    this.#hooks.refresh().catch(() => {}).finally(() => {
      for (const channel of held) {
        if (this.#held.get(channel) === loss) this.#held.delete(channel);
      }
      this.recheck();
    });
  }

  /**
   * Forgets the channels placed on a shard that no longer serves any slot (the slot map just
   * learnt says so); a {@linkcode recheck} places them again.
   */
  shardGone(shard: Shard): void {
    for (const [channel, placed] of [...this.#placed]) {
      if (placed !== shard) continue;
      this.#placed.delete(channel);
      if (this.#wanted.has(channel)) this.#lostOnce.add(channel);
    }
  }

  /** Asks for the slot map anew when a channel is not placed, then places it. */
  resume(): void {
    if (this.#closed || this.#misplaced().length === 0) return;
    this.#hooks.refresh().catch(() => {}).finally(() => this.recheck());
  }

  /**
   * Places every wanted channel that is not on the shard serving it now by the current slot
   * map, or whose shard no longer holds it. One placed elsewhere may have missed messages: it
   * is reported once placed again. One pass at a time: asked for during a pass, another
   * follows it.
   */
  recheck(): void {
    if (this.#closed) return;
    if (this.#checking) {
      this.#again = true;
      return;
    }
    this.#checking = true;
    this.#check().catch((error) => this.#hooks.failed(`recheck: ${message(error)}`));
  }

  async #check(): Promise<void> {
    // The last look at `#again` and the end of the pass are one step: a recheck asked for
    // after it starts a pass of its own.
    try {
      do {
        this.#again = false;
        const misplaced = this.#misplaced();
        if (misplaced.length === 0) continue;
        for (const channel of misplaced) {
          if (this.#placed.has(channel)) this.#lostOnce.add(channel);
        }
        if (await this.#place(misplaced) !== null) this.#later();
      } while (this.#again && !this.#closed);
    } finally {
      this.#checking = false;
    }
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
  }

  /** Wanted channels, not waiting for a slot map, that are not where they belong. */
  #misplaced(): string[] {
    return [...this.#wanted].filter((channel) => !this.#held.has(channel) && !this.#fits(channel));
  }

  #fits(channel: string): boolean {
    return placement(this.#placed.get(channel), this.#owner(channel), channel) === "fits";
  }

  /** The shard serving a channel by the current slot map, or null when none does. */
  #owner(channel: string): Shard | null {
    try {
      return this.#hooks.route(channel);
    } catch {
      return null;
    }
  }

  /**
   * Subscribes the channels that are wanted, not waiting for a slot map and not placed where
   * they belong; returns the first failure or null. A channel confirmed by a shard that the
   * slot map (changed meanwhile) no longer names for it is unsubscribed there and tried
   * again. Channels placed after having been lost are reported restored.
   */
  async #place(channels: readonly string[]): Promise<Error | null> {
    const byShard = new Map<Shard, string[]>();
    let failure: Error | null = null;
    for (const channel of channels) {
      if (!this.#wanted.has(channel) || this.#held.has(channel) || this.#fits(channel)) continue;
      try {
        const shard = this.#hooks.route(channel);
        byShard.set(shard, [...byShard.get(shard) ?? [], channel]);
      } catch (error) {
        failure ??= asError(error);
        this.#hooks.failed(`subscribe ${channel}: ${message(error)}`);
      }
    }
    const restored: string[] = [];
    await Promise.all([...byShard].map(async ([shard, list]) => {
      try {
        await shard.subscribe(list);
      } catch (error) {
        failure ??= asError(error);
        this.#hooks.failed(`subscribe on ${shard.name}: ${message(error)}`);
        return;
      }
      const stray: string[] = [];
      for (const channel of list) {
        const placed = this.#placed.get(channel);
        if (
          !this.#wanted.has(channel) || this.#held.has(channel) || this.#owner(channel) !== shard
        ) {
          // Unwanted, lost again, or its slot is served elsewhere now.
          if (placed !== shard) stray.push(channel);
          continue;
        }
        if (placed && placed !== shard) placed.unsubscribe([channel]).catch(() => {});
        this.#placed.set(channel, shard);
        if (this.#lostOnce.delete(channel)) restored.push(channel);
      }
      if (stray.length > 0) shard.unsubscribe(stray).catch(() => {});
    }));
    for (const channel of channels) {
      if (this.#wanted.has(channel) && !this.#held.has(channel) && !this.#fits(channel)) {
        this.#lostOnce.add(channel);
        failure ??= new Error(`${channel} is not subscribed on the master of its slot yet`);
      }
    }
    if (restored.length > 0) this.#hooks.restored(restored);
    if (failure === null) this.#retryMs = FIRST_RETRY_MS;
    return failure;
  }

  /** Tries again after a backoff, with a slot map asked for anew. */
  #later(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.resume();
    }, wait);
  }
}

/**
 * Whether a channel is where it belongs: `placed` is the shard it was confirmed on (if any),
 * `owner` the shard serving its slot by the current slot map (null: none known, which is no
 * reason to move it). It fits only while that shard still holds it: one that dropped it
 * (Redis moved it, or its connection was lost) without the loss being heard of is misplaced
 * as surely as one on another shard.
 *
 * @example
 * ```ts
 * const a = { channels: new Set(["x"]) };
 * placement(a, a, "x"); // "fits"
 * placement(a, null, "x"); // "fits"
 * placement(a, { channels: new Set() }, "x"); // "elsewhere"
 * placement({ channels: new Set() }, null, "x"); // "dropped"
 * placement(undefined, a, "x"); // "none"
 * ```
 */
export function placement<S extends { readonly channels: ReadonlySet<string> }>(
  placed: S | undefined,
  owner: S | null,
  channel: string,
): "fits" | "none" | "elsewhere" | "dropped" {
  if (!placed) return "none";
  if (!placed.channels.has(channel)) return "dropped";
  if (owner !== null && owner !== placed) return "elsewhere";
  return "fits";
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
