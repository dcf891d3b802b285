/**
 * Contract cases of `Presence` (lib/store/contract/presence.ts), with `TEST_SETTINGS`'
 * presence room limit of 3 members.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { BusDelivery, NickNote, PresenceNote } from "../../lib/store/contract/bus.ts";
import type { Store } from "../../lib/store/contract/store.ts";
import { type ContractCase, eventually, type StoreFactory } from "./_factory.ts";

type Heard = { channel: string; event: PresenceNote | NickNote };

function listen(store: Store): Heard[] {
  const heard: Heard[] = [];
  store.bus.onDelivery((channel, delivery: BusDelivery) => {
    if (delivery.kind !== "event") return;
    const event = delivery.event;
    if (event.type === "presence" || event.type === "nick") heard.push({ channel, event });
  });
  return heard;
}

/** A small room (3 members) and a big one (4 members). */
async function rooms(store: Store): Promise<void> {
  const make = async (name: string, members: string[]) => {
    await store.rooms.create({
      name,
      title: name,
      topic: "",
      public: true,
      owner: members[0],
      createdAt: 1,
    }, 100);
    for (const m of members.slice(1)) await store.rooms.join(name, m, 100);
  };
  await make("small", ["alice", "bob", "carol"]);
  await make("big", ["alice", "bob", "carol", "dave"]);
}

const alice = { name: "alice", nickname: "Alice" };

async function setup(f: StoreFactory) {
  const a = await f.open("n1");
  const b = await f.open("n2");
  await rooms(a);
  const heard = listen(b);
  await b.bus.subscribe(["#small", "#big", "~alice", "@alice"]);
  return { a, b, heard };
}

/** The cases. */
export const PRESENCE_CASES: ContractCase[] = [
  [
    "the first session anywhere brings a user online, announced on small rooms and ~user",
    async (f) => {
      const { a, b, heard } = await setup(f);
      assert.deepEqual(await a.presence.attach(alice, ["small", "big"]), { first: true });
      await eventually(() => heard.length >= 2 ? true : undefined, "two announcements");
      assert.deepEqual(heard.map((h) => h.channel).sort(), ["#small", "~alice"]);
      for (const { event } of heard) {
        assert.equal(event.type, "presence");
        assert.deepEqual((event as PresenceNote).user, alice);
        assert.equal((event as PresenceNote).online, true);
      }
      assert.deepEqual(await b.presence.attach(alice, ["small", "big"]), { first: false });
      assert.deepEqual(await a.presence.status(["alice", "bob"]), new Map([["alice", alice]]));
    },
  ],
  ["the last session going brings the user offline with the reason", async (f) => {
    const { a, b, heard } = await setup(f);
    await a.presence.attach(alice, ["small"]);
    await b.presence.attach(alice, ["small"]);
    assert.deepEqual(await a.presence.detach("alice", "drop"), { last: false });
    assert.deepEqual(await b.presence.detach("alice", "logout"), { last: true });
    const offline = await eventually(
      () =>
        heard.find((h) => h.channel === "#small" && h.event.type === "presence" && !h.event.online),
      "the offline announcement",
    );
    assert.equal((offline.event as PresenceNote).reason, "logout");
    assert.deepEqual(await a.presence.status(["alice"]), new Map());
    assert.deepEqual(await a.presence.detach("alice", "drop"), { last: false });
  }],
  ["presence versions grow with every change", async (f) => {
    const { a, heard } = await setup(f);
    await a.presence.attach(alice, ["small"]);
    await a.presence.setAway("alice", "lunch");
    await a.presence.detach("alice", "drop");
    await a.presence.attach(alice, ["small"]);
    const notes = await eventually(() => {
      const list = heard.filter((h) => h.channel === "~alice");
      return list.length === 4 ? list : undefined;
    }, "four announcements on ~alice");
    const pvs = notes.map((n) => n.event.pv);
    assert.deepEqual([...pvs].sort((x, y) => x - y), pvs);
    assert.equal(new Set(pvs).size, 4);
  }],
  ["away is announced (also on @user), listed, and cleared by going offline", async (f) => {
    const { a, heard } = await setup(f);
    await a.presence.attach(alice, ["small"]);
    await a.presence.setAway("alice", "at lunch");
    const away = await eventually(
      () => heard.find((h) => h.channel === "@alice" && h.event.type === "presence"),
      "away on @alice",
    );
    assert.equal((away.event as PresenceNote).away, "at lunch");
    assert.equal((away.event as PresenceNote).online, true);
    assert.equal((await a.presence.status(["alice"])).get("alice")?.away, "at lunch");
    assert.equal((await a.presence.online("", 10)).users[0].away, "at lunch");
    assert.equal((await a.presence.roomOnline("small", 10)).users[0].away, "at lunch");
    await a.presence.setAway("alice", null);
    assert.equal((await a.presence.status(["alice"])).get("alice")?.away, undefined);
    await a.presence.setAway("alice", "gone");
    await a.presence.detach("alice", "drop");
    await a.presence.attach(alice, ["small"]);
    assert.equal((await a.presence.status(["alice"])).get("alice")?.away, undefined);
  }],
  ["a rename is announced as a nick event and updates the lists", async (f) => {
    const { a, heard } = await setup(f);
    await a.presence.attach(alice, ["small"]);
    await a.presence.renamed("alice", "Alice", "Ally");
    const nick = await eventually(
      () => heard.find((h) => h.channel === "@alice" && h.event.type === "nick"),
      "the nick event",
    );
    assert.deepEqual({ ...nick.event, pv: 0 }, {
      type: "nick",
      name: "alice",
      old: "Alice",
      nickname: "Ally",
      pv: 0,
    });
    await eventually(
      () => heard.find((h) => h.channel === "#small" && h.event.type === "nick"),
      "the nick event in the small room",
    );
    assert.equal((await a.presence.roomOnline("small", 5)).users[0].nickname, "Ally");
    assert.equal((await a.presence.online("", 5)).users[0].nickname, "Ally");
  }],
  ["room online lists follow attach, detach, joined and parted", async (f) => {
    const { a, b } = await setup(f);
    await a.presence.attach(alice, ["small", "big"]);
    await b.presence.attach({ name: "bob", nickname: "Bob" }, ["small"]);
    assert.deepEqual((await a.presence.roomOnline("small", 10)).users.map((u) => u.name), [
      "alice",
      "bob",
    ]);
    assert.deepEqual(
      await a.presence.roomCounts(["small", "big", "none"]),
      new Map([
        ["small", 2],
        ["big", 1],
        ["none", 0],
      ]),
    );
    await b.presence.joined("bob", "big");
    assert.equal((await a.presence.roomCounts(["big"])).get("big"), 2);
    await a.presence.parted("alice", "big");
    assert.deepEqual((await a.presence.roomOnline("big", 10)).users.map((u) => u.name), ["bob"]);
    await b.presence.detach("bob", "logout");
    assert.deepEqual(
      await a.presence.roomCounts(["small", "big"]),
      new Map([["small", 1], ["big", 0]]),
    );
    const limited = await a.presence.roomOnline("small", 0);
    assert.deepEqual(limited, { users: [], total: 1 });
  }],
  ["joining a room announces an online user there", async (f) => {
    const { a, b, heard } = await setup(f);
    await a.rooms.create({
      name: "duo",
      title: "duo",
      topic: "",
      public: true,
      owner: "bob",
      createdAt: 1,
    }, 9);
    await b.bus.subscribe(["#duo"]);
    await a.presence.attach({ name: "erin", nickname: "Erin" }, []);
    await a.rooms.join("duo", "erin", 10);
    await a.presence.joined("erin", "duo");
    const note = await eventually(
      () => heard.find((h) => h.channel === "#duo" && h.event.type === "presence"),
      "erin on #duo",
    );
    assert.equal((note.event as PresenceNote).user.name, "erin");
  }],
  ["the online list pages by name; counts add up sessions of every node", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    for (const name of ["mia", "amy", "zed", "kim"]) {
      await (name < "m" ? a : b).presence.attach({ name, nickname: name.toUpperCase() }, []);
    }
    const first = await a.presence.online("", 3);
    assert.deepEqual(first.users.map((u) => u.name), ["amy", "kim", "mia"]);
    assert.equal(first.total, 4);
    assert.equal(first.more, true);
    const rest = await b.presence.online("mia", 3);
    assert.deepEqual(rest.users, [{ name: "zed", nickname: "ZED" }]);
    assert.equal(rest.more, false);
    await a.presence.setSessions(3);
    await b.presence.setSessions(2);
    assert.deepEqual(await a.presence.counts(), { users: 4, sessions: 5 });
  }],
];
