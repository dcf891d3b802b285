/**
 * Hostile and unlucky clients over real TCP (docs/PROTOCOL.md §1 TLS, §3.3 ping, §3.4 slow
 * consumers, §3.5 rate limits, §5 shutdown, §6 "after a fatal error nothing more is sent"):
 * silent sessions are pinged and dropped, floods are refused then cut off, failed logins are
 * throttled, a reader that stops is cut off without hurting anyone and told why later, the
 * sender is always the session's user, TLS (and handshakes that never finish), a reset flood
 * does not stall accepting, and a shutdown under load loses no acknowledged message.
 *
 * @module
 */

import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import {
  type Backend,
  type RawConn,
  rawConnect,
  sleep,
  spawnServer,
  startTestServer,
} from "./_harness.ts";
import { Wire } from "./_wire.ts";
import { makeCertificates } from "./_tls.ts";
import { login, PASSWORD, refused, register } from "./_e2e.ts";

const kv: Backend = { kind: "kv" };

/** Registers and logs in over a raw connection that then reads only when asked. */
async function rawUser(port: number, name: string): Promise<RawConn> {
  const raw = await rawConnect(port);
  await raw.write(encodeMessage({ type: "hello", id: 1, protocol: 2 }));
  await raw.read();
  await raw.write(
    encodeMessage({ type: "register", id: 2, name, password: PASSWORD, nickname: name }),
  );
  await raw.read();
  await raw.write(encodeMessage({ type: "login", id: 3, name, password: PASSWORD }));
  equal((await raw.read())?.type, "ok");
  for (;;) if ((await raw.read())?.type === "backlog") return raw;
}

/** Every frame until the server closes the connection. */
async function readAll(raw: RawConn, ms = 10_000): Promise<Record<string, unknown>[]> {
  const frames: Record<string, unknown>[] = [];
  for (;;) {
    const frame = await raw.read(ms);
    if (frame === null) return frames;
    frames.push(frame);
  }
}

Deno.test("a session that does not answer pings is dropped and shown offline", async () => {
  await using s = await startTestServer(kv, ["--ping-interval", "1"]);
  const alice = await s.user("alice"); // her client answers every ping
  equal(alice.hello.pingInterval, 1000, "milliseconds");
  using silent = await rawUser(s.port, "bob");
  const loggedIn = Date.now();
  await alice.next("presence", (e) => e.user.name === "bob" && e.online);
  const frames = await readAll(silent);
  const dropped = Date.now() - loggedIn;
  deepStrictEqual(
    frames.map((f) => f.type === "error" ? `error ${f.code}` : f.type).filter((t) =>
      t !== "presence"
    ),
    ["ping", "error TIMEOUT"],
  );
  equal("re" in frames.at(-1)!, false);
  ok(dropped >= 1800 && dropped < 4500, `dropped after ${dropped} ms`);
  const off = await alice.next("presence", (e) => e.user.name === "bob" && !e.online, 5000);
  equal(off.reason, "timeout");
  // alice logged in first and is still there: answering pings keeps a session.
  ok(alice.isOpen);
  ok(alice.events.some((e) => e.type === "ping"));
  equal((await alice.request("users", {})).total, 1);
});

Deno.test("after a fatal error nothing more is sent, issue 12 item 2", async () => {
  await using s = await startTestServer(kv, ["--ping-interval", "1", "--rate", "0"]);
  const alice = await s.user("alice");
  using silent = await rawUser(s.port, "bob");
  let sending = true;
  const pump = (async () => {
    while (sending) {
      await alice.request("send", { room: "lobby", text: "y".repeat(300) });
      await sleep(20);
    }
  })();
  const frames = await readAll(silent);
  sending = false;
  await pump;
  const error = frames.findIndex((f) => f.type === "error");
  ok(error >= 0, "the TIMEOUT error came");
  equal(frames[error].code, "TIMEOUT");
  deepStrictEqual(frames.slice(error + 1), [], "no frame after the fatal error");
  ok(frames.filter((f) => f.type === "message").length > 10, "bob was being sent messages");
});

Deno.test("a flood gets RATE_LIMITED, then FLOODING; acks are never limited", async () => {
  await using s = await startTestServer(kv, ["--rate", "5", "--burst", "5"]);
  const alice = await s.user("alice");
  const flooder = await s.user("mallory");
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, (_, i) => flooder.request("send", { room: "lobby", text: `s${i}` })),
  );
  const accepted = results.filter((r) => r.status === "fulfilled");
  const limited = results.filter((r) =>
    r.status === "rejected" && r.reason.code === "RATE_LIMITED"
  ) as PromiseRejectedResult[];
  equal(accepted.length + limited.length, 12);
  ok(limited.length >= 5, `refused ${limited.length}`);
  ok(limited.every((r) => r.reason.retryAfter >= 1));
  // Refused requests were not executed: history has exactly the accepted ones.
  const history = await alice.request("history", { room: "lobby" });
  equal(history.messages.length, accepted.length);
  // acks and pongs pass while the bucket is empty, and do not count as refusals.
  for (let i = 0; i < 100; i++) await flooder.send({ type: "ack", stream: "#lobby", upTo: 1 });
  for (let i = 0; i < 100; i++) await flooder.send({ type: "pong" });
  ok(flooder.isOpen);
  const more = await Promise.allSettled(
    Array.from({ length: 30 }, () => flooder.request("ping", {})),
  );
  const codes = more.map((r) => r.status === "rejected" ? r.reason.code ?? "closed" : "ok");
  ok(codes.includes("FLOODING"), codes.join());
  await flooder.closed;
  const off = await alice.next("presence", (e) => e.user.name === "mallory" && !e.online);
  equal(off.reason, "drop");
  equal(
    (await alice.request("send", { room: "lobby", text: "still fine" })).seq,
    accepted.length + 1,
  );
  ok(s.logs.some((l) => l.includes('"event":"flooding"')));
});

Deno.test("failed logins are throttled per account and per address", async () => {
  await using s = await startTestServer(kv, ["--login-limit", "3", "--address-limit", "5"]);
  await register(s, "alice", "bob");
  const c = await s.connect();
  for (let i = 0; i < 3; i++) {
    await refused(c.request("login", { name: "alice", password: "nope-nope" }), "WRONG_PASSWORD");
  }
  const locked = await refused(
    c.request("login", { name: "alice", password: PASSWORD }),
    "LOGIN_THROTTLED",
  );
  ok(locked.retryAfter! > 200 && locked.retryAfter! <= 300, `retryAfter ${locked.retryAfter}`);
  ok(/try again in \d+ s/.test(locked.message));
  await c.request("login", { name: "bob", password: PASSWORD });
  await c.request("logout", {});
  for (let i = 0; i < 2; i++) {
    await refused(c.request("login", { name: "nobody", password: PASSWORD }), "UNKNOWN_USER");
  }
  await refused(c.request("login", { name: "bob", password: PASSWORD }), "LOGIN_THROTTLED");
  await refused(c.request("resume", { token: "anything" }), "LOGIN_THROTTLED");
});

Deno.test("a reader that stops is cut off at its queue bound, told why later, loses nothing", async () => {
  await using s = await startTestServer(kv, ["--send-queue", "65536", "--rate", "0"]);
  const alice = await s.user("alice");
  const carol = await s.user("carol");
  using slow = await rawUser(s.port, "bob");
  const before = Deno.memoryUsage().rss;
  const text = "x".repeat(3900);
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const deadline = Date.now() + 20_000;
  while (!s.logs.some((l) => l.includes('"slow_consumer"'))) {
    ok(Date.now() < deadline, "cut off in time");
    const p: Promise<void> = alice.request("send", { room: "lobby", text })
      .then(() => void sent++)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const grown = Deno.memoryUsage().rss - before;
  ok(grown < 200 * 1024 * 1024, `server memory grew by ${grown} bytes`);
  // What bob's socket still held, then the close: no error frame (§3.4).
  const frames = await readAll(slow);
  equal(frames.filter((f) => f.type === "error").length, 0);
  const off = await carol.next("presence", (e) => e.user.name === "bob" && !e.online);
  equal(off.reason, "drop");
  await carol.waitFor(() => carol.messages().length === sent, "carol got every message", 20_000);
  // Told once, at the next login on this node; the backlog has what it missed.
  const back = await s.connect();
  const result = await back.request("login", { name: "bob", password: PASSWORD });
  ok(result.notice?.includes("slow consumer"), result.notice);
  const backlog = await back.next("backlog");
  ok(backlog.messages + backlog.skipped >= 1, "what it missed is still deliverable");
  const twice = await login(s, "bob");
  equal(twice.ok.notice, undefined, "the notice comes once");
});

Deno.test("the sender is always the session's user", async () => {
  await using s = await startTestServer(kv);
  const bob = await s.user("bob");
  using raw = await rawUser(s.port, "mallory");
  await raw.write(encodeMessage({
    type: "send",
    id: 9,
    room: "lobby",
    text: "I am bob",
    from: "bob",
    nick: "BOB",
    stream: "@bob",
    seq: 99,
  }));
  let reply;
  do reply = await raw.read(); while (reply?.re !== 9);
  equal(reply.type, "ok");
  const got = await bob.next("message");
  deepStrictEqual([got.msg.from, got.msg.nick, got.msg.stream, got.msg.seq], [
    "mallory",
    "mallory",
    "#lobby",
    1,
  ]);
  await raw.write(encodeMessage({ type: "logout", id: 10 }));
  do reply = await raw.read(); while (reply?.re !== 10);
  await raw.write(encodeMessage({ type: "send", id: 11, room: "lobby", text: "after logout" }));
  equal((await raw.read())?.code, "NOT_LOGGED_IN");
});

Deno.test("a connect-and-close flood does not stall accepting, issue 12 item 14", async () => {
  await using s = await startTestServer(kv);
  const flood = Array.from({ length: 200 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    conn.close();
  });
  await Promise.all(flood);
  const started = Date.now();
  const c = await s.connect();
  equal(c.hello.protocol, 2);
  ok(Date.now() - started < 1500, `hello after ${Date.now() - started} ms`);
});

Deno.test("TLS: served with a certificate, trusted through a private CA; plain TCP is closed", async () => {
  await using certs = await makeCertificates();
  await using s = await startTestServer(kv, [
    "--tls-cert",
    certs.cert,
    "--tls-key",
    certs.key,
    "--login-timeout",
    "1",
  ]);
  const caCerts = [certs.ca];
  const tls = await Deno.connectTls({ hostname: "localhost", port: s.port, caCerts });
  const c = await Wire.over(tls);
  try {
    const reg = await c.request("register", { name: "alice", password: PASSWORD, nickname: "A" });
    equal(reg.user.name, "alice");
    const entered = await c.request("login", { name: "alice", password: PASSWORD });
    equal(entered.user.name, "alice");
    await c.next("backlog");
    // An unknown CA is refused by the client.
    let refusedCa = false;
    try {
      const untrusted = await Deno.connectTls({ hostname: "localhost", port: s.port });
      await untrusted.handshake().finally(() => untrusted.close());
    } catch {
      refusedCa = true;
    }
    ok(refusedCa, "an unknown CA is refused");
    // Plain TCP gets nowhere and is closed.
    {
      using plain = await rawConnect(s.port);
      await plain.write(encodeMessage({ type: "hello", id: 1, protocol: 2 }));
      equal(await plain.read(5000).catch(() => null), null, "plain TCP gets nowhere");
    }
    equal((await c.request("users", {})).total, 1, "the TLS session kept going");
  } finally {
    c.close();
    await c.closed;
  }
});

Deno.test("shutdown: requests in progress finish, late frames get SHUTTING_DOWN, all are told", async () => {
  const s = await startTestServer(kv);
  await using _ = s;
  const alice = await s.user("alice");
  const guest = await s.connect();
  const bystander = await s.connect();
  // A registration is hashing (tens of milliseconds) when the shutdown starts.
  const registering = guest.request("register", {
    name: "late",
    password: PASSWORD,
    nickname: "L",
  });
  await sleep(40);
  const stopping = s.server.shutdown("Going down for a test");
  await bystander.send({ type: "ping", id: 5 });
  const [registered] = await Promise.all([registering, stopping]);
  equal(registered.user.name, "late", "the request in progress was answered");
  for (const c of [alice, guest]) {
    deepStrictEqual(await c.next("shutdown"), {
      type: "shutdown",
      message: "Going down for a test",
    });
    await c.closed;
  }
  await bystander.closed;
  deepStrictEqual(bystander.events, [{
    type: "error",
    code: "SHUTTING_DOWN",
    message: (bystander.events[0] as { message: string }).message,
  }], "the late frame got SHUTTING_DOWN without re, and nothing after it");
});

Deno.test("shutdown under load loses no acknowledged message", async () => {
  const dir = await Deno.makeTempDir();
  const args = ["--port", "0", "--workers", "1", "--kv", `${dir}/load.kv`, "--rate", "0"];
  try {
    const acked: number[] = [];
    {
      await using server = await spawnServer(args);
      const senders: Wire[] = [];
      for (const name of ["sender1", "sender2", "sender3"]) {
        const c = await Wire.open(server.port);
        await c.request("register", { name, password: PASSWORD, nickname: name });
        await c.request("login", { name, password: PASSWORD });
        await c.next("backlog");
        senders.push(c);
      }
      const pumps = senders.map(async (c, i) => {
        for (let n = 0;; n++) {
          try {
            acked.push((await c.request("send", { room: "lobby", text: `s${i}-${n}` })).seq);
          } catch {
            return;
          }
        }
      });
      await sleep(300);
      equal((await server.stop("SIGTERM")).code, 0);
      await Promise.all(pumps);
      for (const c of senders) {
        // Told before the close: the shutdown event, or SHUTTING_DOWN for a frame sent late.
        const told = c.events.filter((e) =>
          e.type === "shutdown" || (e.type === "error" && e.code === "SHUTTING_DOWN")
        );
        equal(told.length, 1, JSON.stringify(c.events.slice(-3)));
        equal(c.events.at(-1), told[0], "nothing after it");
        await c.closed;
      }
    }
    ok(acked.length > 50, `${acked.length} acknowledged before the shutdown`);
    await using server = await spawnServer(args);
    const reader = await Wire.open(server.port);
    try {
      await reader.request("login", { name: "sender1", password: PASSWORD });
      await reader.next("backlog");
      const stored = new Set<number>();
      let before: number | undefined;
      for (;;) {
        const page = await reader.request("history", {
          room: "lobby",
          limit: 200,
          ...(before ? { before } : {}),
        });
        for (const m of page.messages) stored.add(m.seq);
        if (!page.more) break;
        before = page.messages[0].seq;
      }
      deepStrictEqual(acked.filter((seq) => !stored.has(seq)), [], "every acknowledged message");
      const max = Math.max(...stored);
      equal(stored.size, max, "positions 1 … head without a hole");
    } finally {
      reader.close();
      await reader.closed;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS: a handshake that never finishes is closed within the login timeout, issue 12 item 13", async () => {
  await using certs = await makeCertificates();
  await using s = await startTestServer(kv, [
    "--tls-cert",
    certs.cert,
    "--tls-key",
    certs.key,
    "--login-timeout",
    "1",
  ]);
  const opened = Date.now();
  using silent = await rawConnect(s.port);
  using partial = await rawConnect(s.port);
  await partial.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01])); // half a hello
  for (const raw of [silent, partial]) {
    equal(await raw.read(5000), null, "closed without a frame");
  }
  const closedAfter = Date.now() - opened;
  ok(closedAfter >= 900 && closedAfter < 4000, `closed after ${closedAfter} ms`);
});
