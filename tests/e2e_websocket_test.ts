/**
 * The WebSocket transport (docs/PROTOCOL.md §14): the same protocol over `/ws` on the HTTP
 * listener, one message per text message; binary and oversized messages are fatal; the
 * origin check refuses foreign browser pages before the upgrade.
 *
 * @module
 */

import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { startTestServer } from "./_harness.ts";
import { freePort } from "./_redis.ts";
import { PASSWORD } from "./_e2e.ts";
import { upgradeStatus } from "./_upgrade.ts";

/** A WebSocket session that records every message. */
class Ws implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly frames: Record<string, unknown>[] = [];
  readonly closed: Promise<void>;
  #wake: (() => void)[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.addEventListener("close", () => resolve()));
    socket.addEventListener("message", (e) => {
      this.frames.push(JSON.parse(e.data as string));
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.closed.then(() => {
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  static async open(port: number): Promise<Ws> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve);
      socket.addEventListener("error", reject);
    });
    return new Ws(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The first frame matching `match`, waiting up to 5 s. */
  async next(match: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      ok(Date.now() < deadline, `timed out; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

Deno.test("WebSocket sessions speak the same protocol as TCP ones, on one node", async () => {
  const http = freePort();
  await using s = await startTestServer({ kind: "kv" }, ["--http-port", String(http)]);
  const tcp = await s.user("alice");
  await using ws = await Ws.open(http);
  ws.send({ type: "ping", id: 1 });
  equal((await ws.next((f) => f.re === 1)).code, "HELLO_REQUIRED");
  ws.send({ type: "hello", id: 2, protocol: 2 });
  const hello = await ws.next((f) => f.re === 2);
  deepStrictEqual([hello.type, hello.protocol, hello.maxFrame], ["ok", 2, 65536]);
  ws.send({ type: "register", id: 3, name: "bob", password: PASSWORD, nickname: "Bob" });
  await ws.next((f) => f.re === 3 && f.type === "ok");
  ws.send({ type: "login", id: 4, name: "bob", password: PASSWORD });
  await ws.next((f) => f.re === 4 && f.type === "ok");
  const order = await ws.next((f) => f.type === "backlog");
  ok(order);
  deepStrictEqual(ws.frames.slice(-4).map((f) => f.type), ["ok", "rooms", "roster", "backlog"]);
  // A message from TCP reaches the WebSocket user, and back.
  const sent = await tcp.request("send", { room: "lobby", text: "from tcp" });
  const got = await ws.next((f) => f.type === "message");
  deepStrictEqual((got.msg as { seq: number }).seq, sent.seq);
  ws.send({ type: "send", id: 5, room: "lobby", text: "from ws" });
  await ws.next((f) => f.re === 5 && f.type === "ok");
  equal((await tcp.next("message", (e) => e.msg.from === "bob")).msg.text, "from ws");
  await tcp.next("presence", (e) => e.user.name === "bob" && e.online);
});

Deno.test("WebSocket: binary, invalid and oversized messages are fatal", async () => {
  const http = freePort();
  await using s = await startTestServer({ kind: "kv" }, [
    "--http-port",
    String(http),
    "--max-text",
    "300",
    "--max-frame",
    "4096",
  ]);
  const cases: [string, (ws: Ws) => void, string][] = [
    ["binary", (ws) => ws.socket.send(new Uint8Array([0x7b, 0x7d])), "BAD_FRAME"],
    ["not JSON", (ws) => ws.send("{nope"), "BAD_FRAME"],
    ["not an object", (ws) => ws.send("[1]"), "BAD_FRAME"],
    [
      "too large",
      (ws) => ws.send(`{"type":"ping","id":1,"pad":"${"x".repeat(4100)}"}`),
      "FRAME_TOO_LARGE",
    ],
  ];
  for (const [label, act, code] of cases) {
    await using ws = await Ws.open(http);
    ws.send({ type: "hello", id: 1, protocol: 2 });
    await ws.next((f) => f.re === 1);
    act(ws);
    const error = await ws.next((f) => f.type === "error");
    deepStrictEqual([error.code, "re" in error], [code, false], label);
    await ws.closed;
    equal(ws.frames.at(-1), error, `${label}: nothing after the error`);
  }
  // A message of exactly maxFrame bytes is fine.
  await using ws = await Ws.open(http);
  const base = '{"type":"ping","id":7,"pad":""}';
  ws.send(`{"type":"hello","id":1,"protocol":2}`);
  ws.send(`{"type":"ping","id":7,"pad":"${"x".repeat(4096 - base.length)}"}`);
  deepStrictEqual(await ws.next((f) => f.re === 7), { type: "ok", re: 7 });
  void s;
});

Deno.test("WebSocket origin check: foreign origins get 403 before the upgrade", async () => {
  const http = freePort();
  {
    await using _ = await startTestServer({ kind: "kv" }, ["--http-port", String(http)]);
    match(await upgradeStatus(http), /^HTTP\/1\.1 101/, "no Origin: not a browser, accepted");
    match(await upgradeStatus(http, `http://127.0.0.1:${http}`), /^HTTP\/1\.1 101/, "own origin");
    match(await upgradeStatus(http, "http://evil.example"), /^HTTP\/1\.1 403/);
  }
  const other = freePort();
  await using _ = await startTestServer({ kind: "kv" }, [
    "--http-port",
    String(other),
    "--allowed-origin",
    "https://chat.example,https://app.example",
  ]);
  match(await upgradeStatus(other, "https://app.example"), /^HTTP\/1\.1 101/);
  match(await upgradeStatus(other, `http://127.0.0.1:${other}`), /^HTTP\/1\.1 403/);
});
