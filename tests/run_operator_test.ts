// runOperator against the real control plane: SIGTERM stops the operator gracefully and the
// promise resolves, so the program decides how to exit (the library never calls Deno.exit).
import assert from "node:assert/strict";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { runOperator } from "../runner/run_operator.ts";
import { createNamespace, eventually } from "./helpers.ts";

const Parent = resourceType({
  apiVersion: "run.roperator.dev/v1",
  kind: "RunParent",
  plural: "runparents",
  namespaced: true,
});

Deno.test("runOperator resolves with undefined after SIGTERM instead of exiting the process", async () => {
  await using cp = await testControlPlane();
  const admin = new KubeClient(cp.clientConfig);
  try {
    await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
    const ns = await createNamespace(admin, "run");
    const config = operatorConfig({
      name: "run-operator",
      parent: Parent,
      children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
      namespace: ns,
      server: false,
      finalizer: false,
    });
    const handler = ({ parent }: SyncRequest<KubernetesObject>): SyncResponse => ({
      status: {},
      children: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${parent.metadata!.name}-child` },
        data: {},
      }],
    });
    const running = runOperator(config, handler, { clientConfig: cp.clientConfig });
    await new ResourceClient(admin, Parent, ns).create({ metadata: { name: "p" } });
    const configMaps = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
    await eventually("the child of p", async () => {
      const list = await configMaps.list();
      return list.items.some((cm) => cm.metadata?.name === "p-child");
    });

    Deno.kill(Deno.pid, "SIGTERM");

    assert.equal(await running, undefined);
  } finally {
    admin.close();
  }
});
