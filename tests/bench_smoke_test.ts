/**
 * Smoke test of the load generator: runs a quick fanout against a real server subprocess
 * and checks that the JSON it writes describes real deliveries with latency percentiles.
 * Never asserts timings or throughput.
 */

import { ok } from "node:assert/strict";

const BENCH = new URL("../scripts/bench.ts", import.meta.url).pathname;

Deno.test("bench --quick fanout (kv) delivers messages and reports latency percentiles", async () => {
  const out = await Deno.makeTempFile({ prefix: "imchat-bench-", suffix: ".json" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-all",
        BENCH,
        "--quick",
        "--scenario",
        "fanout",
        "--store",
        "kv",
        "--out",
        out,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Bounded: the bench kills its server when it gets SIGTERM.
      signal: AbortSignal.timeout(50_000),
    }).output();
    const log = () =>
      new TextDecoder().decode(run.stdout) + "\n" + new TextDecoder().decode(run.stderr);
    ok(run.success, `bench exited with ${run.code}:\n${log()}`);

    const json = JSON.parse(await Deno.readTextFile(out));
    ok(typeof json.meta?.deno?.deno === "string", "meta records the deno version");
    const fanout = json.results.find((r: { scenario: string; store: string }) =>
      r.scenario === "fanout" && r.store === "kv"
    );
    ok(fanout, `no fanout/kv result in ${JSON.stringify(json.results)}`);
    ok(fanout.ok, `fanout failed: ${fanout.error}`);
    const m = fanout.metrics;
    ok(m.sent > 0, `no message was sent: ${JSON.stringify(m)}`);
    ok(m.deliveries > 0, `no delivery was counted: ${JSON.stringify(m)}`);
    ok(m.deliveries <= m.expected, "no more deliveries than receivers × messages");
    const l = m.latency;
    ok(l.samples > 0, "latency samples recorded");
    for (const key of ["p50Ms", "p99Ms", "p999Ms", "maxMs"]) {
      ok(typeof l[key] === "number" && l[key] >= 0, `${key} is a number: ${JSON.stringify(l)}`);
    }
    ok(l.p50Ms <= l.p99Ms && l.p99Ms <= l.p999Ms && l.p999Ms <= l.maxMs, "percentiles ordered");
    ok(m.measure.serverCpuS >= 0 && m.measure.benchCpuS >= 0, "CPU figures present");
    ok(m.jsonCrossChecks > 0, "byte-scanned frames were cross-checked against JSON.parse");
    ok(m.jsonCrossCheckMismatches === 0, "byte scanning agrees with JSON.parse");
    ok(m.byteScanFastPath === "on", `fast path off: ${m.byteScanFastPath}`);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
});
