// A child's identity against the real control plane: labels that other tools rewrite, objects
// that merely carry the tracking label, a parent re-created while its old children linger, and a
// child the API server refuses next to children it accepts.
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { controllerOf, type OperatorHandle, startOperator } from "../runner/run_operator.ts";
import { createNamespace, eventually } from "./helpers.ts";

const Parent = resourceType({
  apiVersion: "identity.roperator.dev/v1",
  kind: "IdentityParent",
  plural: "identityparents",
  namespaced: true,
});

type ParentObject = KubernetesObject & { spec?: { value?: string; children?: string[] } };
type Data = Record<string, string>;

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

const TRACKING = "app.kubernetes.io/instance";
const OWNERSHIP = "app.kubernetes.io/managed-by";

/** Runs an operator confined to `ns`; counts failed syncs per parent name. */
async function withOperator(
  ns: string,
  init: Partial<OperatorConfigInit>,
  handler: (request: SyncRequest<ParentObject>) => SyncResponse | Promise<SyncResponse>,
  body: (op: OperatorHandle, failures: Map<string, number>) => Promise<void>,
): Promise<void> {
  const config = operatorConfig({
    name: "identity-operator",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    finalizer: false,
    ...init,
  });
  const op = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  const failures = new Map<string, number>();
  op.onSync((event) => {
    if (event.state === "failed") {
      failures.set(event.parent, (failures.get(event.parent) ?? 0) + 1);
    }
  });
  try {
    await op.ready;
    await body(op, failures);
  } finally {
    await op.stop();
  }
}

function configMap(name: string, data: Data): KubernetesObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data };
}

const valueHandler = ({ parent }: SyncRequest<ParentObject>): SyncResponse => ({
  status: { value: parent.spec?.value ?? "" },
  children: [configMap(`${parent.metadata!.name}-child`, { value: parent.spec?.value ?? "" })],
});

function gauge(op: OperatorHandle, name: string, type: string): number {
  const line = op.metrics.registry.render().split("\n")
    .find((l) => l.startsWith(`${name}{type="${type}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

Deno.test("a child whose tracking or ownership label another tool rewrote or removed stays its parent's child, and the next write repairs its labels", async () => {
  const ns = await createNamespace(admin, "identity-labels");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(ns, {}, valueHandler, async (_op, failures) => {
    const parent = await parents.create({ metadata: { name: "p" }, spec: { value: "1" } });
    const uid = parent.metadata!.uid!;
    await eventually("the child", async () => {
      const child = await cms.find("p-child");
      return (child?.data as Data | undefined)?.value === "1";
    });
    const converged = (value: string) =>
      eventually(`the child and the status at ${value}, with repaired labels`, async () => {
        const child = await cms.find("p-child");
        const status = (await parents.get("p")).status as { value?: string } | undefined;
        return (child?.data as Data | undefined)?.value === value &&
          child?.metadata?.labels?.[TRACKING] === uid &&
          child?.metadata?.labels?.[OWNERSHIP] === "identity-operator" &&
          status?.value === value;
      });
    // Helm (or Argo CD) rewrites the instance label.
    await cms.patch("p-child", { metadata: { labels: { [TRACKING]: "my-helm-release" } } });
    await parents.patch("p", { spec: { value: "2" } });
    await converged("2");
    // Someone removes it.
    await cms.patch("p-child", { metadata: { labels: { [TRACKING]: null } } });
    await parents.patch("p", { spec: { value: "3" } });
    await converged("3");
    // Both labels go: the child leaves the operator's cache, yet stays the parent's child.
    await cms.patch("p-child", { metadata: { labels: { [TRACKING]: null, [OWNERSHIP]: null } } });
    await parents.patch("p", { spec: { value: "4" } });
    await converged("4");
    assert.equal(failures.get(`${ns}/p`) ?? 0, 0, "no sync of the parent failed");
  });
});

Deno.test("objects that merely carry the tracking label are never cached", async () => {
  const ns = await createNamespace(admin, "identity-foreign");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(ns, {}, valueHandler, async (op) => {
    const type = "v1/ConfigMap";
    const objectsBefore = gauge(op, "roperator_cached_objects", type);
    const bytesBefore = gauge(op, "roperator_cached_bytes", type);
    // 1,000 Helm-labelled ConfigMaps of other teams, in the operator's own namespace.
    const names = Array.from({ length: 1000 }, (_, i) => `helm-${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((name) =>
          cms.create({
            metadata: {
              name,
              labels: { [TRACKING]: "some-release", [OWNERSHIP]: "Helm" },
            },
            data: { secret: "not ours" },
          })
        ),
      );
    }
    // A child of ours made after them: once the cache holds it, the watch has passed them all.
    await parents.create({ metadata: { name: "after" }, spec: { value: "x" } });
    await eventually(
      "the operator's own child in its cache",
      () => Promise.resolve(controllerOf(op).informers[1]!.get("after-child", ns) !== undefined),
    );
    assert.equal(gauge(op, "roperator_cached_objects", type), objectsBefore + 1);
    const child = controllerOf(op).informers[1]!.get("after-child", ns)!;
    const bytes = gauge(op, "roperator_cached_bytes", type) - bytesBefore;
    assert.ok(
      bytes < 2 * JSON.stringify(child).length,
      `cached bytes grew by ${bytes}, more than the one child`,
    );
  });
});

Deno.test("a parent re-created while a child of its predecessor lingers is synced as soon as that child goes", async () => {
  const ns = await createNamespace(admin, "identity-recreated");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  const hold = "identity.roperator.dev/hold";
  // A long backoff: without the fix, the new parent would wait for it.
  await withOperator(ns, { maxErrorBackoffMs: 600_000 }, valueHandler, async (_op, failures) => {
    await parents.create({ metadata: { name: "p" }, spec: { value: "old" } });
    await eventually("the old child", () => cms.find("p-child"));
    // The old child lingers (as it would while the garbage collector lags): a finalizer holds it.
    await cms.patch("p-child", { metadata: { finalizers: [hold] } });
    await parents.delete("p");
    await eventually("the old parent to go", async () => (await parents.find("p")) === undefined);
    await cms.delete("p-child");
    const fresh = await parents.create({ metadata: { name: "p" }, spec: { value: "new" } });
    // The new parent fails (the old child is in the way); each poke fails it once more, until
    // its backoff is long (500 ms × 1.5ⁿ: over 20 s after 12 failures, even with jitter).
    const failed = () => failures.get(`${ns}/p`) ?? 0;
    await eventually("a failed sync of the new parent", () => Promise.resolve(failed() >= 1));
    for (let poke = 0; failed() < 12; poke++) {
      const before = failed();
      await parents.patch("p", { metadata: { annotations: { poke: String(poke) } } });
      await eventually("one more failed sync", () => Promise.resolve(failed() > before));
    }
    const released = Date.now();
    await cms.patch("p-child", { metadata: { finalizers: null } });
    const child = await eventually("the new parent's child", async () => {
      const child = await cms.find("p-child");
      return child?.metadata?.ownerReferences?.[0]?.uid === fresh.metadata!.uid ? child : false;
    }, 20_000);
    // Well before the backoff would have let it try again.
    assert.ok(Date.now() - released < 10_000, `took ${Date.now() - released} ms`);
    assert.equal((child.data as Data).value, "new");
    // Well before the backoff after three failures (several seconds) would have elapsed.
    assert.ok(Date.now() - released < 5_000, `took ${Date.now() - released} ms`);
  });
});

Deno.test("a child the API server refuses blocks neither the other children nor the status", async () => {
  const ns = await createNamespace(admin, "identity-rejected");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  const policies = new ResourceClient(admin, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    plural: "validatingadmissionpolicies",
    namespaced: false,
  });
  const bindings = new ResourceClient(admin, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    plural: "validatingadmissionpolicybindings",
    namespaced: false,
  });
  const policy = `no-forbidden-${ns}`;
  await policies.create({
    metadata: { name: policy },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [{
          apiGroups: [""],
          apiVersions: ["v1"],
          operations: ["CREATE", "UPDATE"],
          resources: ["configmaps"],
        }],
      },
      validations: [{
        expression: "!has(object.data) || !('forbidden' in object.data)",
        message: "ConfigMaps may not carry a key named forbidden",
      }],
    },
  });
  await bindings.create({
    metadata: { name: policy },
    spec: {
      policyName: policy,
      validationActions: ["Deny"],
      matchResources: {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
      },
    },
  });
  try {
    // The policy takes a moment to be enforced.
    await eventually("the policy to be enforced", async () => {
      try {
        await cms.create({ metadata: { name: "probe" }, data: { forbidden: "x" } }, {
          dryRun: "All",
        });
        return false;
      } catch {
        return true;
      }
    });
    await withOperator(ns, {}, ({ parent }) => {
      const names = parent.spec?.children ?? [];
      return {
        status: { value: parent.spec?.value ?? "" },
        children: names.map((name) =>
          configMap(
            name,
            name.startsWith("bad") ? { forbidden: "yes" } : { value: parent.spec?.value ?? "" },
          )
        ).concat(
          // An invalid label value: refused by validation, not admission.
          names.includes("bad-1")
            ? [{
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "invalid-label", labels: { tier: "not a valid value!" } },
              data: {},
            }]
            : [],
        ),
      };
    }, async (_op, failures) => {
      await parents.create({
        metadata: { name: "p" },
        spec: { value: "v", children: ["a", "bad-1", "b", "bad-2", "c"] },
      });
      for (const name of ["a", "b", "c"]) {
        await eventually(`the child ${name}`, () => cms.find(name));
      }
      const status = await eventually("the status with a ChildrenSynced condition", async () => {
        const status = (await parents.get("p")).status as
          | { value?: string; conditions?: Array<Record<string, string>> }
          | undefined;
        return status?.value === "v" && status.conditions?.length ? status : undefined;
      });
      const condition = status.conditions!.find((c) => c.type === "ChildrenSynced")!;
      assert.equal(condition.status, "False");
      assert.equal(condition.reason, "ChildWriteRejected");
      assert.match(condition.message!, /ConfigMap "[^"]+\/bad-1".*forbidden/);
      assert.match(condition.message!, /bad-2/);
      assert.match(condition.message!, /invalid-label/);
      // Retried with backoff.
      await eventually(
        "a retry",
        () => Promise.resolve((failures.get(`${ns}/p`) ?? 0) >= 2),
      );
      // Fixed: every child is written and the condition goes.
      await parents.patch("p", { spec: { value: "w", children: ["a", "b", "c", "d"] } });
      await eventually("the status without the condition", async () => {
        const status = (await parents.get("p")).status as
          | { value?: string; conditions?: unknown[] }
          | undefined;
        return status?.value === "w" && status.conditions === undefined;
      });
    });
  } finally {
    await bindings.delete(policy).catch(() => {});
    await policies.delete(policy).catch(() => {});
  }
});
