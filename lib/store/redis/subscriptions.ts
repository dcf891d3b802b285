/**
 * The channels a node wants and where each is subscribed. A channel that could not be
 * subscribed (its shard down, or moved) stays wanted and is retried with backoff until it is;
 * whenever a channel becomes effective again after a loss, the `restored` callback hears of it
 * (messages published meanwhile were missed).
 *
 * @module
 */

import type { Shard } from "./shard.ts";

/** Callbacks of {@linkcode Subscriptions}. */
export interface SubscriptionHooks {
  /** The shard that serves a channel now; throws when none does. */
  route(channel: string): Shard;
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
  /** Channels confirmed by a shard, and which. */
  readonly #placed = new Map<string, Shard>();
  /** Wanted channels that were not effective at some point: reported once placed again. */
  readonly #lostOnce = new Set<string>();
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

  /** A shard's subscriber connection came back, resubscribed to `channels`. */
  shardRestored(shard: Shard, channels: readonly string[]): void {
    const unwanted = channels.filter((channel) => !this.#wanted.has(channel));
    if (unwanted.length > 0) shard.unsubscribe(unwanted).catch(() => {});
    const back = channels.filter((channel) => this.#placed.get(channel) === shard);
    if (back.length > 0) this.#hooks.restored(back);
    this.recheck();
  }

  /**
   * Reports every wanted channel as restored: the effective ones now, the others once they
   * are placed.
   */
  restoreAll(): void {
    const effective: string[] = [];
    for (const channel of this.#wanted) {
      if (this.#placed.has(channel)) effective.push(channel);
      else this.#lostOnce.add(channel);
    }
    if (effective.length > 0) this.#hooks.restored(effective);
  }

  /** Subscriptions Redis dropped (or a shard that went away): place them again. */
  lost(channels: readonly string[]): void {
    for (const channel of channels) {
      this.#placed.delete(channel);
      if (this.#wanted.has(channel)) this.#lostOnce.add(channel);
    }
    this.recheck();
  }

  /** Channels placed on a shard that left: place them again. */
  shardGone(shard: Shard): void {
    this.lost([...this.#placed].filter(([, s]) => s === shard).map(([channel]) => channel));
  }

  /** Places every wanted channel that is not on the shard serving it now. */
  recheck(): void {
    if (this.#closed) return;
    const misplaced = [...this.#wanted].filter((channel) => !this.#fits(channel));
    if (misplaced.length === 0) return;
    this.#place(misplaced).then((failure) => {
      if (failure !== null) this.#later();
    });
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
  }

  #fits(channel: string): boolean {
    const placed = this.#placed.get(channel);
    if (!placed) return false;
    try {
      return this.#hooks.route(channel) === placed;
    } catch {
      return true;
    }
  }

  /**
   * Subscribes the channels that are wanted and not placed where they belong; returns the
   * first failure or null. Channels placed after having been lost are reported restored.
   */
  async #place(channels: readonly string[]): Promise<Error | null> {
    const byShard = new Map<Shard, string[]>();
    let failure: Error | null = null;
    for (const channel of channels) {
      if (!this.#wanted.has(channel) || this.#fits(channel)) continue;
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
      for (const channel of list) {
        if (!this.#wanted.has(channel)) {
          shard.unsubscribe([channel]).catch(() => {});
          continue;
        }
        const before = this.#placed.get(channel);
        if (before && before !== shard) before.unsubscribe([channel]).catch(() => {});
        this.#placed.set(channel, shard);
        if (this.#lostOnce.delete(channel)) restored.push(channel);
      }
    }));
    for (const channel of channels) {
      if (this.#wanted.has(channel) && !this.#fits(channel)) this.#lostOnce.add(channel);
    }
    if (restored.length > 0) this.#hooks.restored(restored);
    if (failure === null) this.#retryMs = FIRST_RETRY_MS;
    return failure;
  }

  #later(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.recheck();
    }, wait);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
