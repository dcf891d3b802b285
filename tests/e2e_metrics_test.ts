import { equal, match, ok } from "node:assert/strict";
import { encodeMessage } from "../lib/protocol/codec.ts";
import { rawConnect, startTestServer } from "./_harness.ts";
import { freePort } from "./_redis.ts";

Deno.test("metrics and health are served over HTTP when asked", async () => {
  const port = freePort();
  await using s = await startTestServer({ kind: "kv" }, ["--metrics-port", String(port)]);
  const alice = await s.user("alice");
  const bob = await s.user("bob");
  await alice.conn.request("send", { text: "hello" });
  await bob.next("message");
  await alice.conn.request("send", { to: "nobody", text: "x" }).catch(() => {});
  const raw = await rawConnect(s.port);
  await raw.write(encodeMessage({ type: 'x"}\nfake_metric 1', id: 1 }));
  await raw.read();
  raw.close();

  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  equal(health.status, 200);
  equal(await health.text(), "ok kv\n");

  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  equal(response.status, 200);
  const text = await response.text();
  const value = (pattern: string) => {
    const line = text.split("\n").find((l) => l.startsWith(pattern + " "));
    ok(line, `${pattern} in\n${text}`);
    return Number(line.split(" ")[1]);
  };
  equal(value("imchat_connections"), 2);
  equal(value("imchat_sessions"), 2);
  equal(value('imchat_frames_in_total{type="send"}'), 2);
  equal(value("imchat_deliveries_total"), 1);
  equal(value('imchat_errors_total{code="UNKNOWN_USER"}'), 1);
  equal(value('imchat_frames_in_total{type="other"}'), 1, "unknown types share one label");
  ok(!text.includes("fake_metric"), "client text never reaches the exposition");
  ok(value("imchat_bytes_out_total") > 100);
  ok(value('imchat_store_op_seconds_count{op="append"}') >= 1);
  match(text, /# TYPE imchat_event_loop_lag_seconds gauge/);

  const missing = await fetch(`http://127.0.0.1:${port}/nope`);
  equal(missing.status, 404);
  await missing.body?.cancel();
});
