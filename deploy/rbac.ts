/**
 * {@linkcode rbacFor}: the least-privilege ServiceAccount, roles and bindings an operator needs,
 * derived from its {@linkcode OperatorConfig}, and {@linkcode explainRules}: why each rule is
 * there.
 *
 * Where the rules go:
 *
 * - An operator that watches every namespace (`config.namespace` unset) gets one ClusterRole and
 *   a ClusterRoleBinding.
 * - An operator confined to a namespace gets a Role and a RoleBinding in that namespace for its
 *   namespaced types. A cluster-scoped parent or child type cannot be granted by a Role (a Role
 *   only covers objects inside its namespace), so the rules for such types go to a ClusterRole
 *   with a ClusterRoleBinding, named `<name>-<namespace>` so that several confined installations
 *   do not overwrite each other's bindings.
 * - Leader election uses a Lease in the namespace the operator runs in: a Role there, never a
 *   cluster-wide grant. Without leader election, the same Lease permissions serve the presence
 *   Lease (`<name>-presence`), with which two instances of the operator notice each other.
 *
 * Rules are grouped by API group (core first, then alphabetically); resources that need the same
 * verbs in the same group share a rule; resources and verbs come in a fixed order. The same config
 * always yields the same objects, so the output diffs cleanly.
 *
 * @module
 */
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { groupOf } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import { webhookPermissions } from "../webhook/settings.ts";

/** Options for {@linkcode rbacFor} and {@linkcode explainRules}. */
export interface RbacOptions {
  /** The ServiceAccount the operator runs as. Default: the operator name. */
  serviceAccountName?: string;
  /**
   * The namespace the operator runs in (its ServiceAccount, and its Lease with
   * `leaderElection`). Default: `config.namespace`, else `"default"`.
   */
  namespace?: string;
  /**
   * Grant `get`, `create` and `update` on Leases (`coordination.k8s.io`). Default: whether the
   * config enables leader election.
   */
  leaderElection?: boolean;
  /**
   * Grant `get`, `create` and `update` on Leases for the presence Lease, with which an instance
   * that runs without leader election notices a second instance of the same operator (it logs a
   * warning; see `docs/08-running.md`). Default: whether the config has no leader election.
   */
  presence?: boolean;
  /**
   * Grant `create` and `patch` on Events (`events.k8s.io`). Default: whether the config records
   * Events (`config.events`, on by default).
   */
  events?: boolean;
}

/** The verbs, in the order they are written. */
const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete"] as const;
type Verb = typeof VERB_ORDER[number];

const RBAC_GROUP = "rbac.authorization.k8s.io";
const NAME_LABEL = "app.kubernetes.io/name";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** One permission the operator needs, before merging. */
interface Need {
  /** `undefined` for a cluster-wide grant, else the Role's namespace. */
  namespace: string | undefined;
  group: string;
  resource: string;
  verbs: readonly Verb[];
  reason: string;
}

/** A merged rule. */
interface PlannedRule {
  group: string;
  resources: string[];
  verbs: Verb[];
  reasons: string[];
}

/** A Role or ClusterRole with its rules. */
interface PlannedRole {
  kind: "ClusterRole" | "Role";
  name: string;
  namespace: string | undefined;
  rules: PlannedRule[];
}

interface Plan {
  serviceAccount: { name: string; namespace: string };
  roles: PlannedRole[];
}

/** The labels of the generated objects: the app name, unless it clashes with the operator's. */
function labelsFor(config: OperatorConfig): Record<string, string> {
  return NAME_LABEL === config.trackingLabel || NAME_LABEL === config.ownershipLabel
    ? {}
    : { [NAME_LABEL]: config.name };
}

function resolveOptions(
  config: OperatorConfig,
  options: RbacOptions,
): { serviceAccountName: string; namespace: string } {
  const serviceAccountName = options.serviceAccountName ?? config.name;
  const namespace = options.namespace ?? config.namespace ?? "default";
  if (serviceAccountName.length > 253 || !DNS_SUBDOMAIN.test(serviceAccountName)) {
    throw new TypeError(
      `Cannot build RBAC for operator "${config.name}": serviceAccountName "${serviceAccountName}" is not a valid name (a lower-case DNS subdomain)`,
    );
  }
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new TypeError(
      `Cannot build RBAC for operator "${config.name}": namespace "${namespace}" is not a valid namespace name (a DNS-1123 label)`,
    );
  }
  return { serviceAccountName, namespace };
}

function describeGroup(group: string): string {
  return group === "" ? "core" : group;
}

/** Whether some child of a parent gets an owner reference with `blockOwnerDeletion`. */
function hasOwnedChildren(config: OperatorConfig): boolean {
  // The runner skips the owner reference from a cluster-scoped child to a namespaced parent.
  return config.children.some((child) => !(config.parent.namespaced && !child.type.namespaced));
}

/** Collects every permission the operator needs, with the grant it belongs to. */
function needsOf(config: OperatorConfig, options: RbacOptions, namespace: string): Need[] {
  const scopeOf = (type: ResourceType): string | undefined =>
    type.namespaced ? config.namespace : undefined;
  const parent = config.parent;
  const parentGroup = groupOf(parent);
  const parentScope = scopeOf(parent);
  const needs: Need[] = [];
  needs.push({
    namespace: parentScope,
    group: parentGroup,
    resource: parent.plural,
    // The finalizer is added with a merge patch and removed with a JSON patch; a conflict reads
    // the parent again (get).
    verbs: config.finalizer === undefined
      ? ["get", "list", "watch"]
      : ["get", "list", "watch", "patch"],
    reason: config.finalizer === undefined
      ? `watch ${parent.kind} parents (no finalizer, so no writes)`
      : `watch ${parent.kind} parents, and add and remove their finalizer "${config.finalizer}"`,
  });
  needs.push({
    namespace: parentScope,
    group: parentGroup,
    resource: `${parent.plural}/status`,
    // The status is written with a merge patch of the subresource (patch), or a PUT (update)
    // when it holds a null, which a merge patch cannot store.
    verbs: ["update", "patch"],
    reason:
      `write the status of ${parent.kind} parents (status subresource: a merge patch, or a PUT when it holds a null)`,
  });
  if (hasOwnedChildren(config)) {
    needs.push({
      namespace: parentScope,
      group: parentGroup,
      resource: `${parent.plural}/finalizers`,
      verbs: ["update"],
      reason:
        `set owner references with blockOwnerDeletion to ${parent.kind} parents on children (required where the OwnerReferencesPermissionEnforcement admission plugin is on)`,
    });
  }
  for (const related of config.related) {
    const type = related.type;
    const scope = related.scope;
    const relatedScope = !type.namespaced || scope === "cluster"
      ? undefined
      : typeof scope === "object"
      ? scope.namespace
      : config.namespace;
    const selectors = [related.labelSelector, related.fieldSelector].filter(Boolean).join(", ");
    needs.push({
      namespace: relatedScope,
      group: groupOf(type),
      resource: type.plural,
      verbs: ["get", "list", "watch"],
      reason: `watch related ${type.kind} objects (${
        relatedScope === undefined ? "every namespace" : `namespace "${relatedScope}"`
      }${
        selectors ? `, selected by ${selectors}` : ""
      }) and hand them to the parents that refer to them`,
    });
  }
  for (const child of config.children) {
    needs.push({
      namespace: scopeOf(child.type),
      group: groupOf(child.type),
      resource: child.type.plural,
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      reason: `watch, create, update and delete ${child.type.kind} children (${
        child.type.namespaced ? "namespaced" : "cluster-scoped"
      }, strategy ${child.updateStrategy})`,
    });
  }
  if (options.leaderElection ?? config.leaderElection !== undefined) {
    needs.push({
      namespace: config.leaderElection?.namespace ?? namespace,
      group: "coordination.k8s.io",
      resource: "leases",
      verbs: ["get", "create", "update"],
      reason: `leader election: hold a Lease in namespace "${namespace}"`,
    });
  }
  if (options.presence ?? config.leaderElection === undefined) {
    // The runner keeps the presence Lease where a confined operator's objects are, else in the
    // namespace it runs in (its service account's).
    const leaseNamespace = config.namespace ?? namespace;
    needs.push({
      namespace: leaseNamespace,
      group: "coordination.k8s.io",
      resource: "leases",
      verbs: ["get", "create", "update"],
      reason:
        `detect a second instance: renew the presence Lease "${config.name}-presence" in namespace "${leaseNamespace}"`,
    });
  }
  if (config.webhooks) {
    needs.push(...webhookPermissions(config.webhooks, { operatorName: config.name, namespace }));
  }
  if (options.events ?? config.events) {
    needs.push({
      namespace: parentScope,
      group: "events.k8s.io",
      resource: "events",
      verbs: ["create", "patch"],
      reason: `record Events about ${parent.kind} parents`,
    });
  }
  return needs;
}

/** Merges needs into rules: per group, resources with the same verbs share a rule. */
function mergeRules(needs: readonly Need[]): PlannedRule[] {
  const byResource = new Map<
    string,
    { group: string; resource: string; verbs: Set<Verb>; reasons: string[] }
  >();
  for (const need of needs) {
    const key = `${need.group}\u0000${need.resource}`;
    let entry = byResource.get(key);
    if (entry === undefined) {
      entry = { group: need.group, resource: need.resource, verbs: new Set(), reasons: [] };
      byResource.set(key, entry);
    }
    for (const verb of need.verbs) entry.verbs.add(verb);
    if (!entry.reasons.includes(need.reason)) entry.reasons.push(need.reason);
  }
  const rules = new Map<string, PlannedRule>();
  const entries = [...byResource.values()].sort((a, b) =>
    compare(a.group, b.group) || compare(a.resource, b.resource)
  );
  for (const entry of entries) {
    const verbs = VERB_ORDER.filter((verb) => entry.verbs.has(verb));
    const key = `${entry.group}\u0000${verbs.join(",")}`;
    let rule = rules.get(key);
    if (rule === undefined) {
      rule = { group: entry.group, resources: [], verbs, reasons: [] };
      rules.set(key, rule);
    }
    rule.resources.push(entry.resource);
    for (const reason of entry.reasons) {
      if (!rule.reasons.includes(reason)) rule.reasons.push(reason);
    }
  }
  return [...rules.values()].sort((a, b) =>
    compare(a.group, b.group) || compare(a.resources[0] ?? "", b.resources[0] ?? "")
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function plan(config: OperatorConfig, options: RbacOptions): Plan {
  const { serviceAccountName, namespace } = resolveOptions(config, options);
  const needs = needsOf(config, options, namespace);
  const roles: PlannedRole[] = [];
  const cluster = needs.filter((need) => need.namespace === undefined);
  if (cluster.length > 0) {
    roles.push({
      kind: "ClusterRole",
      name: config.namespace === undefined ? config.name : `${config.name}-${config.namespace}`,
      namespace: undefined,
      rules: mergeRules(cluster),
    });
  }
  const namespaces = [
    ...new Set(needs.flatMap((need) => need.namespace === undefined ? [] : [need.namespace])),
  ];
  // The confined namespace first, then the operator's own (for the Lease), when they differ.
  namespaces.sort((a, b) =>
    Number(b === config.namespace) - Number(a === config.namespace) || compare(a, b)
  );
  for (const ns of namespaces) {
    const leasesOnly = needs.every((need) =>
      need.namespace !== ns || need.group === "coordination.k8s.io"
    );
    roles.push({
      kind: "Role",
      name: ns === config.namespace || !leasesOnly
        ? config.name
        : needs.some((need) => need.namespace === ns && need.reason.startsWith("leader election"))
        ? `${config.name}-leader-election`
        : `${config.name}-presence`,
      namespace: ns,
      rules: mergeRules(needs.filter((need) => need.namespace === ns)),
    });
  }
  return { serviceAccount: { name: serviceAccountName, namespace }, roles };
}

/**
 * The least-privilege RBAC objects an operator needs: a ServiceAccount, then each Role or
 * ClusterRole followed by its binding to that ServiceAccount.
 *
 * The rules:
 *
 * - the parent type: `get`, `list`, `watch`, plus `patch` to add and remove the finalizer (left
 *   out when the config has no finalizer);
 * - `<parent plural>/status`: `patch` and `update` (the runner writes the status with a merge
 *   patch, or with a PUT when it holds a `null`);
 * - `<parent plural>/finalizers`: `update`, when children get owner references to the parent.
 *   The runner sets `blockOwnerDeletion: true`, which clusters running the
 *   `OwnerReferencesPermissionEnforcement` admission plugin (OpenShift among them) only allow
 *   with this permission;
 * - each child type: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`;
 * - with `leaderElection`: `get`, `create`, `update` on `coordination.k8s.io` Leases, in a Role
 *   in the namespace the operator runs in;
 * - without it (`presence`): the same on Leases, for the presence Lease `<name>-presence`, in
 *   `config.namespace` when the operator is confined, else in the namespace it runs in;
 * - with `events`: `create`, `patch` on `events.k8s.io` Events, wherever the parents are;
 * - with `webhooks`: `get`, `create`, `update` on Secrets in the namespace the operator runs in
 *   (its webhook certificates; `get` only with cert-manager), and, self-signed, `get` and `patch`
 *   on the webhook configurations and CRDs (their `caBundle`).
 *
 * When `config.namespace` is set, namespaced types are granted by a Role in that namespace, but a
 * cluster-scoped parent or child type still needs a ClusterRole: a Role cannot grant access to
 * objects outside a namespace. That ClusterRole holds only the cluster-scoped types.
 *
 * API discovery (`/api`, `/apis`), which the runner uses at start-up, is open to every
 * authenticated user through the built-in `system:discovery` ClusterRole, so it needs no rule.
 *
 * @example
 * ```ts
 * import { rbacFor } from "./rbac.ts";
 * import { operatorConfig } from "../config/operator_config.ts";
 * import { k8s } from "../config/resource_types.ts";
 * import { resourceType } from "../client/resource_type.ts";
 *
 * const config = operatorConfig({
 *   name: "echo-operator",
 *   parent: resourceType({
 *     apiVersion: "example.roperator.dev/v1alpha1",
 *     kind: "EchoServer",
 *     plural: "echoservers",
 *     namespaced: true,
 *   }),
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
 * });
 * const objects = rbacFor(config, { namespace: "operators" });
 * objects.map((o) => o.kind); // ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
 * ```
 *
 * @param config the resolved operator configuration
 * @param options the ServiceAccount name, the namespace the operator runs in, and the optional
 * leader-election and event permissions
 * @returns the ServiceAccount, roles and bindings, in a stable order
 * @throws {TypeError} when the ServiceAccount name or the namespace is not a valid name
 */
export function rbacFor(config: OperatorConfig, options: RbacOptions = {}): KubernetesObject[] {
  const { serviceAccount, roles } = plan(config, options);
  const labels = labelsFor(config);
  const objects: KubernetesObject[] = [{
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: serviceAccount.name, namespace: serviceAccount.namespace, labels },
  }];
  for (const role of roles) {
    const metadata = role.namespace === undefined
      ? { name: role.name, labels }
      : { name: role.name, namespace: role.namespace, labels };
    objects.push({
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: role.kind,
      metadata,
      rules: role.rules.map((rule) => ({
        apiGroups: [rule.group],
        resources: [...rule.resources],
        verbs: [...rule.verbs],
      })),
    });
    objects.push({
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: role.kind === "ClusterRole" ? "ClusterRoleBinding" : "RoleBinding",
      metadata: { ...metadata },
      roleRef: { apiGroup: RBAC_GROUP, kind: role.kind, name: role.name },
      subjects: [{
        kind: "ServiceAccount",
        name: serviceAccount.name,
        namespace: serviceAccount.namespace,
      }],
    });
  }
  return objects;
}

/**
 * Why each rule of {@linkcode rbacFor} is needed: one line per rule, in the same order, naming
 * the role, the API group, the resources and verbs, and the reasons. For documentation and for
 * the comments of `--print-rbac`.
 *
 * @example
 * ```ts
 * import { explainRules } from "./rbac.ts";
 * import { operatorConfig } from "../config/operator_config.ts";
 * import { k8s } from "../config/resource_types.ts";
 *
 * const config = operatorConfig({
 *   name: "demo",
 *   parent: k8s.apps.v1.Deployment,
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }],
 * });
 * for (const line of explainRules(config)) console.log(`# ${line}`);
 * ```
 *
 * @param config the resolved operator configuration
 * @param options the same options as given to {@linkcode rbacFor}
 * @returns one line per rule
 * @throws {TypeError} when the ServiceAccount name or the namespace is not a valid name
 */
export function explainRules(config: OperatorConfig, options: RbacOptions = {}): string[] {
  const lines: string[] = [];
  for (const role of plan(config, options).roles) {
    const where = role.namespace === undefined ? "" : ` in "${role.namespace}"`;
    for (const rule of role.rules) {
      lines.push(
        `${role.kind} "${role.name}"${where}: ${describeGroup(rule.group)} ${
          rule.resources.join(", ")
        } [${rule.verbs.join(", ")}]: ${rule.reasons.join("; ")}`,
      );
    }
  }
  return lines;
}
