import assert from "node:assert/strict";
import type { NickNote, PresenceNote } from "../lib/store/contract/bus.ts";
import { PresenceRelay, type RelayClock, type RelayedEvent } from "../lib/server/presence_relay.ts";

function fakeClock() {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: RelayClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(nextId, { at: now + ms, fn });
      return nextId++;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { clock, advance };
}

const bob = { name: "bob", nickname: "Bob" };
let pv = 0;
const on = (away?: string): PresenceNote => ({
  type: "presence",
  user: bob,
  online: true,
  pv: ++pv,
  ...(away ? { away } : {}),
});
const off = (): PresenceNote => ({
  type: "presence",
  user: bob,
  online: false,
  reason: "drop",
  pv: ++pv,
});

function setup() {
  const { clock, advance } = fakeClock();
  const told: [string[], RelayedEvent][] = [];
  const relay = new PresenceRelay<string>((to, event) => told.push([[...to].sort(), event]), clock);
  return { relay, told, advance };
}

Deno.test("presence relay: the first change goes out at once, without its version", () => {
  const { relay, told } = setup();
  relay.offer(on(), ["s1", "s2"]);
  assert.deepEqual(told, [[["s1", "s2"], { type: "presence", user: bob, online: true }]]);
});

Deno.test("presence relay: a copy of the same change over another channel reaches only new receivers", () => {
  const { relay, told } = setup();
  const note = on();
  relay.offer(note, ["s1", "s2"]);
  relay.offer(note, ["s2", "s3"]);
  relay.offer(note, ["s1"]);
  assert.deepEqual(told.map(([to]) => to), [["s1", "s2"], ["s3"]]);
});

Deno.test("presence relay: an offline/online pair inside the window cancels out", () => {
  const { relay, told, advance } = setup();
  relay.offer(on(), ["s1"]);
  advance(200);
  relay.offer(off(), ["s1"]);
  advance(300);
  relay.offer(on(), ["s1"]);
  advance(1000);
  assert.equal(told.length, 1);
});

Deno.test("presence relay: at most one change per second; the last state wins", () => {
  const { relay, told, advance } = setup();
  relay.offer(on(), ["s1"]);
  advance(100);
  relay.offer(on("lunch"), ["s1"]);
  relay.offer(on("meeting"), ["s2"]);
  advance(899);
  assert.equal(told.length, 1);
  advance(1);
  assert.deepEqual(told[1], [["s1", "s2"], {
    type: "presence",
    user: bob,
    online: true,
    away: "meeting",
  }]);
  advance(5000);
  relay.offer(off(), ["s1"]);
  assert.equal(told.length, 2);
  advance(1000);
  assert.equal(told.length, 3);
});

Deno.test("presence relay: going offline waits a window, so a quick reconnect is no news", () => {
  const { relay, told, advance } = setup();
  relay.offer(on(), ["s1"]);
  advance(5000);
  relay.offer(off(), ["s1"]);
  advance(400);
  relay.offer(on(), ["s1"]);
  advance(5000);
  assert.equal(told.length, 1);
});

Deno.test("presence relay: older versions are ignored; a known state is not news", () => {
  const { relay, told, advance } = setup();
  const old = off();
  const newer = on();
  relay.offer(newer, ["s1"]);
  relay.offer(old, ["s1"]);
  assert.equal(told.length, 1);
  relay.know("carol", true, "Carol");
  const carol: PresenceNote = {
    type: "presence",
    user: { name: "carol", nickname: "Carol" },
    online: true,
    pv: ++pv,
  };
  advance(10);
  relay.offer({ ...carol, online: false, pv: ++pv }, ["s1"]);
  relay.offer({ ...carol, pv: ++pv }, ["s1"]);
  advance(2000);
  assert.equal(told.filter(([, e]) => e.type === "presence" && e.user.name === "carol").length, 0);
});

Deno.test("presence relay: nickname changes are relayed as nick events", () => {
  const { relay, told } = setup();
  const nick: NickNote = { type: "nick", name: "bob", old: "Bob", nickname: "Bobby", pv: ++pv };
  relay.offer(nick, ["s1"]);
  assert.deepEqual(told, [[["s1"], { type: "nick", name: "bob", old: "Bob", nickname: "Bobby" }]]);
});

Deno.test("presence relay: sweep forgets idle users", () => {
  const { relay, advance } = setup();
  relay.offer(on(), ["s1"]);
  advance(20_000);
  relay.sweep();
  assert.equal(relay.size, 0);
});
