/**
 * Test helpers for the web client's session logic under Deno: an environment with real
 * WebSockets and in-memory storage, and waiting for a condition with a deadline.
 *
 * @module
 */

import { ChatClient, type ClientEnv, type KeyValueStore } from "../lib/web/client.ts";

/** `Storage` in memory (one per simulated tab). */
export class MemoryStorage implements KeyValueStore {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** A client environment that talks to the WebSocket listener on `httpPort`. */
export function denoEnv(httpPort: number, storage: KeyValueStore = new MemoryStorage()): ClientEnv {
  return {
    url: `ws://127.0.0.1:${httpPort}/ws`,
    socket: (url) => new WebSocket(url),
    storage,
    now: Date.now,
    random: Math.random,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    setTimer: (run, ms) => setTimeout(run, ms),
    clearTimer: (id) => clearTimeout(id as number),
  };
}

/** Waits until `check` holds (checked on every change of `client` and every 20 ms). */
export async function until(
  check: () => boolean,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A client that is stopped on dispose. */
export function webClient(
  httpPort: number,
  storage: KeyValueStore = new MemoryStorage(),
): ChatClient & Disposable {
  const client = new ChatClient(denoEnv(httpPort, storage)) as ChatClient & Disposable;
  client[Symbol.dispose] = () => client.stop();
  return client;
}

/** Registers (through `client`) and logs in. */
export async function signUp(client: ChatClient, name: string): Promise<void> {
  await client.register(name, "password1", name.toUpperCase());
  await client.login(name, "password1");
  await until(() => client.status === "online", `${name} online`);
}
