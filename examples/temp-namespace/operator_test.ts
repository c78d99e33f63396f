import assert from "node:assert/strict";
import { load as parseYaml } from "js-yaml";
import { k8s } from "@roperator/core";
import { TestKit } from "@roperator/core/testkit";
import { configInit, parseDuration, tempNamespaceHandler, TempNamespaceType } from "./operator.ts";

Deno.test("temp-namespace: crd.yaml is the CRD generated from the parentSchema() declaration", async () => {
  // crd.yaml is for `kubectl apply -f`; regenerate it with `deno run main.ts --print-crds`.
  const file = parseYaml(await Deno.readTextFile(new URL("./crd.yaml", import.meta.url)));
  assert.deepEqual(file, TempNamespaceType.crd());
});

Deno.test("parseDuration() reads s, m, h and d, and refuses anything else", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1d"), 86_400_000);
  for (const bad of ["", "10", "1.5h", "-1m", "1w", "m"]) {
    assert.throws(() => parseDuration(bad), SyntaxError, bad);
  }
});

Deno.test("temp-namespace: the Namespace lives until deleteAfter, then is deleted", async () => {
  await using kit = await TestKit.create(configInit, tempNamespaceHandler({ resyncMs: 300 }));
  const name = `temp-${kit.namespace}`;
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "TempNamespace",
    metadata: { name },
    spec: { deleteAfter: "4s" },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.Namespace, name);
  const parent = await kit.assertResourceEqEventually(TempNamespaceType, name, {
    status: {
      createdAt: (await kit.resources(TempNamespaceType).get(name)).metadata?.creationTimestamp,
    },
  });
  assert.ok(parent.status?.expiresAt);
  // After expiry the regular resync finds no desired Namespace: it is deleted.
  await kit.assertResourceDeletedEventually(k8s.core.v1.Namespace, name, { timeoutMs: 60_000 });
  const expired = await kit.resources(TempNamespaceType).get(name);
  assert.ok(expired.status?.deletedAt, "deletedAt is reported");
  await kit.deleteParent(name);
});

Deno.test("temp-namespace: an invalid deleteAfter is reported and the Namespace is kept", async () => {
  await using kit = await TestKit.create(configInit, tempNamespaceHandler({ resyncMs: 300 }));
  const name = `bad-${kit.namespace}`;
  await kit.createParent({
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "TempNamespace",
    metadata: { name },
    spec: { deleteAfter: "1h" },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.Namespace, name);
  await kit.resources(TempNamespaceType).patch(name, { spec: { deleteAfter: "soon" } });
  const parent = await kit.assertResourceEqEventually(TempNamespaceType, name, {
    status: {
      error:
        'Cannot parse deleteAfter "soon": expected a number and a unit s, m, h or d, as in "10m"',
    },
  });
  assert.ok(parent);
  // The failable handler keeps the existing children on errors: the Namespace stays.
  await new Promise((r) => setTimeout(r, 1000));
  const ns = await kit.getResource(k8s.core.v1.Namespace, name);
  assert.ok(ns && !ns.metadata?.deletionTimestamp, "the Namespace was not deleted");
  await kit.deleteParent(name);
});
