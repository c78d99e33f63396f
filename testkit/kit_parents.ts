/**
 * The parents a test kit creates: {@linkcode KitParents} creates a parent and waits until the
 * operator's cache holds it, deletes one and waits until the operator has finalized it, and on
 * dispose deletes those left and takes the stopped operator's finalizer off what remains.
 *
 * @module
 */
import { ApiError } from "../client/errors.ts";
import type { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import type { OperatorHandle } from "../runner/run_operator.ts";
import { controllerOf } from "../runner/run_operator.ts";
import {
  describeType,
  ResourceAssertionError,
  type ResourceAssertions,
  type WaitOptions,
} from "./assertions.ts";
import type { SyncTracker } from "./sync_tracker.ts";
import { poll } from "./poll.ts";

/** How long {@linkcode KitParents.deleteAll} waits for the operator to finalize, in ms. */
const DELETE_ALL_TIMEOUT_MS = 10_000;

/** A parent created by the kit. */
export interface TrackedParent {
  /** Its name. */
  name: string;
  /** Its namespace, `undefined` for a cluster-scoped parent. */
  namespace: string | undefined;
}

/** What {@linkcode KitParents} works with. */
export interface KitParentsInit {
  /** The operator under test. */
  operator: OperatorHandle;
  /** Its effective configuration. */
  config: OperatorConfig;
  /** A client of the parent type, in the kit's namespace. */
  parents: ResourceClient;
  /** The kit's assertions (for the default namespace and the messages). */
  assertions: ResourceAssertions;
  /** The operator's syncs (for the finalize errors a failed deletion reports). */
  syncs: SyncTracker;
  /** How long a wait lasts when a call does not say, in ms. */
  timeoutMs: number;
}

/** The parents a test kit created, and how to create and delete them. */
export class KitParents {
  readonly #operator: OperatorHandle;
  readonly #config: OperatorConfig;
  readonly #parents: ResourceClient;
  readonly #assertions: ResourceAssertions;
  readonly #syncs: SyncTracker;
  readonly #timeoutMs: number;
  readonly #tracked = new Map<string, TrackedParent>();

  /**
   * Creates the set, empty.
   *
   * @param init the operator, its config, the parent client, assertions, syncs and timeout
   */
  constructor(init: KitParentsInit) {
    this.#operator = init.operator;
    this.#config = init.config;
    this.#parents = init.parents;
    this.#assertions = init.assertions;
    this.#syncs = init.syncs;
    this.#timeoutMs = init.timeoutMs;
  }

  /**
   * The key of a parent in the operator's events: `namespace/name`, or `name` when the parent
   * type is cluster-scoped.
   *
   * @param name the parent's name
   * @param namespace its namespace (default the kit's; ignored for a cluster-scoped parent)
   * @returns the key
   */
  key(name: string, namespace: string | undefined): string {
    return this.#config.parent.namespaced
      ? `${this.#assertions.namespaceOr(namespace)}/${name}`
      : name;
  }

  /**
   * The parents created and not yet deleted, a copy.
   *
   * @returns the parents
   */
  tracked(): TrackedParent[] {
    return [...this.#tracked.values()];
  }

  /**
   * Creates a parent, remembers it, and waits until the operator's cache holds it (see
   * `TestKit.createParent`).
   *
   * @param parent the parent object
   * @param options the namespace and how long to wait
   * @returns the created parent
   * @throws {ResourceAssertionError} when the operator does not see it in time
   */
  async create<P extends KubernetesObject>(parent: P, options: WaitOptions = {}): Promise<P> {
    const type = this.#config.parent;
    const name = parent.metadata?.name;
    if (!name) throw new TypeError(`Cannot create parent ${describeType(type)}: no metadata.name`);
    const namespace = type.namespaced
      ? parent.metadata?.namespace ?? this.#assertions.namespaceOr(options.namespace)
      : undefined;
    const object = {
      ...parent,
      metadata: { ...parent.metadata, ...(namespace ? { namespace } : {}) },
    } as P;
    const created = await this.#parents.create(object) as P;
    this.#tracked.set(this.key(name, namespace), { name, namespace });
    // The operator cannot see a parent outside its namespace, nor one its selector may exclude.
    const outside = this.#config.namespace !== undefined && namespace !== this.#config.namespace;
    if (outside || this.#config.parentLabelSelector !== undefined) return created;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const informer = controllerOf(this.#operator).informers[0]!;
    const uid = created.metadata?.uid;
    const seen = await poll(
      timeoutMs,
      () => informer.get(name, namespace)?.metadata?.uid === uid ? true : undefined,
    );
    if (!seen) {
      const label = this.#assertions.label(type, name, namespace);
      throw new ResourceAssertionError(
        `Cannot create parent ${label}: the operator did not see it within ${timeoutMs} ms`,
        this.#assertions.ref(type, name, namespace),
      );
    }
    return created;
  }

  /**
   * Deletes a parent and waits until it is gone (see `TestKit.deleteParent`).
   *
   * @param name the parent's name
   * @param options the namespace and how long to wait
   * @throws {ResourceAssertionError} when it still exists when the time is up
   */
  async delete(name: string, options: WaitOptions = {}): Promise<void> {
    const type = this.#config.parent;
    const namespace = type.namespaced ? this.#assertions.namespaceOr(options.namespace) : undefined;
    await this.#parents.delete(name, { namespace });
    const key = this.key(name, namespace);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let last: KubernetesObject | undefined;
    const gone = await poll(timeoutMs, async () => {
      last = await this.#parents.find(name, { namespace });
      return last === undefined ? true : undefined;
    });
    if (gone) {
      this.#tracked.delete(key);
      return;
    }
    const finalizers = last?.metadata?.finalizers ?? [];
    const errors = this.#syncs.failureCount("finalize", key);
    const lastError = this.#syncs.lastFailure("finalize", key);
    const label = this.#assertions.label(type, name, namespace);
    const failed = errors ? `; ${errors} failed finalize syncs, last: ${lastError?.message}` : "";
    throw new ResourceAssertionError(
      `Cannot delete parent ${label}: it still exists after ${timeoutMs} ms ` +
        `(finalizers: ${finalizers.join(", ") || "none"}${failed})`,
      this.#assertions.ref(type, name, namespace),
    );
  }

  /**
   * Deletes the given parents (those already gone are fine) and waits, at most 10 s, until the
   * operator has finalized them.
   *
   * @param tracked the parents, from {@linkcode KitParents.tracked}
   */
  async deleteAll(tracked: readonly TrackedParent[]): Promise<void> {
    for (const { name, namespace } of tracked) {
      try {
        await this.#parents.delete(name, { namespace });
      } catch (error) {
        if (!(error instanceof ApiError && error.isNotFound)) throw error;
      }
    }
    await poll(DELETE_ALL_TIMEOUT_MS, async () => {
      for (const { name, namespace } of tracked) {
        if (await this.#parents.find(name, { namespace })) return undefined;
      }
      return true;
    });
  }

  /**
   * Removes the stopped operator's finalizer from the tracked parents still there and, with
   * `wholeNamespace`, from every parent in the kit's namespace, so that nothing blocks their
   * deletion.
   *
   * @param tracked the parents, from {@linkcode KitParents.tracked}
   * @param options whether to release every parent in the namespace (the kit owns it)
   */
  async releaseFinalizers(
    tracked: readonly TrackedParent[],
    options: { wholeNamespace: boolean },
  ): Promise<void> {
    const finalizer = this.#config.finalizer;
    if (!finalizer) return;
    const leftovers: KubernetesObject[] = [];
    for (const { name, namespace } of tracked) {
      const parent = await this.#parents.find(name, { namespace });
      if (parent) leftovers.push(parent);
    }
    if (options.wholeNamespace && this.#config.parent.namespaced) {
      const { items } = await this.#parents.listAll();
      for (const item of items) {
        if (!leftovers.some((l) => l.metadata?.uid === item.metadata?.uid)) leftovers.push(item);
      }
    }
    for (let parent of leftovers) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const finalizers = parent.metadata?.finalizers ?? [];
        if (!finalizers.includes(finalizer)) break;
        const name = parent.metadata!.name!;
        const namespace = parent.metadata?.namespace ?? undefined;
        try {
          await this.#parents.patch(name, {
            metadata: {
              resourceVersion: parent.metadata?.resourceVersion,
              finalizers: finalizers.filter((f) => f !== finalizer),
            },
          }, { namespace });
          break;
        } catch (error) {
          if (error instanceof ApiError && error.isNotFound) break;
          if (!(error instanceof ApiError && error.isConflict)) throw error;
          const fresh = await this.#parents.find(name, { namespace });
          if (!fresh) break;
          parent = fresh;
        }
      }
    }
  }
}
