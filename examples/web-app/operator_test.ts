import assert from "node:assert/strict";
import { load as parseYaml } from "js-yaml";
import { findCondition, k8s } from "@roperator/core";
import { TestKit } from "@roperator/core/testkit";
import { configInit, sync, WebAppType } from "./operator.ts";

Deno.test("web-app: crd.yaml is the CRD generated from the parentSchema() declaration", async () => {
  // crd.yaml is for `kubectl apply -f`; regenerate it with `deno run main.ts --print-crds`.
  const file = parseYaml(await Deno.readTextFile(new URL("./crd.yaml", import.meta.url)));
  assert.deepEqual(file, WebAppType.crd());
});

Deno.test("web-app: children are kept with server-side apply, and the status has conditions", async () => {
  await using kit = await TestKit.create(configInit, sync);
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "WebApp",
    metadata: { name: "shop" },
    spec: { image: "nginx:1.27", replicas: 2, greeting: "hi" },
  });
  const deployment = await kit.assertResourceEqEventually(k8s.apps.v1.Deployment, "shop", {
    spec: { replicas: 2 },
  });
  const managers = (deployment.metadata?.managedFields ?? []).map((f) =>
    `${f.manager}/${f.operation}`
  );
  assert.ok(managers.includes("web-app-operator/Apply"), managers.join(", "));
  await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "shop-config", {
    data: { greeting: "hi" },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.Service, "shop");

  // There is no Deployment controller in the test control plane: Ready stays False.
  const parent = await kit.assertResourceEqEventually(WebAppType, "shop", {
    status: {
      readyReplicas: 0,
      conditions: [
        { type: "ConfigApplied", status: "True", reason: "Applied" },
        {
          type: "Ready",
          status: "False",
          reason: "ReplicasNotReady",
          message: "0/2 replicas ready",
        },
      ],
    },
  });
  const ready = findCondition(parent.status?.conditions, "Ready")!;
  await kit.reconcileAndAssertSuccess();

  // A settled operator writes nothing more: lastTransitionTime is kept, the status is equal.
  const writes = (["create", "update", "apply", "delete", "status"] as const).map((k) =>
    kit.operator.metrics.writes(k)
  );
  await kit.resources(WebAppType).patch("shop", { metadata: { labels: { touched: "yes" } } });
  await kit.reconcile();
  assert.deepEqual(
    (["create", "update", "apply", "delete", "status"] as const).map((k) =>
      kit.operator.metrics.writes(k)
    ),
    writes,
    "no writes after a change that does not matter",
  );
  const again = await kit.resources(WebAppType).get("shop");
  assert.equal(
    findCondition(again.status?.conditions, "Ready")
      ?.lastTransitionTime,
    ready.lastTransitionTime,
  );
});

Deno.test("web-app: another field manager's fields survive the operator's apply", async () => {
  await using kit = await TestKit.create(configInit, sync);
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "WebApp",
    metadata: { name: "blog" },
    spec: { image: "nginx:1.27", greeting: "one" },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "blog-config");
  await kit.resources(k8s.core.v1.ConfigMap).apply(
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "blog-config",
        namespace: kit.namespace,
        annotations: { "team/owner": "web" },
      },
    },
    { fieldManager: "human" },
  );
  await kit.resources(WebAppType).patch("blog", { spec: { greeting: "two" } });
  const config = await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "blog-config", {
    data: { greeting: "two" },
  });
  assert.equal(config.metadata?.annotations?.["team/owner"], "web");
  await kit.reconcileAndAssertSuccess();
});
