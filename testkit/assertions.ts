/**
 * The eventual assertions of the test kit: waits until an object exists
 * ({@linkcode ResourceAssertions.assertResourceExistsEventually}), is gone
 * ({@linkcode ResourceAssertions.assertResourceDeletedEventually}) or matches an expected subset
 * ({@linkcode ResourceAssertions.assertResourceEqEventually}, naming the paths that still differ
 * when it does not), and the {@linkcode ResourceAssertionError} they throw. `TestKit` exposes
 * them as its own methods.
 *
 * @module
 */
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { diffEntries, type DiffEntry, isSubset } from "../runner/diff.ts";
import { poll } from "./poll.ts";

/** Options for waits on one object. */
export interface WaitOptions {
  /** The namespace; default the kit's. Ignored for cluster-scoped types. */
  namespace?: string;
  /** How long to wait, in ms; default the kit's `timeoutMs`. */
  timeoutMs?: number;
}

/** The object a {@linkcode ResourceAssertionError} is about. */
export interface ResourceRef {
  /** The type's apiVersion. */
  readonly apiVersion: string;
  /** The type's kind. */
  readonly kind: string;
  /** The namespace, or `undefined` for a cluster-scoped object. */
  readonly namespace: string | undefined;
  /** The name. */
  readonly name: string;
}

/**
 * A wait on one object ran out: it did not appear, did not go away, or did not come to match.
 * The message has the form `Cannot <what> <apiVersion> <kind> "<namespace>/<name>": <detail>`.
 */
export class ResourceAssertionError extends Error {
  /** The object. */
  readonly resource: ResourceRef;
  /** For a failed match, the paths that still differed (see `diffPaths`); else empty. */
  readonly paths: readonly string[];

  /**
   * Creates the error.
   *
   * @param message the whole message
   * @param resource the object
   * @param paths the paths that still differed
   */
  constructor(message: string, resource: ResourceRef, paths: readonly string[] = []) {
    super(message);
    this.name = "ResourceAssertionError";
    this.resource = resource;
    this.paths = paths;
  }
}

/**
 * How a resource type is named in messages.
 *
 * @param type the resource type
 * @returns `<apiVersion> <kind>`
 */
export function describeType(type: ResourceType): string {
  return `${type.apiVersion} ${type.kind}`;
}

/** Where the assertions of a {@linkcode ResourceAssertions} look, and for how long. */
export interface ResourceAssertionsInit {
  /** The client to read objects with. */
  client: KubeClient;
  /** The namespace used when a call names none. */
  namespace: string;
  /** How long a wait lasts when a call does not say, in ms. */
  timeoutMs: number;
}

/** Reads and eventual assertions on objects, in a default namespace with a default timeout. */
export class ResourceAssertions {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #timeoutMs: number;

  /**
   * Creates the assertions.
   *
   * @param init the client, the default namespace and the default timeout
   */
  constructor(init: ResourceAssertionsInit) {
    this.#client = init.client;
    this.#namespace = init.namespace;
    this.#timeoutMs = init.timeoutMs;
  }

  /**
   * The namespace given, or the default one.
   *
   * @param namespace the namespace a call names, if any
   * @returns the namespace to use
   */
  namespaceOr(namespace: string | undefined): string {
    return namespace ?? this.#namespace;
  }

  /**
   * The reference of an object, for a {@linkcode ResourceAssertionError}.
   *
   * @param type the resource type
   * @param name the name
   * @param namespace the namespace (default the default one; dropped for cluster-scoped types)
   * @returns the reference
   */
  ref(type: ResourceType, name: string, namespace: string | undefined): ResourceRef {
    return {
      apiVersion: type.apiVersion,
      kind: type.kind,
      namespace: type.namespaced ? this.namespaceOr(namespace) : undefined,
      name,
    };
  }

  /**
   * How an object is named in messages.
   *
   * @param type the resource type
   * @param name the name
   * @param namespace the namespace (default the default one; dropped for cluster-scoped types)
   * @returns `<apiVersion> <kind> "<namespace>/<name>"`, or without the namespace
   */
  label(type: ResourceType, name: string, namespace: string | undefined): string {
    return type.namespaced
      ? `${describeType(type)} "${this.namespaceOr(namespace)}/${name}"`
      : `${describeType(type)} "${name}"`;
  }

  /**
   * Reads an object from the API server.
   *
   * @param type the resource type
   * @param name the name
   * @param options the namespace (default the kit's)
   * @returns the object, or `undefined` when it does not exist
   */
  async getResource<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    options: { namespace?: string } = {},
  ): Promise<T | undefined> {
    return await new ResourceClient(this.#client, type, this.namespaceOr(options.namespace)).find(
      name,
    );
  }

  /**
   * Waits until an object exists in the API server.
   *
   * @param type the resource type
   * @param name the name
   * @param options the namespace and how long to wait
   * @returns the object
   * @throws {ResourceAssertionError} when it does not exist when the time is up
   */
  async assertResourceExistsEventually<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    options: WaitOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const found = await poll(timeoutMs, () => this.getResource(type, name, options));
    if (found) return found;
    throw new ResourceAssertionError(
      `Cannot find ${this.label(type, name, options.namespace)}: it does not exist after ` +
        `${timeoutMs} ms`,
      this.ref(type, name, options.namespace),
    );
  }

  /**
   * Waits until an object no longer exists in the API server (an object with a
   * `deletionTimestamp` still exists).
   *
   * @param type the resource type
   * @param name the name
   * @param options the namespace and how long to wait
   * @throws {ResourceAssertionError} when it still exists when the time is up
   */
  async assertResourceDeletedEventually(
    type: ResourceType,
    name: string,
    options: WaitOptions = {},
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let last: KubernetesObject | undefined;
    const gone = await poll(timeoutMs, async () => {
      last = await this.getResource(type, name, options);
      return last === undefined ? true : undefined;
    });
    if (gone) return;
    const deleting = last?.metadata?.deletionTimestamp
      ? ` (being deleted since ${last.metadata.deletionTimestamp}, finalizers: ${
        last.metadata.finalizers?.join(", ") || "none"
      })`
      : "";
    throw new ResourceAssertionError(
      `Cannot assert that ${this.label(type, name, options.namespace)} is deleted: it still ` +
        `exists after ${timeoutMs} ms${deleting}`,
      this.ref(type, name, options.namespace),
    );
  }

  /**
   * Waits until an object in the API server matches `expected`: only the fields present in
   * `expected` are compared, with the rules of `isSubset` (extra fields and list items named
   * alike in any order are fine; `null` asks for an absent field).
   *
   * @param type the resource type
   * @param name the name
   * @param expected the fields to match, for example `{ data: { key: "value" } }`
   * @param options the namespace and how long to wait
   * @returns the matching object
   * @throws {ResourceAssertionError} naming the paths that still differ (or saying the object
   * does not exist) when the time is up
   */
  async assertResourceEqEventually<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    expected: unknown,
    options: WaitOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let last: T | undefined;
    const matched = await poll(timeoutMs, async () => {
      last = await this.getResource(type, name, options);
      return last !== undefined && isSubset(expected, last) ? last : undefined;
    });
    if (matched) return matched;
    const label = this.label(type, name, options.namespace);
    const ref = this.ref(type, name, options.namespace);
    if (last === undefined) {
      throw new ResourceAssertionError(
        `Cannot assert that ${label} matches: it does not exist after ${timeoutMs} ms`,
        ref,
      );
    }
    const entries = diffEntries(expected, last, { limit: 20 });
    throw new ResourceAssertionError(
      `Cannot assert that ${label} matches: after ${timeoutMs} ms these paths still differ:\n` +
        entries.map(describeDifference).join("\n"),
      ref,
      entries.map((entry) => entry.path),
    );
  }

  /**
   * Waits until an object exists again with another uid than `previous`: it was deleted and
   * created anew (a child the operator re-creates, a Pod of the `Recreate` strategy).
   *
   * @param type the resource type
   * @param name the name
   * @param previous the uid it had, or the object as it was
   * @param options the namespace and how long to wait
   * @returns the new object
   * @throws {ResourceAssertionError} when, when the time is up, it still has the old uid or does
   * not exist
   */
  async assertResourceRecreatedEventually<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    previous: string | KubernetesObject,
    options: WaitOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const oldUid = typeof previous === "string" ? previous : previous.metadata?.uid;
    let last: T | undefined;
    const found = await poll(timeoutMs, async () => {
      last = await this.getResource(type, name, options);
      return last?.metadata?.uid !== undefined && last.metadata.uid !== oldUid ? last : undefined;
    });
    if (found) return found;
    throw new ResourceAssertionError(
      `Cannot assert that ${this.label(type, name, options.namespace)} was created anew: after ` +
        `${timeoutMs} ms it ${
          last === undefined
            ? "does not exist"
            : `still has the uid ${oldUid}${
              last.metadata?.deletionTimestamp
                ? ` (being deleted since ${last.metadata.deletionTimestamp})`
                : ""
            }`
        }`,
      this.ref(type, name, options.namespace),
    );
  }
}

function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** One line of a failed match: the path, what was expected there and what is there. */
function describeDifference(entry: DiffEntry): string {
  return `  ${entry.path}: expected ${show(entry.expected)}, actual ${show(entry.actual)}`;
}
