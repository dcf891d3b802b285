/**
 * The client's session logic against the real server over TCP: resume after a server
 * restart without duplicates or losses, and an outbox that waits out the rate limit.
 */

import assert from "node:assert/strict";
import { ChatClient, type ClientEvent } from "../lib/client/chat_client.ts";
import { ChatConnection } from "../lib/client/connection.ts";
import { parseServerConfig } from "../lib/config/server_config.ts";
import { createLogger } from "../lib/server/log.ts";
import { startServer } from "../lib/server/server.ts";
import { startTestServer } from "./_harness.ts";
import { freePort } from "./_redis.ts";

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function clientOn(port: number) {
  const events: ClientEvent[] = [];
  const client = new ChatClient({
    connect: () => ChatConnection.open({ host: "127.0.0.1", port }),
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    ackDelayMs: 10,
  });
  client.on((e) => events.push(e));
  const texts = () => events.flatMap((e) => e.kind === "message" ? [e.msg.text] : []);
  return { client, events, texts };
}

Deno.test("the client resumes after a server restart: what it missed, once, and its own sends kept", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const start = () =>
    startServer(
      parseServerConfig(
        ["--host", "127.0.0.1", "--port", String(port), "--no-http", "--kv", `${dir}/c.kv`],
        () => undefined,
        "test",
      ),
      { log: createLogger("silent") },
    );
  let server = await start();
  const { client, events, texts } = clientOn(port);
  try {
    await client.register("bob", "password1", "Bob");
    await client.login("bob", "password1");
    const alice = await ChatConnection.open({ host: "127.0.0.1", port });
    await alice.request("register", { name: "alice", password: "password1", nickname: "A" });
    await alice.request("login", { name: "alice", password: "password1" });
    await alice.request("send", { room: "lobby", text: "first", key: "a1" });
    await alice.request("send", { to: "bob", text: "private first", key: "a2" });
    await until("first messages", () => texts().length === 2);
    await client.send({ room: "lobby" }, "bob before").done;
    alice.close();

    await server.shutdown();
    await until(
      "reconnecting",
      () => events.some((e) => e.kind === "status" && e.state === "reconnecting"),
    );
    const queued = client.send({ room: "lobby" }, "written while down").done;
    server = await start();
    await until(
      "reconnected",
      () => events.some((e) => e.kind === "status" && e.state === "connected"),
    );
    await queued;
    const again = await ChatConnection.open({ host: "127.0.0.1", port });
    await again.request("login", { name: "alice", password: "password1" });
    await again.request("send", { room: "lobby", text: "after", key: "a3" });
    await again.request("send", { to: "bob", text: "private after", key: "a4" });
    await until("later messages", () => texts().length === 4);
    assert.deepEqual(texts(), ["first", "private first", "after", "private after"]);
    const history = await again.request("history", { room: "lobby" });
    assert.deepEqual(history.messages.map((m) => m.text), [
      "first",
      "bob before",
      "written while down",
      "after",
    ]);
    again.close();
  } finally {
    client.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sends over the rate limit wait retryAfter and all arrive, in order", async () => {
  await using server = await startTestServer({ kind: "kv" }, ["--rate", "5", "--burst", "3"]);
  const peer = await server.user("peer");
  const { client, events } = clientOn(server.port);
  await client.register("fast", "password1", "Fast");
  await client.login("fast", "password1");
  const sends = Array.from({ length: 12 }, (_, i) => client.send({ room: "lobby" }, `n${i}`).done);
  await Promise.all(sends);
  await peer.waitFor(
    (e) => e.filter((x) => x.type === "message").length >= 12,
    "12 messages",
    15_000,
  );
  assert.deepEqual(
    peer.messages("#lobby").map((m) => m.msg.text),
    Array.from({ length: 12 }, (_, i) => `n${i}`),
  );
  assert.ok(
    events.some((e) => e.kind === "queued" && e.reason === "rate" && (e.retryInMs ?? 0) >= 1000),
  );
  assert.equal(client.unsent.length, 0);
  client.close();
});

Deno.test("acks reach the server: a second device starts after what the first received", async () => {
  await using server = await startTestServer({ kind: "kv" });
  const peer = await server.user("peer");
  const first = clientOn(server.port);
  await first.client.register("carol", "password1", "Carol");
  await first.client.login("carol", "password1");
  await peer.request("send", { room: "lobby", text: "seen", key: "p1" });
  await until("seen", () => first.texts().includes("seen"));
  await first.client.logout();
  first.client.close();
  await peer.request("send", { room: "lobby", text: "unseen", key: "p2" });
  const second = clientOn(server.port);
  await second.client.login("carol", "password1");
  await until("backlog", () => second.events.some((e) => e.kind === "backlog"));
  assert.deepEqual(second.texts(), ["unseen"]);
  second.client.close();
});
