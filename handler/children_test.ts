import assert from "node:assert/strict";
import type { ConfigMap, Pod } from "kubernetes-types/core/v1.d.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { Children, ChildrenOfType } from "./children.ts";

function object(
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
): KubernetesObject {
  return {
    apiVersion,
    kind,
    metadata: namespace === undefined ? { name } : { name, namespace },
  };
}

const podB = object("v1", "Pod", "b", "ns");
const podA = object("v1", "Pod", "a", "ns");
const podAOther = object("v1", "Pod", "a", "other");
const service = object("v1", "Service", "a", "ns");
const role = object("rbac.authorization.k8s.io/v1", "ClusterRole", "reader");
const roleWithEmptyNs = object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "bind", "");
const deploymentV1 = object("apps/v1", "Deployment", "web", "ns");

function snapshot(): Children {
  return new Children([podB, service, podA, role, podAOther, roleWithEmptyNs, deploymentV1]);
}

Deno.test("Children: all, size and iteration keep snapshot order", () => {
  const children = snapshot();
  assert.equal(children.size, 7);
  assert.deepEqual(children.all(), [
    podB,
    service,
    podA,
    role,
    podAOther,
    roleWithEmptyNs,
    deploymentV1,
  ]);
  assert.deepEqual([...children], children.all());
  // all() returns a copy.
  children.all().pop();
  assert.equal(children.size, 7);
});

Deno.test("Children: empty", () => {
  const children = new Children();
  assert.equal(children.size, 0);
  assert.deepEqual(children.all(), []);
  const pods = children.ofType(k8s.core.v1.Pod);
  assert.equal(pods.size, 0);
  assert.equal(pods.first(), undefined);
  assert.equal(pods.get("a"), undefined);
  assert.equal(pods.has("a"), false);
  assert.deepEqual(pods.list(), []);
});

Deno.test("ChildrenOfType: list is sorted by namespace then name", () => {
  const pods = snapshot().ofType(k8s.core.v1.Pod);
  assert.ok(pods instanceof ChildrenOfType);
  assert.equal(pods.size, 3);
  assert.equal(pods.kind, "Pod");
  assert.equal(pods.apiVersion, "v1");
  assert.deepEqual(pods.list(), [podA, podB, podAOther]);
  assert.deepEqual([...pods], [podA, podB, podAOther]);
  assert.equal(pods.first(), podA);
});

Deno.test("ChildrenOfType: get by name, name and namespace, or ref", () => {
  const pods = snapshot().ofType(k8s.core.v1.Pod);
  assert.equal(pods.get("b"), podB);
  assert.equal(pods.get("b", "ns"), podB);
  assert.equal(pods.get("b", "other"), undefined);
  assert.equal(pods.get({ name: "b" }), podB);
  assert.equal(pods.get({ namespace: "ns", name: "a" }), podA);
  assert.equal(pods.get({ namespace: "other", name: "a" }), podAOther);
  assert.equal(pods.get("a", "ns"), podA);
  assert.equal(pods.get("missing"), undefined);
  assert.equal(pods.has("b"), true);
  assert.equal(pods.has("a"), true);
  assert.equal(pods.has("a", "nowhere"), false);
  assert.equal(pods.has({ namespace: "other", name: "a" }), true);
});

Deno.test("ChildrenOfType: an ambiguous name without namespace throws", () => {
  const pods = snapshot().ofType(k8s.core.v1.Pod);
  assert.throws(() => pods.get("a"), {
    name: "TypeError",
    message: 'Cannot get child Pod "a": it exists in namespaces "ns", "other"; pass the namespace',
  });
});

Deno.test("ChildrenOfType: cluster-scoped children have namespace '' or none", () => {
  const children = snapshot();
  const roles = children.ofType(k8s.rbac.v1.ClusterRole);
  assert.equal(roles.get("reader"), role);
  assert.equal(roles.get("reader", ""), role);
  assert.equal(roles.get({ namespace: "", name: "reader" }), role);
  assert.equal(roles.get("reader", "ns"), undefined);
  const bindings = children.ofType(k8s.rbac.v1.ClusterRoleBinding);
  assert.equal(bindings.get("bind"), roleWithEmptyNs);
  assert.equal(bindings.get("bind", ""), roleWithEmptyNs);
});

Deno.test("Children: types are told apart by apiVersion and kind", () => {
  const children = snapshot();
  assert.equal(children.ofType(k8s.core.v1.Service).get("a"), service);
  assert.equal(children.ofType(k8s.core.v1.Service).size, 1);
  assert.equal(children.ofType(k8s.apps.v1.Deployment).get("web"), deploymentV1);
  assert.equal(children.ofType(k8s.core.v1.ConfigMap).size, 0);
  // The same view is returned each time.
  assert.equal(children.ofType(k8s.core.v1.Pod), children.ofType(k8s.core.v1.Pod));
});

Deno.test("Children: get and has shortcuts", () => {
  const children = snapshot();
  assert.equal(children.get(k8s.core.v1.Pod, "b"), podB);
  assert.equal(children.get(k8s.core.v1.Pod, "a", "other"), podAOther);
  assert.equal(children.get(k8s.core.v1.Pod, { namespace: "ns", name: "a" }), podA);
  assert.equal(children.get(k8s.core.v1.Service, "b"), undefined);
  assert.equal(children.has(k8s.core.v1.Service, "a"), true);
  assert.equal(children.has(k8s.core.v1.Service, "a", "other"), false);
  assert.equal(children.has(k8s.rbac.v1.ClusterRole, { name: "reader" }), true);
});

Deno.test("Children: views are typed", () => {
  const children = new Children([
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { key: "value" } },
  ]);
  const configMap: ConfigMap | undefined = children.ofType(k8s.core.v1.ConfigMap).get("cfg");
  assert.equal(configMap?.data?.key, "value");
  const pods: Pod[] = children.ofType(k8s.core.v1.Pod).list();
  assert.deepEqual(pods, []);
});

Deno.test("Children: malformed objects are rejected", async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ["no apiVersion", { kind: "Pod", metadata: { name: "a" } }, /objects\[1\] has no apiVersion/],
    ["no kind", { apiVersion: "v1", metadata: { name: "a" } }, /objects\[1\] has no kind/],
    ["no metadata", { apiVersion: "v1", kind: "Pod" }, /objects\[1\] has no metadata.name/],
    [
      "empty name",
      { apiVersion: "v1", kind: "Pod", metadata: { name: "" } },
      /objects\[1\] has no metadata.name/,
    ],
  ];
  for (const [description, bad, message] of cases) {
    await t.step(description, () => {
      assert.throws(
        () => new Children([podA, bad as KubernetesObject]),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /^Cannot index children: /);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
