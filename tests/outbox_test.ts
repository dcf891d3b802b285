import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { Outbox } from "../lib/server/outbox.ts";
import { sendNow, socketFd } from "../lib/server/sync_send.ts";

/**
 * A writer that takes at most `budget` bytes synchronously per call (then 0) and completes
 * async writes when the test says so.
 */
class Writer {
  readonly bytes: number[] = [];
  readonly calls: string[] = [];
  budget: number;
  #pending: (() => void)[] = [];
  fail = false;

  constructor(budget: number) {
    this.budget = budget;
  }

  writeSync(bytes: Uint8Array): number {
    const n = Math.min(this.budget, bytes.length);
    this.budget -= n;
    this.calls.push(`sync ${bytes.length}:${n}`);
    this.bytes.push(...bytes.subarray(0, n));
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    this.calls.push(`async ${bytes.length}`);
    return new Promise((resolve, reject) =>
      this.#pending.push(() => {
        if (this.fail) return reject(new Error("reset"));
        const n = Math.min(bytes.length, 3);
        this.bytes.push(...bytes.subarray(0, n));
        resolve(n);
      })
    );
  }

  async release(): Promise<void> {
    while (this.#pending.length > 0) {
      for (const done of this.#pending.splice(0)) done();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  }
}

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("a writer that takes everything at once: written in the same turn, no promise", () => {
  const writer = new Writer(Infinity);
  let written = 0;
  const outbox = new Outbox(writer, 100, { overflowed() {}, wrote: (n) => written += n });
  outbox.push(bytes(1, 2, 3), true);
  deepStrictEqual(writer.bytes, [1, 2, 3]);
  equal(outbox.queuedBytes, 0);
  equal(written, 3);
  deepStrictEqual(writer.calls, ["sync 3:3"]);
});

Deno.test("frames of one turn go out in one synchronous write", async () => {
  const writer = new Writer(Infinity);
  const outbox = new Outbox(writer, 100, { overflowed() {} });
  outbox.push(bytes(1));
  outbox.push(bytes(2, 3));
  deepStrictEqual(writer.calls, []);
  await outbox.drained();
  deepStrictEqual(writer.calls, ["sync 3:3"]);
  deepStrictEqual(writer.bytes, [1, 2, 3]);
});

Deno.test("what the socket does not take goes through the async write, in order", async () => {
  const writer = new Writer(2);
  const outbox = new Outbox(writer, 100, { overflowed() {} });
  outbox.push(bytes(1, 2, 3, 4, 5, 6, 7), true);
  outbox.push(bytes(8, 9));
  equal(outbox.queuedBytes, 9);
  writer.budget = 10; // room again: still no synchronous write while the async one runs
  await writer.release();
  await outbox.drained();
  deepStrictEqual(writer.bytes, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  deepStrictEqual(writer.calls, ["sync 7:2", "async 5", "async 2", "sync 2:2"]);
  equal(outbox.queuedBytes, 0);
});

Deno.test("a failed async write closes the outbox and reports once", async () => {
  const writer = new Writer(0);
  const errors: unknown[] = [];
  const outbox = new Outbox(writer, 100, {
    overflowed() {},
    failed: (error) => errors.push(error),
  });
  outbox.push(bytes(1, 2, 3, 4), true);
  outbox.push(bytes(5));
  const drained = outbox.drained();
  writer.fail = true;
  await writer.release();
  await drained;
  equal(errors.length, 1);
  equal(outbox.push(bytes(6)), false, "closed");
  deepStrictEqual(writer.bytes, []);
});

Deno.test("writers without a synchronous write work as before", async () => {
  const got: number[] = [];
  const outbox = new Outbox(
    {
      write: (data) => {
        got.push(...data);
        return Promise.resolve(data.length);
      },
    },
    100,
    { overflowed() {} },
  );
  outbox.push(bytes(1), true);
  outbox.push(bytes(2));
  await outbox.drained();
  await new Promise((resolve) => setTimeout(resolve, 0));
  deepStrictEqual(got, [1, 2]);
});

Deno.test("sendNow writes to a real socket, and 0 once the peer's buffer is full", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  using conn = await listener.accept();
  const fd = socketFd(conn);
  ok(fd !== null, "a TcpConn exposes its descriptor");
  equal(sendNow(fd, bytes(7, 8, 9)), 3);
  const buffer = new Uint8Array(16);
  equal(await client.read(buffer), 3);
  deepStrictEqual([...buffer.subarray(0, 3)], [7, 8, 9]);
  const big = new Uint8Array(1 << 20);
  let total = 0;
  for (let i = 0; i < 64; i++) {
    const sent = sendNow(fd, big);
    if (sent === 0) break;
    total += sent;
  }
  ok(total > 0 && total < 64 * big.length, "the kernel stops taking bytes, without blocking");
  equal(sendNow(fd, big), 0);
});
