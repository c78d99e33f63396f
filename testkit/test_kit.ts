/**
 * {@linkcode TestKit}: runs an operator against a real cluster inside a test, in a namespace of
 * its own, with helpers to create and delete parents, wait for children to appear, match or go,
 * wait for the operator to settle ({@linkcode TestKit.reconcile}) and check that no sync failed
 * ({@linkcode TestKit.reconcileAndAssertSuccess}). It is the TypeScript counterpart of
 * roperator's `TestKit`.
 *
 * Every wait is a polling loop with a generous timeout: these are waits on a cluster, not
 * performance assertions.
 *
 * @module
 */
import type { KubeClient } from "../client/kube_client.ts";
import { type DeleteOptions, ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import type { OperatorConfig, OperatorConfigInit } from "../config/operator_config.ts";
import type { Handler, SyncRequest } from "../handler/handler.ts";
import type { OperatorHandle } from "../runner/run_operator.ts";
import { controllerOf } from "../runner/run_operator.ts";
import {
  describeType,
  ResourceAssertionError,
  ResourceAssertions,
  type WaitOptions,
} from "./assertions.ts";
import type { ControlPlane } from "./control_plane.ts";
import {
  type KitParts,
  startKitOperator,
  tearDownKit,
  type TestKitOptions,
  waitUntilReady,
} from "./kit_lifecycle.ts";
import { KitParents } from "./kit_parents.ts";
import { SyncTracker } from "./sync_tracker.ts";
import { SyncCounter } from "./sync_counter.ts";

/**
 * An operator running against a real cluster for a test, confined to a namespace of its own,
 * with helpers to drive it and to assert on what it does.
 *
 * `TestKit.create` starts the operator (HTTP server off) and waits until its caches have synced.
 * Dispose it (`await using`, or `dispose()`) at the end of the test: that deletes the parents
 * created with {@linkcode TestKit.createParent} (letting the operator finalize them), stops the
 * operator, deletes the kit's namespace, closes the connections and stops the control plane if
 * the kit started one, so that Deno's leak sanitizers stay quiet.
 *
 * Sync failures are counted by parent from the start of the kit: {@linkcode TestKit.syncErrorCount}
 * and {@linkcode TestKit.finalizeErrorCount} count failed syncs of a parent while it lives and
 * while it is being deleted. A failed sync is one where the handler threw (or timed out), or the
 * runtime could not write what the handler returned (an invalid child, a rejected write).
 *
 * @example A complete test
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { k8s, type KubernetesObject, resourceType } from "@roperator/core";
 * import { TestKit } from "@roperator/core/testkit";
 *
 * const Greeting = resourceType({
 *   apiVersion: "example.com/v1",
 *   kind: "Greeting",
 *   plural: "greetings",
 *   namespaced: true,
 * });
 * const GREETING_CRD: KubernetesObject = {
 *   apiVersion: "apiextensions.k8s.io/v1",
 *   kind: "CustomResourceDefinition",
 *   metadata: { name: "greetings.example.com" },
 *   spec: {
 *     group: "example.com",
 *     scope: "Namespaced",
 *     names: { plural: "greetings", singular: "greeting", kind: "Greeting" },
 *     versions: [{
 *       name: "v1",
 *       served: true,
 *       storage: true,
 *       subresources: { status: {} },
 *       schema: {
 *         openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
 *       },
 *     }],
 *   },
 * };
 *
 * Deno.test("a Greeting gets a ConfigMap, removed with it", async () => {
 *   await using kit = await TestKit.create(
 *     {
 *       name: "greeter",
 *       parent: Greeting,
 *       children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
 *     },
 *     ({ parent }) => ({
 *       status: { ready: true },
 *       children: [{
 *         apiVersion: "v1",
 *         kind: "ConfigMap",
 *         metadata: { name: `${parent.metadata!.name}-text` },
 *         data: { text: `hello, ${(parent.spec as { who: string }).who}` },
 *       }],
 *     }),
 *     { crds: [GREETING_CRD] },
 *   );
 *   await kit.createParent({
 *     apiVersion: "example.com/v1",
 *     kind: "Greeting",
 *     metadata: { name: "hi" },
 *     spec: { who: "world" },
 *   });
 *   await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "hi-text", {
 *     data: { text: "hello, world" },
 *   });
 *   await kit.reconcileAndAssertSuccess();
 *   assert.equal(kit.getParentState("hi").children.size, 1);
 *
 *   await kit.deleteParent("hi");
 *   await kit.assertResourceDeletedEventually(k8s.core.v1.ConfigMap, "hi-text");
 *   assert.equal(kit.finalizeErrorCount("hi"), 0);
 * });
 * ```
 */
export class TestKit implements AsyncDisposable {
  /** The namespace the kit works in: the operator is confined to it (for a namespaced parent). */
  readonly namespace: string;
  /** A client of the cluster, with the kit's credentials; closed on dispose. */
  readonly client: KubeClient;
  /** The running operator. */
  readonly operator: OperatorHandle;
  /** The operator's effective configuration (confined to the namespace, no HTTP server). */
  readonly config: OperatorConfig;
  /** The control plane the kit runs against, when it was given or started one. */
  readonly controlPlane: ControlPlane | undefined;

  readonly #parts: KitParts;
  readonly #assertions: ResourceAssertions;
  readonly #syncs: SyncTracker;
  readonly #parents: KitParents;
  readonly #unsubscribe: () => void;
  #disposing: Promise<void> | undefined;

  private constructor(parts: KitParts) {
    this.namespace = parts.namespace;
    this.client = parts.client;
    this.operator = parts.operator;
    this.config = parts.config;
    this.controlPlane = parts.controlPlane;
    this.#parts = parts;
    this.#assertions = new ResourceAssertions({
      client: parts.client,
      namespace: parts.namespace,
      timeoutMs: parts.timeoutMs,
    });
    this.#syncs = new SyncTracker({
      queue: controllerOf(parts.operator).queue,
      quietMs: parts.quietMs,
    });
    this.#parents = new KitParents({
      operator: parts.operator,
      config: parts.config,
      parents: new ResourceClient(parts.client, parts.config.parent, parts.namespace),
      assertions: this.#assertions,
      syncs: this.#syncs,
      timeoutMs: parts.timeoutMs,
    });
    this.#unsubscribe = parts.operator.onSync((event) => this.#syncs.observe(event));
  }

  /**
   * Starts an operator for a test and waits until its caches have synced.
   *
   * The operator is confined to the kit's namespace (replacing any `namespace` in the config)
   * unless the parent type is cluster-scoped, in which case it is not confined; its HTTP server
   * is turned off.
   *
   * @param config the operator config, as written (`OperatorConfigInit`) or resolved
   * @param handler the handler under test
   * @param options the cluster, the namespace, CRDs to install and timeouts
   * @returns the kit, with the operator ready
   * @throws {OperatorFatalError} when the cluster does not serve a configured type
   * @throws {OperatorConfigError} when the config is invalid
   */
  static async create<P extends KubernetesObject = KubernetesObject>(
    config: OperatorConfigInit<P> | OperatorConfig<P>,
    handler: Handler<P>,
    options: TestKitOptions = {},
  ): Promise<TestKit> {
    const { parts, cleanup } = await startKitOperator(config, handler, options);
    try {
      const kit = new TestKit(parts);
      await waitUntilReady(parts.operator, { name: parts.config.name, timeoutMs: parts.timeoutMs });
      return kit;
    } catch (error) {
      await cleanup();
      throw error;
    }
  }

  #checkOpen(what: string): void {
    if (this.#disposing) throw new Error(`Cannot ${what}: the test kit is disposed`);
  }

  /**
   * A client for one resource type, bound to the kit's namespace.
   *
   * @param type the resource type, for example `k8s.core.v1.ConfigMap`
   * @returns the client
   */
  resources<T extends KubernetesObject>(type: ResourceType<T>): ResourceClient<T> {
    return new ResourceClient(this.client, type, this.namespace);
  }

  /**
   * Creates a parent (in the kit's namespace unless it names another), remembers it for
   * deletion on dispose, and waits until the operator's cache holds it, so that a following
   * {@linkcode TestKit.reconcile} cannot miss it. The kit does not wait when the config has a
   * `parentLabelSelector` (the parent may not match) or the parent is in another namespace than
   * the operator's.
   *
   * @param parent the parent object; `apiVersion` and `kind` default to the parent type's
   * @param options the namespace and how long to wait for the operator to see it
   * @returns the created parent
   * @throws {ApiError} when the API server rejects it
   * @throws {ResourceAssertionError} when the operator does not see it in time
   */
  async createParent<P extends KubernetesObject>(
    parent: P,
    options: WaitOptions = {},
  ): Promise<P> {
    this.#checkOpen("create parent");
    return await this.#parents.create(parent, options);
  }

  /**
   * Deletes a parent and waits until it is gone, that is until the operator has finalized it.
   * A parent that does not exist is an error.
   *
   * @param name the parent's name
   * @param options the namespace and how long to wait
   * @throws {ApiError} when the API server rejects the deletion (404 when there is no parent)
   * @throws {ResourceAssertionError} when it still exists when the time is up
   */
  async deleteParent(name: string, options: WaitOptions = {}): Promise<void> {
    this.#checkOpen("delete parent");
    await this.#parents.delete(name, options);
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
    return await this.#assertions.getResource(type, name, options);
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
    return await this.#explained(() =>
      this.#assertions.assertResourceExistsEventually(type, name, options)
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
   * @throws {ResourceAssertionError} when it still has the old uid or does not exist when the
   * time is up (with the operator's last failed sync, if any)
   */
  async assertResourceRecreatedEventually<T extends KubernetesObject>(
    type: ResourceType<T>,
    name: string,
    previous: string | KubernetesObject,
    options: WaitOptions = {},
  ): Promise<T> {
    return await this.#explained(() =>
      this.#assertions.assertResourceRecreatedEventually(type, name, previous, options)
    );
  }

  /** Runs a wait; when it times out, its error also says the operator's last failed sync. */
  async #explained<T>(wait: () => Promise<T>): Promise<T> {
    try {
      return await wait();
    } catch (error) {
      const failure = this.#syncs.latestFailure();
      if (!(error instanceof ResourceAssertionError) || failure === undefined) throw error;
      throw new ResourceAssertionError(
        `${error.message}\nThe operator's last failed ${failure.phase} was of "${failure.parent}": ` +
          failure.message,
        error.resource,
        error.paths,
      );
    }
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
    await this.#explained(() =>
      this.#assertions.assertResourceDeletedEventually(type, name, options)
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
    return await this.#explained(() =>
      this.#assertions.assertResourceEqEventually(type, name, expected, options)
    );
  }

  /**
   * Waits until the operator is idle: nothing queued, nothing running, and no sync started for
   * the quiet period (`quietPeriodMs`, default 200 ms). Scheduled resyncs and retries do not
   * count as work, but a sync they start does.
   *
   * @param timeoutMs how long to wait, in ms (default the kit's `timeoutMs`)
   * @throws {ReconcileTimeoutError} naming the parents still busy when the time is up
   */
  async reconcile(timeoutMs: number = this.#parts.timeoutMs): Promise<void> {
    this.#checkOpen("reconcile");
    await this.#syncs.reconcile(timeoutMs);
  }

  /**
   * {@linkcode TestKit.reconcile}, then checks that no sync failed since the kit was created or
   * since the last call of this method.
   *
   * @param timeoutMs how long to wait for the operator to become idle, in ms
   * @throws {ReconcileTimeoutError} when the operator does not become idle in time
   * @throws {ReconcileFailedError} naming each parent whose syncs failed, with counts and the
   * last error
   */
  async reconcileAndAssertSuccess(timeoutMs: number = this.#parts.timeoutMs): Promise<void> {
    await this.reconcile(timeoutMs);
    this.#syncs.assertNoNewFailures();
  }

  /**
   * How many syncs of a parent failed since the kit was created, while the parent was not being
   * deleted: the sync handler threw or timed out, or what it returned could not be written.
   *
   * @param parentName the parent's name
   * @param namespace its namespace (default the kit's; ignored for a cluster-scoped parent)
   * @returns the count
   */
  syncErrorCount(parentName: string, namespace?: string): number {
    return this.#syncs.failureCount("sync", this.#parents.key(parentName, namespace));
  }

  /**
   * How many syncs of a parent failed since the kit was created, while the parent was being
   * deleted: the finalize handler threw or timed out, or its status or the finalizer's removal
   * could not be written.
   *
   * @param parentName the parent's name
   * @param namespace its namespace (default the kit's; ignored for a cluster-scoped parent)
   * @returns the count
   */
  finalizeErrorCount(parentName: string, namespace?: string): number {
    return this.#syncs.failureCount("finalize", this.#parents.key(parentName, namespace));
  }

  /**
   * Creates an object, in the kit's namespace unless it names another. Unlike
   * {@linkcode TestKit.createParent}, it neither waits nor deletes it on dispose.
   *
   * @param type the resource type
   * @param object the object; `apiVersion` and `kind` are set from the type
   * @returns the created object
   */
  async createResource<T extends KubernetesObject>(type: ResourceType<T>, object: T): Promise<T> {
    return await this.resources(type).create(object);
  }

  /**
   * Replaces an object (PUT), in the kit's namespace unless it names another. Without
   * `metadata.resourceVersion`, the current one is read first, so the replace is unconditional.
   *
   * @param type the resource type
   * @param object the whole object
   * @returns the stored object
   */
  async replaceResource<T extends KubernetesObject>(type: ResourceType<T>, object: T): Promise<T> {
    const client = this.resources(type);
    if (object.metadata?.resourceVersion) return await client.replace(object);
    const name = object.metadata?.name;
    if (!name) throw new TypeError(`Cannot replace ${describeType(type)}: no metadata.name`);
    const namespace = object.metadata?.namespace ?? undefined;
    const current = await client.get(name, { namespace });
    return await client.replace({
      ...object,
      metadata: { ...object.metadata, resourceVersion: current.metadata?.resourceVersion },
    });
  }

  /**
   * Deletes an object, without waiting for it to go (see
   * {@linkcode TestKit.assertResourceDeletedEventually}).
   *
   * @param type the resource type
   * @param name the name
   * @param options the namespace (default the kit's), preconditions and propagation policy
   * @throws {ApiError} when the API server rejects it (404 when it does not exist)
   */
  async deleteResource(
    type: ResourceType,
    name: string,
    options: DeleteOptions & { namespace?: string } = {},
  ): Promise<void> {
    const { namespace, ...rest } = options;
    await this.resources(type).delete(name, {
      ...rest,
      namespace: this.#assertions.namespaceOr(namespace),
    });
  }

  /**
   * What the handler would be given for a parent now: the parent and its children, from the
   * operator's caches (copies). Feed it to the handler to test it against real state.
   *
   * @param name the parent's name
   * @param options its namespace (default the kit's; ignored for a cluster-scoped parent)
   * @returns the parent and its children
   * @throws {ResourceAssertionError} when the operator's cache has no such parent
   */
  getParentState(name: string, options: { namespace?: string } = {}): SyncRequest {
    const type = this.config.parent;
    const namespace = type.namespaced ? this.#assertions.namespaceOr(options.namespace) : undefined;
    const request = controllerOf(this.operator).requestFor(
      namespace === undefined ? name : `${namespace}/${name}`,
    );
    if (!request) {
      const label = this.#assertions.label(type, name, namespace);
      throw new ResourceAssertionError(
        `Cannot get the state of parent ${label}: it is not in the operator's cache`,
        this.#assertions.ref(type, name, namespace),
      );
    }
    return request;
  }

  /**
   * Counts the syncs each parent starts from now until the counter is stopped, for example to
   * check that a change to a related object synced exactly the parents that refer to it.
   *
   * @example
   * ```ts ignore
   * using syncs = kit.countSyncs();
   * await kit.replaceResource(k8s.core.v1.Secret, changed);
   * await syncs.waitUntil((s) => s.parents().length >= 2);
   * await kit.reconcile();
   * syncs.parents(); // exactly the parents that refer to the Secret
   * ```
   *
   * @returns the counter (stop it with `stop()` or `using`)
   */
  countSyncs(): SyncCounter {
    this.#checkOpen("count syncs");
    return new SyncCounter({
      onSync: (listener) => this.operator.onSync(listener),
      namespace: this.config.parent.namespaced ? this.namespace : undefined,
      timeoutMs: this.#parts.timeoutMs,
    });
  }

  /**
   * Cleans up: deletes the parents created with {@linkcode TestKit.createParent} while the
   * operator still runs, so that it finalizes them (waiting at most 10 s); stops the operator;
   * removes the operator's finalizer from parents left behind (so that they and the namespace
   * can go); deletes the namespace if the kit created it (without waiting for it to go); closes
   * the client; and stops the control plane if the kit started it. Safe to call twice; every
   * step runs even when one fails, and the first failure is thrown at the end.
   *
   * @returns a promise that settles when everything is cleaned up
   */
  dispose(): Promise<void> {
    return this.#disposing ??= this.#dispose();
  }

  /**
   * Same as {@linkcode TestKit.dispose}, for `await using`.
   *
   * @returns a promise that settles when everything is cleaned up
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  async #dispose(): Promise<void> {
    await tearDownKit(this.#parts, { parents: this.#parents, unsubscribe: this.#unsubscribe });
  }
}
