import assert from "node:assert/strict";
import { load } from "js-yaml";
import { k8s, type KubernetesObject } from "@roperator/core";
import { TestKit } from "@roperator/core/testkit";
import { configInit, GreetingType, sync } from "./operator.ts";

const crd = load(
  await Deno.readTextFile(new URL("./crd.yaml", import.meta.url)),
) as KubernetesObject;

Deno.test("a Greeting gets a Deployment, a Service and a status", async () => {
  await using kit = await TestKit.create(configInit, sync, { crds: [crd] });
  await kit.createParent({ metadata: { name: "hello" }, spec: { message: "Hello, world" } });

  const deployment = await kit.assertResourceEqEventually(k8s.apps.v1.Deployment, "hello", {
    spec: {
      replicas: 1,
      template: {
        spec: { containers: [{ name: "echo", args: ["-listen=:5678", "-text=Hello, world"] }] },
      },
    },
  });
  assert.equal(deployment.metadata?.labels?.["app.kubernetes.io/managed-by"], "greeting-operator");
  await kit.assertResourceExistsEventually(k8s.core.v1.Service, "hello");

  // The test control plane runs no Deployment controller: no replica ever becomes ready.
  await kit.assertResourceEqEventually(GreetingType, "hello", {
    status: { phase: "Pending", readyReplicas: 0, observedGeneration: 1 },
  });
  await kit.reconcileAndAssertSuccess();
});

Deno.test("a new message updates the Deployment, and nothing else is written", async () => {
  await using kit = await TestKit.create(configInit, sync, { crds: [crd] });
  await kit.createParent({ metadata: { name: "change" }, spec: { message: "one" } });
  await kit.assertResourceExistsEventually(k8s.apps.v1.Deployment, "change");
  await kit.reconcileAndAssertSuccess();

  const writes = () => kit.operator.metrics.writes("apply") + kit.operator.metrics.writes("update");
  const before = writes();
  await kit.resources(GreetingType).patch("change", { spec: { message: "two" } });
  await kit.assertResourceEqEventually(k8s.apps.v1.Deployment, "change", {
    spec: {
      template: { spec: { containers: [{ name: "echo", args: ["-listen=:5678", "-text=two"] }] } },
    },
  });
  await kit.reconcileAndAssertSuccess();
  assert.equal(writes() - before, 1, "one apply of the Deployment; the Service is unchanged");
});

Deno.test("deleting a Greeting deletes its children", async () => {
  await using kit = await TestKit.create(configInit, sync, { crds: [crd] });
  await kit.createParent({ metadata: { name: "bye" }, spec: { message: "bye" } });
  await kit.assertResourceExistsEventually(k8s.core.v1.Service, "bye");
  await kit.deleteParent("bye");
  // The garbage collector deletes them, through the owner references the operator set. It
  // looks for new types (our CRD) every 30 s, hence the long wait.
  await kit.assertResourceDeletedEventually(k8s.core.v1.Service, "bye", { timeoutMs: 90_000 });
  await kit.assertResourceDeletedEventually(k8s.apps.v1.Deployment, "bye", { timeoutMs: 90_000 });
});
