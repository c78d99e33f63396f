import assert from "node:assert/strict";
import { load as parseYaml } from "js-yaml";
import { k8s } from "@roperator/core";
import { TestKit } from "@roperator/core/testkit";
import { configInit, EchoServerType, sync } from "./operator.ts";

Deno.test("echo-server: crd.yaml is the CRD generated from the parentSchema() declaration", async () => {
  // crd.yaml is for `kubectl apply -f`; regenerate it with `deno run main.ts --print-crds`.
  const file = parseYaml(await Deno.readTextFile(new URL("./crd.yaml", import.meta.url)));
  assert.deepEqual(file, EchoServerType.crd());
});

Deno.test("echo-server: an EchoServer gets a Pod and a Service, and a status", async () => {
  await using kit = await TestKit.create(configInit, sync);
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "EchoServer",
    metadata: { name: "hello" },
    spec: { serviceName: "hello-svc" },
  });
  const pod = await kit.assertResourceExistsEventually(k8s.core.v1.Pod, "hello-echo");
  assert.equal(pod.spec?.containers[0]?.image, "hashicorp/http-echo:1.0");
  await kit.assertResourceEqEventually(k8s.core.v1.Service, "hello-svc", {
    spec: { ports: [{ name: "http", port: 80 }] },
  });
  // No kubelet runs in the test control plane: the Pod stays Pending, and the status says so.
  await kit.assertResourceEqEventually(configInit.parent, "hello", {
    status: {
      phase: "Pending",
      message: "Waiting for the Pod to be scheduled",
      observedGeneration: 1,
    },
  });
  await kit.reconcileAndAssertSuccess();
});

Deno.test("echo-server: a new image recreates the Pod; a new service name replaces the Service", async () => {
  await using kit = await TestKit.create(configInit, sync);
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "EchoServer",
    metadata: { name: "change" },
    spec: { serviceName: "first" },
  });
  const before = await kit.assertResourceExistsEventually(k8s.core.v1.Pod, "change-echo");
  await kit.assertResourceExistsEventually(k8s.core.v1.Service, "first");
  await kit.resources(configInit.parent).patch("change", {
    spec: { serviceName: "second", image: "hashicorp/http-echo:1.1" },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.Service, "second");
  await kit.assertResourceDeletedEventually(k8s.core.v1.Service, "first");
  const after = await kit.assertResourceEqEventually(k8s.core.v1.Pod, "change-echo", {
    spec: { containers: [{ name: "echo", image: "hashicorp/http-echo:1.1" }] },
  });
  assert.notEqual(after.metadata?.uid, before.metadata?.uid, "Recreate made a new Pod");
  await kit.reconcileAndAssertSuccess();
});
