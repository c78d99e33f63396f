/**
 * Tests of the harness's pure parts: argument parsing, statistics, write accounting, the debug
 * port option and the profile summary. The workloads themselves need a control plane and run
 * with `deno task bench`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseHarnessArgs, WORKLOADS } from "./harness.ts";
import { splitDebugPort } from "./operator.ts";
import { totalWrites, writesBetween } from "./lib/apiserver_writes.ts";
import { formatMs, formatRatio, median, quantile, textTable } from "./lib/stats.ts";
import { forEachConcurrent } from "./lib/pool.ts";
import { summarize } from "./profile_summary.ts";
import { decoratedChildren, parentConverged } from "./workload.ts";

Deno.test("parseHarnessArgs: defaults are a complete run that updates BENCHMARKS.md", () => {
  const options = parseHarnessArgs([]);
  assert.deepEqual([...options.only], [...WORKLOADS]);
  assert.deepEqual(options.parents, 500);
  assert.deepEqual(options.startupParents, 1000);
  assert.deepEqual(options.memoryObjects, 10_000);
  assert.deepEqual(options.contenders, ["ours", "floor", "node"]);
  assert.deepEqual(options.doc, true);
});

Deno.test("parseHarnessArgs: --only and --parents make a partial run that leaves the doc", () => {
  const options = parseHarnessArgs(["--only", "converge,latency", "--parents", "100"]);
  assert.deepEqual([...options.only], ["converge", "latency"]);
  assert.deepEqual(options.startupParents, 200);
  assert.deepEqual(options.memoryObjects, 2000);
  assert.deepEqual(options.doc, false);
  assert.deepEqual(parseHarnessArgs(["--parents", "100", "--doc"]).doc, true);
  assert.deepEqual(parseHarnessArgs(["--no-doc"]).doc, false);
});

Deno.test("parseHarnessArgs: rejects unknown workloads, contenders and bad numbers", () => {
  assert.throws(() => parseHarnessArgs(["--only", "converge,speed"]), /unknown workload "speed"/);
  assert.throws(() => parseHarnessArgs(["--contenders", "ours,go"]), /unknown contender "go"/);
  assert.throws(() => parseHarnessArgs(["--parents", "0"]), /positive integer/);
});

Deno.test("quantile: nearest rank", () => {
  const samples = Array.from({ length: 200 }, (_, i) => 200 - i); // 200 … 1
  assert.deepEqual(quantile(samples, 0.5), 100);
  assert.deepEqual(quantile(samples, 0.99), 198);
  assert.deepEqual(quantile(samples, 1), 200);
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(Number.isNaN(quantile([], 0.5)), true);
});

Deno.test("formatting", () => {
  assert.deepEqual(formatMs(12.34), "12.3 ms");
  assert.deepEqual(formatMs(1234.4), "1,234 ms");
  assert.deepEqual(formatMs(12_345), "12.3 s");
  assert.deepEqual(formatRatio(3, 2), "1.50×");
  assert.deepEqual(formatRatio(3, 0), "—");
  assert.deepEqual(
    textTable(["a", "bb"], [["xyz", "1"]]),
    "a    bb\n---  --\nxyz  1",
  );
});

Deno.test("writesBetween: only what changed, totals", () => {
  const diff = writesBetween(
    { "POST configmaps": 10, "PUT benchparents/status": 5 },
    { "POST configmaps": 12, "PUT benchparents/status": 5, "POST services": 2 },
  );
  assert.deepEqual(diff, { "POST configmaps": 2, "POST services": 2 });
  assert.deepEqual(totalWrites(diff), 4);
});

Deno.test("splitDebugPort: takes the debug port out of the operator's arguments", () => {
  assert.deepEqual(splitDebugPort(["--debug-port", "9001", "--port", "9000"]), {
    port: 9001,
    rest: ["--port", "9000"],
  });
  assert.deepEqual(splitDebugPort(["--debug-port=9002"]), { port: 9002, rest: [] });
  assert.deepEqual(splitDebugPort(["--namespace", "a"]), { rest: ["--namespace", "a"] });
  assert.throws(() => splitDebugPort(["--debug-port", "http"]), TypeError);
});

Deno.test("forEachConcurrent: bounded, every item, first error thrown", async () => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachConcurrent([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 1));
    seen.push(item);
    running--;
  });
  assert.deepEqual(most, 3);
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
  await assert.rejects(
    forEachConcurrent([1, 2], 2, (item) => {
      if (item === 2) throw new Error("two");
      return Promise.resolve();
    }),
    /two/,
  );
});

Deno.test("parentConverged: status, value, generation and both children", () => {
  const parent = {
    apiVersion: "bench.roperator.dev/v1",
    kind: "BenchParent",
    metadata: { name: "p", namespace: "n", uid: "u1", generation: 2 },
    spec: { value: "v" },
    status: { phase: "Ready", value: "v", observedGeneration: 2 },
  };
  const [configMap, service] = decoratedChildren(parent);
  assert.deepEqual(parentConverged(parent, configMap, service), true);
  assert.deepEqual(parentConverged(parent, configMap, undefined), false);
  assert.deepEqual(
    parentConverged(
      { ...parent, status: { ...parent.status, observedGeneration: 1 } },
      configMap,
      service,
    ),
    false,
  );
  assert.deepEqual(parentConverged({ ...parent, spec: { value: "w" } }, configMap, service), false);
});

Deno.test("summarize: self time by function and file, inclusive own code", () => {
  const frame = (functionName: string, url: string) => ({
    functionName,
    url,
    lineNumber: 0,
    columnNumber: 0,
  });
  const summary = summarize({
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 4] },
      { id: 2, callFrame: frame("sync", "file:///work/main/runner/controller.ts"), children: [3] },
      { id: 3, callFrame: frame("parse", ""), children: [] },
      { id: 4, callFrame: frame("(idle)", ""), children: [] },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [3, 3, 2, 4],
    timeDeltas: [1000, 1000, 1000, 5000],
  });
  assert.deepEqual(summary.busyMs, 3);
  assert.deepEqual(summary.byFunction[0], { label: "parse (native):1", ms: 2 });
  assert.deepEqual(summary.inclusive[0], { label: "sync runner/controller.ts:1", ms: 3 });
});
