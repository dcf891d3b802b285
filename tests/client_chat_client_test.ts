import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { ChatClient, type ClientEvent } from "../lib/client/chat_client.ts";
import { parseServerConfig } from "../lib/config/server_config.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { createLogger } from "../lib/server/log.ts";
import { startServer } from "../lib/server/server.ts";
import { sleep, TestClient } from "./_harness.ts";
import { freePort } from "./_redis.ts";

function serverOn(port: number, kvPath: string) {
  const config = parseServerConfig(
    ["--host", "127.0.0.1", "--port", String(port), "--kv", kvPath],
    () => undefined,
    "test",
  );
  return startServer(config, { log: createLogger("silent") });
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("the client reconnects by itself after a server restart and gets what it missed", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/c.kv`;
  const port = freePort();
  let server = await serverOn(port, kvPath);
  const client = new ChatClient({
    host: "127.0.0.1",
    port,
    reconnectMinMs: 50,
    reconnectMaxMs: 200,
    ackDelayMs: 10,
  });
  const events: ClientEvent[] = [];
  client.on((event) => events.push(event));
  try {
    await client.register("bob", "password1", "Bob");
    await client.login("bob", "password1");
    const alice = await TestClient.open(port);
    await alice.conn.request("register", { name: "alice", password: "password1", nickname: "A" });
    await alice.conn.request("login", { name: "alice", password: "password1" });
    await alice.conn.request("send", { to: "bob", text: "first" });
    await until("first message", () => events.some((e) => e.kind === "message"));
    alice.close();
    await alice.conn.closed;

    await server.shutdown();
    await until(
      "reconnecting status",
      () => events.some((e) => e.kind === "status" && e.state === "reconnecting"),
    );
    await rejects(
      client.send("while away"),
      (e) => e instanceof ChatError && e.code === "UNAVAILABLE",
      "requests fail clearly while reconnecting",
    );
    server = await serverOn(port, kvPath);
    const sender = await TestClient.open(port);
    await sender.conn.request("login", { name: "alice", password: "password1" });
    await sender.conn.request("send", { to: "bob", text: "while you were gone" });
    await until(
      "reconnected",
      () => events.some((e) => e.kind === "status" && e.state === "connected"),
    );
    await until(
      "missed message",
      () => events.some((e) => e.kind === "message" && e.msg.text === "while you were gone"),
    );
    const texts = events.flatMap((e) => e.kind === "message" ? [e.msg.text] : []);
    deepStrictEqual(texts, ["first", "while you were gone"], "each message shown once");
    ok((await client.send("back again")).msgId > 0);
    sender.close();
    await sender.conn.closed;
  } finally {
    client.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a revoked token ends the session instead of retrying forever", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const server = await serverOn(port, `${dir}/c.kv`);
  const client = new ChatClient({ host: "127.0.0.1", port, reconnectMinMs: 50 });
  const events: ClientEvent[] = [];
  client.on((event) => events.push(event));
  try {
    await client.register("carol", "password1", "Carol");
    const { token } = await client.login("carol", "password1");
    const other = await TestClient.open(port);
    await other.conn.request("resume", { token });
    await other.conn.request("logout", {});
    other.close();
    await other.conn.closed;
    // The restart drops carol's connection: the client tries to resume and learns the token
    // is gone.
    await server.shutdown();
    const again = await serverOn(port, `${dir}/c.kv`);
    try {
      await until("ended", () => events.some((e) => e.kind === "ended"));
      equal(client.user, null);
    } finally {
      client.close();
      await again.shutdown();
    }
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
