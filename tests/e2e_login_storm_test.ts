/**
 * Login storms against a real server over real TCP: password hashing is admitted only when
 * it can finish before the connection's login timeout, work of closed connections is
 * dropped, and a registration or login being processed is finished and answered even when
 * the login timeout passes meanwhile.
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { parseServerConfig } from "../lib/config/server_config.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { createLogger } from "../lib/server/log.ts";
import { startServer } from "../lib/server/server.ts";
import type { Store } from "../lib/store/contract/store.ts";
import { openKvStore } from "../lib/store/kv/backend.ts";
import { TEST_SETTINGS } from "./contract/_factory.ts";
import { startTestServer } from "./_harness.ts";
import { Wire } from "./_wire.ts";

Deno.test("a login storm is answered in time: throttled with retryAfter, never cut off", async () => {
  await using s = await startTestServer({ kind: "kv" }, [
    "--hash-workers",
    "0",
    "--hash-concurrency",
    "1",
    "--login-timeout",
    "1",
  ]);
  const setup = await s.connect();
  await setup.request("register", { name: "alice", password: "password1", nickname: "A" });
  setup.close();
  const clients = await Promise.all(Array.from({ length: 80 }, () => s.connect()));
  const outcomes = await Promise.all(clients.map(async (client) => {
    try {
      await client.request("login", { name: "alice", password: "password1" });
      return "ok";
    } catch (error) {
      if (error instanceof ChatError && error.code === "LOGIN_THROTTLED") {
        ok(error.retryAfter! >= 1, `retryAfter ${error.retryAfter}`);
        return "throttled";
      }
      return `${error}`;
    }
  }));
  const count = (what: string) => outcomes.filter((o) => o === what).length;
  deepStrictEqual(
    outcomes.filter((o) => o !== "ok" && o !== "throttled"),
    [],
    "every login is answered",
  );
  ok(count("ok") >= 1, `${count("ok")} ok, ${count("throttled")} throttled`);
  for (const client of clients) client.close();
  // Nothing is left queued for those connections: a new login goes through in time.
  const later = await s.connect();
  const result = await later.request("login", { name: "alice", password: "password1" });
  equal(result.user.name, "alice");
});

/** A Deno KV store whose `createUser` waits for `open()` once it has been called. */
async function gatedStore() {
  const store = await openKvStore(":memory:", { ...TEST_SETTINGS, lobby: null }, "test");
  const entered = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  const accounts = new Proxy(store.accounts, {
    get(target, property) {
      if (property === "createUser") {
        return async (...args: Parameters<Store["accounts"]["createUser"]>) => {
          entered.resolve();
          await gate.promise;
          return await target.createUser(...args);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const gated: Store = new Proxy(store, {
    get(target, property) {
      if (property === "accounts") return accounts;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store, gated, entered: entered.promise, open: () => gate.resolve() };
}

/** A server on a clock the test can move, over `store`. */
async function serverWithClock(store: Store) {
  let offset = 0;
  const now = () => Date.now() + offset;
  const config = parseServerConfig(
    [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-http",
      "--lobby",
      "",
      "--login-timeout",
      "2",
      "--hash-workers",
      "0",
    ],
    () => undefined,
    "test",
  );
  const server = await startServer(config, { store, now, log: createLogger("silent") });
  return { server, now, advance: (ms: number) => offset += ms };
}

Deno.test("a registration in progress when the login timeout passes is finished and answered", async () => {
  const { store, gated, entered, open } = await gatedStore();
  const { server, now, advance } = await serverWithClock(gated);
  const clients: Wire[] = [];
  try {
    const connectedAt = now();
    const registering = await Wire.open(server.addr.port);
    const idle = await Wire.open(server.addr.port);
    clients.push(registering, idle);
    const reply = registering.request("register", {
      name: "alice",
      password: "password1",
      nickname: "A",
    });
    await entered;
    // Both connections are now past their login deadline (2 s), by half a second.
    advance(connectedAt + 2500 - now());
    await idle.next("error", (e) => e.code === "TIMEOUT");
    deepStrictEqual(registering.events, [], "the registering connection was not cut off");
    open();
    equal((await reply).user.name, "alice");
    await registering.next("error", (e) => e.code === "TIMEOUT");
    await registering.closed;
    // The account is there and usable.
    const again = await Wire.open(server.addr.port);
    clients.push(again);
    equal(
      (await again.request("login", { name: "alice", password: "password1" })).user.name,
      "alice",
    );
  } finally {
    open();
    for (const client of clients) client.close();
    await Promise.all(clients.map((c) => c.closed));
    await server.shutdown();
    await store[Symbol.asyncDispose]();
  }
});

Deno.test("a request that hangs is cut off one login timeout after the deadline", async () => {
  const { store, gated, entered, open } = await gatedStore();
  const { server, now, advance } = await serverWithClock(gated);
  const client = await Wire.open(server.addr.port);
  try {
    const connectedAt = now();
    const reply = client.request("register", {
      name: "alice",
      password: "password1",
      nickname: "A",
    }).catch((error) => error);
    await entered;
    advance(connectedAt + 4500 - now());
    await client.next("error", (e) => e.code === "TIMEOUT");
    await client.closed;
    ok((await reply) instanceof Error, "no reply");
  } finally {
    open();
    client.close();
    await client.closed;
    await server.shutdown();
    await store[Symbol.asyncDispose]();
  }
});
