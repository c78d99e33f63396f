import assert from "node:assert/strict";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { groupOf, resourcePath, type ResourceType, typeKey } from "../client/resource_type.ts";
import { Children } from "../handler/children.ts";
import { builtInResourceTypes, findBuiltInType, k8s } from "./resource_types.ts";

const EXPECTED: [string, string, string, boolean][] = [
  // apiVersion, kind, plural, namespaced
  ["v1", "Namespace", "namespaces", false],
  ["v1", "Node", "nodes", false],
  ["v1", "Pod", "pods", true],
  ["v1", "PodTemplate", "podtemplates", true],
  ["v1", "ReplicationController", "replicationcontrollers", true],
  ["v1", "Event", "events", true],
  ["v1", "Service", "services", true],
  ["v1", "Endpoints", "endpoints", true],
  ["v1", "Secret", "secrets", true],
  ["v1", "ConfigMap", "configmaps", true],
  ["v1", "LimitRange", "limitranges", true],
  ["v1", "PersistentVolumeClaim", "persistentvolumeclaims", true],
  ["v1", "PersistentVolume", "persistentvolumes", false],
  ["v1", "ResourceQuota", "resourcequotas", true],
  ["v1", "ServiceAccount", "serviceaccounts", true],
  ["apps/v1", "ControllerRevision", "controllerrevisions", true],
  ["apps/v1", "DaemonSet", "daemonsets", true],
  ["apps/v1", "Deployment", "deployments", true],
  ["apps/v1", "ReplicaSet", "replicasets", true],
  ["apps/v1", "StatefulSet", "statefulsets", true],
  ["autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true],
  ["batch/v1", "Job", "jobs", true],
  ["batch/v1", "CronJob", "cronjobs", true],
  ["networking.k8s.io/v1", "Ingress", "ingresses", true],
  ["networking.k8s.io/v1", "IngressClass", "ingressclasses", false],
  ["networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true],
  ["policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true],
  ["rbac.authorization.k8s.io/v1", "Role", "roles", true],
  ["rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true],
  ["rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false],
  ["rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false],
  ["coordination.k8s.io/v1", "Lease", "leases", true],
  ["events.k8s.io/v1", "Event", "events", true],
  ["apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false],
  [
    "admissionregistration.k8s.io/v1",
    "MutatingWebhookConfiguration",
    "mutatingwebhookconfigurations",
    false,
  ],
  [
    "admissionregistration.k8s.io/v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    false,
  ],
  ["scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", false],
  ["storage.k8s.io/v1", "StorageClass", "storageclasses", false],
  ["storage.k8s.io/v1", "CSIDriver", "csidrivers", false],
  ["storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", false],
];

Deno.test("k8s: every built-in type has the right plural and scope", () => {
  assert.equal(builtInResourceTypes.length, EXPECTED.length);
  for (const [apiVersion, kind, plural, namespaced] of EXPECTED) {
    const type = findBuiltInType(apiVersion, kind);
    assert.ok(type, `${apiVersion}/${kind} is missing`);
    assert.deepEqual(
      { ...type },
      { apiVersion, kind, plural, namespaced },
      `${apiVersion}/${kind}`,
    );
  }
});

Deno.test("k8s: grouping by group and version", () => {
  assert.equal(k8s.core.v1.Pod.apiVersion, "v1");
  assert.equal(k8s.apps.v1.Deployment.apiVersion, "apps/v1");
  assert.equal(k8s.networking.v1.Ingress.apiVersion, "networking.k8s.io/v1");
  assert.equal(k8s.rbac.v1.Role.apiVersion, "rbac.authorization.k8s.io/v1");
  assert.equal(k8s.events.v1.Event.apiVersion, "events.k8s.io/v1");
  assert.equal(k8s.core.v1.Event.apiVersion, "v1");
  assert.equal(k8s.autoscaling.v2.HorizontalPodAutoscaler.apiVersion, "autoscaling/v2");
  assert.equal(k8s.admissionregistration.v1.MutatingWebhookConfiguration.namespaced, false);
  assert.equal(k8s.storage.v1.CSIDriver.plural, "csidrivers");
  // Each nested key names its group and version.
  for (const [group, versions] of Object.entries(k8s)) {
    for (const [version, kinds] of Object.entries(versions as Record<string, object>)) {
      for (const [kind, type] of Object.entries(kinds as Record<string, ResourceType>)) {
        const where = `k8s.${group}.${version}.${kind}`;
        const expectedGroups = group === "core"
          ? [""]
          : [group, `${group}.k8s.io`, `${group}.authorization.k8s.io`];
        assert.ok(expectedGroups.includes(groupOf(type)), where);
        assert.equal(type.apiVersion.split("/").at(-1), version, where);
        assert.equal(type.kind, kind, where);
      }
    }
  }
});

Deno.test("k8s: type keys are unique and everything is frozen", () => {
  const keys = builtInResourceTypes.map(typeKey);
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(Object.isFrozen(k8s));
  assert.ok(Object.isFrozen(k8s.core));
  assert.ok(Object.isFrozen(k8s.core.v1));
  assert.ok(Object.isFrozen(k8s.core.v1.Pod));
  assert.ok(Object.isFrozen(builtInResourceTypes));
  assert.throws(() => {
    (k8s.core.v1 as unknown as Record<string, unknown>).Pod = undefined;
  }, TypeError);
});

Deno.test("k8s: paths use plural and scope", () => {
  assert.equal(
    resourcePath(k8s.apps.v1.Deployment, { namespace: "ns", name: "web" }),
    "/apis/apps/v1/namespaces/ns/deployments/web",
  );
  assert.equal(
    resourcePath(k8s.rbac.v1.ClusterRole, { namespace: "ns", name: "admin" }),
    "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
  );
  assert.equal(resourcePath(k8s.core.v1.Namespace, { name: "ns" }), "/api/v1/namespaces/ns");
});

Deno.test("findBuiltInType: unknown types", () => {
  assert.equal(findBuiltInType("v1", "ComponentStatus"), undefined);
  assert.equal(findBuiltInType("batch/v1beta1", "CronJob"), undefined);
  assert.equal(findBuiltInType("apps/v1", "deployment"), undefined);
  assert.equal(findBuiltInType("apps/v1", "Deployment"), k8s.apps.v1.Deployment);
});

Deno.test("k8s: types carry the kubernetes-types interfaces", () => {
  const children = new Children([
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web" },
      spec: { containers: [{ name: "app" }] },
    },
  ]);
  // Compile-time checks: the view yields Pod and Deployment.
  const pod: Pod | undefined = children.ofType(k8s.core.v1.Pod).get("web");
  const deployment: Deployment | undefined = children.ofType(k8s.apps.v1.Deployment).first();
  assert.equal(pod?.spec?.containers[0]?.name, "app");
  assert.equal(deployment, undefined);
});
