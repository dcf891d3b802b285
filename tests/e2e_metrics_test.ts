/**
 * Operations over HTTP (docs/PROTOCOL.md §15): `/metrics` in the Prometheus text format with
 * the documented families, `/healthz`, and client text never reaching the exposition.
 *
 * @module
 */

import { equal, match, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { rawConnect, startTestServer } from "./_harness.ts";
import { freePort } from "./_redis.ts";
import { eventually } from "./_e2e.ts";

Deno.test("metrics and health are served over HTTP when asked", async () => {
  const port = freePort();
  await using s = await startTestServer({ kind: "kv" }, ["--http-port", String(port)]);
  const alice = await s.user("alice");
  const bob = await s.user("bob");
  await alice.request("send", { room: "lobby", text: "hello" });
  await bob.next("message");
  await alice.request("send", { to: "nobody", text: "x" }).catch(() => {});
  {
    using raw = await rawConnect(s.port);
    await raw.write(encodeMessage({ type: 'x"}\nfake_metric 1', id: 1 }));
    equal((await raw.read())?.code, "UNKNOWN_TYPE");
  }

  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  equal(health.status, 200);
  equal(await health.text(), "ok kv\n");

  const scrape = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (text: string, pattern: string) => {
    const line = text.split("\n").find((l) => l.startsWith(pattern + " "));
    ok(line, `${pattern} in\n${text}`);
    return Number(line.split(" ")[1]);
  };
  // The raw connection's close reaches the server in its own time.
  const text = await eventually(scrape, (t) => value(t, "imchat_connections") === 2, "2 open");
  equal(value(text, "imchat_sessions"), 2);
  equal(value(text, "imchat_users"), 2);
  equal(value(text, 'imchat_frames_in_total{type="send"}'), 2);
  equal(value(text, 'imchat_frames_in_total{type="other"}'), 1, "unknown types share one label");
  equal(value(text, "imchat_deliveries_total"), 1);
  equal(value(text, 'imchat_frames_out_total{type="message"}'), 1);
  equal(value(text, 'imchat_errors_total{code="UNKNOWN_USER"}'), 1);
  equal(value(text, 'imchat_errors_total{code="UNKNOWN_TYPE"}'), 1);
  ok(value(text, "imchat_connections_accepted_total") >= 3);
  ok(value(text, "imchat_bus_subscriptions") >= 3, "#lobby, @alice, @bob at least");
  equal(value(text, "imchat_slow_consumers_total"), 0);
  ok(!text.includes("fake_metric"), "client text never reaches the exposition");
  ok(value(text, "imchat_bytes_out_total") > 100);
  ok(value(text, 'imchat_store_op_seconds_count{op="streams.append"}') >= 1);
  match(text, /# TYPE imchat_store_op_seconds histogram/);
  match(text, /# TYPE imchat_event_loop_lag_seconds gauge/);
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# ")) continue;
    match(line, /^imchat_[a-z_]+(\{[a-z]+="[^"\n]*"(,[a-z]+="[^"\n]*")*\})? -?[0-9.e+-]+$/, line);
  }

  const missing = await fetch(`http://127.0.0.1:${port}/nope`);
  equal(missing.status, 404);
  await missing.body?.cancel();
});
