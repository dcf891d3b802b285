/**
 * The `Bus` contract: named channels that carry what every interested node must hear.
 *
 * Channels: `#<room>` (the room's messages and room events), `@<user>` (the user's private
 * messages and events for the user's own sessions), `~<user>` (the user's presence, for the
 * nodes of their private contacts). Messages are published by {@linkcode Streams.append};
 * events by {@linkcode Presence} and by the server. A node receives what is published on the
 * channels it subscribes to, per channel in publish order; after an outage the listener of
 * {@linkcode Bus.onRestored} learns which channels may have missed something.
 *
 * @module
 */

import type {
  InviteEvent,
  MemberEvent,
  NickEvent,
  PresenceEvent,
  TopicEvent,
} from "../../protocol/messages.ts";
import type { ChatMessage } from "../../protocol/messages.ts";

/** A channel name (see the module documentation). */
export type Channel = string;

/** A presence change with the user's presence version (increasing per user). */
export type PresenceNote = PresenceEvent & { pv: number };

/** A nickname change with the user's presence version. */
export type NickNote = NickEvent & { pv: number };

/** Events carried on channels besides messages. */
export type BusEvent = PresenceNote | NickNote | MemberEvent | InviteEvent | TopicEvent;

/** What a listener receives. */
export type BusDelivery =
  | { kind: "message"; message: ChatMessage; origin?: string }
  | { kind: "event"; event: BusEvent; origin?: string };

/** Receives deliveries on subscribed channels. */
export type BusListener = (channel: Channel, delivery: BusDelivery) => void;

/** Channels of one node. */
export interface Bus {
  /** Subscribes this node (idempotent; resolves once deliveries flow). */
  subscribe(channels: readonly Channel[]): Promise<void>;
  /** Unsubscribes (idempotent). */
  unsubscribe(channels: readonly Channel[]): Promise<void>;
  /** Publishes an event (messages are published by the stream writes). */
  publish(channel: Channel, event: BusEvent, origin?: string): Promise<void>;
  /** Sets the listener of deliveries. */
  onDelivery(listener: BusListener): void;
  /**
   * Sets the listener told, after a lost subscription came back, which channels may have
   * missed deliveries meanwhile (the node then fills stream gaps from the store and sends
   * presence snapshots).
   */
  onRestored(listener: (channels: Channel[]) => void): void;
  /** How many channels this node is subscribed to. */
  readonly subscriptions: number;
}
