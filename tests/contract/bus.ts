/**
 * Contract cases of `Bus` (lib/store/contract/bus.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { BusDelivery, BusEvent } from "../../lib/store/contract/bus.ts";
import type { Store } from "../../lib/store/contract/store.ts";
import { type ContractCase, eventually } from "./_factory.ts";

function recorder(store: Store): { channel: string; delivery: BusDelivery }[] {
  const got: { channel: string; delivery: BusDelivery }[] = [];
  store.bus.onDelivery((channel, delivery) => got.push({ channel, delivery }));
  return got;
}

const topic = (text: string): BusEvent => ({
  type: "topic",
  room: "tea",
  topic: text,
  by: { name: "alice", nickname: "Alice" },
});

/** The cases. */
export const BUS_CASES: ContractCase[] = [
  ["events reach every subscribed node, in publish order, with the origin", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    const c = await f.open("n3");
    const gotA = recorder(a);
    const gotB = recorder(b);
    const gotC = recorder(c);
    await a.bus.subscribe(["#tea"]);
    await b.bus.subscribe(["#tea", "@bob"]);
    await c.bus.subscribe(["#other"]);
    for (let i = 0; i < 20; i++) {
      await c.bus.publish("#tea", topic(`t${i}`), i === 0 ? "o" : undefined);
    }
    await c.bus.publish("#other", topic("marker"));
    await eventually(() => gotA.length === 20 && gotB.length === 20 ? true : undefined, "20 each");
    await eventually(() => gotC.length === 1 ? true : undefined, "the marker");
    for (const got of [gotA, gotB]) {
      assert.deepEqual(
        got.map((g) =>
          g.delivery.kind === "event" && g.delivery.event.type === "topic" && g.delivery.event.topic
        ),
        Array.from({ length: 20 }, (_, i) => `t${i}`),
      );
      assert.equal(got[0].delivery.origin, "o");
      assert.ok(got.every((g) => g.channel === "#tea"));
    }
    assert.equal(gotC[0].channel, "#other");
  }],
  [
    "unsubscribed channels deliver nothing more; subscribing twice is one subscription",
    async (f) => {
      const a = await f.open("n1");
      const got = recorder(a);
      await a.bus.subscribe(["#tea", "#tea", "#other"]);
      assert.equal(a.bus.subscriptions, 2);
      await a.bus.publish("#tea", topic("one"));
      await eventually(() => got.length === 1 ? true : undefined, "the first event");
      await a.bus.unsubscribe(["#tea"]);
      assert.equal(a.bus.subscriptions, 1);
      await a.bus.publish("#tea", topic("two"));
      await a.bus.publish("#other", topic("marker"));
      await eventually(() => got.length >= 2 ? true : undefined, "the marker");
      assert.deepEqual(got.map((g) => g.channel), ["#tea", "#other"]);
      await a.bus.unsubscribe(["#never"]);
    },
  ],
  ["presence, inbox and room channels are distinct", async (f) => {
    const a = await f.open("n1");
    const got = recorder(a);
    await a.bus.subscribe(["~bob"]);
    await a.bus.publish("@bob", topic("inbox"));
    await a.bus.publish("#bob", topic("room"));
    await a.bus.publish("~bob", topic("presence"));
    await eventually(() => got.length >= 1 ? true : undefined, "the presence event");
    assert.deepEqual(got.map((g) => g.channel), ["~bob"]);
  }],
];
