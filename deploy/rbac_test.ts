import assert from "node:assert/strict";
import type { ClientConfig } from "../client/client_config.ts";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, type ResourceType, resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { relatedResource } from "../config/related.ts";
import { startOperator } from "../runner/run_operator.ts";
import { startControlPlane } from "../testkit/control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { explainRules, rbacFor } from "./rbac.ts";
import { allow, mutatingWebhook, validatingWebhook } from "../webhook/admission.ts";

const EchoServer = resourceType({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
});

const ClusterEcho = resourceType({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "ClusterEcho",
  plural: "clusterechoes",
  namespaced: false,
});

// Events are off here so that each test sees only the rules it is about; "events and leader
// election follow the config" covers the defaults.
const base: OperatorConfigInit = {
  name: "echo",
  events: false,
  parent: EchoServer,
  children: [
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" },
  ],
};

const ALL = ["get", "list", "watch", "create", "update", "patch", "delete"];

function find(objects: KubernetesObject[], kind: string, name?: string): KubernetesObject {
  const found = objects.find((o) =>
    o.kind === kind && (name === undefined || o.metadata?.name === name)
  );
  assert.ok(found, `no ${kind} ${name ?? ""} in ${objects.map((o) => o.kind).join(", ")}`);
  return found;
}

Deno.test("rbacFor: a namespaced parent with ConfigMap and Service children, cluster-wide", () => {
  const objects = rbacFor(operatorConfig(base), { namespace: "operators" });
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata?.name}`), [
    "ServiceAccount/echo",
    "ClusterRole/echo",
    "ClusterRoleBinding/echo",
    // Without leader election: the presence Lease, in the namespace the operator runs in.
    "Role/echo-presence",
    "RoleBinding/echo-presence",
  ]);
  const presence = find(objects, "Role", "echo-presence");
  assert.equal(presence.metadata?.namespace, "operators");
  assert.deepEqual(presence.rules, [
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "create", "update"],
    },
  ]);
  assert.deepEqual(objects[0], {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: "echo",
      namespace: "operators",
      labels: { "app.kubernetes.io/name": "echo" },
    },
  });
  const role = find(objects, "ClusterRole");
  assert.deepEqual(role.metadata, { name: "echo", labels: { "app.kubernetes.io/name": "echo" } });
  assert.deepEqual(role.rules, [
    { apiGroups: [""], resources: ["configmaps", "services"], verbs: ALL },
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["echoservers"],
      verbs: ["get", "list", "watch", "patch"],
    },
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["echoservers/finalizers"],
      verbs: ["update"],
    },
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["echoservers/status"],
      verbs: ["update", "patch"],
    },
  ]);
  const binding = find(objects, "ClusterRoleBinding");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "echo",
  });
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "echo",
    namespace: "operators",
  }]);
});

Deno.test("rbacFor: defaults the namespace and service account name", () => {
  const objects = rbacFor(operatorConfig(base));
  assert.equal(objects[0]?.metadata?.namespace, "default");
  assert.equal(objects[0]?.metadata?.name, "echo");
  const custom = rbacFor(operatorConfig(base), { serviceAccountName: "runner" });
  assert.equal(custom[0]?.metadata?.name, "runner");
  assert.deepEqual(find(custom, "ClusterRoleBinding").subjects, [
    { kind: "ServiceAccount", name: "runner", namespace: "default" },
  ]);
});

Deno.test("rbacFor: an operator confined to a namespace gets a Role and RoleBinding", () => {
  const objects = rbacFor(operatorConfig({ ...base, namespace: "team-a" }));
  assert.deepEqual(objects.map((o) => o.kind), ["ServiceAccount", "Role", "RoleBinding"]);
  assert.equal(objects[0]?.metadata?.namespace, "team-a");
  const role = find(objects, "Role");
  assert.equal(role.metadata?.namespace, "team-a");
  assert.equal((role.rules as unknown[]).length, 5);
  const binding = find(objects, "RoleBinding");
  assert.equal(binding.metadata?.namespace, "team-a");
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "echo",
  });
});

Deno.test("rbacFor: the operator may run in another namespace than the one it manages", () => {
  const objects = rbacFor(operatorConfig({ ...base, namespace: "team-a" }), {
    namespace: "operators",
  });
  assert.equal(objects[0]?.metadata?.namespace, "operators");
  const binding = find(objects, "RoleBinding");
  assert.equal(binding.metadata?.namespace, "team-a");
  assert.deepEqual(binding.subjects, [{
    kind: "ServiceAccount",
    name: "echo",
    namespace: "operators",
  }]);
});

Deno.test("rbacFor: a cluster-scoped parent forces a ClusterRole even when confined", () => {
  const objects = rbacFor(operatorConfig({ ...base, parent: ClusterEcho, namespace: "team-a" }));
  assert.deepEqual(objects.map((o) => o.kind), [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
  ]);
  const clusterRole = find(objects, "ClusterRole");
  // Named after the namespace too, so that two confined installations do not clash.
  assert.equal(clusterRole.metadata?.name, "echo-team-a");
  assert.deepEqual(clusterRole.rules, [
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["clusterechoes"],
      verbs: ["get", "list", "watch", "patch"],
    },
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["clusterechoes/finalizers"],
      verbs: ["update"],
    },
    {
      apiGroups: ["example.roperator.dev"],
      resources: ["clusterechoes/status"],
      verbs: ["update", "patch"],
    },
  ]);
  assert.deepEqual(find(objects, "ClusterRoleBinding").roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "ClusterRole",
    name: "echo-team-a",
  });
  const role = find(objects, "Role");
  assert.deepEqual(role.rules, [
    { apiGroups: [""], resources: ["configmaps", "services"], verbs: ALL },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "create", "update"],
    },
  ]);
});

Deno.test("rbacFor: a cluster-scoped child of a confined operator goes to a ClusterRole", () => {
  const objects = rbacFor(operatorConfig({
    ...base,
    namespace: "team-a",
    children: [
      { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
      { type: k8s.rbac.v1.ClusterRole, updateStrategy: "Apply" },
    ],
  }));
  const clusterRole = find(objects, "ClusterRole");
  assert.deepEqual(clusterRole.rules, [
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ALL },
  ]);
  const role = find(objects, "Role");
  const groups = (role.rules as { apiGroups: string[] }[]).map((r) => r.apiGroups[0]);
  assert.deepEqual(groups, [
    "",
    "coordination.k8s.io",
    "example.roperator.dev",
    "example.roperator.dev",
    "example.roperator.dev",
  ]);
  // ConfigMaps get an owner reference, so the finalizers rule stays; ClusterRoles do not.
  assert.ok(
    (role.rules as { resources: string[] }[]).some((r) =>
      r.resources.includes("echoservers/finalizers")
    ),
  );
});

Deno.test("rbacFor: no finalizers rule when no child gets an owner reference", () => {
  const objects = rbacFor(operatorConfig({
    ...base,
    children: [{ type: k8s.rbac.v1.ClusterRole, updateStrategy: "Apply" }],
  }));
  const resources = (find(objects, "ClusterRole").rules as { resources: string[] }[])
    .flatMap((r) => r.resources);
  assert.deepEqual(resources, ["echoservers", "echoservers/status", "clusterroles"]);
});

Deno.test("rbacFor: without a finalizer the parent is read-only", () => {
  const objects = rbacFor(operatorConfig({ ...base, finalizer: false }));
  const parentRule = (find(objects, "ClusterRole").rules as {
    resources: string[];
    verbs: string[];
  }[]).find((r) => r.resources.includes("echoservers"));
  assert.deepEqual(parentRule?.verbs, ["get", "list", "watch"]);
});

Deno.test("rbacFor: leader election adds a Lease rule in the operator's namespace", () => {
  const cluster = rbacFor(operatorConfig(base), { namespace: "operators", leaderElection: true });
  assert.deepEqual(cluster.map((o) => `${o.kind}/${o.metadata?.name}`), [
    "ServiceAccount/echo",
    "ClusterRole/echo",
    "ClusterRoleBinding/echo",
    "Role/echo-leader-election",
    "RoleBinding/echo-leader-election",
  ]);
  const leaseRole = find(cluster, "Role");
  assert.equal(leaseRole.metadata?.namespace, "operators");
  assert.deepEqual(leaseRole.rules, [
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "create", "update"],
    },
  ]);
  assert.equal(find(cluster, "RoleBinding").metadata?.namespace, "operators");

  // Confined and running in the same namespace: one Role holds everything.
  const confined = rbacFor(operatorConfig({ ...base, namespace: "team-a" }), {
    leaderElection: true,
  });
  assert.deepEqual(confined.map((o) => o.kind), ["ServiceAccount", "Role", "RoleBinding"]);
  const rules = find(confined, "Role").rules as { apiGroups: string[] }[];
  assert.ok(rules.some((r) => r.apiGroups[0] === "coordination.k8s.io"));

  const without = rbacFor(operatorConfig(base), { leaderElection: false, presence: false });
  assert.ok(
    !JSON.stringify(without).includes("leases"),
    "no Lease rule without leader election",
  );
});

Deno.test("rbacFor: events and leader election follow the config unless the options say otherwise", () => {
  const rulesOf = (objects: KubernetesObject[]) => JSON.stringify(objects);
  const { events: _off, ...withoutEvents } = base;
  const defaults = operatorConfig(withoutEvents);
  assert.ok(rulesOf(rbacFor(defaults)).includes("events.k8s.io"), "events are on by default");
  assert.ok(!rulesOf(rbacFor(defaults, { events: false })).includes("events.k8s.io"));
  assert.ok(rulesOf(rbacFor(defaults)).includes("echo-presence"), "presence Lease by default");
  assert.ok(!rulesOf(rbacFor(defaults, { presence: false })).includes("leases"));
  const elected = operatorConfig({
    ...base,
    leaderElection: { namespace: "locks", onLost: "exit" },
  });
  const objects = rbacFor(elected, { namespace: "operators" });
  const role = objects.find((o) => o.kind === "Role" && o.metadata?.namespace === "locks");
  assert.ok(role, "the Lease rule is a Role in the Lease's namespace");
  assert.ok(JSON.stringify(role.rules).includes("leases"));
});

Deno.test("rbacFor: events toggle", () => {
  const withEvents = rbacFor(operatorConfig(base), { events: true });
  assert.deepEqual(
    (find(withEvents, "ClusterRole").rules as { apiGroups: string[] }[])
      .find((r) => r.apiGroups[0] === "events.k8s.io"),
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  );
  const confined = rbacFor(operatorConfig({ ...base, namespace: "team-a" }), { events: true });
  assert.ok(JSON.stringify(find(confined, "Role").rules).includes("events.k8s.io"));
  assert.ok(!JSON.stringify(rbacFor(operatorConfig(base))).includes("events"));
});

Deno.test("rbacFor: deterministic output whatever the order of the children", () => {
  const children = [
    { type: k8s.apps.v1.Deployment, updateStrategy: "Apply" as const },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" as const },
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" as const },
    { type: k8s.networking.v1.Ingress, updateStrategy: "Replace" as const },
  ];
  const a = rbacFor(operatorConfig({ ...base, children }), { leaderElection: true, events: true });
  const b = rbacFor(operatorConfig({ ...base, children: [...children].reverse() }), {
    leaderElection: true,
    events: true,
  });
  assert.deepEqual(a, b);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const groups = (find(a, "ClusterRole").rules as { apiGroups: string[] }[])
    .map((r) => r.apiGroups[0]);
  assert.deepEqual(groups, [
    "",
    "apps",
    "events.k8s.io",
    "example.roperator.dev",
    "example.roperator.dev",
    "example.roperator.dev",
    "networking.k8s.io",
  ]);
});

Deno.test("rbacFor: rejects invalid names", () => {
  assert.throws(
    () => rbacFor(operatorConfig(base), { namespace: "Not_Valid" }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message.startsWith('Cannot build RBAC for operator "echo": namespace "Not_Valid"'),
  );
  assert.throws(
    () => rbacFor(operatorConfig(base), { serviceAccountName: "" }),
    /serviceAccountName "" is not a valid name/,
  );
});

Deno.test("rbacFor: leaves out a name label that clashes with the operator's labels", () => {
  const objects = rbacFor(operatorConfig({ ...base, trackingLabel: "app.kubernetes.io/name" }));
  assert.deepEqual(objects[0]?.metadata?.labels, {});
});

Deno.test("explainRules: one line per rule, in the order of rbacFor", () => {
  const config = operatorConfig({ ...base, parent: ClusterEcho, namespace: "team-a" });
  const lines = explainRules(config, { leaderElection: true, events: true, namespace: "ops" });
  const objects = rbacFor(config, { leaderElection: true, events: true, namespace: "ops" });
  const ruleCount = objects
    .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
    .reduce((n, o) => n + (o.rules as unknown[]).length, 0);
  assert.equal(lines.length, ruleCount);
  assert.deepEqual(lines, [
    'ClusterRole "echo-team-a": events.k8s.io events [create, patch]: record Events about ClusterEcho parents',
    'ClusterRole "echo-team-a": example.roperator.dev clusterechoes [get, list, watch, patch]: watch ClusterEcho parents, and add and remove their finalizer "roperator.dev/echo"',
    'ClusterRole "echo-team-a": example.roperator.dev clusterechoes/finalizers [update]: set owner references with blockOwnerDeletion to ClusterEcho parents on children (required where the OwnerReferencesPermissionEnforcement admission plugin is on)',
    'ClusterRole "echo-team-a": example.roperator.dev clusterechoes/status [update, patch]: write the status of ClusterEcho parents (status subresource: a merge patch, or a PUT when it holds a null)',
    'Role "echo" in "team-a": core configmaps, services [get, list, watch, create, update, patch, delete]: watch, create, update and delete ConfigMap children (namespaced, strategy Apply); watch, create, update and delete Service children (namespaced, strategy Replace)',
    'Role "echo" in "team-a": coordination.k8s.io leases [get, create, update]: detect a second instance: renew the presence Lease "echo-presence" in namespace "team-a"',
    'Role "echo-leader-election" in "ops": coordination.k8s.io leases [get, create, update]: leader election: hold a Lease in namespace "ops"',
  ]);
});

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test({
  name:
    "rbacFor: the rules are enough to run a confined operator as its ServiceAccount (real API server)",
  async fn() {
    // A dedicated control plane with OwnerReferencesPermissionEnforcement, the admission plugin
    // that makes the <parent>/finalizers rule necessary.
    await using cp = await startControlPlane({
      controllerManager: false,
      apiServerArgs: ["--enable-admission-plugins=OwnerReferencesPermissionEnforcement"],
    });
    const server = { server: cp.server, caCertificates: [cp.caCertificate] };
    const admin = new KubeClient({
      ...server,
      credentials: { kind: "token", token: cp.adminToken },
    });
    try {
      const Parent = resourceType({
        apiVersion: "rbac-test.roperator.dev/v1",
        kind: "Widget",
        plural: "widgets",
        namespaced: true,
      });
      await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
      await new ResourceClient(admin, k8s.core.v1.Namespace).create({
        metadata: { name: "team-a" },
      });

      // Confined to team-a, with a namespaced child (Role) and a cluster-scoped one (ClusterRole).
      const config = operatorConfig({
        name: "widgets",
        parent: Parent,
        namespace: "team-a",
        server: false,
        children: [
          { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
          { type: k8s.scheduling.v1.PriorityClass, updateStrategy: "Apply" },
        ],
      });
      const rbac = rbacFor(config, { events: true });
      assert.deepEqual(rbac.map((o) => o.kind), [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
      ]);
      const typeOf: Record<string, ResourceType> = {
        ServiceAccount: k8s.core.v1.ServiceAccount as ResourceType,
        ClusterRole: k8s.rbac.v1.ClusterRole as ResourceType,
        ClusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding as ResourceType,
        Role: k8s.rbac.v1.Role as ResourceType,
        RoleBinding: k8s.rbac.v1.RoleBinding as ResourceType,
      };
      for (const object of rbac) {
        await new ResourceClient(admin, typeOf[object.kind!]!).create(object);
      }

      const asServiceAccount: ClientConfig = {
        ...server,
        credentials: { kind: "token", token: cp.adminToken },
        impersonate: {
          user: "system:serviceaccount:team-a:widgets",
          groups: [
            "system:serviceaccounts",
            "system:serviceaccounts:team-a",
            "system:authenticated",
          ],
        },
      };
      const operator = await startOperator(config, ({ parent }) => ({
        status: { seen: parent.metadata?.generation },
        children: [
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `${parent.metadata!.name}-config` },
            data: { hello: "world" },
          },
          {
            apiVersion: "scheduling.k8s.io/v1",
            kind: "PriorityClass",
            metadata: { name: `team-a-${parent.metadata!.name}` },
            value: 1000,
          },
        ],
      }), { clientConfig: asServiceAccount });
      try {
        await operator.ready;
        const parents = new ResourceClient(admin, Parent, "team-a");
        await parents.create({ metadata: { name: "w1" }, spec: {} });
        const configMaps = new ResourceClient(admin, k8s.core.v1.ConfigMap, "team-a");
        const child = await eventually("the ConfigMap child", () => configMaps.find("w1-config"));
        assert.equal(child.metadata?.ownerReferences?.[0]?.blockOwnerDeletion, true);
        await eventually(
          "the PriorityClass child",
          () => new ResourceClient(admin, k8s.scheduling.v1.PriorityClass).find("team-a-w1"),
        );
        const parent = await eventually("the status and finalizer", async () => {
          const p = await parents.get("w1");
          return p.status !== undefined && (p.metadata?.finalizers ?? []).length > 0
            ? p
            : undefined;
        });
        assert.equal((parent.status as { seen?: number }).seen, 1);
        assert.deepEqual(parent.metadata?.finalizers, ["roperator.dev/widgets"]);
        // Without leader election, the presence Lease is renewed under the same rules.
        const presence = await eventually(
          "the presence Lease",
          () =>
            new ResourceClient(admin, k8s.coordination.v1.Lease, "team-a").find(
              "widgets-presence",
            ),
        );
        assert.ok((presence.spec as { holderIdentity?: string }).holderIdentity);
        await parents.delete("w1");
        await eventually(
          "the parent to go",
          async () => (await parents.find("w1")) === undefined ? true : undefined,
        );
      } finally {
        await operator.stop();
      }

      // Without the finalizers rule, the admission plugin refuses blockOwnerDeletion.
      const roles = new ResourceClient(admin, k8s.rbac.v1.Role as ResourceType, "team-a");
      const role = await roles.get("widgets");
      await roles.replace({
        ...role,
        rules: (role.rules as { resources: string[] }[]).filter((rule) =>
          !rule.resources.includes("widgets/finalizers")
        ),
      });
      const parentObject = await new ResourceClient(admin, Parent, "team-a").create({
        metadata: { name: "w2" },
      });
      const impersonated = new KubeClient(asServiceAccount);
      try {
        const create = () =>
          new ResourceClient(impersonated, k8s.core.v1.ConfigMap, "team-a").create({
            metadata: {
              name: "w2-config",
              ownerReferences: [{
                apiVersion: Parent.apiVersion,
                kind: Parent.kind,
                name: "w2",
                uid: parentObject.metadata!.uid!,
                controller: true,
                blockOwnerDeletion: true,
              }],
            },
          });
        const refused = await eventually("the Role change to apply", async () => {
          try {
            const created = await create();
            await new ResourceClient(admin, k8s.core.v1.ConfigMap, "team-a").delete(
              created.metadata!.name!,
            );
            return undefined;
          } catch (error) {
            return error;
          }
        });
        assert.ok(refused instanceof ApiError, String(refused));
        assert.match(refused.message, /cannot set blockOwnerDeletion/);
      } finally {
        impersonated.close();
      }
    } finally {
      admin.close();
    }
  },
});

Deno.test("rbacFor: webhooks add the certificate Secret and the caBundle writes", () => {
  const hooks = [
    validatingWebhook({ type: EchoServer, handler: () => allow() }),
    mutatingWebhook({ type: EchoServer, handler: () => ({ allowed: true }) }),
  ];
  const objects = rbacFor(operatorConfig({ ...base, webhooks: { hooks } }), { namespace: "ops" });
  const clusterRole = find(objects, "ClusterRole", "echo");
  assert.deepEqual(
    (clusterRole.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
      .find((r) => r.apiGroups[0] === "admissionregistration.k8s.io"),
    {
      apiGroups: ["admissionregistration.k8s.io"],
      resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
      verbs: ["get", "patch"],
    },
  );
  // The Secret is in the namespace the operator runs in, in a Role of its own name.
  const role = find(objects, "Role", "echo");
  assert.equal(role.metadata?.namespace, "ops");
  assert.deepEqual(
    (role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[])
      .find((r) => r.resources.includes("secrets")),
    { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "update"] },
  );
  assert.ok(
    explainRules(operatorConfig({ ...base, webhooks: { hooks } }), { namespace: "ops" })
      .some((line) => line.includes('webhook certificates kept in Secret "echo-webhook-tls"')),
  );
  // cert-manager: only reading its Secret.
  const withCertManager = rbacFor(
    operatorConfig({ ...base, webhooks: { hooks, certificates: { source: "cert-manager" } } }),
    { namespace: "ops" },
  );
  assert.ok(
    !JSON.stringify(withCertManager).includes("webhookconfigurations"),
    "no caBundle writes with cert-manager",
  );
});

Deno.test("rbacFor: related types get get, list and watch in their scope", () => {
  const refs = () => null;
  const config = operatorConfig({
    ...base,
    namespace: "team-a",
    related: [
      relatedResource({ type: k8s.core.v1.Secret, refs }),
      relatedResource({ type: k8s.core.v1.ConfigMap, scope: { namespace: "shared" }, refs }),
      relatedResource({ type: k8s.core.v1.Node, refs }),
    ],
  });
  const objects = rbacFor(config);
  const roles = objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
  const rulesFor = (resource: string) =>
    roles.flatMap((role) =>
      (role.rules as { resources: string[]; verbs: string[] }[])
        .filter((rule) => rule.resources.includes(resource))
        .map((rule) => ({
          kind: role.kind,
          namespace: role.metadata?.namespace,
          verbs: rule.verbs,
        }))
    );
  assert.deepEqual(rulesFor("secrets"), [
    { kind: "Role", namespace: "team-a", verbs: ["get", "list", "watch"] },
  ]);
  assert.deepEqual(rulesFor("nodes"), [
    { kind: "ClusterRole", namespace: undefined, verbs: ["get", "list", "watch"] },
  ]);
  // The shared ConfigMaps: a Role in "shared" with read access only (the children's ConfigMap
  // rule stays in team-a).
  const shared = rulesFor("configmaps").filter((r) => r.namespace === "shared");
  assert.deepEqual(shared, [{
    kind: "Role",
    namespace: "shared",
    verbs: ["get", "list", "watch"],
  }]);
  assert.ok(
    explainRules(config).some((line) => /related Secret/.test(line)),
    explainRules(config).join("\n"),
  );
});
