/**
 * {@linkcode InformerCacheView}: the handler's read-only view of every informer the operator
 * runs (`request.cache`). Objects come from the caches, copied; several informers of one type
 * (a child type that is also a related type) are read together.
 *
 * @module
 */
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";
import type { CacheReader } from "../handler/related.ts";
import type { Informer } from "./informer.ts";
import { matchesLabelSelector } from "./label_selector.ts";
import { sortObjects } from "./related_index.ts";

/** A {@linkcode CacheReader} over informers. */
export class InformerCacheView implements CacheReader {
  readonly #informers: () => readonly Informer[];

  /**
   * Creates a view; the informers are asked for on every read.
   *
   * @param informers every informer of the operator
   */
  constructor(informers: () => readonly Informer[]) {
    this.#informers = informers;
  }

  #of(type: Pick<ResourceType, "apiVersion" | "kind">): Informer[] {
    const key = typeKey(type);
    return this.#informers().filter((informer) => informer.typeName === key);
  }

  #watched(type: ResourceType): Informer[] {
    const informers = this.#of(type);
    if (informers.length === 0) {
      throw new TypeError(
        `Cannot read ${
          typeKey(type)
        } from the cache: the operator does not watch it (make it the parent, a child or a related type)`,
      );
    }
    return informers;
  }

  /** {@inheritDoc CacheReader.get} */
  get<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    namespace?: string,
  ): T | undefined {
    for (const informer of this.#watched(type as ResourceType)) {
      const object = informer.get(name, type.namespaced ? namespace : undefined);
      if (object !== undefined) return structuredClone(object) as T;
    }
    return undefined;
  }

  /** {@inheritDoc CacheReader.list} */
  list<T extends KubernetesObject>(
    type: ResourceType<T>,
    options: { namespace?: string | undefined; labelSelector?: string | undefined } = {},
  ): T[] {
    const found = new Map<string, KubernetesObject>();
    for (const informer of this.#watched(type as ResourceType)) {
      for (const object of informer.list()) {
        const namespace = object.metadata?.namespace;
        if (options.namespace !== undefined && namespace !== options.namespace) continue;
        if (
          options.labelSelector !== undefined &&
          !matchesLabelSelector(options.labelSelector, object.metadata?.labels)
        ) continue;
        found.set(`${namespace ?? ""}/${object.metadata?.name}`, object);
      }
    }
    return sortObjects([...found.values()]).map((object) => structuredClone(object) as T);
  }

  /** {@inheritDoc CacheReader.watches} */
  watches(type: Pick<ResourceType, "apiVersion" | "kind">): boolean {
    return this.#of(type).length > 0;
  }
}
