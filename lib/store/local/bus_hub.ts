/**
 * The bus of the embedded store: channels in the memory of the process that owns the store,
 * shared by every node attached to it (one node in a single process, one per worker with
 * `--workers`). Deliveries are synchronous and per channel in publish order.
 *
 * @module
 */

import type { Bus, BusDelivery, BusEvent, BusListener, Channel } from "../contract/bus.ts";

interface NodeBus {
  channels: Set<Channel>;
  listener: BusListener;
  restored: (channels: Channel[]) => void;
}

/**
 * Channels of one process with any number of attached nodes.
 *
 * @example
 * ```ts
 * const hub = new BusHub();
 * const bus = hub.attach();
 * bus.onDelivery((channel, delivery) => console.log(channel, delivery));
 * await bus.subscribe(["#lobby"]);
 * ```
 */
export class BusHub {
  readonly #nodes = new Set<NodeBus>();
  readonly #byChannel = new Map<Channel, Set<NodeBus>>();

  /** A bus for one node; `detach` removes its subscriptions. */
  attach(): Bus & { detach(): void } {
    const node: NodeBus = { channels: new Set(), listener: () => {}, restored: () => {} };
    this.#nodes.add(node);
    const add = (channel: Channel) => this.#add(node, channel);
    const remove = (channel: Channel) => this.#remove(node, channel);
    const publish = (channel: Channel, delivery: BusDelivery) => this.publish(channel, delivery);
    const forget = () => this.#nodes.delete(node);
    return {
      subscribe(channels) {
        for (const channel of channels) add(channel);
        return Promise.resolve();
      },
      unsubscribe(channels) {
        for (const channel of channels) remove(channel);
        return Promise.resolve();
      },
      publish(channel, event, origin) {
        publish(channel, { kind: "event", event, origin });
        return Promise.resolve();
      },
      onDelivery(listener) {
        node.listener = listener;
      },
      onRestored(listener) {
        node.restored = listener;
      },
      get subscriptions() {
        return node.channels.size;
      },
      detach() {
        for (const channel of [...node.channels]) remove(channel);
        forget();
      },
    };
  }

  /** Delivers to every node subscribed to `channel`. */
  publish(channel: Channel, delivery: BusDelivery): void {
    const nodes = this.#byChannel.get(channel);
    if (!nodes) return;
    for (const node of nodes) {
      try {
        node.listener(channel, delivery);
      } catch {
        // One node's failure must not keep the others from hearing it.
      }
    }
  }

  /** Publishes an event (as {@linkcode Bus.publish} does). */
  publishEvent(channel: Channel, event: BusEvent, origin?: string): void {
    this.publish(channel, { kind: "event", event, origin });
  }

  /** Whether any node is subscribed to `channel`. */
  has(channel: Channel): boolean {
    return this.#byChannel.has(channel);
  }

  #add(node: NodeBus, channel: Channel): void {
    if (node.channels.has(channel)) return;
    node.channels.add(channel);
    let nodes = this.#byChannel.get(channel);
    if (!nodes) this.#byChannel.set(channel, nodes = new Set());
    nodes.add(node);
  }

  #remove(node: NodeBus, channel: Channel): void {
    if (!node.channels.delete(channel)) return;
    const nodes = this.#byChannel.get(channel);
    nodes?.delete(node);
    if (nodes?.size === 0) this.#byChannel.delete(channel);
  }
}
