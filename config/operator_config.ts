/**
 * {@linkcode operatorConfig}: what an operator manages (a parent type and its child types) and
 * how it runs (labels, finalizer, HTTP server, timings), validated and with every default filled.
 *
 * @module
 */
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";
import {
  DEFAULT_FINALIZER_PREFIX,
  DEFAULT_OWNERSHIP_LABEL,
  DEFAULT_TRACKING_LABEL,
} from "./defaults.ts";
import { OperatorConfigError } from "./config_error.ts";
import {
  type LeaderElectionConfig,
  type LeaderElectionInit,
  resolveLeaderElection,
} from "./leader_election_config.ts";
import { resolveServer, type ServerConfig, type ServerConfigInit } from "./server_config.ts";
import { WebhookConfigError } from "../webhook/admission.ts";
import {
  type WebhooksConfig,
  webhooksConfig,
  type WebhooksConfigInit,
} from "../webhook/settings.ts";
import { isRelatedResource, type RelatedResource } from "./related.ts";
import {
  describe,
  DNS_LABEL,
  labelSelectorProblem,
  qualifiedNameProblem,
  Validator,
} from "./validate.ts";

export {
  DEFAULT_FINALIZER_PREFIX,
  DEFAULT_OWNERSHIP_LABEL,
  DEFAULT_TRACKING_LABEL,
} from "./defaults.ts";
export { OperatorConfigError, type OperatorConfigErrorOptions } from "./config_error.ts";
export type {
  LeaderElectionConfig,
  LeaderElectionInit,
  LeaderLostAction,
} from "./leader_election_config.ts";
export type { ServerConfig, ServerConfigInit } from "./server_config.ts";

/**
 * How the runner brings an existing child in line with the desired one when they differ.
 *
 * - `"Replace"`: PUT the desired object (with the existing `resourceVersion`); fields the handler
 *   leaves out are dropped. Not suitable for types with immutable fields, such as Pods.
 * - `"Recreate"`: DELETE the existing child; it is created again on a later sync.
 * - `"OnDelete"`: never update; the child is only created again once something else deletes it.
 * - `"Apply"`: server-side apply with the operator name as field manager; fields the handler
 *   stops setting are removed, fields owned by others are kept.
 */
export type UpdateStrategy = "Replace" | "Recreate" | "OnDelete" | "Apply";

/** A child type the operator manages, and how it updates children of that type. */
export interface ChildConfig {
  /** The child type. */
  readonly type: ResourceType;
  /** How an existing child that differs from the desired one is updated. */
  readonly updateStrategy: UpdateStrategy;
}

/**
 * The operator configuration as written by the user, passed to {@linkcode operatorConfig}. `P` is
 * the parent's object type, taken from `parent`: the handler's parent has this type.
 */
export interface OperatorConfigInit<P extends KubernetesObject = KubernetesObject> {
  /**
   * The operator name, a DNS-1123 label (lower-case letters, digits and `-`, at most 63
   * characters). It is the ownership label value, the default finalizer's name part, the field
   * manager and the User-Agent.
   */
  name: string;
  /**
   * The parent type: each parent object is synced by the handler. Declared with `resourceType()`
   * (and a hand-written CRD) or with `parentSchema()` from `@roperator/core/schema` (which makes
   * the CRD and types the handler's parent from one schema).
   */
  parent: ResourceType<P>;
  /**
   * The child types, at most one entry per type, as a list or as a map from type to strategy
   * (write `new Map<ResourceType, UpdateStrategy>(…)`, TypeScript cannot infer it). Children of
   * any other type returned by the handler are rejected.
   */
  children?: readonly ChildConfig[] | ReadonlyMap<ResourceType, UpdateStrategy>;
  /**
   * Confine the operator to one namespace (parents and children alike). Omit to watch every
   * namespace. Has no effect on cluster-scoped types.
   */
  namespace?: string;
  /**
   * The label that ties a child to its parent; its value is the parent's `metadata.uid`.
   * Default {@linkcode DEFAULT_TRACKING_LABEL}.
   */
  trackingLabel?: string;
  /**
   * The label that marks a child as managed by this operator; its value is `name`.
   * Default {@linkcode DEFAULT_OWNERSHIP_LABEL}.
   */
  ownershipLabel?: string;
  /**
   * The finalizer added to every parent so that the handler's `finalize` runs before the parent
   * goes away. `true` (the default) uses `"roperator.dev/<name>"`; a string is used as is and
   * must be a qualified name (`prefix/name`, the prefix recommended); `false` adds none, and
   * `finalize` is never called.
   */
  finalizer?: boolean | string;
  /** The health and metrics HTTP server, or `false` for none. */
  server?: ServerConfigInit | false;
  /** The longest delay between retries of a failing sync, in ms. Default 600 000 (10 min). */
  maxErrorBackoffMs?: number;
  /**
   * Sync every parent again this long after its last successful sync even when nothing changed,
   * in ms; 0 turns it off. Default 36 000 000 (10 h, as controller-runtime's `SyncPeriod`): a
   * safety net against missed events and drift in state the operator does not watch.
   */
  resyncPeriodMs?: number;
  /** The most syncs running at once (never two for the same parent). Default 8. */
  concurrency?: number;
  /** A handler call that has not settled after this long fails the sync, in ms. Default 60 000. */
  syncTimeoutMs?: number;
  /**
   * A watch that has received nothing (not even a bookmark) for this long is restarted, in ms.
   * Default 70 000: bookmarks arrive about once a minute, and it stays below common load
   * balancer idle timeouts (Azure: 240 s).
   */
  watchIdleTimeoutMs?: number;
  /**
   * List every watched type again this often, in ms, replacing the cache, to recover from
   * events lost without an error; 0 turns it off. Default 1 800 000 (30 min): rare enough to
   * cost little on large clusters, since the idle timeout and bookmarks already catch dead
   * watches.
   */
  relistPeriodMs?: number;
  /**
   * How long a watch may fail before `/ready` answers 503, in ms. An operator is ready when
   * every cache has completed its first list and every watch is connected, or has been failing
   * for less than this. Default 60 000: a watch that fails now and then (a restarted API server,
   * a load balancer closing connections) does not take the pod out of service.
   */
  readinessGraceMs?: number;
  /**
   * Only sync parents matching this label selector (for example `shard=a` or
   * `tier in (gold,silver)`), to split parents between operator instances.
   */
  parentLabelSelector?: string;
  /**
   * Leader election on a `coordination.k8s.io/v1` Lease, so that several replicas can run and
   * only one of them (the leader) syncs; the others keep their caches warm for a fast failover.
   * `true` uses every default. Off by default.
   */
  leaderElection?: LeaderElectionInit | boolean;
  /**
   * Record `events.k8s.io/v1` Events on parents: failed syncs (`SyncFailed`), rejected child
   * writes (`ChildWriteRejected`) and finalizer outcomes (`Finalized`, `FinalizeFailed`),
   * repeated events folded into a series and rate-limited per parent. Default `true`. Event
   * writes never fail a sync (the RBAC needs `create` and `patch` on `events.k8s.io` Events).
   */
  events?: boolean;
  /**
   * Trims every object before it is cached, to save memory, after the built-in pruning (which
   * drops `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration`
   * annotation). Called for the parent type and every child type; return the object to keep.
   * Never drop fields the handler sets on children: the runner compares desired children with
   * the cached ones, so a dropped field would look changed on every sync. Keep the parent's
   * `status` whole: the status is written as a merge patch from the cached one, so a status field
   * missing from the cache would never be removed from the cluster.
   */
  transform?: CacheTransform;
  /**
   * Admission and conversion webhooks served by the operator on a port of their own, with
   * certificates it makes, shares through a Secret and renews (see `@roperator/core/webhook`).
   * Off by default.
   */
  webhooks?: WebhooksConfigInit;
  /**
   * Related resources: objects parents refer to but do not own, each declared with
   * `relatedResource()`. The handler gets the ones its parent refers to
   * (`request.related`), and a change to one syncs exactly the parents that refer to it.
   */
  related?: readonly RelatedResource<KubernetesObject, never>[];
}

/**
 * Trims an object before it is cached. It receives the object (already without
 * `metadata.managedFields` and the last-applied annotation) and its type, and returns what to
 * keep; it may return the same object.
 */
export type CacheTransform = (object: KubernetesObject, type: ResourceType) => KubernetesObject;

/**
 * The resolved operator configuration: every default filled, validated and frozen. `P` is the
 * parent's object type: `runOperator()` and `startOperator()` give the handler this type.
 */
export interface OperatorConfig<P extends KubernetesObject = KubernetesObject> {
  /** The operator name. */
  readonly name: string;
  /** The parent type. */
  readonly parent: ResourceType<P>;
  /** The child types, one entry per type, in the order given. */
  readonly children: readonly ChildConfig[];
  /** The only namespace watched, or `undefined` for all. */
  readonly namespace: string | undefined;
  /** The tracking label name (value: parent uid). */
  readonly trackingLabel: string;
  /** The ownership label name (value: operator name). */
  readonly ownershipLabel: string;
  /** The finalizer name, or `undefined` when parents get no finalizer. */
  readonly finalizer: string | undefined;
  /** The HTTP server, or `undefined` when disabled or when it would serve nothing. */
  readonly server: ServerConfig | undefined;
  /** The longest delay between retries of a failing sync, in ms. */
  readonly maxErrorBackoffMs: number;
  /** The periodic resync of every parent, in ms; 0 = off. */
  readonly resyncPeriodMs: number;
  /** The most syncs running at once. */
  readonly concurrency: number;
  /** The handler timeout, in ms. */
  readonly syncTimeoutMs: number;
  /** The watch idle timeout, in ms. */
  readonly watchIdleTimeoutMs: number;
  /** The periodic relist, in ms; 0 = off. */
  readonly relistPeriodMs: number;
  /** How long a watch may fail before `/ready` answers 503, in ms. */
  readonly readinessGraceMs: number;
  /** The parent label selector, or `undefined` for every parent. */
  readonly parentLabelSelector: string | undefined;
  /** Leader election, or `undefined` when every instance syncs. */
  readonly leaderElection: LeaderElectionConfig | undefined;
  /** Whether Events are recorded on parents. */
  readonly events: boolean;
  /** The user's cache transform, or `undefined` for the built-in pruning only. */
  readonly transform: CacheTransform | undefined;
  /** The webhooks, or `undefined` when the operator serves none. */
  readonly webhooks: WebhooksConfig | undefined;
  /** The related resources, in the order given. */
  readonly related: readonly RelatedResource<KubernetesObject, never>[];
}

const STRATEGIES: readonly UpdateStrategy[] = ["Replace", "Recreate", "OnDelete", "Apply"];
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "name",
  "parent",
  "children",
  "namespace",
  "trackingLabel",
  "ownershipLabel",
  "finalizer",
  "server",
  "maxErrorBackoffMs",
  "resyncPeriodMs",
  "concurrency",
  "syncTimeoutMs",
  "watchIdleTimeoutMs",
  "relistPeriodMs",
  "readinessGraceMs",
  "parentLabelSelector",
  "leaderElection",
  "events",
  "transform",
  "webhooks",
  "related",
]);

function resolveChildren(
  v: Validator,
  init: OperatorConfigInit,
  parent: ResourceType,
): readonly ChildConfig[] {
  const raw = init.children;
  if (raw === undefined) return Object.freeze([]);
  let entries: unknown[];
  if (Array.isArray(raw)) {
    entries = raw;
  } else if (raw instanceof Map) {
    entries = [...raw].map(([type, updateStrategy]) => ({ type, updateStrategy }));
  } else {
    v.fail(
      "children",
      `must be an array of { type, updateStrategy } or a Map, got ${describe(raw)}`,
    );
  }
  const seen = new Map<string, number>();
  const parentKey = typeKey(parent);
  return Object.freeze(entries.map((entry, i) => {
    const field = `children[${i}]`;
    if (typeof entry !== "object" || entry === null) {
      v.fail(field, `must be { type, updateStrategy }, got ${describe(entry)}`);
    }
    const child = entry as Partial<Record<keyof ChildConfig, unknown>>;
    const type = v.resourceType(child.type, `${field}.type`);
    const key = typeKey(type);
    if (key === parentKey) {
      v.fail(`${field}.type`, `${key} is the parent type; it cannot also be a child type`);
    }
    const previous = seen.get(key);
    if (previous !== undefined) {
      v.fail(`${field}.type`, `${key} is already configured by children[${previous}]`);
    }
    seen.set(key, i);
    const strategy = child.updateStrategy;
    if (!STRATEGIES.includes(strategy as UpdateStrategy)) {
      v.fail(
        `${field}.updateStrategy`,
        `must be "Replace", "Recreate", "OnDelete" or "Apply", got ${describe(strategy)}`,
      );
    }
    return Object.freeze({ type, updateStrategy: strategy as UpdateStrategy });
  }));
}

/**
 * Validates an operator configuration, fills in the defaults and freezes it.
 *
 * A namespaced parent may have cluster-scoped children and the other way round; any update
 * strategy, `"Apply"` included, suits any type.
 *
 * @example
 * ```ts
 * import { operatorConfig } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * import { resourceType } from "../client/resource_type.ts";
 *
 * const EchoServer = resourceType({
 *   apiVersion: "example.roperator.dev/v1alpha1",
 *   kind: "EchoServer",
 *   plural: "echoservers",
 *   namespaced: true,
 * });
 * const config = operatorConfig({
 *   name: "echo-server",
 *   parent: EchoServer,
 *   children: [
 *     { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
 *     { type: k8s.core.v1.Service, updateStrategy: "Replace" },
 *   ],
 * });
 * config.finalizer; // "roperator.dev/echo-server"
 * ```
 *
 * @param init the configuration as written by the user
 * @returns the resolved, frozen configuration
 * @throws {OperatorConfigError} naming the first invalid field
 */
export function operatorConfig<P extends KubernetesObject = KubernetesObject>(
  init: OperatorConfigInit<P>,
): OperatorConfig<P> {
  if (typeof init !== "object" || init === null) {
    throw new OperatorConfigError(
      `Cannot configure operator: config: must be an object, got ${describe(init)}`,
      { field: "config" },
    );
  }
  const rawName: unknown = init.name;
  const v: Validator = new Validator(
    typeof rawName === "string" ? JSON.stringify(rawName) : "(unnamed)",
  );
  const name = v.string(rawName, "name");
  if (name.length === 0 || name.length > 63 || !DNS_LABEL.test(name)) {
    v.fail(
      "name",
      "must be a DNS-1123 label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit",
    );
  }
  for (const key of Object.keys(init)) {
    if (!KNOWN_FIELDS.has(key)) v.fail(key, "is not an option");
  }

  // The same object, checked: a ParentSchema keeps its CRD and schema.
  const parent = v.resourceType(init.parent, "parent") as ResourceType<P>;
  const children = resolveChildren(v, init, parent);

  let namespace: string | undefined;
  if (init.namespace !== undefined) {
    namespace = v.string(init.namespace, "namespace");
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
      v.fail("namespace", `"${namespace}" is not a valid namespace name (a DNS-1123 label)`);
    }
  }

  const trackingLabel = v.labelKey(init.trackingLabel, "trackingLabel", DEFAULT_TRACKING_LABEL);
  const ownershipLabel = v.labelKey(init.ownershipLabel, "ownershipLabel", DEFAULT_OWNERSHIP_LABEL);
  if (trackingLabel === ownershipLabel) {
    v.fail("ownershipLabel", `must differ from trackingLabel ("${trackingLabel}")`);
  }

  let finalizer: string | undefined;
  const rawFinalizer: unknown = init.finalizer;
  if (rawFinalizer === undefined || rawFinalizer === true) {
    finalizer = `${DEFAULT_FINALIZER_PREFIX}/${name}`;
  } else if (typeof rawFinalizer === "string") {
    const problem = qualifiedNameProblem(rawFinalizer);
    if (problem !== undefined) {
      v.fail("finalizer", `"${rawFinalizer}" is not a qualified name: ${problem}`);
    }
    finalizer = rawFinalizer;
  } else if (rawFinalizer !== false) {
    v.fail("finalizer", `must be a boolean or a string, got ${describe(rawFinalizer)}`);
  }

  const server = resolveServer(v, init.server);
  const maxErrorBackoffMs = v.duration(init.maxErrorBackoffMs, "maxErrorBackoffMs", 600_000);
  const resyncPeriodMs = v.duration(init.resyncPeriodMs, "resyncPeriodMs", 36_000_000, {
    zeroOff: true,
  });
  const syncTimeoutMs = v.duration(init.syncTimeoutMs, "syncTimeoutMs", 60_000);
  const watchIdleTimeoutMs = v.duration(init.watchIdleTimeoutMs, "watchIdleTimeoutMs", 70_000);
  const relistPeriodMs = v.duration(init.relistPeriodMs, "relistPeriodMs", 1_800_000, {
    zeroOff: true,
  });
  const readinessGraceMs = v.duration(init.readinessGraceMs, "readinessGraceMs", 60_000);

  let concurrency = 8;
  if (init.concurrency !== undefined) {
    const value: unknown = init.concurrency;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      v.fail("concurrency", `must be an integer of at least 1, got ${describe(value)}`);
    }
    concurrency = value;
  }

  let parentLabelSelector: string | undefined;
  if (init.parentLabelSelector !== undefined) {
    parentLabelSelector = v.string(init.parentLabelSelector, "parentLabelSelector").trim();
    if (parentLabelSelector === "") {
      v.fail("parentLabelSelector", "must not be empty (omit it to sync every parent)");
    }
    const problem = labelSelectorProblem(parentLabelSelector);
    if (problem !== undefined) v.fail("parentLabelSelector", problem);
  }

  const leaderElection = resolveLeaderElection(v, init.leaderElection, name, namespace);
  const events = v.boolean(init.events, "events", true);
  let transform: CacheTransform | undefined;
  if (init.transform !== undefined) {
    if (typeof init.transform !== "function") {
      v.fail("transform", `must be a function, got ${describe(init.transform)}`);
    }
    transform = init.transform;
  }
  let webhooks: WebhooksConfig | undefined;
  if (init.webhooks !== undefined) {
    try {
      webhooks = webhooksConfig(init.webhooks, name);
    } catch (error) {
      if (error instanceof WebhookConfigError) v.fail(error.field, error.detail);
      throw error;
    }
  }

  let related: readonly RelatedResource<KubernetesObject, never>[] = Object.freeze([]);
  if (init.related !== undefined) {
    if (!Array.isArray(init.related)) {
      v.fail(
        "related",
        `must be an array of relatedResource() declarations, got ${describe(init.related)}`,
      );
    }
    init.related.forEach((entry: unknown, i: number) => {
      if (!isRelatedResource(entry)) {
        v.fail(`related[${i}]`, `must be made by relatedResource(), got ${describe(entry)}`);
      }
      if (init.related!.indexOf(entry as never) !== i) {
        v.fail(`related[${i}]`, "is listed twice");
      }
    });
    related = Object.freeze([...init.related]);
  }

  return Object.freeze({
    name,
    parent,
    children,
    namespace,
    trackingLabel,
    ownershipLabel,
    finalizer,
    server,
    maxErrorBackoffMs,
    resyncPeriodMs,
    concurrency,
    syncTimeoutMs,
    watchIdleTimeoutMs,
    relistPeriodMs,
    readinessGraceMs,
    parentLabelSelector,
    leaderElection,
    events,
    transform,
    webhooks,
    related,
  });
}

/**
 * The configuration of a child type.
 *
 * @example
 * ```ts
 * import { childConfigFor, operatorConfig } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * const config = operatorConfig({
 *   name: "demo",
 *   parent: k8s.apps.v1.Deployment,
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }],
 * });
 * childConfigFor(config, "v1/ConfigMap")?.updateStrategy; // "Apply"
 * ```
 *
 * @param config the resolved configuration
 * @param type a type key (`"<apiVersion>/<kind>"`, see `typeKey`) or anything with `apiVersion`
 * and `kind`, such as a resource type or a child object
 * @returns the child configuration, or `undefined` when the type is not a configured child type
 */
export function childConfigFor(
  config: OperatorConfig,
  type: string | Pick<ResourceType, "apiVersion" | "kind"> | KubernetesObject,
): ChildConfig | undefined {
  let key: string;
  if (typeof type === "string") {
    key = type;
  } else {
    if (type.apiVersion === undefined || type.kind === undefined) return undefined;
    key = typeKey({ apiVersion: type.apiVersion, kind: type.kind });
  }
  return config.children.find((child) => typeKey(child.type) === key);
}
