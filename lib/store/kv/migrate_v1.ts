/**
 * Converts a Deno KV file of protocol version 1 (one global group log, one global id sequence,
 * one cursor per user) to the layout of `accounts.ts`, `rooms.ts` and `streams.ts`, as
 * docs/PROTOCOL.md §13 describes. Runs before the store serves anything; the version key is
 * written last, so an interrupted conversion simply runs again (it writes the same values).
 *
 * @module
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import { roomStream, userStream } from "../../protocol/messages.ts";
import type { UserRecord } from "../contract/accounts.ts";
import type { RoomRecord } from "../contract/rooms.ts";
import { newEpoch } from "./streams.ts";

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

interface V1Message {
  id: number;
  ts: number;
  from: string;
  nick: string;
  to?: string;
  text: string;
}

const DAY_MS = 86_400_000;

/**
 * Brings the file to {@linkcode SCHEMA_VERSION}. Returns a sentence for the log when it
 * converted something, else null.
 */
export async function migrateKv(
  kv: Deno.Kv,
  lobby: string,
  now = Date.now(),
): Promise<string | null> {
  if ((await kv.get(["version"])).value !== null) return null;
  const v1 = (await kv.get(["seq"])).versionstamp !== null;
  if (!v1) {
    await kv.set(["version"], SCHEMA_VERSION);
    return null;
  }
  const writer = new ChunkedWriter(kv);
  const users: string[] = [];
  for await (const entry of kv.list<UserRecord>({ prefix: ["u"] })) {
    const { name, nickname, passwordHash, createdAt } = entry.value;
    users.push(name);
    await writer.set(["acct", name], { name, nickname, passwordHash, createdAt });
  }
  for await (const entry of kv.list<string>({ prefix: ["n"] })) {
    await writer.set(["nick", entry.key[1]], entry.value);
  }
  for await (const entry of kv.list<{ name: string; expiresAt: number }>({ prefix: ["t"] })) {
    const left = entry.value.expiresAt - now;
    if (left > 0) await writer.set(["tok", entry.key[1]], entry.value, left);
  }

  // The group log becomes the lobby's stream; every account is a member of the lobby.
  const room: RoomRecord = {
    name: lobby,
    title: lobby,
    topic: "",
    public: true,
    owner: null,
    createdAt: now,
  };
  await writer.set(["room", lobby], room);
  await writer.set(["dir", lobby], true);
  await writer.set(["memc", lobby], users.length);
  for (const name of users) {
    await writer.set(["mem", lobby, name], "member");
    await writer.set(["umem", name, lobby], "member");
  }
  const lobbyStream = roomStream(lobby);
  const groupIds: number[] = [];
  const lobbyCounts = new Map<string, number>();
  for await (const entry of kv.list<[number, V1Message]>({ prefix: ["g"] })) {
    const old = entry.value[1];
    groupIds.push(old.id);
    const message: ChatMessage = {
      stream: lobbyStream,
      seq: groupIds.length,
      ts: old.ts,
      from: old.from,
      nick: old.nick,
      text: old.text,
    };
    await writer.set(["s", lobbyStream, message.seq], message);
    lobbyCounts.set(old.from, (lobbyCounts.get(old.from) ?? 0) + 1);
  }
  await writer.set(["head", lobbyStream], { seq: groupIds.length, epoch: newEpoch() });
  for (const [name, count] of lobbyCounts) await writeCount(writer, `#${lobby}`, name, count);

  // Private messages: both directions of each user, in the old id order.
  const privates = new Map<string, V1Message[]>();
  for await (const entry of kv.list<V1Message>({ prefix: ["d"] })) {
    for (const name of [entry.value.from, entry.value.to!]) {
      let list = privates.get(name);
      if (!list) privates.set(name, list = []);
      list.push(entry.value);
    }
  }
  for (const name of users) {
    const cursor = (await kv.get<number>(["c", name])).value ?? 0;
    const unread = new Set<number>();
    for await (const entry of kv.list<V1Message>({ prefix: ["i", name] })) {
      unread.add(entry.value.id);
    }
    const list = (privates.get(name) ?? []).sort((a, b) => a.id - b.id);
    const stream = userStream(name);
    let read = list.length;
    for (let i = 0; i < list.length; i++) {
      const old = list[i];
      const seq = i + 1;
      const peer = old.from === name ? old.to! : old.from;
      const message: ChatMessage = {
        stream,
        seq,
        ts: old.ts,
        from: old.from,
        nick: old.nick,
        to: old.to,
        text: old.text,
      };
      await writer.set(["s", stream, seq], message);
      await writer.set(["dm", name, peer, seq], message);
      await writer.set(["peer", name, peer], old.ts);
      if (unread.has(old.id) && read === list.length) read = i;
    }
    if (list.length > 0) {
      await writer.set(["head", stream], { seq: list.length, epoch: newEpoch() });
    }
    const groupRead = groupIds.filter((id) => id <= cursor).length;
    if (groupRead > 0) {
      await writer.set(["cur", name, lobbyStream], new Deno.KvU64(BigInt(groupRead)));
    }
    if (read > 0) await writer.set(["cur", name, stream], new Deno.KvU64(BigInt(read)));
  }

  // Activity: overall all-time and the days still shown.
  for await (const entry of kv.list<Deno.KvU64>({ prefix: ["a"] })) {
    await writeCount(writer, "all", entry.key[1] as string, Number(entry.value.value));
  }
  for await (const entry of kv.list<Deno.KvU64>({ prefix: ["ad"] })) {
    const day = entry.key[1] as string;
    const left = Date.parse(day) + 8 * DAY_MS - now;
    if (left > 0) {
      await writeCount(writer, `d:${day}`, entry.key[2] as string, Number(entry.value.value), left);
    }
  }
  await writer.flush();
  await kv.set(["version"], SCHEMA_VERSION);
  return `converted version 1 data: ${users.length} accounts, ${groupIds.length} group messages ` +
    `into "${lobby}", private messages of ${privates.size} users`;
}

/** An activity count and its ranking index entry, as `streams.ts` keeps them. */
async function writeCount(
  writer: ChunkedWriter,
  scope: string,
  name: string,
  count: number,
  expireIn?: number,
): Promise<void> {
  await writer.set(["cnt", scope, name], count, expireIn);
  await writer.set(["rank", scope, -count, name], true, expireIn);
}

/** Writes in atomic operations of at most 500 mutations. */
class ChunkedWriter {
  readonly #kv: Deno.Kv;
  #op: Deno.AtomicOperation;
  #pending = 0;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
    this.#op = kv.atomic();
  }

  async set(key: Deno.KvKey, value: unknown, expireIn?: number): Promise<void> {
    this.#op.set(key, value, expireIn === undefined ? undefined : { expireIn });
    if (++this.#pending >= 500) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending === 0) return;
    if (!(await this.#op.commit()).ok) throw new Error("The KV conversion could not write");
    this.#op = this.#kv.atomic();
    this.#pending = 0;
  }
}
