/**
 * The owner's end of the store link: serves the five contracts of an embedded store to worker
 * processes over a Unix socket, one store view per worker (node), and pushes each worker the
 * bus deliveries of its subscriptions. A worker whose link closes is taken for dead: its users
 * go offline (`node_down`). Calls outside the contracts go to a `control` handler; a link opened
 * with `hello(nodeId, false)` is for control only.
 *
 * @module
 */

import type { NodeStore } from "../kv/backend.ts";
import { Link } from "./link.ts";

/** The contract methods a worker may call, by contract. */
const CONTRACTS: Record<string, ReadonlySet<string>> = {
  accounts: new Set([
    "createUser",
    "getUser",
    "nicknames",
    "nameOfNickname",
    "setNickname",
    "lobbyJoined",
    "saveToken",
    "lookupToken",
    "revokeToken",
  ]),
  rooms: new Set([
    "create",
    "get",
    "getMany",
    "join",
    "part",
    "invite",
    "kick",
    "ban",
    "unban",
    "transfer",
    "setTopic",
    "roleOf",
    "isBanned",
    "roomsOf",
    "invitesOf",
    "isInvited",
    "members",
    "directory",
  ]),
  streams: new Set([
    "append",
    "head",
    "heads",
    "read",
    "page",
    "cursors",
    "acknowledge",
    "setCursor",
    "contacts",
    "complete",
    "addActivity",
    "top",
  ]),
  bus: new Set(["subscribe", "unsubscribe", "publish"]),
  presence: new Set([
    "attach",
    "detach",
    "joined",
    "parted",
    "setAway",
    "renamed",
    "status",
    "roomOnline",
    "roomCounts",
    "online",
    "setSessions",
    "counts",
  ]),
};

/** A worker connected to the owner. */
export interface WorkerLink {
  nodeId: string;
  link: Link;
}

/** Options of {@linkcode StoreOwner.listen}. */
export interface OwnerOptions {
  /** Socket path. */
  path: string;
  /** A store view for a node id (absent: the link serves control calls only). */
  nodeStore?: (nodeId: string) => NodeStore;
  /** Answers calls that are not store calls (`control.*`). */
  control?: (worker: WorkerLink, op: string, args: unknown[]) => unknown;
  /** A worker connected or left. */
  onWorker?: (worker: WorkerLink, connected: boolean) => void;
}

/** Serves workers on a Unix socket. */
export class StoreOwner implements AsyncDisposable {
  readonly #listener: Deno.Listener;
  readonly #options: OwnerOptions;
  readonly #workers = new Set<WorkerLink>();
  readonly #serving: Promise<void>;

  private constructor(listener: Deno.Listener, options: OwnerOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#serving = this.#accept();
  }

  /** Listens on `options.path` (removed first if a stale socket file is there). */
  static async listen(options: OwnerOptions): Promise<StoreOwner> {
    await Deno.remove(options.path).catch(() => {});
    const listener = Deno.listen({ transport: "unix", path: options.path });
    return new StoreOwner(listener, options);
  }

  /** The workers connected now. */
  get workers(): ReadonlySet<WorkerLink> {
    return this.#workers;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      this.#serve(new Link(conn));
    }
  }

  #serve(link: Link): void {
    let worker: WorkerLink | null = null;
    let view: NodeStore | null = null;
    link.handle(async (op, args) => {
      if (op === "hello") {
        const nodeId = String(args[0]);
        const wantsStore = args[1] !== false;
        worker = { nodeId, link };
        this.#workers.add(worker);
        if (this.#options.nodeStore && wantsStore) {
          view = this.#options.nodeStore(nodeId);
          view.bus.onDelivery((channel, delivery) => link.push("bus", [channel, delivery]));
          view.bus.onRestored((channels) => link.push("restored", [channels]));
        }
        this.#options.onWorker?.(worker, true);
        return true;
      }
      if (!worker) throw new Error("Say hello first");
      if (op === "ping") {
        if (view) await view.ping();
        return true;
      }
      const dot = op.indexOf(".");
      const part = op.slice(0, dot);
      const method = op.slice(dot + 1);
      if (view && CONTRACTS[part]?.has(method)) {
        const target = view[part as keyof NodeStore] as unknown as Record<
          string,
          (...a: unknown[]) => unknown
        >;
        return await target[method](...args);
      }
      if (this.#options.control) return await this.#options.control(worker, op, args);
      throw new Error(`Unknown link call ${op.slice(0, 60)}`);
    });
    link.closed.then(async () => {
      if (worker) {
        this.#workers.delete(worker);
        this.#options.onWorker?.(worker, false);
      }
      if (view) {
        await view.drop("node_down");
        await view[Symbol.asyncDispose]();
      }
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#serving;
    for (const worker of [...this.#workers]) worker.link.close();
    await Promise.all([...this.#workers].map((w) => w.link.closed));
  }
}
