/**
 * {@linkcode Children}: read-only views over the snapshot of a parent's existing children that a
 * handler receives, with lookups by type, namespace and name.
 *
 * Views never copy: they return the very objects the snapshot was built from, which may be the
 * runner's cached objects. Treat them as read-only; `structuredClone` a child before modifying it
 * (for example to return it as desired).
 *
 * @module
 */
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";

/** The namespace and name of an object; `namespace` is `""` or absent for cluster-scoped ones. */
export interface ObjectRef {
  /** The object's name. */
  readonly name: string;
  /**
   * The object's namespace; `""` for cluster-scoped objects. Leave it out to match any
   * namespace.
   */
  readonly namespace?: string | undefined;
}

function namespaceOf(object: KubernetesObject): string {
  return object.metadata?.namespace ?? "";
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareObjects(a: KubernetesObject, b: KubernetesObject): number {
  return compareStrings(namespaceOf(a), namespaceOf(b)) ||
    compareStrings(a.metadata?.name ?? "", b.metadata?.name ?? "");
}

function toRef(nameOrRef: string | ObjectRef, namespace: string | undefined): ObjectRef {
  if (typeof nameOrRef === "string") {
    return namespace === undefined ? { name: nameOrRef } : { name: nameOrRef, namespace };
  }
  return nameOrRef;
}

/**
 * The existing children of one type, sorted by namespace then name.
 *
 * @example
 * ```ts
 * import { Children } from "./children.ts";
 * import { k8s } from "../config/resource_types.ts";
 * const children = new Children([
 *   { apiVersion: "v1", kind: "Pod", metadata: { namespace: "ns", name: "web" } },
 * ]);
 * const pods = children.ofType(k8s.core.v1.Pod);
 * pods.get("web")?.metadata?.namespace; // "ns"
 * pods.has({ namespace: "other", name: "web" }); // false
 * ```
 */
export class ChildrenOfType<T extends KubernetesObject> implements Iterable<T> {
  /** The apiVersion of the children. */
  readonly apiVersion: string;
  /** The kind of the children. */
  readonly kind: string;
  #objects: readonly T[];
  #byName = new Map<string, T[]>();

  /**
   * Creates a view; {@linkcode Children.prototype.ofType} is the usual way to get one.
   *
   * @param type the apiVersion and kind of the children
   * @param objects the children, all of that type
   */
  constructor(type: { readonly apiVersion: string; readonly kind: string }, objects: readonly T[]) {
    this.apiVersion = type.apiVersion;
    this.kind = type.kind;
    this.#objects = Object.freeze([...objects].sort(compareObjects));
    for (const object of this.#objects) {
      const name = object.metadata?.name ?? "";
      const same = this.#byName.get(name);
      if (same === undefined) this.#byName.set(name, [object]);
      else same.push(object);
    }
  }

  /** How many children of this type exist. */
  get size(): number {
    return this.#objects.length;
  }

  /**
   * The child with this name (and namespace).
   *
   * @example
   * ```ts
   * import { Children } from "./children.ts";
   * import { k8s } from "../config/resource_types.ts";
   * const services = new Children([]).ofType(k8s.core.v1.Service);
   * services.get("web"); // any namespace
   * services.get("web", "prod"); // namespace "prod" only
   * services.get({ namespace: "prod", name: "web" }); // the same
   * ```
   *
   * @param nameOrRef the name, or the namespace and name
   * @param namespace the namespace when `nameOrRef` is a name; `""` for cluster-scoped children;
   * leave it out to match any namespace
   * @returns the child, or `undefined` when there is none
   * @throws {TypeError} when no namespace is given and children with that name exist in several
   * namespaces
   */
  get(nameOrRef: string | ObjectRef, namespace?: string): T | undefined {
    const ref = toRef(nameOrRef, namespace);
    const candidates = this.#byName.get(ref.name);
    if (candidates === undefined) return undefined;
    if (ref.namespace !== undefined) {
      return candidates.find((object) => namespaceOf(object) === ref.namespace);
    }
    if (candidates.length > 1) {
      const namespaces = candidates.map((object) => JSON.stringify(namespaceOf(object)));
      throw new TypeError(
        `Cannot get child ${this.kind} "${ref.name}": it exists in namespaces ${
          namespaces.join(", ")
        }; pass the namespace`,
      );
    }
    return candidates[0];
  }

  /**
   * Whether the child exists.
   *
   * @param nameOrRef the name, or the namespace and name
   * @param namespace the namespace when `nameOrRef` is a name; leave it out to match any
   * namespace
   * @returns `true` when a matching child exists
   */
  has(nameOrRef: string | ObjectRef, namespace?: string): boolean {
    const ref = toRef(nameOrRef, namespace);
    const candidates = this.#byName.get(ref.name);
    if (candidates === undefined) return false;
    return ref.namespace === undefined ||
      candidates.some((object) => namespaceOf(object) === ref.namespace);
  }

  /**
   * The first child in namespace-then-name order, handy when there is at most one.
   *
   * @returns the child, or `undefined` when there is none
   */
  first(): T | undefined {
    return this.#objects[0];
  }

  /**
   * Every child of this type, sorted by namespace then name.
   *
   * @returns a new array
   */
  list(): T[] {
    return [...this.#objects];
  }

  /**
   * Iterates over the children, sorted by namespace then name.
   *
   * @returns an iterator
   */
  [Symbol.iterator](): Iterator<T> {
    return this.#objects[Symbol.iterator]();
  }
}

/**
 * The existing children of a parent, as found in the cache when the sync started (the runner
 * finds them through the tracking label).
 *
 * @example
 * ```ts
 * import { Children } from "./children.ts";
 * import { k8s } from "../config/resource_types.ts";
 * const children = new Children([
 *   { apiVersion: "v1", kind: "Pod", metadata: { namespace: "ns", name: "web" } },
 *   { apiVersion: "v1", kind: "Service", metadata: { namespace: "ns", name: "web" } },
 * ]);
 * children.size; // 2
 * const pod = children.ofType(k8s.core.v1.Pod).get("web"); // Pod | undefined
 * pod?.spec?.containers;
 * children.get(k8s.core.v1.Service, "web", "ns")?.spec?.clusterIP;
 * ```
 */
export class Children implements Iterable<KubernetesObject> {
  #objects: readonly KubernetesObject[];
  #byType = new Map<string, KubernetesObject[]>();
  #views = new Map<string, ChildrenOfType<KubernetesObject>>();

  /**
   * Indexes a snapshot of children.
   *
   * @param objects the children; each needs `apiVersion`, `kind` and `metadata.name`
   * @throws {TypeError} when an object lacks one of them
   */
  constructor(objects: readonly KubernetesObject[] = []) {
    objects.forEach((object, i) => {
      const name = object?.metadata?.name;
      for (const [field, value] of [["apiVersion", object?.apiVersion], ["kind", object?.kind]]) {
        if (typeof value !== "string" || value === "") {
          throw new TypeError(`Cannot index children: objects[${i}] has no ${field}`);
        }
      }
      if (typeof name !== "string" || name === "") {
        throw new TypeError(`Cannot index children: objects[${i}] has no metadata.name`);
      }
      const key = typeKey(object as { apiVersion: string; kind: string });
      const same = this.#byType.get(key);
      if (same === undefined) this.#byType.set(key, [object]);
      else same.push(object);
    });
    this.#objects = Object.freeze([...objects]);
  }

  /** How many children exist, of every type. */
  get size(): number {
    return this.#objects.length;
  }

  /**
   * Every child, of every type, in snapshot order.
   *
   * @returns a new array
   */
  all(): KubernetesObject[] {
    return [...this.#objects];
  }

  /**
   * The children of one type (matched on apiVersion and kind).
   *
   * @param type the child type, for example `k8s.core.v1.Pod`
   * @returns a typed view, empty when there are no such children
   */
  ofType<T extends KubernetesObject>(type: ResourceType<T>): ChildrenOfType<T> {
    const key = typeKey(type);
    let view = this.#views.get(key);
    if (view === undefined) {
      view = new ChildrenOfType(type, this.#byType.get(key) ?? []);
      this.#views.set(key, view);
    }
    return view as unknown as ChildrenOfType<T>;
  }

  /**
   * One child, by type, name and namespace: short for `ofType(type).get(nameOrRef, namespace)`.
   *
   * @param type the child type
   * @param nameOrRef the name, or the namespace and name
   * @param namespace the namespace when `nameOrRef` is a name; leave it out to match any
   * namespace
   * @returns the child, or `undefined` when there is none
   * @throws {TypeError} when no namespace is given and the name exists in several namespaces
   */
  get<T extends KubernetesObject>(
    type: ResourceType<T>,
    nameOrRef: string | ObjectRef,
    namespace?: string,
  ): T | undefined {
    return this.ofType(type).get(nameOrRef, namespace);
  }

  /**
   * Whether a child exists: short for `ofType(type).has(nameOrRef, namespace)`.
   *
   * @param type the child type
   * @param nameOrRef the name, or the namespace and name
   * @param namespace the namespace when `nameOrRef` is a name; leave it out to match any
   * namespace
   * @returns `true` when a matching child exists
   */
  has(type: ResourceType, nameOrRef: string | ObjectRef, namespace?: string): boolean {
    return this.ofType(type).has(nameOrRef, namespace);
  }

  /**
   * Iterates over every child, in snapshot order.
   *
   * @returns an iterator
   */
  [Symbol.iterator](): Iterator<KubernetesObject> {
    return this.#objects[Symbol.iterator]();
  }
}
