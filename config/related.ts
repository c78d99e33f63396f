/**
 * Related resources: objects a parent refers to but does not own (the Secret named in
 * `spec.credentialsRef`, a shared ConfigMap, the cluster's Nodes). A declaration made with
 * {@linkcode relatedResource} says which type to watch, in which scope, with which selectors
 * and cache transform, and which objects each parent needs ({@linkcode RelatedResource.refs}).
 * The runner caches only the selected objects, hands each parent the ones it refers to, and
 * syncs exactly the parents that refer to an object when it changes or goes away.
 *
 * @module
 */
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { OperatorConfigError } from "./config_error.ts";
import { describe, DNS_LABEL, labelSelectorProblem } from "./validate.ts";

/*
 * Where related objects are watched:
 *
 * - `"parent"` (the default for namespaced types): in the parents' namespaces (every namespace,
 *   or the operator's `namespace` when it is confined to one); a reference without a namespace
 *   names an object in its parent's namespace.
 * - `{ namespace }`: in one fixed namespace; a reference without a namespace names an object
 *   there.
 * - `"cluster"` (the only scope of cluster-scoped types): everywhere; references to namespaced
 *   objects then give their namespace (else the parent's is used).
 */
type RelatedScope = "parent" | "cluster" | { readonly namespace: string };

/**
 * A reference from a parent to related objects: one object by name, or every object matching a
 * label selector. `namespace` defaults to the scope's (see
 * {@linkcode RelatedResourceInit.scope}) and is
 * ignored for cluster-scoped types; a cluster-scoped parent has no namespace to lend, so its
 * references to namespaced objects give one.
 */
export type RelatedRef =
  | { readonly name: string; readonly namespace?: string | undefined }
  | { readonly labelSelector: string; readonly namespace?: string | undefined };

/** What {@linkcode relatedResource} takes. */
export interface RelatedResourceInit<
  T extends KubernetesObject = KubernetesObject,
  P extends KubernetesObject = KubernetesObject,
> {
  /** The related type, for example `k8s.core.v1.Secret`. */
  type: ResourceType<T>;
  /**
   * Where objects are watched: `"parent"` (the default for namespaced types) in the parents'
   * namespaces, `{ namespace }` in one namespace, `"cluster"` (the only scope of cluster-scoped
   * types) everywhere. A reference without a namespace names an object in the fixed namespace,
   * else in its parent's.
   */
  scope?: "parent" | "cluster" | { readonly namespace: string };
  /**
   * Only objects matching this label selector are watched and cached (for example
   * `roperator.dev/copy-source=true`); the others are invisible to the operator.
   */
  labelSelector?: string;
  /** Only objects matching this field selector are watched and cached (`type=Opaque`). */
  fieldSelector?: string;
  /**
   * Trims every object before it is cached, after the built-in pruning: keep only what the
   * handler reads (for example the one key of a Secret it copies).
   */
  transform?: (object: T) => T;
  /**
   * Which objects a parent needs, computed from the parent alone (a pure function, like
   * Metacontroller's customize hook): a reference, a list of them, or `undefined`/`null` for
   * none. Called on every change of the parent, to keep the reverse index (related object →
   * parents) up to date, and at the start of each sync.
   */
  refs: (parent: P) => RelatedRef | readonly RelatedRef[] | undefined | null;
}

/**
 * A validated related-resource declaration: put it in the operator config's `related` list,
 * and read its objects in the handler with `request.related.get(declaration)` or
 * `request.related.list(declaration)`, typed by the declaration's type.
 */
export interface RelatedResource<
  T extends KubernetesObject = KubernetesObject,
  P extends KubernetesObject = KubernetesObject,
> {
  /** The related type. */
  readonly type: ResourceType<T>;
  /** Where objects are watched (see {@linkcode RelatedResourceInit.scope}). */
  readonly scope: "parent" | "cluster" | { readonly namespace: string };
  /** The label selector of the watch, or `undefined`. */
  readonly labelSelector: string | undefined;
  /** The field selector of the watch, or `undefined`. */
  readonly fieldSelector: string | undefined;
  /**
   * Trims an object before it is cached (after the built-in pruning).
   *
   * @param object the object as received
   * @returns what to keep
   */
  transform?(object: T): T;
  /**
   * The references of a parent, always as a list.
   *
   * @param parent the parent
   * @returns the references (empty for none)
   */
  refs(parent: P): readonly RelatedRef[];
}

const declarations = new WeakSet<object>();

function fail(field: string, detail: string): never {
  throw new OperatorConfigError(`Cannot declare related resource: ${field}: ${detail}`, {
    field: `related.${field}`,
  });
}

/**
 * Declares a related resource: a type the operator watches (in a scope, with selectors and an
 * optional cache transform) and the objects of it each parent refers to.
 *
 * @example
 * ```ts
 * import { relatedResource } from "./related.ts";
 * import { k8s } from "./resource_types.ts";
 *
 * interface Copy {
 *   metadata?: { name?: string; namespace?: string };
 *   spec?: { secretName?: string };
 *   [field: string]: unknown;
 * }
 * const source = relatedResource({
 *   type: k8s.core.v1.Secret,
 *   labelSelector: "roperator.dev/copy-source=true",
 *   refs: (parent: Copy) => parent.spec?.secretName ? { name: parent.spec.secretName } : null,
 * });
 * source.refs({ spec: { secretName: "db" } }); // [{ name: "db" }]
 * ```
 *
 * @param init the type, scope, selectors, transform and references
 * @returns the declaration, for the config's `related` list and for `request.related`
 * @throws {OperatorConfigError} naming the first invalid field
 */
export function relatedResource<T extends KubernetesObject, P extends KubernetesObject>(
  init: RelatedResourceInit<T, P>,
): RelatedResource<T, P> {
  if (typeof init !== "object" || init === null) fail("init", `must be an object`);
  const type = init.type as Partial<ResourceType> | undefined;
  if (
    typeof type !== "object" || type === null || typeof type.apiVersion !== "string" ||
    typeof type.kind !== "string" || typeof type.plural !== "string" ||
    typeof type.namespaced !== "boolean"
  ) {
    fail("type", `must be a ResourceType, got ${describe(type)}`);
  }
  const what = `${type.apiVersion}/${type.kind}`;
  let scope: RelatedScope;
  const rawScope: unknown = init.scope;
  if (rawScope === undefined) {
    scope = type.namespaced ? "parent" : "cluster";
  } else if (rawScope === "parent" || rawScope === "cluster") {
    scope = rawScope;
  } else if (
    typeof rawScope === "object" && rawScope !== null &&
    typeof (rawScope as { namespace?: unknown }).namespace === "string"
  ) {
    const namespace = (rawScope as { namespace: string }).namespace;
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
      fail("scope.namespace", `"${namespace}" is not a valid namespace name`);
    }
    scope = Object.freeze({ namespace });
  } else {
    fail("scope", `must be "parent", "cluster" or { namespace }, got ${describe(rawScope)}`);
  }
  if (!type.namespaced && scope !== "cluster") {
    fail("scope", `${what} is cluster-scoped: its scope can only be "cluster"`);
  }
  let labelSelector: string | undefined;
  if (init.labelSelector !== undefined) {
    if (typeof init.labelSelector !== "string") {
      fail("labelSelector", `must be a string, got ${describe(init.labelSelector)}`);
    }
    labelSelector = init.labelSelector.trim() || undefined;
    const problem = labelSelector === undefined ? undefined : labelSelectorProblem(labelSelector);
    if (problem !== undefined) fail("labelSelector", problem);
  }
  let fieldSelector: string | undefined;
  if (init.fieldSelector !== undefined) {
    if (typeof init.fieldSelector !== "string") {
      fail("fieldSelector", `must be a string, got ${describe(init.fieldSelector)}`);
    }
    fieldSelector = init.fieldSelector.trim() || undefined;
  }
  const transform = init.transform;
  if (transform !== undefined && typeof transform !== "function") {
    fail("transform", `must be a function, got ${describe(transform)}`);
  }
  const refs = init.refs;
  if (typeof refs !== "function") fail("refs", `must be a function, got ${describe(refs)}`);
  const declaration: RelatedResource<T, P> = {
    type: init.type,
    scope,
    labelSelector,
    fieldSelector,
    ...(transform ? { transform: (object: T) => transform(object) } : {}),
    refs: (parent: P) => normalizeRefs(refs(parent), what),
  };
  declarations.add(declaration);
  return Object.freeze(declaration);
}

function normalizeRefs(raw: unknown, what: string): readonly RelatedRef[] {
  if (raw === undefined || raw === null) return [];
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  return list.map((ref, i) => {
    const r = ref as Record<string, unknown> | null;
    const ok = typeof r === "object" && r !== null &&
      (typeof r.name === "string" ? r.name !== "" : typeof r.labelSelector === "string") &&
      (r.namespace === undefined || typeof r.namespace === "string");
    if (!ok) {
      throw new TypeError(
        `Cannot resolve the ${what} references of a parent: reference ${i} must be { name, namespace? } or { labelSelector, namespace? }, got ${
          describe(ref)
        }`,
      );
    }
    return ref as RelatedRef;
  });
}

/**
 * Whether a value was made by {@linkcode relatedResource}.
 *
 * @param value anything
 * @returns whether it is a declaration
 */
export function isRelatedResource(value: unknown): value is RelatedResource {
  return typeof value === "object" && value !== null && declarations.has(value);
}
