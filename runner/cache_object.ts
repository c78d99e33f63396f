/**
 * What the informers' caches hold, and how they are keyed: the cache key of an object
 * ({@linkcode objectKey}), the default pruning before an object is cached
 * ({@linkcode pruneCachedObject}), and how resourceVersions compare.
 *
 * @module
 */
import type { KubernetesObject } from "../client/resource_type.ts";

/** Drops `metadata.managedFields`, about half of an object's metadata. */
export function pruneManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/** The annotation `kubectl apply` writes: a whole copy of the object, often its biggest part. */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default cache transform: drops `metadata.managedFields` (about half of an object's
 * metadata) and the `kubectl.kubernetes.io/last-applied-configuration` annotation (a second copy
 * of what was applied). The object given is not modified.
 *
 * @example
 * ```ts
 * import { pruneCachedObject } from "./cache_object.ts";
 * const pruned = pruneCachedObject({
 *   metadata: {
 *     name: "a",
 *     managedFields: [{ manager: "kubectl" }],
 *     annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "yes" },
 *   },
 * });
 * pruned.metadata; // { name: "a", annotations: { keep: "yes" } }
 * ```
 *
 * @param object the object as the API server sent it
 * @returns the object without those fields
 */
export function pruneCachedObject<T extends KubernetesObject>(object: T): T {
  const pruned = pruneManagedFields(object);
  const annotations = pruned.metadata?.annotations;
  if (!annotations || !(LAST_APPLIED_ANNOTATION in annotations)) return pruned;
  const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = annotations;
  const metadata = { ...pruned.metadata };
  if (Object.keys(rest).length > 0) metadata.annotations = rest;
  else delete metadata.annotations;
  return { ...pruned, metadata };
}

/**
 * The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects.
 *
 * @param object the object
 * @returns the key
 */
export function objectKey(object: KubernetesObject): string {
  const ns = object.metadata?.namespace;
  return ns ? `${ns}/${object.metadata?.name}` : `${object.metadata?.name}`;
}

/**
 * Compares two resourceVersions: negative when `a` is older, 0 when equal, positive when newer.
 * resourceVersions are opaque by contract, but every storage kube-apiserver ships (etcd) uses
 * increasing integers; when either is not an integer (and they differ), nothing can be said and
 * the answer is `undefined`.
 */
export function compareRv(a: string | undefined, b: string | undefined): number | undefined {
  if (a !== undefined && a === b) return 0;
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const ia = BigInt(a);
  const ib = BigInt(b);
  return ia === ib ? 0 : ia > ib ? 1 : -1;
}

/**
 * The resourceVersion of an object.
 *
 * @param object the object
 * @returns its `metadata.resourceVersion`
 */
export function rvOf(object: KubernetesObject): string | undefined {
  return object.metadata?.resourceVersion;
}

/** Whether an object can be cached: it has a name (the cache key). */
export function hasName(object: KubernetesObject | undefined): boolean {
  const name = object?.metadata?.name;
  return typeof name === "string" && name !== "";
}
