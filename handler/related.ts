/**
 * What a handler reads besides its parent and children: {@linkcode RelatedObjects}, the related
 * objects its parent refers to (`request.related`), and {@linkcode CacheReader}, a read-only
 * view of every cache the operator keeps (`request.cache`).
 *
 * @module
 */
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";

/**
 * The related objects a parent refers to, by declaration, as found in the cache when the sync
 * started. An object the parent refers to that does not exist (or is not selected by the
 * declaration's selectors) is absent.
 *
 * @example
 * ```ts
 * import { RelatedObjects } from "./related.ts";
 * import { k8s } from "../config/resource_types.ts";
 *
 * const source = { type: k8s.core.v1.Secret };
 * const related = new RelatedObjects(
 *   new Map([[source, [{ metadata: { name: "db" }, data: { password: "c2VjcmV0" } }]]]),
 * );
 * related.get(source)?.data?.password; // "c2VjcmV0"
 * ```
 */
export class RelatedObjects {
  readonly #objects: ReadonlyMap<object, readonly KubernetesObject[]>;
  readonly #complete: boolean;

  /**
   * Wraps the related objects of one sync.
   *
   * @param objects the objects found, by declaration (a declaration without references may be
   * left out)
   * @param options `complete`: every declaration of the operator is in `objects` (the runner's
   * requests), so that reading any other declaration is an error rather than a silent
   * `undefined`; default `false` (a request built for a unit test)
   */
  constructor(
    objects: ReadonlyMap<object, readonly KubernetesObject[]> = new Map(),
    options: { complete?: boolean } = {},
  ) {
    this.#objects = objects;
    this.#complete = options.complete ?? false;
  }

  /**
   * The first object found for a declaration: the one a parent names with a single reference.
   *
   * @param declaration the related-resource declaration (made with `relatedResource()`; its type
   * types the result)
   * @returns the object, or `undefined` when the parent refers to none or it does not exist
   * @throws {TypeError} when the declaration is not in the operator config's `related` list
   */
  get<T extends KubernetesObject>(declaration: { readonly type: ResourceType<T> }): T | undefined {
    return this.list(declaration)[0];
  }

  /**
   * Every object found for a declaration, in the order of the parent's references (the objects
   * of one selector by namespace and name), each at most once.
   *
   * @param declaration the related-resource declaration
   * @returns the objects (empty when none is found)
   * @throws {TypeError} when the declaration is not in the operator config's `related` list
   */
  list<T extends KubernetesObject>(declaration: { readonly type: ResourceType<T> }): T[] {
    const objects = this.#objects.get(declaration);
    if (objects === undefined && this.#complete) {
      const type = declaration.type;
      throw new TypeError(
        `Cannot read related ${type.apiVersion}/${type.kind} objects: this declaration is not in the operator config's related list, so its objects are neither watched nor given`,
      );
    }
    return [...(objects ?? [])] as T[];
  }
}

/**
 * A read-only view of every cache the operator keeps (its parents, its children and its related
 * types), so a handler never needs a live GET for an object already watched. Reads return
 * copies; a type the operator does not watch is an error (there is no cache to read), and an
 * object outside the watch's selectors is absent.
 */
export interface CacheReader {
  /**
   * One cached object.
   *
   * @param type the type
   * @param name the name
   * @param namespace the namespace (omit for cluster-scoped types)
   * @returns a copy of the object, or `undefined` when it is not cached
   * @throws {TypeError} when the operator does not watch the type
   */
  get<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    namespace?: string,
  ): T | undefined;
  /**
   * The cached objects of a type, sorted by namespace and name.
   *
   * @param type the type
   * @param options only objects in this namespace, only objects matching this label selector
   * (`app=web,tier in (a,b)`)
   * @returns copies of the objects
   * @throws {TypeError} when the operator does not watch the type
   */
  list<T extends KubernetesObject>(
    type: ResourceType<T>,
    options?: { namespace?: string | undefined; labelSelector?: string | undefined },
  ): T[];
  /**
   * Whether the operator watches a type (as its parent, a child or a related type).
   *
   * @param type the type
   * @returns whether {@linkcode CacheReader.get} and {@linkcode CacheReader.list} can read it
   */
  watches(type: Pick<ResourceType, "apiVersion" | "kind">): boolean;
}

/** A {@linkcode CacheReader} with nothing in it, for requests built outside the runner. */
export const EMPTY_CACHE: CacheReader = Object.freeze({
  get(type: ResourceType): never {
    throw new TypeError(
      `Cannot read ${type.apiVersion}/${type.kind} from the cache: this request has no cache`,
    );
  },
  list(type: ResourceType): never {
    throw new TypeError(
      `Cannot read ${type.apiVersion}/${type.kind} from the cache: this request has no cache`,
    );
  },
  watches: () => false,
});
