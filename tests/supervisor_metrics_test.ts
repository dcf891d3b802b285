import assert from "node:assert/strict";
import { labelMetrics, mergeMetrics } from "../lib/supervisor/metrics_text.ts";

const text = (n: number) =>
  `# HELP imchat_sessions Logged-in sessions.\n# TYPE imchat_sessions gauge\nimchat_sessions ${n}\n` +
  `# HELP imchat_frames_in_total Frames.\n# TYPE imchat_frames_in_total counter\n` +
  `imchat_frames_in_total{type="send"} ${n * 10}\n` +
  `# TYPE imchat_store_op_seconds histogram\nimchat_store_op_seconds_bucket{op="a",le="0.1"} 1\nimchat_store_op_seconds_count{op="a"} 1\n`;

Deno.test("worker metrics: samples get a worker label, families appear once", () => {
  assert.equal(
    labelMetrics('a 1\nb{x="y"} 2\n# TYPE c gauge', "worker", "3"),
    'a{worker="3"} 1\nb{worker="3",x="y"} 2\n# TYPE c gauge',
  );
  const merged = mergeMetrics([
    labelMetrics(text(1), "worker", "0"),
    labelMetrics(text(2), "worker", "1"),
  ]);
  assert.equal(merged.match(/# TYPE imchat_sessions/g)?.length, 1);
  const lines = merged.trim().split("\n");
  const at = (l: string) => lines.indexOf(l);
  assert.ok(at('imchat_sessions{worker="0"} 1') === at("# TYPE imchat_sessions gauge") + 1);
  assert.ok(at('imchat_sessions{worker="1"} 2') === at('imchat_sessions{worker="0"} 1') + 1);
  assert.ok(
    at('imchat_frames_in_total{worker="1",type="send"} 20') >
      at("# TYPE imchat_frames_in_total counter"),
  );
  assert.ok(at('imchat_store_op_seconds_count{worker="1",op="a"} 1') < lines.length);
  assert.equal(merged.match(/# TYPE imchat_store_op_seconds/g)?.length, 1);
});
