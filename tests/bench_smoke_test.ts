/**
 * Smoke tests of the load generator: a quick fanout against a real server subprocess, and
 * the reference peer path against a real ngircd; both check that the JSON they write
 * describes real deliveries with latency percentiles. Never asserts timings or throughput.
 */

import { ok } from "node:assert/strict";
import { NGIRCD_INSTALL, ngircdPath } from "../scripts/_bench_proc.ts";

const BENCH = new URL("../scripts/bench.ts", import.meta.url).pathname;

/** Runs the bench with `args` (bounded) and returns its JSON output. */
async function bench(args: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const out = await Deno.makeTempFile({ prefix: "imchat-bench-", suffix: ".json" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", BENCH, ...args, "--out", out],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Bounded: the bench kills its servers when it gets SIGTERM.
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const log = () =>
      new TextDecoder().decode(run.stdout) + "\n" + new TextDecoder().decode(run.stderr);
    ok(run.success, `bench exited with ${run.code}:\n${log()}`);
    return JSON.parse(await Deno.readTextFile(out));
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

interface Res {
  scenario: string;
  server: string;
  store: string | null;
  ok: boolean;
  error?: string;
  params: Record<string, unknown>;
  // deno-lint-ignore no-explicit-any
  metrics: Record<string, any>;
}

/** Checks the figures of one room run. */
function checkRoom(r: Res | undefined, what: string): void {
  ok(r, `no ${what} result`);
  ok(r.ok, `${what} failed: ${r.error}`);
  const m = r.metrics;
  ok(m.sent > 0, `${what}: no message was sent: ${JSON.stringify(m)}`);
  ok(m.deliveries > 0, `${what}: no delivery was counted: ${JSON.stringify(m)}`);
  ok(m.deliveries <= m.expected, `${what}: no more deliveries than receivers × messages`);
  const l = m.latency;
  ok(l.samples > 0, `${what}: latency samples recorded`);
  for (const key of ["p50Ms", "p99Ms", "p999Ms", "maxMs"]) {
    ok(typeof l[key] === "number" && l[key] >= 0, `${what}: ${key} is a number`);
  }
  ok(l.p50Ms <= l.p99Ms && l.p99Ms <= l.p999Ms && l.p999Ms <= l.maxMs, "percentiles ordered");
  ok(m.measure.serverCpuS >= 0 && m.measure.benchCpuS >= 0, "CPU figures present");
  ok(m.crossChecks > 0, `${what}: byte-scanned messages were cross-checked`);
  ok(m.crossCheckMismatches === 0, `${what}: byte scanning agrees with the full parse`);
}

Deno.test("bench --quick fanout (kv) delivers messages and reports latency percentiles", async () => {
  const json = await bench(["--quick", "--scenario", "fanout", "--store", "kv"], 50_000);
  const meta = json.meta as { deno?: { deno?: unknown } };
  ok(typeof meta.deno?.deno === "string", "meta records the deno version");
  const results = json.results as Res[];
  const fanout = results.find((r) => r.scenario === "fanout" && r.store === "kv");
  checkRoom(fanout, "fanout/kv");
  ok(fanout!.params.senders === 1, "the first fanout run has one sender");
  ok(
    fanout!.metrics.byteScanFastPath === "on",
    `fast path off: ${fanout!.metrics.byteScanFastPath}`,
  );
  const four = results.find((r) => r.scenario === "fanout" && r.params.senders === 4);
  checkRoom(four, "fanout/kv with 4 senders");
});

Deno.test("bench --quick --peer ngircd runs idle, fanout and light load on ngircd", async () => {
  const binary = await ngircdPath();
  ok(
    binary !== null,
    `ngircd is not installed (not on PATH, not in /usr/sbin): the peer benchmark needs ` +
      `Debian's ngircd package (${NGIRCD_INSTALL})`,
  );
  const json = await bench([
    "--quick",
    "--peer",
    "ngircd",
    "--store",
    "none",
    "--scenario",
    "connect,fanout,latency",
    "--duration",
    "1",
    "--connections",
    "100",
  ], 50_000);
  const results = json.results as Res[];
  ok(results.every((r) => r.server === "ngircd"), "--store none runs no imchat scenario");
  const idle = results.find((r) => r.scenario === "connect");
  ok(idle?.ok, `idle failed: ${idle?.error}`);
  ok(idle.metrics.connected === 100, `100 idle connections: ${JSON.stringify(idle.metrics)}`);
  ok(typeof idle.metrics.perConnectionKiBAtCheckpoint === "number", "KiB at the checkpoint");
  ok(typeof idle.metrics.rssDeltaPerConnectionKiB === "number", "KiB at the end");
  for (const senders of [1, 4]) {
    const r = results.find((r) => r.scenario === "fanout" && r.params.senders === senders);
    checkRoom(r, `ngircd fanout with ${senders} senders`);
    ok(r!.params.acks === false, "IRC has no acknowledgements");
  }
  checkRoom(results.find((r) => r.scenario === "latency"), "ngircd light load");
  const processes = (json.meta as { processes: { role: string; pid: number }[] }).processes;
  const peer = processes.find((p) => p.role === "ngircd");
  ok(peer, `ngircd listed among the processes: ${JSON.stringify(processes)}`);
  let alive = true;
  try {
    Deno.kill(peer.pid, "SIGCONT");
  } catch {
    alive = false;
  }
  ok(!alive, `ngircd (pid ${peer.pid}) was stopped at the end`);
});
