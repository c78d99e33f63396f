import assert from "node:assert/strict";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { Registry } from "./metrics/registry.ts";
import { OperatorMetrics } from "./operator_metrics.ts";
import {
  defaultProcessProbe,
  LagSampler,
  type ProcessProbe,
  trackProcessMetrics,
} from "./process_metrics.ts";

function values(text: string): Map<string, number> {
  return new Map(parsePrometheusText(text).map((s) => [s.name, s.value]));
}

function fakeProbe(fds: number | undefined): ProcessProbe & { cpu: number; rss: number } {
  return {
    cpu: 1.5,
    rss: 100,
    memory() {
      return { rss: this.rss, heapUsed: 20, heapTotal: 30, external: 4 };
    },
    cpuSeconds() {
      return this.cpu;
    },
    startTimeSeconds: () => 1_700_000_000.25,
    openFds: () => fds,
  };
}

Deno.test("trackProcessMetrics: every value is read at render time", () => {
  const registry = new Registry();
  const probe = fakeProbe(12);
  using _ = trackProcessMetrics(registry, { probe, lagSampleMs: 0 });
  let seen = values(registry.render());
  assert.equal(seen.get("process_resident_memory_bytes"), 100);
  assert.equal(seen.get("process_cpu_seconds_total"), 1.5);
  assert.equal(seen.get("process_start_time_seconds"), 1_700_000_000.25);
  assert.equal(seen.get("process_open_fds"), 12);
  assert.equal(seen.get("deno_heap_used_bytes"), 20);
  assert.equal(seen.get("deno_heap_total_bytes"), 30);
  assert.equal(seen.get("deno_external_memory_bytes"), 4);
  assert.equal(seen.get("deno_eventloop_lag_seconds"), 0);
  probe.cpu = 2.75;
  probe.rss = 200;
  seen = values(registry.render());
  assert.equal(seen.get("process_cpu_seconds_total"), 2.75);
  assert.equal(seen.get("process_resident_memory_bytes"), 200);
  assert.match(registry.render(), /^# TYPE process_cpu_seconds_total counter$/m);
});

Deno.test("trackProcessMetrics: process_open_fds is omitted when /proc/self/fd cannot be read", () => {
  const registry = new Registry();
  using _ = trackProcessMetrics(registry, { probe: fakeProbe(undefined), lagSampleMs: 0 });
  const text = registry.render();
  assert.doesNotMatch(text, /process_open_fds/);
  assert.match(text, /^process_resident_memory_bytes 100$/m);
});

Deno.test("LagSampler: the largest drift since the last read, then the last drift", () => {
  const sampler = new LagSampler(500, 0);
  sampler.tick(500); // on time
  assert.equal(sampler.read(), 0);
  sampler.tick(1_030); // 30 ms late
  sampler.tick(1_530); // on time again: expected 1_030 + 500
  sampler.tick(2_130); // 100 ms late
  sampler.tick(2_640); // 10 ms late
  assert.equal(sampler.read(), 100);
  // No tick since: the last drift, not the maximum again.
  assert.equal(sampler.read(), 10);
  // Early ticks count as no lag.
  sampler.tick(3_000);
  assert.equal(sampler.read(), 0);
});

Deno.test("trackProcessMetrics: the lag sampler sees a blocked event loop", async () => {
  const registry = new Registry();
  using metrics = trackProcessMetrics(registry, { lagSampleMs: 10 });
  // Block the loop for 80 ms, then wait for a tick to see it.
  const start = performance.now();
  while (performance.now() - start < 80) { /* busy */ }
  const deadline = performance.now() + 5_000;
  let lag = 0;
  while (lag < 0.05 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    lag = Math.max(lag, values(registry.render()).get("deno_eventloop_lag_seconds")!);
  }
  metrics.stop();
  assert.ok(lag >= 0.05, `lag ${lag} s after blocking 80 ms`);
});

Deno.test("defaultProcessProbe reads the real process", () => {
  const memory = defaultProcessProbe.memory();
  assert.ok(memory.rss > 10 * 1024 * 1024);
  assert.ok(memory.heapUsed > 0 && memory.heapTotal >= memory.heapUsed);
  const cpu = defaultProcessProbe.cpuSeconds();
  assert.ok(cpu > 0 && cpu < 3600, `cpu ${cpu}`);
  const start = defaultProcessProbe.startTimeSeconds();
  assert.ok(Math.abs(start - Date.now() / 1000) < 600, `start ${start}`);
  // This test runs with -A: /proc/self/fd is readable on Linux.
  if (Deno.build.os === "linux") assert.ok(defaultProcessProbe.openFds()! >= 3);
});

Deno.test("OperatorMetrics.trackProcess registers them on the operator's registry", () => {
  const metrics = new OperatorMetrics();
  using _ = metrics.trackProcess({ probe: fakeProbe(7), lagSampleMs: 0 });
  const seen = values(metrics.registry.render());
  assert.equal(seen.get("process_open_fds"), 7);
  assert.equal(seen.get("deno_heap_total_bytes"), 30);
});

Deno.test({
  name: "defaultProcessProbe counts no descriptors without read permission, and does not prompt",
  permissions: { read: false },
  fn() {
    assert.equal(defaultProcessProbe.openFds(), undefined);
  },
});
