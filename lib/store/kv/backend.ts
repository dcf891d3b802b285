/**
 * The embedded store: one process owns a Deno KV file (an exclusive lock on `<file>.lock` makes a
 * second owner refuse to start) and serves the five contracts to any number of nodes attached
 * to it — one in a single process, one per worker with `--workers` (through the worker link).
 *
 * @module
 */

import type { OfflineReason } from "../../protocol/messages.ts";
import type { Store, StoreSettings } from "../contract/store.ts";
import { BusHub } from "../local/bus_hub.ts";
import { PresenceHub } from "../local/presence_hub.ts";
import { KvAccounts } from "./accounts.ts";
import { migrateKv } from "./migrate_v1.ts";
import { KvRooms } from "./rooms.ts";
import { Serial } from "./serial.ts";
import { KvStreams } from "./streams.ts";

/** A store view for one node, with a way to take that node's users offline. */
export interface NodeStore extends Store {
  /** Takes the node's users offline (its process is gone); returns how many went. */
  drop(reason?: OfflineReason): Promise<number>;
}

/** The owner of a KV file and of the in-memory bus and presence. */
export class KvBackend implements AsyncDisposable {
  readonly kv: Deno.Kv;
  readonly accounts: KvAccounts;
  readonly rooms: KvRooms;
  readonly streams: KvStreams;
  readonly bus = new BusHub();
  readonly presence: PresenceHub;
  readonly #lock: Deno.FsFile | null;
  readonly #views = new Set<NodeStore>();
  #closed = false;

  private constructor(kv: Deno.Kv, lock: Deno.FsFile | null, settings: StoreSettings) {
    this.kv = kv;
    this.#lock = lock;
    const serial = new Serial();
    this.accounts = new KvAccounts(kv);
    this.rooms = new KvRooms(kv, serial);
    const rooms = this.rooms;
    this.streams = new KvStreams(
      kv,
      serial,
      {
        exists: async (room) => (await rooms.get(room)) !== null,
        isMember: async (room, user) => (await rooms.roleOf(room, user)) !== null,
      },
      this.bus,
      settings,
    );
    this.presence = new PresenceHub(
      this.bus,
      (names) => rooms.sizes(names),
      settings.presenceRoomLimit,
    );
  }

  /**
   * Opens (or creates) the file at `path` (`":memory:"` for a throwaway store), converts data of
   * an earlier version, and returns the owner.
   *
   * @throws {Error} when another process owns the file.
   */
  static async open(path: string, settings: StoreSettings): Promise<KvBackend> {
    let lock: Deno.FsFile | null = null;
    if (path !== ":memory:") {
      const slash = path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
      lock = await Deno.open(`${path}.lock`, { create: true, write: true });
      if (!await lock.tryLock(true)) {
        lock.close();
        throw new Error(
          `${path} is in use by another server process (one process owns a KV file; ` +
            "use --workers to run several event loops on it)",
        );
      }
    }
    const kv = await Deno.openKv(path);
    try {
      const converted = await migrateKv(kv, settings.lobby ?? "lobby");
      if (converted) settings.onStatus?.({ event: "migrated", detail: converted });
      return new KvBackend(kv, lock, settings);
    } catch (error) {
      kv.close();
      lock?.close();
      throw error;
    }
  }

  /** The five contracts as seen by node `nodeId`. */
  node(nodeId: string): NodeStore {
    const bus = this.bus.attach();
    const presence = this.presence.forNode(nodeId);
    const views = this.#views;
    const view: NodeStore = {
      backend: "kv",
      available: true,
      accounts: this.accounts,
      rooms: this.rooms,
      streams: this.streams,
      bus,
      presence,
      ping: async () => void await this.kv.get(["version"]),
      drop: (reason) => presence.drop(reason),
      async [Symbol.asyncDispose]() {
        if (!views.delete(view)) return;
        await presence.drop("drop");
        bus.detach();
      },
    };
    views.add(view);
    return view;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const view of [...this.#views]) await view[Symbol.asyncDispose]();
    await this.presence.settled();
    await this.streams.drained();
    this.kv.close();
    this.#lock?.close();
  }
}

/**
 * Opens a KV file for one node in this process; disposing the store closes the file.
 *
 * @example
 * ```ts
 * await using store = await openKvStore(":memory:", settings, "node-1");
 * ```
 */
export async function openKvStore(
  path: string,
  settings: StoreSettings,
  nodeId: string,
): Promise<Store> {
  const backend = await KvBackend.open(path, settings);
  const view = backend.node(nodeId);
  return {
    ...view,
    get available() {
      return true;
    },
    async [Symbol.asyncDispose]() {
      await view[Symbol.asyncDispose]();
      await backend[Symbol.asyncDispose]();
    },
  };
}
