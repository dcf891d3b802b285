/**
 * The `Bus` contract on Redis pub/sub: `#room` is the room's base key as a channel, `@user`
 * and `~user` are `:in` and `:p` in the user's slot (see `keys.ts`), so in a cluster every
 * channel is a sharded channel on the master of its owner's slot.
 *
 * @module
 */

import type { Bus, BusEvent, BusListener, Channel } from "../contract/bus.ts";
import type { Keys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { decodePayload, encodeEvent } from "./payload.ts";

/** Channels of one node on Redis. */
export class RedisBus implements Bus {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #channels = new Set<Channel>();
  #listener: BusListener = () => {};
  #restored: (channels: Channel[]) => void = () => {};
  readonly #failed: (detail: string) => void;

  constructor(link: RedisLink, keys: Keys, failed: (detail: string) => void) {
    this.#link = link;
    this.#keys = keys;
    this.#failed = failed;
    link.onMessage((redisChannel, payload) => {
      const channel = keys.busChannel(redisChannel);
      if (channel === null) return;
      let delivery;
      try {
        delivery = decodePayload(payload);
      } catch (error) {
        this.#failed(`${redisChannel}: ${(error as Error).message}`);
        return;
      }
      this.#listener(channel, delivery);
    });
    link.onRestored((redisChannels) => {
      const channels = redisChannels.map((c) => keys.busChannel(c)).filter((c) => c !== null);
      if (channels.length > 0) this.#restored(channels);
    });
  }

  async subscribe(channels: readonly Channel[]): Promise<void> {
    const wanted = [...new Set(channels)];
    const mapped = wanted.map((channel) => this.#redisChannel(channel));
    for (const channel of wanted) this.#channels.add(channel);
    await this.#link.subscribe(mapped);
  }

  async unsubscribe(channels: readonly Channel[]): Promise<void> {
    const held = [...new Set(channels)].filter((channel) => this.#channels.delete(channel));
    await this.#link.unsubscribe(held.map((channel) => this.#redisChannel(channel)));
  }

  async publish(channel: Channel, event: BusEvent, origin?: string): Promise<void> {
    const tag = origin?.replaceAll("\n", " ");
    await this.#link.publish(this.#redisChannel(channel), encodeEvent(event, tag));
  }

  onDelivery(listener: BusListener): void {
    this.#listener = listener;
  }

  onRestored(listener: (channels: Channel[]) => void): void {
    this.#restored = listener;
  }

  get subscriptions(): number {
    return this.#channels.size;
  }

  /**
   * Tells the restored-listener that every channel may have missed deliveries (a channel not
   * subscribed at the moment is told once it is).
   */
  restoreAll(): void {
    this.#link.restoreAll();
  }

  #redisChannel(channel: Channel): string {
    const mapped = this.#keys.channel(channel);
    if (mapped === null) throw new TypeError(`Not a bus channel: ${channel}`);
    return mapped;
  }
}
