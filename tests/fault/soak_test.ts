// The short soak: one minute of churn against a private control plane (tools/soak.ts), with the
// operator in a subprocess so that the RSS measured is the operator's only.
import assert from "node:assert/strict";
import { rssTable, runSoak, type SoakOptions, soakSummary } from "../../tools/soak.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/soak_test.ts");
Deno.test.afterAll(() => report.print());

Deno.test(
  "one minute of churn: the operator converges and its RSS grows less than 10 % after warm-up",
  report.test("soak: 1 min of churn (create/edit/delete)", async (run) => {
    const options: SoakOptions = {
      minutes: 1,
      rate: 10,
      parents: 100,
      warmupMinutes: 0.5,
      sampleSeconds: 1,
      maxGrowth: 0.1,
      log: () => {},
    };
    const result = await runSoak(options);
    const { create, edit, delete: deleted } = result.changes;
    run.runs = create + edit + deleted;
    run.objectsLost = result.objectsLost;
    console.log(`${rssTable(result, 12)}\n${soakSummary(result, options)}`);
    run.note = `rss ${(result.baselineRss / 2 ** 20).toFixed(0)} → ${
      (result.finalRss / 2 ** 20).toFixed(0)
    } MiB (${(result.growth * 100).toFixed(1)} %); ${result.staleSeries} series of deleted parents`;
    assert.equal(result.objectsLost, 0, "every parent converged at the end");
    assert.equal(result.exitCode, 0, "the operator exited 0 on SIGTERM");
    assert.ok(
      result.growth < options.maxGrowth,
      `rss grew ${(result.growth * 100).toFixed(1)} % after warm-up`,
    );
    assert.ok(result.samples.length >= 50, `memory was sampled (${result.samples.length})`);
  }),
);
