import assert from "node:assert/strict";
import { FRAMES_PER_SECOND, OccupancyPace } from "../lib/server/occupancy.ts";

Deno.test("occupancy: the first counts go out; equal counts never", () => {
  const pace = new OccupancyPace();
  assert.equal(pace.due("r", { members: 600, online: 10 }, 5, 0), true);
  assert.equal(pace.due("r", { members: 600, online: 10 }, 5, 5000), false);
});

Deno.test("occupancy: at most once a second for a few local members", () => {
  const pace = new OccupancyPace();
  pace.due("r", { members: 600, online: 10 }, 5, 0);
  assert.equal(pace.due("r", { members: 600, online: 11 }, 5, 999), false);
  assert.equal(pace.due("r", { members: 600, online: 11 }, 5, 1000), true);
});

Deno.test("occupancy: a room with many members here is told less often", () => {
  const pace = new OccupancyPace();
  const local = FRAMES_PER_SECOND * 20; // 20 s between pushes
  pace.due("lobby", { members: 100_000, online: 1000 }, local, 0);
  assert.equal(pace.due("lobby", { members: 100_000, online: 2000 }, local, 19_999), false);
  assert.equal(pace.due("lobby", { members: 100_000, online: 2000 }, local, 20_000), true);
});

Deno.test("occupancy: small moves wait for a minute, member changes do not", () => {
  const pace = new OccupancyPace();
  pace.due("r", { members: 5000, online: 1000 }, 10, 0);
  assert.equal(pace.due("r", { members: 5000, online: 1005 }, 10, 2000), false, "0.5 %");
  assert.equal(pace.due("r", { members: 5000, online: 1010 }, 10, 2000), true, "1 %");
  assert.equal(pace.due("r", { members: 5001, online: 1010 }, 10, 4000), true, "a new member");
  assert.equal(pace.due("r", { members: 5001, online: 1011 }, 10, 6000), false);
  assert.equal(pace.due("r", { members: 5001, online: 1011 }, 10, 64_000), true, "a minute on");
});
