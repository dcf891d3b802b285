/**
 * What the store contract suites run against: a factory of store views of one backend that
 * share their data (one view per node), and the runner that registers the cases.
 *
 * @module
 */

import type { Store, StoreSettings } from "../../lib/store/contract/store.ts";

/** Store views of one backend instance; every view sees the same data. */
export interface StoreFactory extends AsyncDisposable {
  /** A store as seen by node `nodeId`. */
  open(nodeId: string): Promise<Store>;
}

/** Makes a fresh, empty backend instance with `settings`. */
export type MakeFactory = (settings: StoreSettings) => Promise<StoreFactory>;

/** One contract case. */
export type ContractCase = [name: string, run: (f: StoreFactory) => Promise<void>];

/** Settings of the contract suites: small bounds, so that trimming and scoping show. */
export const TEST_SETTINGS: StoreSettings = {
  retention: { roomMax: 20, inboxMax: 15, privateMax: 10 },
  dedupeWindowMs: 60_000,
  presenceRoomLimit: 3,
  lobby: "lobby",
};

/**
 * Registers one test per case list, each case a step on a fresh backend instance.
 *
 * @example
 * ```ts
 * runContract("kv", "streams", STREAM_CASES, makeKv);
 * ```
 */
export function runContract(
  backend: string,
  title: string,
  cases: ContractCase[],
  make: MakeFactory,
  settings: StoreSettings = TEST_SETTINGS,
): void {
  Deno.test(`${backend} store: ${title} contract`, async (t) => {
    for (const [name, run] of cases) {
      await t.step(name, async () => {
        await using factory = await make({ ...settings });
        await run(factory);
      });
    }
  });
}

/** Waits until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  ms = 3000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
