// SIGTERM in the middle of a burst, on the shared control plane: the fault operator runs as a
// subprocess with the permission flags of a compiled binary (deploy/permissions.ts) and a token of
// the ServiceAccount its generated RBAC binds. It must exit 0 within 10 s, leave no half-written
// child, and a second run must converge everything the first one did not reach.
import assert from "node:assert/strict";
import { dump as toYaml } from "js-yaml";
import { ResourceClient } from "../../client/resource_client.ts";
import { k8s } from "../../config/resource_types.ts";
import { operatorConfig } from "../../config/operator_config.ts";
import { DEFAULT_OWNERSHIP_LABEL } from "../../config/operator_config.ts";
import { startOperatorProcess } from "../../testkit/operator_process.ts";
import { rbacFor } from "../../deploy/rbac.ts";
import {
  checkConvergence,
  createObjects,
  FaultParent,
  type FaultSuite,
  openSuite,
  OPERATOR_NAME,
} from "./fault_kit.ts";
import { faultConfigInit } from "../../tools/fault/fault_operator.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/sigterm_test.ts");
let suite: FaultSuite;

Deno.test.beforeAll(async () => {
  suite = await openSuite();
});
Deno.test.afterAll(async () => {
  report.print();
  await suite?.close();
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Runs tools/fault/fault_operator.ts as a compiled binary would run, logging JSON at debug. */
function spawnOperator(kubeconfigPath: string, namespace: string, port: number) {
  const operator = startOperatorProcess({
    main: new URL("../../tools/fault/fault_operator.ts", import.meta.url),
    args: [
      "--handler-delay-ms",
      "50",
      "--",
      "--kubeconfig",
      kubeconfigPath,
      "--namespace",
      namespace,
      "--port",
      String(port),
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ],
    kubeconfigPaths: [kubeconfigPath],
  });
  return {
    child: operator.child,
    logs: operator.logs,
    async ready(): Promise<void> {
      await suite.eventually(
        `/ready of the operator; its logs:\n${operator.logs().slice(-3000)}`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/ready`);
          await res.body?.cancel();
          return res.ok;
        },
      );
    },
    /** Sends SIGTERM and waits for the exit. */
    terminate: (): Promise<{ status: Deno.CommandStatus; ms: number }> => operator.terminate(),
  };
}

type Operator = ReturnType<typeof spawnOperator>;

Deno.test(
  "SIGTERM during a burst of 100 parents: exit 0 within 10 s, no half-written child, a second run converges the rest",
  report.test("SIGTERM mid-burst (subprocess)", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("sigterm");
    const config = operatorConfig({ ...faultConfigInit, namespace: ns });
    const rbac = rbacFor(config, { namespace: ns });
    await createObjects(admin, rbac);
    const sa = rbac.find((o) => o.kind === "ServiceAccount")!.metadata!.name!;
    const token = await cp.serviceAccountToken(ns, sa, { create: false });
    suite.logs.sensitive("the operator's service-account token", token);
    const dir = await Deno.makeTempDir({ prefix: "roperator-sigterm-" });
    const kubeconfigPath = `${dir}/kubeconfig`;
    await Deno.writeTextFile(
      kubeconfigPath,
      toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "c",
          cluster: { server: cp.server, "certificate-authority-data": btoa(cp.caCertificate) },
        }],
        users: [{ name: "operator", user: { token } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "operator" } }],
        "current-context": "c",
      }),
    );
    const parents = new ResourceClient(admin, FaultParent, ns);
    const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
    const childCount = async () =>
      (await cms.list({ labelSelector: `${DEFAULT_OWNERSHIP_LABEL}=${OPERATOR_NAME}` })).items
        .length;
    const port = freePort();
    let first: Operator | undefined = spawnOperator(kubeconfigPath, ns, port);
    let second: Operator | undefined;
    try {
      await first.ready();
      const total = 100;
      const queue = Array.from({ length: total }, (_, i) => i);
      const creating = Promise.all(Array.from({ length: 10 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          await parents.create({ metadata: { name: `b${i}` }, spec: { value: "x", children: 3 } });
        }
      }));
      // Mid-burst: some children written, most not.
      await suite.eventually("the burst to be under way", async () => (await childCount()) >= 30);
      const { status, ms } = await first.terminate();
      const logs = first.logs();
      first = undefined;
      await creating;
      assert.equal(status.code, 0, `exit code after SIGTERM; logs:\n${logs.slice(-3000)}`);
      assert.ok(ms < 10_000, `exited within 10 s (took ${ms.toFixed(0)} ms)`);
      assert.ok(/received \\?"?SIGTERM\\?"?; shutting down/.test(logs), "the signal is logged");
      assert.ok(!logs.includes(token), "the token never appears in the logs");
      assert.ok(logs.includes('"level":"DEBUG"'), "debug logs were on (the check means something)");

      // Every child that exists is complete: labels, one owner reference, the data.
      const after = await childCount();
      const partial = await checkConvergence(admin, ns);
      const incomplete = partial.problems.filter((p) => !/: 0 copies$|: status /.test(p));
      assert.deepEqual(incomplete, [], "no half-written or stray child");
      assert.ok(after < total * 3, `the burst was cut short (${after} of ${total * 3} children)`);

      // A second run converges everything: nothing was lost by the shutdown.
      second = spawnOperator(kubeconfigPath, ns, port);
      await second.ready();
      const converged = await suite.eventually("everything to converge", async () => {
        const result = await checkConvergence(admin, ns);
        return result.lost === 0 ? result : undefined;
      }, 120_000).catch(async (error) => {
        run.objectsLost = (await checkConvergence(admin, ns)).lost;
        throw error;
      });
      run.objectsLost = converged.lost;
      const again = await second.terminate();
      second = undefined;
      assert.equal(again.status.code, 0);
      run.note = `exit 0 after ${(ms / 1000).toFixed(1)} s with ${after}/${
        total * 3
      } children written`;
    } finally {
      await first?.terminate();
      await second?.terminate();
      await Deno.remove(dir, { recursive: true });
    }
  }),
);
