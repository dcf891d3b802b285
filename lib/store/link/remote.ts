/**
 * The worker's end of the store link: a `Store` whose every contract call goes over the link
 * to the process that owns the embedded store, and whose bus deliveries come back as pushes.
 *
 * @module
 */

import type { Bus, BusDelivery, BusListener, Channel } from "../contract/bus.ts";
import type { Store } from "../contract/store.ts";
import { Link } from "./link.ts";

/** A store over the link, and the link itself (for control calls). */
export interface LinkStore extends Store {
  readonly link: Link;
}

/** Opens a control-only link to the supervisor at `path` (no store view). */
export async function openControlLink(path: string, nodeId: string): Promise<Link> {
  const link = new Link(await Deno.connect({ transport: "unix", path }));
  await link.call("hello", [nodeId, false]);
  return link;
}

/**
 * Connects to the owner at `path` as node `nodeId`.
 *
 * @example
 * ```ts
 * await using store = await openLinkStore("/tmp/imchat.sock", "host:8889/1");
 * ```
 */
export async function openLinkStore(path: string, nodeId: string): Promise<LinkStore> {
  const link = new Link(await Deno.connect({ transport: "unix", path }));
  await link.call("hello", [nodeId]);
  const contract = <T>(part: string): T =>
    new Proxy({}, {
      get: (_, method) =>
        typeof method === "string"
          ? (...args: unknown[]) => link.call(`${part}.${method}`, args)
          : undefined,
    }) as T;
  let listener: BusListener = () => {};
  let restored: (channels: Channel[]) => void = () => {};
  const channels = new Set<Channel>();
  link.onPush("bus", (channel, delivery) => listener(channel as Channel, delivery as BusDelivery));
  link.onPush("restored", (list) => restored(list as Channel[]));
  const bus: Bus = {
    async subscribe(list) {
      await link.call("bus.subscribe", [list]);
      for (const channel of list) channels.add(channel);
    },
    async unsubscribe(list) {
      for (const channel of list) channels.delete(channel);
      await link.call("bus.unsubscribe", [list]);
    },
    publish: (channel, event, origin) => link.call("bus.publish", [channel, event, origin]),
    onDelivery: (l) => void (listener = l),
    onRestored: (l) => void (restored = l),
    get subscriptions() {
      return channels.size;
    },
  };
  return {
    backend: "link",
    link,
    get available() {
      return link.isOpen;
    },
    accounts: contract("accounts"),
    rooms: contract("rooms"),
    streams: contract("streams"),
    presence: contract("presence"),
    bus,
    ping: () => link.call("ping", []),
    [Symbol.asyncDispose]: async () => {
      link.close();
      await link.closed;
    },
  };
}
