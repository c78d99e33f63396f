// Faults of the handler and of other writers, on the shared control plane: handlers that throw,
// hang past syncTimeoutMs, return an invalid child (422) or a child of an unconfigured type, each
// next to parents that must keep converging; and another writer that keeps changing a parent
// while its status is being written.
import assert from "node:assert/strict";
import { ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import { k8s } from "../../config/resource_types.ts";
import type { SyncRequest, SyncResponse } from "../../handler/handler.ts";
import { parsePrometheusText } from "../../testkit/prometheus_text.ts";
import { startOperator } from "../../runner/run_operator.ts";
import {
  checkConvergence,
  faultConfig,
  faultHandler,
  FaultParent,
  type FaultParentObject,
  type FaultSuite,
  metricSum,
  openSuite,
  percentile,
  sleep,
} from "./fault_kit.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/handler_test.ts");
let suite: FaultSuite;

Deno.test.beforeAll(async () => {
  suite = await openSuite();
});
Deno.test.afterAll(async () => {
  report.print();
  await suite?.close();
});

const SYNC_TIMEOUT_MS = 1000;

/** The misbehaving parents, by name, with what each must make the operator report. */
const BAD: Record<string, RegExp> = {
  throws: /the sync handler failed: this handler always throws/,
  hangs: /the sync handler failed: the sync handler did not finish within 1000 ms/,
  invalid: /cannot write ConfigMap .*422|cannot write ConfigMap .*[Ii]nvalid/,
  unconfigured: /has type v1\/Secret, which is not a configured child type/,
};

function misbehaving(
  request: SyncRequest<FaultParentObject>,
): SyncResponse | Promise<SyncResponse> {
  const name = request.parent.metadata!.name!;
  switch (name) {
    case "throws":
      throw new Error("this handler always throws");
    case "hangs":
      // Ignores its signal and never settles.
      return new Promise<never>(() => {});
    case "invalid":
      return {
        children: [{
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "invalid-c0" },
          data: { "not a valid key!": "x" },
        } as KubernetesObject],
      };
    case "unconfigured":
      return {
        children: [{ apiVersion: "v1", kind: "Secret", metadata: { name: "unconfigured-s" } }],
      };
    default:
      return faultHandler(request);
  }
}

Deno.test(
  "handlers that throw, hang, return an invalid child or an unconfigured type fail only their own parent; 40 others converge",
  report.test("bad handlers next to 40 good parents", async (run) => {
    const { cp, admin, rejections } = suite;
    const ns = await suite.namespace("handlers");
    const parents = new ResourceClient(admin, FaultParent, ns);
    const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
    const rejectionsBefore = rejections.count;
    const logsBefore = suite.logs.lines.length;
    const op = await startOperator(
      faultConfig(ns, { syncTimeoutMs: SYNC_TIMEOUT_MS }),
      misbehaving,
      { clientConfig: cp.clientConfig },
    );
    const createdAt = new Map<string, number>();
    const convergedAt = new Map<string, number>();
    const off = op.onSync((event) => {
      const name = event.parent.split("/")[1]!;
      if (event.state === "succeeded" && !convergedAt.has(name)) {
        convergedAt.set(name, performance.now());
      }
    });
    try {
      await op.ready;
      run.runs = Object.keys(BAD).length;
      for (const name of Object.keys(BAD)) {
        await parents.create({ metadata: { name }, spec: { value: name } });
      }
      // Let the bad parents fail and take their slots first.
      await suite.eventually(
        "every bad parent to fail once",
        () => Object.keys(BAD).every((name) => op.metrics.syncs(`${ns}/${name}`, "error") > 0),
      );
      for (let i = 0; i < 40; i++) {
        const name = `good${i}`;
        createdAt.set(name, performance.now());
        await parents.create({ metadata: { name }, spec: { value: name, children: 1 } });
      }
      const result = await suite.eventually("every good parent to converge", async () => {
        const r = await checkConvergence(admin, ns, {
          skip: (p) => p.metadata!.name! in BAD,
        });
        return r.lost === 0 ? r : undefined;
      }, 90_000);
      run.objectsLost = result.lost;
      const latencies = [...createdAt].map(([name, at]) => (convergedAt.get(name) ?? NaN) - at);
      const p50 = percentile(latencies, 50);
      const max = Math.max(...latencies);
      console.log(
        `good parents' sync latency next to the bad ones: p50 ${p50.toFixed(0)} ms, p95 ${
          percentile(latencies, 95).toFixed(0)
        } ms, max ${max.toFixed(0)} ms`,
      );
      assert.ok(max < 30_000, `every good parent synced within 30 s (max ${max.toFixed(0)} ms)`);

      // Each bad parent is reported: a failed-sync metric and an error log naming it and the cause.
      for (const [name, cause] of Object.entries(BAD)) {
        assert.ok(op.metrics.syncs(`${ns}/${name}`, "error") >= 1, `${name} counted as failed`);
        assert.equal(op.metrics.syncs(`${ns}/${name}`, "success"), 0, `${name} never succeeded`);
        const logged = suite.logs.lines.slice(logsBefore).some((line) =>
          (line.includes(` error roperator.controller sync of ${ns}/${name} failed`) ||
            // A child that could not be written is logged on its own line, naming the parent.
            (line.includes(` error roperator.controller cannot write `) &&
              line.includes(` of ${ns}/${name}: `))) &&
          cause.test(line)
        );
        assert.ok(logged, `${name}: an error log names the parent and the cause ${cause}`);
      }
      assert.equal(await cms.find("invalid-c0"), undefined);
      const samples = parsePrometheusText(op.metrics.registry.render());
      assert.ok(
        metricSum(samples, "roperator_syncs_total", { result: "error" }) >= Object.keys(BAD).length,
        "the metric is rendered for /metrics",
      );
      assert.equal(rejections.count - rejectionsBefore, 0, rejections.describe());
      console.log(`what the operator reported:\n${suite.logs.summary(logsBefore)}`);
      run.note = `good parents synced in p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms`;
    } finally {
      off();
      await op.stop();
    }
  }),
);

Deno.test(
  "another writer keeps changing the parent while it converges: status conflicts are retried and the final status is right",
  report.test("status conflicts with another writer", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("conflict");
    const parents = new ResourceClient(admin, FaultParent, ns);
    const op = await startOperator(
      faultConfig(ns),
      async (request: SyncRequest<FaultParentObject>) => {
        // A slow handler widens the window between reading the parent and writing its status.
        await sleep(40);
        return faultHandler(request);
      },
      { clientConfig: cp.clientConfig },
    );
    try {
      await op.ready;
      const names = ["c0", "c1", "c2"];
      for (const name of names) {
        await parents.create({ metadata: { name }, spec: { value: "v0" } });
      }
      // The other writer: labels (no new generation) and spec changes (a new generation), fast.
      const writes = 60;
      run.runs = writes;
      for (let i = 1; i <= writes; i++) {
        const name = names[i % names.length]!;
        await parents.patch(
          name,
          i % 2 ? { metadata: { labels: { bump: String(i) } } } : { spec: { value: `v${i}` } },
        );
        await sleep(15);
      }
      for (const name of names) {
        await parents.patch(name, { spec: { value: "final" } });
      }
      const result = await suite.eventually("the final status on every parent", async () => {
        const r = await checkConvergence(admin, ns);
        const all = (await parents.list()).items;
        return r.lost === 0 && all.every((p) => p.status?.value === "final") ? r : undefined;
      });
      run.objectsLost = result.lost;
      const samples = parsePrometheusText(op.metrics.registry.render());
      // Status writes are merge patches pinned to a resourceVersion: a stale one gets a 409.
      const conflicts = metricSum(samples, "roperator_api_request_duration_seconds_count", {
        method: "PATCH",
        code: "409",
      });
      assert.ok(conflicts >= 1, `the other writer caused status conflicts (${conflicts})`);
      for (const parent of (await parents.list()).items) {
        assert.equal(parent.status?.observedGeneration, parent.metadata?.generation);
      }
      run.note = `${conflicts} conflicts (409) retried`;
    } finally {
      await op.stop();
    }
  }),
);

Deno.test(
  "a parent deleted while its sync runs: no failed sync is reported and no metric series is left behind",
  report.test("parent deleted mid-sync", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("vanish");
    const parents = new ResourceClient(admin, FaultParent, ns);
    const began = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const op = await startOperator(
      faultConfig(ns),
      async (request: SyncRequest<FaultParentObject>) => {
        if (request.parent.metadata!.name === "vanishing") {
          began.resolve();
          await gate.promise;
        }
        return faultHandler(request);
      },
      { clientConfig: cp.clientConfig },
    );
    const key = `${ns}/vanishing`;
    const ended = Promise.withResolvers<void>();
    const off = op.onSync((event) => {
      if (event.parent === key && event.state !== "started") ended.resolve();
    });
    const logsBefore = suite.logs.lines.length;
    try {
      await op.ready;
      await parents.create({ metadata: { name: "vanishing" }, spec: { value: "x" } });
      await began.promise;
      await parents.delete("vanishing");
      await suite.eventually(
        "the parent to be gone",
        async () => (await parents.find("vanishing")) === undefined,
      );
      await sleep(300); // the operator sees the deletion
      gate.resolve();
      await ended.promise;
      await sleep(100);
      // The exported counter has no parent label; the per-parent tally must have forgotten it.
      const series = (["success", "error"] as const)
        .filter((result) => op.metrics.syncs(key, result) > 0)
        .map((result) => ({ labels: { parent: key, result } }));
      const errors = suite.logs.lines.slice(logsBefore).filter((line) =>
        line.includes(" error ") && line.includes(key)
      );
      run.objectsLost = 0;
      run.note = `${series.length} series left, ${errors.length} error lines`;
      assert.deepEqual(
        { errorLines: errors, series: series.map((s) => JSON.stringify(s.labels)) },
        { errorLines: [], series: [] },
        "a parent that is gone is not a failure, and its series are gone with it",
      );
    } finally {
      gate.resolve();
      off();
      await op.stop();
    }
  }),
);
