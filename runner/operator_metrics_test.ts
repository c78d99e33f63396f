import assert from "node:assert/strict";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { OperatorMetrics } from "./operator_metrics.ts";

Deno.test("OperatorMetrics: roperator_syncs_total has no per-parent label, only the result", () => {
  const metrics = new OperatorMetrics();
  for (let i = 0; i < 50; i++) metrics.syncDone(`ns/p${i}`, true, 5);
  metrics.syncDone("ns/p0", false, 5);
  metrics.syncDone("ns/p1", false, 5);
  const samples = parsePrometheusText(metrics.registry.render())
    .filter((s) => s.name === "roperator_syncs_total");
  assert.deepEqual(
    samples.map((s) => ({ labels: s.labels, value: s.value })).sort((a, b) =>
      a.labels.result! < b.labels.result! ? -1 : 1
    ),
    [
      { labels: { result: "error" }, value: 2 },
      { labels: { result: "success" }, value: 50 },
    ],
  );
});

Deno.test("OperatorMetrics: syncs(parent, result) reads an unexported per-parent tally", () => {
  const metrics = new OperatorMetrics();
  metrics.syncDone("ns/a", true, 1);
  metrics.syncDone("ns/a", false, 1);
  metrics.syncDone("ns/a", false, 1);
  metrics.syncDone("ns/b", true, 1);
  assert.equal(metrics.syncs("ns/a", "success"), 1);
  assert.equal(metrics.syncs("ns/a", "error"), 2);
  assert.equal(metrics.syncs("ns/b", "success"), 1);
  assert.equal(metrics.syncs("ns/c", "error"), 0);
  assert.doesNotMatch(metrics.registry.render(), /parent=/);
  metrics.forgetParent("ns/a");
  assert.equal(metrics.syncs("ns/a", "error"), 0);
  assert.equal(metrics.syncs("ns/b", "success"), 1);
});

Deno.test("OperatorMetrics: the per-parent tally is bounded, the oldest parent goes first", () => {
  const metrics = new OperatorMetrics({ maxTrackedParents: 3 });
  for (const parent of ["a", "b", "c"]) metrics.syncDone(parent, true, 1);
  metrics.syncDone("a", true, 1); // a is now the most recent
  metrics.syncDone("d", true, 1); // evicts b
  assert.equal(metrics.syncs("a", "success"), 2);
  assert.equal(metrics.syncs("b", "success"), 0);
  assert.equal(metrics.syncs("c", "success"), 1);
  assert.equal(metrics.syncs("d", "success"), 1);
  // The exported counter is not affected by the bound.
  assert.match(metrics.registry.render(), /roperator_syncs_total\{result="success"\} 5/);
});
