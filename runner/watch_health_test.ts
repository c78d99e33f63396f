import assert from "node:assert/strict";
import { WatchHealth } from "./watch_health.ts";

Deno.test("WatchHealth: failing until an open watch sends an event or outlasts a short watch", () => {
  let now = 0;
  const health = new WatchHealth({ now: () => now }, 1_000);
  assert.equal(health.failingMs(), undefined);
  health.failed("connection refused");
  now = 5_000;
  assert.equal(health.failingMs(), 5_000);
  assert.equal(health.lastError, "connection refused");
  // Open, but younger than a short watch and silent: still failing.
  health.opened(now);
  now += 500;
  assert.equal(health.failingMs(), 5_500);
  // Open longer than a short watch: it works.
  now += 500;
  assert.equal(health.failingMs(), undefined);
  // After an idle deadline, an open watch proves nothing until it sends an event.
  health.closed();
  health.failed("idle", true);
  health.opened(now);
  now += 10_000;
  assert.equal(health.failingMs(), 10_000 + 1_000 + 5_000);
  health.event();
  assert.equal(health.failingMs(), undefined);
  health.working();
  assert.equal(health.failing, false);
  assert.equal(health.lastError, undefined);
});
