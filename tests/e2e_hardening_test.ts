import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { ChatError } from "../lib/protocol/errors.ts";
import { ChatConnection } from "../lib/client/connection.ts";
import { AddressedClient } from "./_from_address.ts";
import { makeCertificates } from "./_tls.ts";
import {
  type Backend,
  rawConnect,
  sleep,
  spawnServer,
  startTestServer,
  TestClient,
  waitForLog,
} from "./_harness.ts";

const kv: Backend = { kind: "kv" };
const code = (expected: string) => (error: unknown) =>
  error instanceof ChatError && error.code === expected;

/** Registers and logs in over a raw connection that never reads on its own. */
async function rawUser(port: number, name: string) {
  const raw = await rawConnect(port);
  await raw.write(encodeMessage({ type: "hello", id: 1, protocol: 1 }));
  await raw.read();
  await raw.write(
    encodeMessage({ type: "register", id: 2, name, password: "password1", nickname: name }),
  );
  await raw.read();
  await raw.write(encodeMessage({ type: "login", id: 3, name, password: "password1" }));
  equal((await raw.read())?.type, "ok");
  equal((await raw.read())?.type, "backlog");
  return raw;
}

Deno.test("an idle session that does not answer pings is dropped and shown offline", async () => {
  await using s = await startTestServer(kv, ["--ping-interval", "1"]);
  const alice = await s.user("alice");
  const silent = await rawUser(s.port, "bob");
  await alice.next("presence", (e) => e.user.name === "bob" && e.online);
  const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 5000);
  equal(off.reason, "timeout");
  // Alice's client answers pings, so she stays.
  await sleep(2500);
  deepStrictEqual((await alice.conn.request("count", {})).users, 1);
  silent.close();
});

Deno.test("the fatal error is the last frame: a session that times out leaves the hub at once", async () => {
  await using s = await startTestServer(kv, [
    "--ping-interval",
    "1",
    "--rate",
    "0",
    "--send-queue",
    String(64 * 1024 * 1024),
  ]);
  const alice = await s.user("alice");
  // Bob logs in, then neither reads nor writes: his ping goes unanswered.
  const bob = await rawUser(s.port, "bob");
  await alice.next("presence", (e) => e.user.name === "bob" && e.online);
  const text = "x".repeat(3000);
  let flooding = true;
  const flood = (async () => {
    while (flooding) await alice.conn.request("send", { text });
  })();
  try {
    await waitForLog(s, (e) => e.event === "ping_timeout", "bob's ping timeout");
    // Bob is shown offline while his socket is still open (he reads nothing, so the
    // server still holds his last frames and waits for him).
    await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 3000);
    const bobGone = (e: Record<string, unknown>) => e.event === "disconnect" && e.user === "bob";
    ok(!s.logs.some((line) => bobGone(JSON.parse(line))), "offline before the socket is gone");
    // Bob reads everything the server wrote, up to the end of the stream.
    const frames: Record<string, unknown>[] = [];
    for (let frame = await bob.read(); frame !== null; frame = await bob.read()) {
      frames.push(frame);
    }
    const error = frames.findIndex((f) => f.type === "error");
    ok(error >= 0, "bob got the error");
    deepStrictEqual(frames[error], {
      type: "error",
      code: "TIMEOUT",
      message: "No answer to ping",
    });
    equal(frames.length - 1 - error, 0, `frames after the error: ${frames.length - 1 - error}`);
  } finally {
    flooding = false;
    await flood;
    bob.close();
  }
});

Deno.test("a flood gets rate-limit errors, then a disconnect; others are unaffected", async () => {
  await using s = await startTestServer(kv, ["--rate", "5", "--burst", "5"]);
  const alice = await s.user("alice");
  const flooder = await s.user("mallory");
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => flooder.conn.request("send", { text: `spam ${i}` })),
  );
  const limited = results.filter((r) => r.status === "rejected" && code("RATE_LIMITED")(r.reason));
  ok(limited.length >= 4, `refused ${limited.length}`);
  const error = (limited[0] as PromiseRejectedResult).reason as ChatError;
  ok(error.retryAfter! >= 1);
  const more = await Promise.allSettled(
    Array.from({ length: 40 }, () => flooder.conn.request("ping", {})),
  );
  ok(more.some((r) => r.status === "rejected" && code("FLOODING")(r.reason)));
  await flooder.conn.closed;
  const ok1 = await alice.conn.request("send", { text: "still fine" });
  ok(ok1.msgId > 0);
  ok(s.logs.some((l) => l.includes('"event":"flooding"')));
});

Deno.test("failed logins are throttled per account and per address", async () => {
  await using s = await startTestServer(kv, ["--login-limit", "3", "--address-limit", "5"]);
  const c = await s.connect();
  for (const name of ["alice", "bob"]) {
    await c.conn.request("register", { name, password: "password1", nickname: name });
  }
  for (let i = 0; i < 3; i++) {
    await rejects(
      c.conn.request("login", { name: "alice", password: "nope-nope" }),
      code("WRONG_PASSWORD"),
    );
  }
  const locked = await c.conn.request("login", { name: "alice", password: "password1" }).catch((
    e,
  ) => e);
  ok(code("LOGIN_THROTTLED")(locked), String(locked));
  ok(locked.retryAfter > 200 && locked.retryAfter <= 300, `retryAfter ${locked.retryAfter}`);
  ok(/try again in \d+ s/.test(locked.message));
  await c.conn.request("login", { name: "bob", password: "password1" });
  await c.conn.request("logout", {});
  for (let i = 0; i < 2; i++) {
    await rejects(
      c.conn.request("login", { name: "nobody", password: "password1" }),
      code("UNKNOWN_USER"),
    );
  }
  await rejects(
    c.conn.request("login", { name: "bob", password: "password1" }),
    code("LOGIN_THROTTLED"),
  );
});

Deno.test("wrong passwords from many addresses cannot keep the user out", async () => {
  await using s = await startTestServer(kv, ["--login-limit", "3", "--account-limit", "5"]);
  const setup = await s.connect();
  await setup.conn.request("register", { name: "alice", password: "password1", nickname: "A" });
  const login = async (from: string, password: string) => {
    const client = await AddressedClient.open(s.port, from);
    try {
      return await client.request({ type: "login", name: "alice", password });
    } finally {
      await client.close();
    }
  };
  // Alice's own machine.
  equal((await login("127.0.0.2", "password1")).type, "ok");
  // An attacker on eight other addresses, three guesses each.
  const codes = new Set<unknown>();
  for (let host = 10; host < 18; host++) {
    for (let guess = 0; guess < 3; guess++) {
      codes.add((await login(`127.0.0.${host}`, `guess-${guess}-x`)).code);
    }
  }
  deepStrictEqual([...codes].sort(), ["LOGIN_THROTTLED", "WRONG_PASSWORD"], "slowed, not locked");
  const fromAttacker = await login("127.0.0.10", "password1");
  equal(fromAttacker.code, "LOGIN_THROTTLED", "that address has used up its guesses");
  ok((fromAttacker.retryAfter as number) > 200);
  // The right password from the user's own address works at once.
  equal((await login("127.0.0.2", "password1")).type, "ok");
});

Deno.test("registrations are throttled per address and for the whole server", async () => {
  await using s = await startTestServer(kv, [
    "--register-address-limit",
    "2",
    "--register-limit",
    "3",
  ]);
  const register = async (from: string, name: string) => {
    const client = await AddressedClient.open(s.port, from);
    try {
      return await client.request({
        type: "register",
        name,
        password: "password1",
        nickname: name,
      });
    } finally {
      await client.close();
    }
  };
  equal((await register("127.0.0.2", "user1")).type, "ok");
  // A refused attempt counts like an accepted one: each costs a password hash.
  equal((await register("127.0.0.2", "user1")).code, "NAME_TAKEN");
  const byAddress = await register("127.0.0.2", "user2");
  equal(byAddress.code, "LOGIN_THROTTLED");
  ok((byAddress.retryAfter as number) > 3500, `retryAfter ${byAddress.retryAfter}`);
  ok(/from your address/.test(byAddress.message as string), byAddress.message as string);
  equal((await register("127.0.0.3", "user2")).type, "ok");
  const overall = await register("127.0.0.4", "user3");
  equal(overall.code, "LOGIN_THROTTLED");
  ok(/on this server/.test(overall.message as string), overall.message as string);
});

Deno.test("a client that stops reading is cut off; memory stays bounded; it is told why later", async () => {
  await using s = await startTestServer(kv, ["--send-queue", "65536", "--rate", "0"]);
  const alice = await s.user("alice");
  const carol = await s.user("carol");
  const slow = await rawUser(s.port, "bob");
  const before = Deno.memoryUsage().rss;
  const text = "x".repeat(3900);
  const sent: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const deadline = Date.now() + 20_000;
  while (!s.logs.some((l) => l.includes('"slow_consumer"'))) {
    ok(Date.now() < deadline, "cut off in time");
    const p: Promise<void> = alice.conn.request("send", { text })
      .then((r) => void sent.push(r.msgId))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const grown = Deno.memoryUsage().rss - before;
  ok(grown < 200 * 1024 * 1024, `server memory grew by ${grown} bytes`);
  slow.close();
  await carol.waitFor(
    () => carol.messages().length === sent.length,
    "carol got every message",
    20_000,
  );
  const back = await s.connect();
  const result = await back.conn.request("login", { name: "bob", password: "password1" });
  ok(result.notice?.includes("slow consumer"), result.notice);
  const backlog = await back.next("backlog");
  ok(backlog.group + backlog.skipped >= 1, "what it missed is still deliverable");
});

Deno.test("the sender is always the session's user", async () => {
  await using s = await startTestServer(kv);
  const bob = await s.user("bob");
  const raw = await rawUser(s.port, "mallory");
  await raw.write(
    encodeMessage({ type: "send", id: 9, text: "I am bob", from: "bob", nick: "BOB" }),
  );
  equal((await raw.read())?.type, "ok");
  const got = await bob.next("message");
  deepStrictEqual([got.msg.from, got.msg.nick], ["mallory", "mallory"]);
  await raw.write(encodeMessage({ type: "logout", id: 10 }));
  await raw.read();
  await raw.write(encodeMessage({ type: "send", id: 11, text: "after logout" }));
  equal((await raw.read())?.code, "NOT_LOGGED_IN");
  raw.close();
});

Deno.test("TLS: the server serves over TLS with a certificate; clients trust a private CA", async () => {
  await using certs = await makeCertificates();
  await using s = await startTestServer(kv, [
    "--tls-cert",
    certs.cert,
    "--tls-key",
    certs.key,
    "--rate",
    "0",
  ]);
  const caCerts = [certs.ca];
  const conn = await ChatConnection.open({ host: "localhost", port: s.port, tls: true, caCerts });
  const reg = await conn.request("register", {
    name: "alice",
    password: "password1",
    nickname: "A",
  });
  equal(reg.user.name, "alice");
  await rejects(
    ChatConnection.open({ host: "localhost", port: s.port, tls: true, timeoutMs: 3000 }),
    "an unknown CA is refused",
  );
  const plain = await rawConnect(s.port);
  await plain.write(encodeMessage({ type: "hello", id: 1, protocol: 1 }));
  equal(await plain.read().catch(() => null), null, "plain TCP gets nowhere");
  plain.close();
  const again = await conn.request("login", { name: "alice", password: "password1" });
  equal(again.user.name, "alice", "the server kept serving");
  // Large frames both ways, many at once.
  const bob = await ChatConnection.open({ host: "localhost", port: s.port, tls: true, caCerts });
  await bob.request("register", { name: "bob", password: "password1", nickname: "B" });
  await bob.request("login", { name: "bob", password: "password1" });
  const received: number[] = [];
  bob.on((event) => event.type === "message" && received.push(event.msg.id));
  const text = "x".repeat(3900);
  const sent = await Promise.all(Array.from({ length: 200 }, () => conn.request("send", { text })));
  const deadline = Date.now() + 10_000;
  while (received.length < sent.length && Date.now() < deadline) await sleep(20);
  deepStrictEqual(received, sent.map((r) => r.msgId).sort((a, b) => a - b));
  for (const c of [conn, bob]) c.close();
  await Promise.all([conn.closed, bob.closed]);
});

/**
 * Descriptors of this process that are server-side sockets of connections to `port` (their
 * inodes in /proc/net/tcp with that local port, not listening).
 */
function serverDescriptors(port: number): number {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const listening = fields[3] === "0A";
      if (fields.length > 9 && parseInt(fields[1].split(":")[1], 16) === port && !listening) {
        inodes.add(fields[9]);
      }
    }
  }
  let count = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    const link = (() => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      } catch {
        return "";
      }
    })();
    if (inodes.has(/^socket:\[(\d+)\]$/.exec(link)?.[1] ?? "")) count++;
  }
  return count;
}

/** Polls `check` until it holds, or fails after `ms`. */
async function waitUntil(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await sleep(20);
  }
}

Deno.test("TLS: handshakes that never finish are closed at the login timeout", async () => {
  await using certs = await makeCertificates();
  await using s = await startTestServer(kv, [
    "--tls-cert",
    certs.cert,
    "--tls-key",
    certs.key,
    "--login-timeout",
    "1",
  ]);
  // Half of them send nothing, half send the start of a ClientHello.
  const partialHello = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);
  const peers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const raw = await rawConnect(s.port);
    if (i % 2 === 1) await raw.write(partialHello);
    return raw;
  }));
  try {
    await waitUntil(() => serverDescriptors(s.port) === 40, "the server holds 40 descriptors");
    // Each is closed by the server: the peer reads the end of the stream.
    const ends = await Promise.all(
      peers.map((raw) => raw.read(5000).then(() => true, () => false)),
    );
    equal(ends.filter((closed) => !closed).length, 0, "every connection was closed");
    await waitUntil(() => serverDescriptors(s.port) === 0, "the server's descriptors are closed");
  } finally {
    for (const raw of peers) raw.close();
  }
  // The server still serves TLS.
  const conn = await ChatConnection.open({
    host: "localhost",
    port: s.port,
    tls: true,
    caCerts: [certs.ca],
  });
  conn.close();
  await conn.closed;
});

Deno.test("shutdown under load loses no acknowledged message", async () => {
  const dir = await Deno.makeTempDir();
  const args = ["--port", "0", "--kv", `${dir}/load.kv`, "--rate", "0"];
  try {
    const acked: number[] = [];
    {
      await using server = await spawnServer(args);
      const senders: TestClient[] = [];
      for (const name of ["sender1", "sender2", "sender3"]) {
        const c = await TestClient.open(server.port);
        await c.conn.request("register", { name, password: "password1", nickname: name });
        await c.conn.request("login", { name, password: "password1" });
        senders.push(c);
      }
      const pumps = senders.map(async (c, i) => {
        for (let n = 0;; n++) {
          try {
            acked.push((await c.conn.request("send", { text: `s${i}-${n}` })).msgId);
          } catch {
            return;
          }
        }
      });
      await sleep(300);
      equal((await server.stop("SIGTERM")).code, 0);
      await Promise.all(pumps);
    }
    ok(acked.length > 50, `${acked.length} acknowledged before the shutdown`);
    await using server = await spawnServer(args);
    const reader = await TestClient.open(server.port);
    await reader.conn.request("login", { name: "sender1", password: "password1" });
    const stored = new Set<number>();
    let before: number | undefined;
    for (;;) {
      const page = await reader.conn.request("history", {
        limit: 200,
        ...(before ? { before } : {}),
      });
      for (const m of page.messages) stored.add(m.id);
      if (!page.more) break;
      before = page.messages[0].id;
    }
    const missing = acked.filter((id) => !stored.has(id));
    deepStrictEqual(missing, [], "every acknowledged message is stored");
    reader.close();
    await reader.conn.closed;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
