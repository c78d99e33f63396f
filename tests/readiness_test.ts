// Readiness against a real API server: `ready` settles (it rejects, naming the type and the
// HTTP status, when the operator may not list a child type), and `/ready` answers 503 naming the
// type whose cache or watch does not work (a watch refused for longer than `readinessGraceMs`).
// An operator stopped before its first list: runner/run_operator_test.ts, where the list can be
// held back (here it may have completed by the time `startOperator` returns).
import assert from "node:assert/strict";
import { createNamespace, eventually } from "./helpers.ts";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { deployServiceAccount } from "../testkit/service_account.ts";
import type { ClientConfig } from "../client/client_config.ts";
import { KubeClient } from "../client/kube_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { rbacFor } from "../deploy/rbac.ts";
import { InformerSyncError } from "../runner/informer_errors.ts";
import { controllerOf, startOperator } from "../runner/run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "ReadyParent",
  plural: "readyparents",
  namespaced: true,
});

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

function configIn(ns: string, init: Partial<OperatorConfigInit> = {}) {
  return operatorConfig({
    name: "ready-test",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: { port: 0, hostname: "127.0.0.1" },
    ...init,
  });
}

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** The generated RBAC, with these verbs taken away from ConfigMaps. */
function withoutVerbs(objects: KubernetesObject[], verbs: string[]): KubernetesObject[] {
  return objects.map((object) => {
    const rules = (object as { rules?: Rule[] }).rules;
    if (!rules) return object;
    const split = rules.flatMap((rule): Rule[] => {
      if (!rule.apiGroups.includes("") || !rule.resources.includes("configmaps")) return [rule];
      const others = rule.resources.filter((r) => r !== "configmaps");
      return [
        ...(others.length > 0 ? [{ ...rule, resources: others }] : []),
        { ...rule, resources: ["configmaps"], verbs: rule.verbs.filter((v) => !verbs.includes(v)) },
      ];
    });
    return { ...object, rules: split } as KubernetesObject;
  });
}

async function accountWithout(ns: string, verbs: string[]): Promise<ClientConfig> {
  const { clientConfig } = await deployServiceAccount(
    cp,
    withoutVerbs(rbacFor(configIn(ns), { namespace: ns }), verbs),
  );
  return clientConfig;
}

/** What the promise settles with (its error, for a rejection); fails after 30 s pending. */
async function outcome(promise: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("ready is still pending after 30 s")), 30_000);
  });
  try {
    return await Promise.race([promise.then(() => "resolved", (e: unknown) => e), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readyAnswer(port: number): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/ready`);
  return { status: response.status, body: await response.text() };
}

Deno.test("an operator that may not list a child type: ready rejects naming the type and 403, /ready is 503", async () => {
  const ns = await createNamespace(admin, "ready");
  const clientConfig = await accountWithout(ns, ["list", "watch"]);
  const op = await startOperator(configIn(ns), () => ({ children: [] }), { clientConfig });
  try {
    const error = await outcome(op.ready);
    assert.ok(error instanceof InformerSyncError, String(error));
    assert.equal(error.status, 403);
    assert.equal(error.typeName, "v1/ConfigMap");
    assert.match(error.message, /^Cannot sync the cache of v1\/ConfigMap: .*403 Forbidden/);
    // Once the parents' list (allowed) has completed, only the ConfigMaps are named.
    const answer = await eventually("/ready to name only the ConfigMaps", async () => {
      const answer = await readyAnswer(op.port!);
      return !answer.body.includes("ReadyParent") && answer;
    });
    assert.equal(answer.status, 503);
    assert.match(answer.body, /^ready-test: v1\/ConfigMap: cache not synced: .*403/);
  } finally {
    await op.stop();
  }
});

Deno.test("an operator whose watch of a child type is refused: /ready turns 503 after readinessGraceMs", async () => {
  const ns = await createNamespace(admin, "ready");
  const clientConfig = await accountWithout(ns, ["watch"]);
  const op = await startOperator(
    configIn(ns, { readinessGraceMs: 1_500 }),
    () => ({ children: [] }),
    { clientConfig },
  );
  try {
    await op.ready; // the lists are allowed
    const answer = await eventually("/ready to answer 503", async () => {
      const answer = await readyAnswer(op.port!);
      return answer.status === 503 && answer;
    });
    assert.match(answer.body, /ready-test: v1\/ConfigMap: watch failing for \d+ s: .*403/);
    assert.equal(controllerOf(op).synced, true, "the first lists completed");
  } finally {
    await op.stop();
  }
});
