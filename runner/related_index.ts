/**
 * The reverse index of one related-resource declaration: which parents refer to which related
 * objects, by name or by label selector, so that a change to a related object queues exactly the
 * parents that refer to it. The controller updates it on every change of a parent; a parent
 * whose references change stops being found by the objects it no longer names.
 *
 * @module
 */
import type { KubernetesObject } from "../client/resource_type.ts";
import type { RelatedRef, RelatedResource } from "../config/related.ts";
import { matchesLabelSelector } from "./label_selector.ts";

/** A reference with its namespace resolved (`undefined` for cluster-scoped types). */
export type ResolvedRef =
  | { readonly name: string; readonly namespace: string | undefined }
  | { readonly labelSelector: string; readonly namespace: string | undefined };

/**
 * Resolves a parent's references: the namespace of a reference without one is the fixed scope's
 * namespace, else the parent's; cluster-scoped types have none.
 *
 * @param declaration the declaration
 * @param parent the parent
 * @returns the references with namespaces
 * @throws {TypeError} when the declaration's `refs` throws or returns something malformed
 */
export function resolveRefs(
  declaration: RelatedResource<KubernetesObject, never>,
  parent: KubernetesObject,
): ResolvedRef[] {
  const refs: readonly RelatedRef[] =
    (declaration as unknown as RelatedResource<KubernetesObject, KubernetesObject>).refs(parent);
  const scope = declaration.scope;
  const fallback = typeof scope === "object" ? scope.namespace : parent.metadata?.namespace;
  return refs.map((ref) => {
    const namespace = declaration.type.namespaced ? ref.namespace ?? fallback : undefined;
    return "name" in ref
      ? { name: ref.name, namespace }
      : { labelSelector: ref.labelSelector, namespace };
  });
}

function keyOf(name: string, namespace: string | undefined): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Parents by the related objects they refer to, for one declaration. */
export class RelatedIndex {
  /** The references of each parent, as last indexed. */
  readonly #byParent = new Map<string, readonly ResolvedRef[]>();
  /** Parent keys by the key of the object they name. */
  readonly #byName = new Map<string, Set<string>>();
  /** The selector references of the parents that have some. */
  readonly #selectors = new Map<string, readonly ResolvedRef[]>();

  /** How many parents have references. */
  get size(): number {
    return this.#byParent.size;
  }

  /**
   * Replaces a parent's references.
   *
   * @param parent the parent key
   * @param refs its references now (empty: it refers to nothing)
   */
  set(parent: string, refs: readonly ResolvedRef[]): void {
    this.remove(parent);
    if (refs.length === 0) return;
    this.#byParent.set(parent, refs);
    const selectors: ResolvedRef[] = [];
    for (const ref of refs) {
      if ("name" in ref) {
        const key = keyOf(ref.name, ref.namespace);
        let parents = this.#byName.get(key);
        if (parents === undefined) this.#byName.set(key, parents = new Set());
        parents.add(parent);
      } else {
        selectors.push(ref);
      }
    }
    if (selectors.length > 0) this.#selectors.set(parent, selectors);
  }

  /**
   * Forgets a parent.
   *
   * @param parent the parent key
   */
  remove(parent: string): void {
    const refs = this.#byParent.get(parent);
    if (refs === undefined) return;
    this.#byParent.delete(parent);
    this.#selectors.delete(parent);
    for (const ref of refs) {
      if (!("name" in ref)) continue;
      const key = keyOf(ref.name, ref.namespace);
      const parents = this.#byName.get(key);
      if (parents?.delete(parent) && parents.size === 0) this.#byName.delete(key);
    }
  }

  /**
   * The references a parent was last indexed with.
   *
   * @param parent the parent key
   * @returns its references (empty when none)
   */
  refsOf(parent: string): readonly ResolvedRef[] {
    return this.#byParent.get(parent) ?? [];
  }

  /**
   * The parents that refer to an object: by its name, or by a selector that matches its labels.
   *
   * @param object a related object (its state now, or before a change)
   * @returns the parent keys
   */
  parentsOf(object: KubernetesObject): Set<string> {
    const name = object.metadata?.name ?? "";
    const namespace = object.metadata?.namespace || undefined;
    const found = new Set(this.#byName.get(keyOf(name, namespace)) ?? []);
    for (const [parent, selectors] of this.#selectors) {
      if (found.has(parent)) continue;
      for (const ref of selectors) {
        if (
          !("name" in ref) && (ref.namespace === undefined || ref.namespace === namespace) &&
          matchesLabelSelector(ref.labelSelector, object.metadata?.labels)
        ) {
          found.add(parent);
          break;
        }
      }
    }
    return found;
  }
}

/**
 * The objects a parent's references find in a cache: each name looked up, each selector's
 * matches sorted by namespace and name; every object at most once, in the order found.
 *
 * @param refs the parent's references
 * @param cache the related type's cache
 * @returns the objects found
 */
export function findRelated(
  refs: readonly ResolvedRef[],
  cache: {
    get(name: string, namespace?: string): KubernetesObject | undefined;
    list(): KubernetesObject[];
  },
): KubernetesObject[] {
  const found = new Map<string, KubernetesObject>();
  for (const ref of refs) {
    if ("name" in ref) {
      const object = cache.get(ref.name, ref.namespace);
      if (object !== undefined) found.set(keyOf(ref.name, ref.namespace), object);
      continue;
    }
    const matches = cache.list().filter((object) =>
      (ref.namespace === undefined || object.metadata?.namespace === ref.namespace) &&
      matchesLabelSelector(ref.labelSelector, object.metadata?.labels)
    );
    for (const object of sortObjects(matches)) {
      const key = keyOf(object.metadata?.name ?? "", object.metadata?.namespace || undefined);
      if (!found.has(key)) found.set(key, object);
    }
  }
  return [...found.values()];
}

/**
 * Sorts objects by namespace, then name.
 *
 * @param objects the objects
 * @returns them, sorted (a new array)
 */
export function sortObjects<T extends KubernetesObject>(objects: readonly T[]): T[] {
  const key = (o: KubernetesObject) => `${o.metadata?.namespace ?? ""}\u0000${o.metadata?.name}`;
  return [...objects].sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}
