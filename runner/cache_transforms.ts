/**
 * The cache transforms of an operator's informers: the built-in pruning (`pruneCachedObject`),
 * then the user's transform of the config (parents and children) or of a related declaration.
 * The same function is returned for the same transform and type, so that informers with equal
 * options can be shared.
 *
 * @module
 */
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";
import type { CacheTransform } from "../config/operator_config.ts";
import type { RelatedResource } from "../config/related.ts";
import { pruneCachedObject } from "./cache_object.ts";

const composedTransforms = new WeakMap<
  CacheTransform,
  Map<string, (object: KubernetesObject) => KubernetesObject>
>();

/**
 * The cache transform of one type: the built-in pruning, then the user's transform. The same
 * function is returned for the same user transform and type, so informers can be shared.
 *
 * @param transform the config's transform, if any
 * @param type the type cached
 * @returns the composed transform, or `undefined` for the default pruning alone
 */
export function transformFor(
  transform: CacheTransform | undefined,
  type: ResourceType,
): ((object: KubernetesObject) => KubernetesObject) | undefined {
  if (transform === undefined) return undefined;
  let byType = composedTransforms.get(transform);
  if (byType === undefined) composedTransforms.set(transform, byType = new Map());
  const key = typeKey(type);
  let composed = byType.get(key);
  if (composed === undefined) {
    composed = (object) => transform(pruneCachedObject(object), type);
    byType.set(key, composed);
  }
  return composed;
}

const relatedTransforms = new WeakMap<object, (object: KubernetesObject) => KubernetesObject>();

/**
 * The cache transform of a related type: the built-in pruning, then the declaration's. The same
 * function for the same declaration, so informers can be shared.
 *
 * @param declaration the related declaration
 * @returns the composed transform, or `undefined` for the default pruning alone
 */
export function relatedTransformFor(
  declaration: RelatedResource<KubernetesObject, never>,
): ((object: KubernetesObject) => KubernetesObject) | undefined {
  const transform = declaration.transform;
  if (transform === undefined) return undefined;
  let composed = relatedTransforms.get(declaration);
  if (composed === undefined) {
    composed = (object) => transform.call(declaration, pruneCachedObject(object));
    relatedTransforms.set(declaration, composed);
  }
  return composed;
}
