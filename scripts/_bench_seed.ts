/**
 * Seeds a store for the large benchmark scenarios directly through the store contracts,
 * before the server starts: accounts (one precomputed password hash for all), one resume
 * token each, rooms and memberships. Registering 100,000 accounts over the protocol would
 * cost 200,000 scrypt hashes (hours on this machine); the scenarios measure logged-in users,
 * not registration.
 *
 * @module
 */

import { hashPassword } from "../lib/auth/password.ts";
import { hashToken, newToken } from "../lib/auth/token.ts";
import { DEFAULT_RETENTION, type Store, type StoreSettings } from "../lib/store/contract/store.ts";
import { openKvStore } from "../lib/store/kv/backend.ts";
import { openRedisStore } from "../lib/store/redis/open.ts";
import { pool } from "./_bench_common.ts";

/**
 * Room `layout[l][u]` of user `u` in layer `l`: every user is in one room per layer, every
 * room has exactly `size` members, and room-mates differ from layer to layer (layer 0 takes
 * the users in order, every other layer in a shuffled order of its own, the same on every
 * run).
 *
 * @example
 * ```ts
 * roomLayout(40, 2, 20)[0]; // [0 ×20, 1 ×20]
 * ```
 * @throws {RangeError} when `size` does not divide `users`.
 */
export function roomLayout(users: number, layers: number, size: number): number[][] {
  if (layers > 0 && users % size !== 0) {
    throw new RangeError(`Cannot lay out rooms: ${users} users are not a multiple of ${size}`);
  }
  const out: number[][] = [];
  for (let l = 0; l < layers; l++) {
    const order = Array.from({ length: users }, (_, u) => u);
    const random = mulberry32(l);
    if (l > 0) {
      for (let i = users - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const layer = new Array<number>(users);
    order.forEach((u, i) => layer[u] = Math.floor(i / size));
    out.push(layer);
  }
  return out;
}

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Name of room `k` of layer `l` in a plan with `prefix`. */
export function roomName(prefix: string, l: number, k: number): string {
  return `${prefix}${l}-${k}`;
}

/** Name of user `u` in a plan with `prefix`. */
export function userName(prefix: string, u: number): string {
  return `${prefix}${String(u).padStart(6, "0")}`;
}

/** What to seed. */
export interface SeedPlan {
  /** Prefix of user and room names (e.g. `s5k`); names stay valid login/room names. */
  prefix: string;
  users: number;
  /** Rooms per user. */
  layers: number;
  /** Members per room. */
  roomSize: number;
  /** A lobby-style room every user is in (created without owner), or null. */
  lobby: string | null;
}

/** What a seeded plan holds. */
export interface Seeded {
  names: string[];
  tokens: string[];
  /** Rooms by layer, each with its members (user indexes). */
  rooms: { name: string; members: number[] }[];
}

/** Where to seed. */
export type SeedTarget =
  | { kind: "kv"; path: string }
  | { kind: "redis"; url: string; cluster: boolean; prefix: string };

/** Password of every seeded account. */
export const SEED_PASSWORD = "bench-password-1";

const TOKEN_TTL_MS = 24 * 3600_000;

/** Opens the store of `target` as a short-lived node of its own. */
async function open(target: SeedTarget, lobby: string): Promise<Store> {
  const settings: StoreSettings = {
    retention: DEFAULT_RETENTION,
    dedupeWindowMs: 600_000,
    presenceRoomLimit: 500,
    lobby,
  };
  if (target.kind === "kv") return await openKvStore(target.path, settings, "bench-seed");
  return await openRedisStore({
    ...settings,
    url: target.url,
    cluster: target.cluster,
    prefix: target.prefix,
    nodeId: "bench-seed",
  });
}

/**
 * Writes the accounts, tokens, rooms and memberships of every plan into the store (`at once`
 * operations in flight), and returns what each plan holds.
 */
export async function seedStore(
  target: SeedTarget,
  plans: SeedPlan[],
  atOnce = 200,
): Promise<Seeded[]> {
  const passwordHash = await hashPassword(SEED_PASSWORD);
  await using store = await open(target, plans.find((p) => p.lobby)?.lobby ?? "");
  const out: Seeded[] = [];
  const deadline = Date.now() + 900_000;
  const check = (what: string, r: { failed: number; errors: Map<string, number> }) => {
    if (r.failed > 0) {
      throw new Error(`seeding ${what}: ${r.failed} failed: ${[...r.errors.keys()]}`);
    }
  };
  for (const plan of plans) {
    const names = Array.from({ length: plan.users }, (_, u) => userName(plan.prefix, u));
    const tokens = names.map(() => newToken());
    const now = Date.now();
    check(
      "accounts",
      await pool(plan.users, atOnce, deadline, async (u) => {
        const result = await store.accounts.createUser({
          name: names[u],
          nickname: names[u].toUpperCase(),
          passwordHash,
          createdAt: now,
        });
        if (result !== "ok") throw new Error(`${names[u]}: ${result}`);
        await store.accounts.saveToken(hashToken(tokens[u]), names[u], TOKEN_TTL_MS);
      }),
    );
    const rooms: { name: string; members: number[] }[] = [];
    roomLayout(plan.users, plan.layers, plan.roomSize).forEach((layer, l) => {
      const first = rooms.length;
      layer.forEach((k, u) => {
        const room = rooms[first + k] ??= { name: roomName(plan.prefix, l, k), members: [] };
        room.members.push(u);
      });
    });
    if (plan.lobby) {
      await store.rooms.create({
        name: plan.lobby,
        title: plan.lobby,
        topic: "",
        public: true,
        owner: null,
        createdAt: now,
      }, 1000);
      rooms.push({ name: plan.lobby, members: names.map((_, u) => u) });
    }
    check(
      "rooms",
      await pool(rooms.length, atOnce, deadline, async (r) => {
        const room = rooms[r];
        if (room.name === plan.lobby) return;
        const created = await store.rooms.create({
          name: room.name,
          title: room.name,
          topic: "",
          public: true,
          owner: names[room.members[0]],
          createdAt: now,
        }, 1000);
        if (created !== "ok") throw new Error(`${room.name}: ${created}`);
      }),
    );
    const joins = rooms.flatMap((room) =>
      room.members.slice(room.name === plan.lobby ? 0 : 1).map((u) => [room.name, u] as const)
    );
    check(
      "memberships",
      await pool(joins.length, atOnce, deadline, async (j) => {
        const [room, u] = joins[j];
        const joined = await store.rooms.join(room, names[u], 1000);
        if (joined !== "joined") throw new Error(`${names[u]} in ${room}: ${joined}`);
      }),
    );
    out.push({ names, tokens, rooms });
  }
  return out;
}
