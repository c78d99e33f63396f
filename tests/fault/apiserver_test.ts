// Faults of the API server itself, on a control plane of this file's own (the faults would disturb
// other files): kube-apiserver killed and restarted, etcd compaction under a cut watch (410s), and
// a slow API. The watch cache is off, as with it kube-apiserver would hide the compaction.
import assert from "node:assert/strict";
import { ResourceClient } from "../../client/resource_client.ts";
import { k8s } from "../../config/resource_types.ts";
import { controllerOf, startOperator } from "../../runner/run_operator.ts";
import { parsePrometheusText } from "../../testkit/prometheus_text.ts";
import { startFaultProxy } from "../../testkit/fault_proxy.ts";
import {
  checkConvergence,
  createRetrying,
  faultConfig,
  faultHandler,
  FaultParent,
  type FaultParentObject,
  type FaultSuite,
  metricSum,
  openSuite,
  retrying,
  scrapeApiServer,
  seededRandom,
  sleep,
} from "./fault_kit.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/apiserver_test.ts");
let suite: FaultSuite;

Deno.test.beforeAll(async () => {
  suite = await openSuite({
    privateControlPlane: { controllerManager: false, apiServerArgs: ["--watch-cache=false"] },
  });
});
Deno.test.afterAll(async () => {
  report.print();
  await suite?.close();
});

/** Creates parents `p<from>`…`p<to - 1>`, a few at a time, retrying through outages. */
async function createParents(
  parents: ResourceClient<FaultParentObject>,
  from: number,
  to: number,
): Promise<void> {
  const queue = Array.from({ length: to - from }, (_, i) => from + i);
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      await createRetrying(parents, {
        metadata: { name: `p${i}` },
        spec: { children: (i % 2) + 1, value: `v${i}` },
      });
    }
  }));
}

Deno.test(
  "kube-apiserver killed (SIGKILL) and restarted 5 times while 200 parents converge: nothing lost, nothing duplicated",
  report.test("kube-apiserver SIGKILL + restart, 200 parents", async (run) => {
    const { cp, admin, rejections } = suite;
    const ns = await suite.namespace("restart");
    const parents = new ResourceClient(admin, FaultParent, ns);
    // ROPERATOR_FAULT_SEED replays the kill schedule of a failed run.
    const seed = Number(
      Deno.env.get("ROPERATOR_FAULT_SEED") ?? Math.floor(Math.random() * 2 ** 31),
    );
    const random = seededRandom(seed);
    console.log(`restart schedule seed: ${seed} (set ROPERATOR_FAULT_SEED to replay it)`);
    const rejectionsBefore = rejections.count;
    const logsBefore = suite.logs.lines.length;
    const op = await startOperator(faultConfig(ns), faultHandler, {
      clientConfig: cp.clientConfig,
    });
    try {
      await op.ready;
      const restarts = 5;
      const total = 200;
      run.runs = restarts;
      const downtimes: number[] = [];
      for (let round = 0; round < restarts; round++) {
        // A batch of parents is being created and synced when the API server dies.
        const perRound = total / restarts;
        const batch = createParents(parents, round * perRound, (round + 1) * perRound);
        // Kill at a random point of the batch's convergence: after 1 to 40 of its creates.
        const target = op.metrics.writes("create") + 1 + Math.floor(random() * 40);
        const latest = Date.now() + 30_000;
        while (op.metrics.writes("create") < target && Date.now() < latest) await sleep(5);
        const killed = performance.now();
        await cp.killApiServer();
        await sleep(random() * 1000);
        await cp.startApiServer();
        downtimes.push(performance.now() - killed);
        await batch;
        if (round === 2) {
          // Edits made right after a restart must not be lost either.
          for (let i = 0; i < 20; i++) {
            await retrying(() =>
              parents.patch(`p${i}`, { spec: { value: `edited${i}`, children: 2 } })
            );
          }
        }
      }
      const converged = await suite.eventually("every parent to converge", async () => {
        const result = await checkConvergence(admin, ns);
        return result.lost === 0 ? result : undefined;
      }, 180_000).catch(async (error) => {
        const result = await checkConvergence(admin, ns);
        run.objectsLost = result.lost;
        throw new Error(`${result.problems.slice(0, 10).join("; ")}\n${error.message}`);
      });
      run.objectsLost = converged.lost;
      assert.equal(converged.children, 300 + 10, "100 parents with 1 child, 100 with 2, 20 edited");
      // A create whose response was lost in the kill is not counted by the operator, so the
      // count may fall short of the children; never a second copy (checked above).
      const creates = op.metrics.writes("create");
      const samples = parsePrometheusText(op.metrics.registry.render());
      const failedSyncs = metricSum(samples, "roperator_syncs_total", { result: "error" });
      assert.equal(rejections.count - rejectionsBefore, 0, rejections.describe());
      // The operator never stopped: every informer restarted its watch, and a new parent converges.
      assert.ok(controllerOf(op).informers.every((i) => i.restarts >= 1));
      await createRetrying(parents, { metadata: { name: "after" }, spec: { value: "after" } });
      await suite.eventually("a parent created after the faults to converge", async () => {
        const cm = await new ResourceClient(admin, k8s.core.v1.ConfigMap, ns).find("after-c0");
        return cm !== undefined;
      });
      console.log(`what the operator reported:\n${suite.logs.summary(logsBefore)}`);
      const downs = downtimes.map((ms) => (ms / 1000).toFixed(1));
      run.note =
        `down ${downs.join("/")} s; ${creates} creates acknowledged for ${converged.children} ` +
        `children; ${failedSyncs} failed syncs retried; seed ${seed}`;
    } finally {
      await op.stop();
    }
  }),
);

async function etcdRevision(etcdUrl: string): Promise<string> {
  const res = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: btoa("/registry/"), range_end: btoa("/registry0"), limit: 1 }),
  });
  const body = await res.json() as { header: { revision: string } };
  return body.header.revision;
}

Deno.test(
  "etcd compaction while the operator's watches are cut: 410, a relist, and the changes made in the gap are reconciled",
  report.test("etcd compaction during a cut (410 Gone)", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("compact");
    const parents = new ResourceClient(admin, FaultParent, ns);
    const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
    await using proxy = startFaultProxy({ target: cp.server });
    const op = await startOperator(faultConfig(ns), faultHandler, {
      clientConfig: { ...cp.clientConfig, server: proxy.url },
    });
    try {
      await op.ready;
      await parents.create({ metadata: { name: "a" }, spec: { value: "one", children: 2 } });
      await suite.eventually("a's children", async () => (await cms.find("a-c1")) !== undefined);

      // The operator loses the API server; meanwhile the parent changes, a parent is added, a
      // child is deleted, and etcd compacts away the history the watches would resume from.
      proxy.refuse();
      proxy.cut();
      await parents.patch("a", { spec: { value: "two" } });
      await parents.create({ metadata: { name: "b" }, spec: { value: "new" } });
      await cms.delete("a-c0");
      const revision = await etcdRevision(cp.etcdUrl);
      const compacted = await fetch(`${cp.etcdUrl}/v3/kv/compaction`, {
        method: "POST",
        body: JSON.stringify({ revision, physical: true }),
      });
      assert.equal(compacted.status, 200, await compacted.text());
      proxy.refuse(false);

      const converged = await suite.eventually("the gap's changes to be reconciled", async () => {
        const result = await checkConvergence(admin, ns);
        return result.lost === 0 ? result : undefined;
      });
      run.objectsLost = converged.lost;
      const samples = parsePrometheusText(op.metrics.registry.render());
      const expired = metricSum(samples, "roperator_watch_restarts_total", { reason: "expired" });
      assert.ok(expired >= 1, `a watch restart with reason "expired" (410): ${expired}`);
      run.note = `${expired} watches relisted after 410, compacted at revision ${revision}`;
    } finally {
      await op.stop();
    }
  }),
);

Deno.test(
  "a slow API (500 ms per chunk each way): everything converges and nothing is written twice",
  report.test("slow API, +500 ms per chunk", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("slow");
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using proxy = startFaultProxy({ target: cp.server });
    proxy.delay(500);
    const posts = async () => {
      const samples = await scrapeApiServer(cp);
      const of = (code: string) =>
        metricSum(samples, "apiserver_request_total", {
          verb: "POST",
          resource: "configmaps",
          code,
        });
      return { created: of("201"), conflicts: of("409") };
    };
    const before = await posts();
    const started = performance.now();
    const op = await startOperator(faultConfig(ns), faultHandler, {
      clientConfig: { ...cp.clientConfig, server: proxy.url },
    });
    try {
      await op.ready;
      const count = 20;
      for (let i = 0; i < count; i++) {
        await parents.create({
          metadata: { name: `s${i}` },
          spec: { value: `v${i}`, children: (i % 2) + 1 },
        });
      }
      const converged = await suite.eventually("every slow parent to converge", async () => {
        const result = await checkConvergence(admin, ns);
        return result.lost === 0 ? result : undefined;
      }, 120_000);
      const seconds = (performance.now() - started) / 1000;
      run.objectsLost = converged.lost;
      // Let late watch events arrive: they must not cause more writes.
      await sleep(3000);
      const after = await posts();
      assert.equal(converged.children, 30);
      assert.equal(op.metrics.writes("create"), 30, "one create per child");
      assert.equal(op.metrics.writes("update"), 0, "no update of an unchanged child");
      assert.equal(op.metrics.writes("status"), count, "one status write per parent");
      assert.equal(after.created - before.created, 30, "kube-apiserver saw 30 ConfigMap creates");
      assert.equal(after.conflicts - before.conflicts, 0, "and no create of an existing one");
      run.note = `converged in ${seconds.toFixed(1)} s; 30 POSTs, 0 conflicts`;
    } finally {
      await op.stop();
    }
  }),
);
