/**
 * Contract cases of `Rooms` (lib/store/contract/rooms.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RoomRecord } from "../../lib/store/contract/rooms.ts";
import type { ContractCase } from "./_factory.ts";

const room = (name: string, owner: string | null, isPublic = true): RoomRecord => ({
  name,
  title: name.toUpperCase(),
  topic: "",
  public: isPublic,
  owner,
  createdAt: 5,
});

/** The cases. */
export const ROOM_CASES: ContractCase[] = [
  ["create makes the owner the first member; a name is taken once", async (f) => {
    const { rooms } = await f.open("n1");
    assert.equal(await rooms.create(room("tea", "alice"), 10), "ok");
    assert.deepEqual(await rooms.get("tea"), { ...room("tea", "alice"), members: 1 });
    assert.equal(await rooms.roleOf("tea", "alice"), "owner");
    assert.deepEqual(await rooms.roomsOf("alice"), [{ room: "tea", role: "owner" }]);
    assert.equal(await rooms.create(room("tea", "bob"), 10), "taken");
    assert.equal(await rooms.get("nope"), null);
    assert.equal(await rooms.create(room("lobby", null), 10), "ok");
    assert.equal((await rooms.get("lobby"))?.members, 0);
  }],
  ["a user in maxRooms rooms can neither create nor join another", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("a1", "alice"), 2);
    await rooms.create(room("a2", "alice"), 2);
    assert.equal(await rooms.create(room("a3", "alice"), 2), "too_many");
    assert.equal(await rooms.get("a3"), null);
    await rooms.create(room("b1", "bob"), 2);
    assert.equal(await rooms.join("b1", "alice", 2), "too_many");
    assert.equal(await rooms.join("b1", "alice", 3), "joined");
  }],
  ["joining a public room; joining twice is already", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    assert.equal(await rooms.join("tea", "bob", 10), "joined");
    assert.equal(await rooms.join("tea", "bob", 10), "already");
    assert.equal(await rooms.roleOf("tea", "bob"), "member");
    assert.equal((await rooms.get("tea"))?.members, 2);
    assert.equal(await rooms.join("nope", "bob", 10), "no_room");
  }],
  ["an invite-only room needs an invitation, which joining uses up", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("den", "alice", false), 10);
    assert.equal(await rooms.join("den", "bob", 10), "invite_only");
    assert.equal(await rooms.invite("den", "carol", "bob", 1), "not_member");
    assert.equal(await rooms.invite("den", "alice", "bob", 1), "ok");
    assert.equal(await rooms.isInvited("den", "bob"), true);
    assert.deepEqual(await rooms.invitesOf("bob", 10), [{ room: "den", by: "alice", at: 1 }]);
    assert.equal(await rooms.join("den", "bob", 10), "joined");
    assert.equal(await rooms.isInvited("den", "bob"), false);
    assert.deepEqual(await rooms.invitesOf("bob", 10), []);
    assert.equal(await rooms.invite("den", "bob", "alice", 2), "already_member");
  }],
  ["invitations are listed newest first", async (f) => {
    const { rooms } = await f.open("n1");
    for (const [i, name] of ["r1", "r2", "r3"].entries()) {
      await rooms.create(room(name, "alice", false), 10);
      await rooms.invite(name, "alice", "bob", 10 + i);
    }
    assert.deepEqual((await rooms.invitesOf("bob", 2)).map((i) => i.room), ["r3", "r2"]);
  }],
  ["the owner leaves only as the last member; an empty room drops its invitations", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    await rooms.join("tea", "bob", 10);
    assert.equal(await rooms.part("tea", "alice"), "owner");
    assert.equal(await rooms.part("tea", "carol"), "not_member");
    assert.equal(await rooms.part("nope", "bob"), "no_room");
    assert.equal(await rooms.part("tea", "bob"), "ok");
    await rooms.invite("tea", "alice", "carol", 1);
    assert.equal(await rooms.part("tea", "alice"), "ok");
    assert.equal((await rooms.get("tea"))?.members, 0);
    assert.equal(await rooms.isInvited("tea", "carol"), false);
    assert.deepEqual(await rooms.roomsOf("alice"), []);
    // The owner may come back to their own invite-only room.
    await rooms.create(room("den", "alice", false), 10);
    await rooms.part("den", "alice");
    assert.equal(await rooms.join("den", "alice", 10), "joined");
    assert.equal(await rooms.roleOf("den", "alice"), "owner");
  }],
  ["only the owner kicks, bans, unbans and transfers", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    await rooms.join("tea", "bob", 10);
    await rooms.join("tea", "carol", 10);
    assert.equal(await rooms.kick("tea", "bob", "carol"), "not_owner");
    assert.equal(await rooms.kick("tea", "dave", "carol"), "not_member");
    assert.equal(await rooms.kick("tea", "alice", "dave"), "target_not_member");
    assert.equal(await rooms.kick("nope", "alice", "bob"), "no_room");
    assert.equal(await rooms.kick("tea", "alice", "carol"), "ok");
    assert.equal(await rooms.roleOf("tea", "carol"), null);
    assert.equal(await rooms.join("tea", "carol", 10), "joined");
    assert.equal(await rooms.ban("tea", "bob", "carol"), "not_owner");
    assert.equal(await rooms.transfer("tea", "bob", "carol"), "not_owner");
    assert.equal(await rooms.transfer("tea", "alice", "dave"), "target_not_member");
    assert.equal(await rooms.transfer("tea", "alice", "bob"), "ok");
    assert.equal((await rooms.get("tea"))?.owner, "bob");
    assert.equal(await rooms.roleOf("tea", "alice"), "member");
    assert.equal(await rooms.roleOf("tea", "bob"), "owner");
    assert.equal(await rooms.kick("tea", "alice", "bob"), "not_owner");
  }],
  ["a ban removes the member, drops invitations and keeps them out until unbanned", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    await rooms.join("tea", "bob", 10);
    assert.equal(await rooms.ban("tea", "alice", "bob"), "ok");
    assert.equal(await rooms.roleOf("tea", "bob"), null);
    assert.equal(await rooms.isBanned("tea", "bob"), true);
    assert.equal((await rooms.get("tea"))?.members, 1);
    assert.equal(await rooms.join("tea", "bob", 10), "banned");
    assert.equal(await rooms.invite("tea", "alice", "bob", 1), "banned");
    await rooms.create(room("den", "alice", false), 10);
    await rooms.invite("den", "alice", "carol", 1);
    assert.equal(await rooms.ban("den", "alice", "carol"), "ok");
    assert.equal(await rooms.isInvited("den", "carol"), false);
    assert.equal(await rooms.unban("tea", "alice", "bob"), "ok");
    assert.equal(await rooms.isBanned("tea", "bob"), false);
    assert.equal(await rooms.join("tea", "bob", 10), "joined");
  }],
  ["a room without an owner has no owner actions", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("lobby", null), 10);
    await rooms.join("lobby", "bob", 10);
    assert.equal(await rooms.kick("lobby", "bob", "bob"), "no_owner");
    assert.equal(await rooms.ban("lobby", "bob", "carol"), "no_owner");
  }],
  ["any member sets the topic", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    await rooms.join("tea", "bob", 10);
    assert.equal(await rooms.setTopic("tea", "bob", "Oolong only"), "ok");
    assert.equal((await rooms.get("tea"))?.topic, "Oolong only");
    assert.equal(await rooms.setTopic("tea", "carol", "x"), "not_member");
    assert.equal(await rooms.setTopic("nope", "bob", "x"), "no_room");
  }],
  ["members are listed by name in pages", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "mia"), 10);
    for (const name of ["zed", "bob", "amy", "kim"]) await rooms.join("tea", name, 10);
    const first = await rooms.members("tea", "", 3);
    assert.deepEqual(first.members.map((m) => m.name), ["amy", "bob", "kim"]);
    assert.equal(first.total, 5);
    assert.equal(first.more, true);
    const second = await rooms.members("tea", "kim", 3);
    assert.deepEqual(second.members, [{ name: "mia", role: "owner" }, {
      name: "zed",
      role: "member",
    }]);
    assert.equal(second.more, false);
  }],
  ["the directory lists public rooms by name prefix in pages", async (f) => {
    const { rooms } = await f.open("n1");
    for (const name of ["tea", "team", "tech", "art"]) await rooms.create(room(name, "alice"), 10);
    await rooms.create(room("teaparty", "alice", false), 10);
    const all = await rooms.directory("", "", 10);
    assert.deepEqual(all.rooms.map((r) => r.name), ["art", "tea", "team", "tech"]);
    assert.equal(all.rooms[1].members, 1);
    const te = await rooms.directory("te", "", 2);
    assert.deepEqual(te.rooms.map((r) => r.name), ["tea", "team"]);
    assert.equal(te.more, true);
    const rest = await rooms.directory("te", "team", 2);
    assert.deepEqual(rest.rooms.map((r) => r.name), ["tech"]);
    assert.equal(rest.more, false);
    assert.deepEqual((await rooms.directory("zz", "", 5)).rooms, []);
  }],
  ["concurrent joins of one user count once", async (f) => {
    const a = await f.open("n1");
    const b = await f.open("n2");
    await a.rooms.create(room("tea", "alice"), 10);
    const results = await Promise.all([
      a.rooms.join("tea", "bob", 10),
      b.rooms.join("tea", "bob", 10),
    ]);
    assert.deepEqual(results.sort(), ["already", "joined"]);
    assert.equal((await a.rooms.get("tea"))?.members, 2);
  }],
  ["getMany skips unknown rooms", async (f) => {
    const { rooms } = await f.open("n1");
    await rooms.create(room("tea", "alice"), 10);
    const got = await rooms.getMany(["tea", "nope"]);
    assert.deepEqual([...got.keys()], ["tea"]);
  }],
];
