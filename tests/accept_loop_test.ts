import { deepStrictEqual, equal, ok } from "node:assert/strict";
import net from "node:net";
import { install } from "@sinonjs/fake-timers";
import { acceptLoop, DESCRIPTOR_RETRY_MS, isOutOfDescriptors } from "../lib/server/accept_loop.ts";
import { createLogger } from "../lib/server/log.ts";
import type { Transport, TransportListener } from "../lib/server/transport.ts";
import { startTestServer } from "./_harness.ts";
import { Wire } from "./_wire.ts";

/** A listener whose accepts fail with the given errors, then yield one connection. */
function failingListener(errors: Error[]): TransportListener & { accepts: number } {
  const conn = { remoteAddr: { transport: "tcp", hostname: "x", port: 1 } } as Transport;
  let served = false;
  const listener = {
    accepts: 0,
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } as Deno.NetAddr,
    accept(): Promise<Transport> {
      listener.accepts++;
      const error = errors.shift();
      if (error) return Promise.reject(error);
      if (served) return Promise.reject(new Deno.errors.BadResource("closed"));
      served = true;
      return Promise.resolve(conn);
    },
    close() {},
  };
  return listener;
}

const reset = () =>
  new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)");
const exhausted = () => new Error("Too many open files (os error 24)");

Deno.test("accept loop: connections reset before accept do not pause it", async () => {
  const clock = install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const lines: string[] = [];
    const listener = failingListener(Array.from({ length: 500 }, reset));
    const served: Transport[] = [];
    // No timer may run: the loop must get through every reset without waiting.
    await acceptLoop(
      listener,
      (conn) => served.push(conn),
      createLogger("debug", (l) => lines.push(l)),
      () => false,
    );
    equal(served.length, 1);
    equal(clock.now, 0, "no time passed");
    const levels = new Set(lines.map((line) => JSON.parse(line).level));
    deepStrictEqual([...levels], ["debug"], "resets are logged at debug level");
  } finally {
    clock.uninstall();
  }
});

Deno.test("accept loop: out of descriptors, it pauses before trying again", async () => {
  const clock = install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const lines: string[] = [];
    const listener = failingListener([exhausted()]);
    const served: Transport[] = [];
    const loop = acceptLoop(
      listener,
      (conn) => served.push(conn),
      createLogger("debug", (l) => lines.push(l)),
      () => false,
    );
    await clock.tickAsync(DESCRIPTOR_RETRY_MS - 1);
    equal(listener.accepts, 1, "still waiting");
    await clock.tickAsync(1);
    await loop;
    equal(served.length, 1);
    equal(JSON.parse(lines[0]).level, "error");
  } finally {
    clock.uninstall();
  }
});

Deno.test("accept loop: what counts as running out of descriptors", () => {
  ok(isOutOfDescriptors(exhausted()));
  ok(isOutOfDescriptors(new Error("Too many open files in system (os error 23)")));
  ok(isOutOfDescriptors(Object.assign(new Error("x"), { code: "EMFILE" })));
  ok(!isOutOfDescriptors(reset()));
  ok(!isOutOfDescriptors(new Error("Connection reset by peer (os error 104)")));
});

/** Connects and resets at once (RST, not FIN), as a flood does. */
function connectAndReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.resetAndDestroy();
      resolve();
    });
    socket.on("error", () => resolve());
  });
}

Deno.test("a connect-and-reset flood does not stall accepting", async () => {
  await using s = await startTestServer({ kind: "kv" });
  let flooding = true;
  const flood = (async () => {
    while (flooding) await Promise.all(Array.from({ length: 20 }, () => connectAndReset(s.port)));
  })();
  try {
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const client = await Wire.open(s.port);
      const took = performance.now() - started;
      client.close();
      await client.closed;
      ok(took < 1000, `hello took ${Math.round(took)} ms during the flood`);
    }
  } finally {
    flooding = false;
    await flood;
  }
  const entries = s.logs.map((line) => JSON.parse(line));
  deepStrictEqual(entries.filter((e) => e.event === "accept_failed"), [], "no error-level log");
});
