import assert from "node:assert/strict";
import { load as parseYaml } from "js-yaml";
import { findCondition, k8s, type KubernetesObject } from "@roperator/core";
import { TestKit } from "@roperator/core/testkit";
import { configInit, type SecretCopy, SecretCopyType, SOURCE_LABEL, sync } from "./operator.ts";

const crd = parseYaml(
  await Deno.readTextFile(new URL("./crd.yaml", import.meta.url)),
) as KubernetesObject;

function source(name: string, data: Record<string, string>, labelled = true): KubernetesObject {
  return {
    metadata: { name, ...(labelled ? { labels: { [SOURCE_LABEL]: "true" } } : {}) },
    type: "Opaque",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
  };
}

function copy(name: string, secretName: string, key: string): SecretCopy {
  return {
    apiVersion: SecretCopyType.apiVersion,
    kind: SecretCopyType.kind,
    metadata: { name },
    spec: { secretName, key },
  };
}

async function resolved(kit: TestKit, name: string): Promise<string | undefined> {
  const parent = await kit.getResource(SecretCopyType, name);
  const condition = findCondition(parent?.status?.conditions, "Resolved");
  return condition === undefined ? undefined : `${condition.status}/${condition.reason}`;
}

Deno.test("secret-copy: copies a key of the referenced Secret, follows its changes and its deletion", async () => {
  await using kit = await TestKit.create(configInit, sync, { crds: [crd] });
  await kit.createResource(k8s.core.v1.Secret, source("db", { password: "one", user: "app" }));
  await kit.createResource(k8s.core.v1.Secret, source("cache", { password: "other" }));
  await kit.createParent(copy("app", "db", "password"));
  await kit.createParent(copy("worker", "cache", "password"));
  await kit.reconcileAndAssertSuccess();
  await kit.assertResourceEqEventually(k8s.core.v1.Secret, "app-copy", {
    data: { password: btoa("one") },
  });
  assert.equal(await resolved(kit, "app"), "True/Copied");

  // The source changes: exactly the copy that names it is synced, and its child follows.
  {
    using syncs = kit.countSyncs();
    await kit.replaceResource(k8s.core.v1.Secret, source("db", { password: "two" }));
    await kit.assertResourceEqEventually(k8s.core.v1.Secret, "app-copy", {
      data: { password: btoa("two") },
    });
    await kit.reconcileAndAssertSuccess();
    assert.deepEqual(syncs.parents(), [`${kit.namespace}/app`]);
  }

  // The source goes: the copy goes too, and the status says why.
  await kit.deleteResource(k8s.core.v1.Secret, "db");
  await kit.assertResourceDeletedEventually(k8s.core.v1.Secret, "app-copy");
  await kit.reconcileAndAssertSuccess();
  assert.equal(await resolved(kit, "app"), "False/SecretNotFound");
  assert.equal(await resolved(kit, "worker"), "True/Copied");
});

Deno.test("secret-copy: a Secret without the source label, or without the key, does not resolve", async () => {
  await using kit = await TestKit.create(configInit, sync, { crds: [crd] });
  await kit.createResource(k8s.core.v1.Secret, source("plain", { password: "x" }, false));
  await kit.createResource(k8s.core.v1.Secret, source("partial", { user: "app" }));
  await kit.createParent(copy("unlabelled", "plain", "password"));
  await kit.createParent(copy("nokey", "partial", "password"));
  await kit.reconcileAndAssertSuccess();
  assert.equal(await resolved(kit, "unlabelled"), "False/SecretNotFound");
  assert.equal(await resolved(kit, "nokey"), "False/KeyNotFound");
  assert.equal(kit.getParentState("unlabelled").cache.get(k8s.core.v1.Secret, "plain"), undefined);

  // Labelling the Secret makes it a source: the copy resolves.
  await kit.replaceResource(k8s.core.v1.Secret, source("plain", { password: "x" }));
  await kit.assertResourceEqEventually(k8s.core.v1.Secret, "unlabelled-copy", {
    data: { password: btoa("x") },
  });
  await kit.reconcileAndAssertSuccess();
  assert.equal(await resolved(kit, "unlabelled"), "True/Copied");
});
