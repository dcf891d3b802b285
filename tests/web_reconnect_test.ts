import assert from "node:assert/strict";
import { ChatClient, SESSION_KEY } from "../lib/web/client.ts";
import type { SocketLike } from "../lib/web/connection.ts";
import { reconnectDelay } from "../lib/web/text.ts";
import { MemoryStorage } from "./_web.ts";

/** Timers run by hand. */
class FakeTimers {
  now = 1_000_000;
  readonly pending = new Map<number, { at: number; run: () => void }>();
  #next = 1;
  set = (run: () => void, ms: number) => {
    const id = this.#next++;
    this.pending.set(id, { at: this.now + ms, run });
    return id;
  };
  clear = (id: unknown) => void this.pending.delete(id as number);
  /** Runs the earliest timer; returns its delay. */
  fire(): number {
    const [id, timer] = [...this.pending].sort((a, b) => a[1].at - b[1].at)[0];
    this.pending.delete(id);
    const delay = timer.at - this.now;
    this.now = timer.at;
    timer.run();
    return delay;
  }
}

/** A socket that never opens: the server is down. */
function refused(): SocketLike {
  const socket: SocketLike = {
    readyState: 3,
    send() {},
    close() {},
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  queueMicrotask(() => socket.onclose?.({} as CloseEvent));
  return socket;
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("reconnect: a saved session is resumed with growing delays while the server is away", async () => {
  const storage = new MemoryStorage();
  storage.setItem(
    SESSION_KEY,
    JSON.stringify({
      v: 1,
      user: { name: "alice", nickname: "A" },
      token: "t".repeat(43),
      expiresAt: 2e15,
      positions: { "#lobby": { seq: 4, epoch: "e" } },
      outbox: [{
        key: "k1",
        target: { room: "lobby" },
        text: "queued",
        action: false,
        createdAt: 1,
        status: "sending",
      }],
      active: "#lobby",
    }),
  );
  const timers = new FakeTimers();
  let attempts = 0;
  const client = new ChatClient({
    url: "ws://test/ws",
    socket: () => {
      attempts++;
      return refused();
    },
    storage,
    now: () => timers.now,
    random: () => 1,
    randomBytes: (n) => new Uint8Array(n),
    setTimer: timers.set,
    clearTimer: timers.clear,
  });
  assert.equal(client.hasSession, true);
  assert.equal(client.model.me?.name, "alice");
  assert.equal(client.model.active, "#lobby");
  assert.deepEqual(client.outbox.queued().map((e) => e.text), ["queued"]);
  assert.deepEqual(client.model.positions.positions(), { "#lobby": { seq: 4, epoch: "e" } });
  client.start();
  await flush();
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    assert.equal(client.status, "waiting");
    assert.equal(client.retryAt - timers.now, reconnectDelay(i, () => 1));
    delays.push(timers.fire());
    await flush();
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000]);
  assert.equal(attempts, 6);
  client.stop();
  assert.equal(timers.pending.size, 0);
  assert.ok(storage.getItem(SESSION_KEY)!.includes('"queued"'), "the outbox stays saved");
});

Deno.test("reconnect: an expired saved session is not resumed", () => {
  const storage = new MemoryStorage();
  storage.setItem(
    SESSION_KEY,
    JSON.stringify({ v: 1, user: { name: "a", nickname: "a" }, token: "t", expiresAt: 5 }),
  );
  const client = new ChatClient({
    url: "ws://test/ws",
    socket: refused,
    storage,
    now: () => 10,
    random: () => 0,
    randomBytes: (n) => new Uint8Array(n),
    setTimer: () => 0,
    clearTimer: () => {},
  });
  assert.equal(client.hasSession, false);
  client.start();
  assert.equal(client.status, "signedOut");
});
