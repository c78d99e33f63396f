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
import type { ClientConfig } from "../client/client_config.ts";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { type DeleteOptions, ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import {
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
} from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { type Handler, type SyncRequest, syncRequest } from "../handler/handler.ts";
import type { SyncEvent } from "../runner/controller.ts";
import { diffPaths, isSubset } from "../runner/diff.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";
import { type ControlPlane, testControlPlane } from "./control_plane.ts";
import { installCustomResourceDefinitions } from "./crds.ts";
import { messageOf, sleep } from "../client/_util.ts";

/** The label set on the namespaces a {@linkcode TestKit} creates; its value is `"true"`. */
export const TEST_NAMESPACE_LABEL = "roperator.dev/test-namespace";

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_QUIET_MS = 200;
const DISPOSE_PARENTS_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

/** Options for {@linkcode TestKit.create}. */
export interface TestKitOptions {
  /**
   * The control plane to run against; it is not stopped on dispose. Without it (and without
   * `clientConfig`), the kit calls `testControlPlane()`: it attaches to the control plane shared
   * by the test run when there is one, else starts a new one, and stops it on dispose.
   */
  controlPlane?: ControlPlane;
  /**
   * Run against any cluster, for example one loaded from a kubeconfig with `loadClientConfig()`;
   * then no control plane is started. Give `controlPlane` or `clientConfig`, not both.
   */
  clientConfig?: ClientConfig;
  /**
   * The namespace to work in. It must exist and is left alone on dispose. Default: a fresh
   * namespace `<namespacePrefix>-<random>`, labelled {@linkcode TEST_NAMESPACE_LABEL}`=true`,
   * created for the kit and deleted on dispose.
   */
  namespace?: string;
  /** The prefix of the fresh namespace. Default: the operator name. */
  namespacePrefix?: string;
  /**
   * CustomResourceDefinitions (or other cluster-scoped objects) to create before the operator
   * starts, each skipped when an object of that name exists; CRDs are waited on until they are
   * established. They are left in the cluster on dispose.
   */
  crds?: readonly KubernetesObject[];
  /**
   * The default timeout of the waits (`*Eventually`, `createParent`, `deleteParent`,
   * `reconcile`, readiness), in ms. Default 30 000.
   */
  timeoutMs?: number;
  /**
   * How long the operator must stay idle (nothing queued, nothing running, no sync started) for
   * {@linkcode TestKit.reconcile} to return, in ms. Default 200.
   */
  quietPeriodMs?: number;
}

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

/** A parent that kept the operator busy, as reported by {@linkcode ReconcileTimeoutError}. */
export interface BusyParent {
  /** The parent key, `namespace/name` or `name`. */
  readonly parent: string;
  /** Whether a sync of it was running when the wait ran out. */
  readonly running: boolean;
  /** How many syncs of it started during the wait. */
  readonly syncsStarted: number;
  /** How many of those failed. */
  readonly syncsFailed: number;
}

/** {@linkcode TestKit.reconcile} ran out of time before the operator became idle. */
export class ReconcileTimeoutError extends Error {
  /** How long it waited, in ms. */
  readonly timeoutMs: number;
  /**
   * The parents running, or that started a sync shortly before the deadline (within twice the
   * quiet period, or up to a second for long waits).
   */
  readonly busy: readonly BusyParent[];
  /** How many parents were waiting in the queue. */
  readonly queued: number;

  /**
   * Creates the error.
   *
   * @param timeoutMs how long the wait was
   * @param busy the parents still busy
   * @param queued the parents waiting in the queue
   */
  constructor(timeoutMs: number, busy: readonly BusyParent[], queued: number) {
    const parents = busy.map((p) =>
      `"${p.parent}" (${p.running ? "running, " : ""}${p.syncsStarted} syncs during the wait` +
      `${p.syncsFailed ? `, ${p.syncsFailed} failed` : ""})`
    );
    const detail = [
      parents.length ? `parents still busy: ${parents.join(", ")}` : "",
      queued ? `${queued} parent${queued === 1 ? "" : "s"} queued` : "",
    ].filter(Boolean).join("; ");
    super(
      `Cannot reconcile: the operator was still busy after ${timeoutMs} ms` +
        (detail ? `; ${detail}` : ""),
    );
    this.name = "ReconcileTimeoutError";
    this.timeoutMs = timeoutMs;
    this.busy = busy;
    this.queued = queued;
  }
}

/** The failed syncs of one parent, as reported by {@linkcode ReconcileFailedError}. */
export interface ParentFailures {
  /** The parent key, `namespace/name` or `name`. */
  readonly parent: string;
  /** Failed syncs while the parent was not being deleted. */
  readonly syncErrors: number;
  /** Failed syncs while it was being deleted (finalize). */
  readonly finalizeErrors: number;
  /** The message of the last failure. */
  readonly lastError: string;
}

/** {@linkcode TestKit.reconcileAndAssertSuccess} found failed syncs. */
export class ReconcileFailedError extends Error {
  /** The parents whose syncs failed, with counts. */
  readonly failures: readonly ParentFailures[];

  /**
   * Creates the error.
   *
   * @param failures the parents whose syncs failed
   */
  constructor(failures: readonly ParentFailures[]) {
    const parts = failures.map((f) => {
      const counts = [
        f.syncErrors ? `${f.syncErrors} sync error${f.syncErrors === 1 ? "" : "s"}` : "",
        f.finalizeErrors
          ? `${f.finalizeErrors} finalize error${f.finalizeErrors === 1 ? "" : "s"}`
          : "",
      ].filter(Boolean).join(", ");
      return `"${f.parent}" (${counts}; last: ${f.lastError})`;
    });
    super(
      `Cannot assert that every sync succeeded: ${failures.length} parent${
        failures.length === 1 ? "" : "s"
      } failed: ${parts.join("; ")}`,
    );
    this.name = "ReconcileFailedError";
    this.failures = failures;
  }
}

interface Failure {
  parent: string;
  phase: "sync" | "finalize";
  message: string;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
}

function namespaceName(prefix: string): string {
  let clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 55)
    .replace(/^-+|-+$/g, "");
  if (clean === "") clean = "kit";
  return `${clean}-${randomSuffix()}`;
}

/**
 * Calls `probe` until it returns something other than `undefined`, or until the time is up
 * (it is called at least once).
 */
async function poll<T>(
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(POLL_MS, left));
  }
}

function isResolvedConfig(config: OperatorConfigInit | OperatorConfig): config is OperatorConfig {
  return Object.isFrozen(config) && "trackingLabel" in config && "relistPeriodMs" in config &&
    "finalizer" in config && "server" in config && Array.isArray(config.children);
}

/** The init form of a config, so that it can be resolved again with the kit's overrides. */
function toInit(config: OperatorConfigInit | OperatorConfig): OperatorConfigInit {
  if (!isResolvedConfig(config)) return { ...config };
  const init: OperatorConfigInit = {
    name: config.name,
    parent: config.parent,
    children: config.children,
    trackingLabel: config.trackingLabel,
    ownershipLabel: config.ownershipLabel,
    finalizer: config.finalizer ?? false,
    maxErrorBackoffMs: config.maxErrorBackoffMs,
    resyncPeriodMs: config.resyncPeriodMs,
    concurrency: config.concurrency,
    syncTimeoutMs: config.syncTimeoutMs,
    watchIdleTimeoutMs: config.watchIdleTimeoutMs,
    relistPeriodMs: config.relistPeriodMs,
  };
  if (config.parentLabelSelector !== undefined) {
    init.parentLabelSelector = config.parentLabelSelector;
  }
  return init;
}

function describeType(type: ResourceType): string {
  return `${type.apiVersion} ${type.kind}`;
}

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

  readonly #timeoutMs: number;
  readonly #quietMs: number;
  readonly #ownsNamespace: boolean;
  readonly #ownsControlPlane: boolean;
  readonly #parents: ResourceClient;
  readonly #tracked = new Map<string, { name: string; namespace: string | undefined }>();
  readonly #unsubscribe: () => void;

  readonly #running = new Set<string>();
  readonly #started = new Map<string, number>();
  readonly #lastStart = new Map<string, number>();
  readonly #failureCounts = new Map<string, number>();
  readonly #failures: Failure[] = [];
  #checkedFailures = 0;
  #lastActivity = performance.now();
  #disposing: Promise<void> | undefined;

  private constructor(init: {
    namespace: string;
    client: KubeClient;
    operator: OperatorHandle;
    config: OperatorConfig;
    controlPlane: ControlPlane | undefined;
    ownsNamespace: boolean;
    ownsControlPlane: boolean;
    timeoutMs: number;
    quietMs: number;
  }) {
    this.namespace = init.namespace;
    this.client = init.client;
    this.operator = init.operator;
    this.config = init.config;
    this.controlPlane = init.controlPlane;
    this.#ownsNamespace = init.ownsNamespace;
    this.#ownsControlPlane = init.ownsControlPlane;
    this.#timeoutMs = init.timeoutMs;
    this.#quietMs = init.quietMs;
    this.#parents = new ResourceClient(init.client, init.config.parent, init.namespace);
    this.#unsubscribe = init.operator.controller.onSync((event) => this.#observe(event));
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
    config: OperatorConfigInit | OperatorConfig,
    handler: Handler<P>,
    options: TestKitOptions = {},
  ): Promise<TestKit> {
    if (options.controlPlane && options.clientConfig) {
      throw new TypeError(
        "Cannot create test kit: give options.controlPlane or options.clientConfig, not both",
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const quietMs = options.quietPeriodMs ?? DEFAULT_QUIET_MS;
    const init = toInit(config);
    // Validate before anything is started.
    operatorConfig(init);

    const cleanups: Array<() => Promise<void> | void> = [];
    const cleanup = async () => {
      for (const step of cleanups.reverse()) {
        try {
          await step();
        } catch { /* best effort */ }
      }
    };
    try {
      let controlPlane = options.controlPlane;
      let ownsControlPlane = false;
      if (!options.clientConfig && !controlPlane) {
        controlPlane = await testControlPlane();
        ownsControlPlane = true;
        const started = controlPlane;
        cleanups.push(() => started.stop());
      }
      const clientConfig: ClientConfig = options.clientConfig ?? {
        server: controlPlane!.server,
        caCertificates: [controlPlane!.caCertificate],
        credentials: { kind: "token", token: controlPlane!.adminToken },
      };
      const client = new KubeClient({
        userAgent: `${init.name} (roperator testkit)`,
        ...clientConfig,
      });
      cleanups.push(() => client.close());

      if (options.crds?.length) {
        await installCustomResourceDefinitions(client, options.crds, { timeoutMs });
      }

      let namespace = options.namespace;
      const ownsNamespace = namespace === undefined;
      if (namespace === undefined) {
        const name = namespaceName(options.namespacePrefix ?? init.name);
        await new ResourceClient(client, k8s.core.v1.Namespace).create({
          metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: "true" } },
        });
        namespace = name;
        cleanups.push(async () => {
          await new ResourceClient(client, k8s.core.v1.Namespace).delete(name).catch(() => {});
        });
      }

      const { namespace: _ignored, ...rest } = init;
      const resolved = operatorConfig({
        ...rest,
        ...(init.parent.namespaced ? { namespace } : {}),
        server: false,
      });
      const operator = await startOperator(resolved, handler, { clientConfig });
      cleanups.push(() => operator.stop());
      const kit = new TestKit({
        namespace,
        client,
        operator,
        config: resolved,
        controlPlane,
        ownsNamespace,
        ownsControlPlane,
        timeoutMs,
        quietMs,
      });

      let ready = false;
      let failure: { error: unknown } | undefined;
      operator.ready.then(() => {
        ready = true;
      }, (error) => {
        failure = { error };
      });
      await poll(timeoutMs, () => (ready || failure) ? true : undefined);
      if (failure) throw failure.error;
      if (!ready) {
        const unsynced = operator.controller.informers.filter((i) => !i.synced)
          .map((i) => i.typeName);
        throw new Error(
          `Cannot create test kit: operator "${resolved.name}" not ready after ${timeoutMs} ms ` +
            `(caches not synced: ${unsynced.join(", ") || "none"})`,
        );
      }
      return kit;
    } catch (error) {
      await cleanup();
      throw error;
    }
  }

  #observe(event: SyncEvent): void {
    const now = performance.now();
    this.#lastActivity = now;
    if (event.state === "started") {
      this.#running.add(event.parent);
      this.#started.set(event.parent, (this.#started.get(event.parent) ?? 0) + 1);
      this.#lastStart.set(event.parent, now);
      return;
    }
    this.#running.delete(event.parent);
    if (event.state === "failed") {
      const countKey = `${event.phase}:${event.parent}`;
      this.#failureCounts.set(countKey, (this.#failureCounts.get(countKey) ?? 0) + 1);
      this.#failures.push({
        parent: event.parent,
        phase: event.phase,
        message: messageOf(event.error),
      });
    }
  }

  #ns(namespace: string | undefined): string {
    return namespace ?? this.namespace;
  }

  #ref(type: ResourceType, name: string, namespace: string | undefined): ResourceRef {
    return {
      apiVersion: type.apiVersion,
      kind: type.kind,
      namespace: type.namespaced ? this.#ns(namespace) : undefined,
      name,
    };
  }

  #label(type: ResourceType, name: string, namespace: string | undefined): string {
    return type.namespaced
      ? `${describeType(type)} "${this.#ns(namespace)}/${name}"`
      : `${describeType(type)} "${name}"`;
  }

  #parentKey(name: string, namespace: string | undefined): string {
    return this.config.parent.namespaced ? `${this.#ns(namespace)}/${name}` : name;
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
    const type = this.config.parent;
    const name = parent.metadata?.name;
    if (!name) throw new TypeError(`Cannot create parent ${describeType(type)}: no metadata.name`);
    const namespace = type.namespaced
      ? parent.metadata?.namespace ?? options.namespace ?? this.namespace
      : undefined;
    const object = {
      ...parent,
      metadata: { ...parent.metadata, ...(namespace ? { namespace } : {}) },
    } as P;
    const created = await this.#parents.create(object) as P;
    this.#tracked.set(this.#parentKey(name, namespace), { name, namespace });
    // The operator cannot see a parent outside its namespace, nor one its selector may exclude.
    const outside = this.config.namespace !== undefined && namespace !== this.config.namespace;
    if (outside || this.config.parentLabelSelector !== undefined) return created;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const informer = this.operator.controller.informers[0]!;
    const uid = created.metadata?.uid;
    const seen = await poll(
      timeoutMs,
      () => informer.get(name, namespace)?.metadata?.uid === uid ? true : undefined,
    );
    if (!seen) {
      throw new ResourceAssertionError(
        `Cannot create parent ${this.#label(type, name, namespace)}: the operator did not see it ` +
          `within ${timeoutMs} ms`,
        this.#ref(type, name, namespace),
      );
    }
    return created;
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
    const type = this.config.parent;
    const namespace = type.namespaced ? this.#ns(options.namespace) : undefined;
    await this.#parents.delete(name, { namespace });
    const key = this.#parentKey(name, namespace);
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
    const errors = this.finalizeErrorCount(name, namespace);
    const lastError = this.#failures.findLast((f) => f.parent === key && f.phase === "finalize");
    throw new ResourceAssertionError(
      `Cannot delete parent ${this.#label(type, name, namespace)}: it still exists after ` +
        `${timeoutMs} ms (finalizers: ${finalizers.join(", ") || "none"}` +
        (errors ? `; ${errors} failed finalize syncs, last: ${lastError?.message}` : "") + ")",
      this.#ref(type, name, namespace),
    );
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
    return await new ResourceClient(this.client, type, this.#ns(options.namespace)).find(name);
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
      `Cannot find ${this.#label(type, name, options.namespace)}: it does not exist after ` +
        `${timeoutMs} ms`,
      this.#ref(type, name, options.namespace),
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
      `Cannot assert that ${this.#label(type, name, options.namespace)} is deleted: it still ` +
        `exists after ${timeoutMs} ms${deleting}`,
      this.#ref(type, name, options.namespace),
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
    const label = this.#label(type, name, options.namespace);
    const ref = this.#ref(type, name, options.namespace);
    if (last === undefined) {
      throw new ResourceAssertionError(
        `Cannot assert that ${label} matches: it does not exist after ${timeoutMs} ms`,
        ref,
      );
    }
    const paths = diffPaths(expected, last, { limit: 20 });
    throw new ResourceAssertionError(
      `Cannot assert that ${label} matches: after ${timeoutMs} ms these paths still differ: ` +
        paths.join(", "),
      ref,
      paths,
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
  async reconcile(timeoutMs: number = this.#timeoutMs): Promise<void> {
    this.#checkOpen("reconcile");
    const queue = this.operator.controller.queue;
    const begin = performance.now();
    const deadline = begin + timeoutMs;
    const startedBefore = new Map(this.#started);
    const failuresBefore = this.#failures.length;
    let lastBusy = begin;
    while (true) {
      const now = performance.now();
      if (queue.depth > 0 || queue.running > 0 || this.#running.size > 0) lastBusy = now;
      lastBusy = Math.max(lastBusy, this.#lastActivity);
      if (now - lastBusy >= this.#quietMs) return;
      if (now >= deadline) break;
      await sleep(Math.min(20, Math.max(1, deadline - now)));
    }
    // The parents that kept it from a quiet period: those running, or that started a sync
    // shortly before the deadline.
    const recent = performance.now() - Math.max(2 * this.#quietMs, Math.min(1000, timeoutMs / 2));
    const keys = new Set<string>(this.#running);
    for (const [key, at] of this.#lastStart) if (at >= recent) keys.add(key);
    const failedDuring = this.#failures.slice(failuresBefore);
    const busy = [...keys].sort().map((parent) => ({
      parent,
      running: this.#running.has(parent),
      syncsStarted: (this.#started.get(parent) ?? 0) - (startedBefore.get(parent) ?? 0),
      syncsFailed: failedDuring.filter((f) => f.parent === parent).length,
    }));
    throw new ReconcileTimeoutError(timeoutMs, busy, queue.depth);
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
  async reconcileAndAssertSuccess(timeoutMs: number = this.#timeoutMs): Promise<void> {
    await this.reconcile(timeoutMs);
    const failures = this.#failures.slice(this.#checkedFailures);
    this.#checkedFailures = this.#failures.length;
    if (failures.length === 0) return;
    const byParent = new Map<
      string,
      { parent: string; syncErrors: number; finalizeErrors: number; lastError: string }
    >();
    for (const failure of failures) {
      let entry = byParent.get(failure.parent);
      if (!entry) {
        entry = { parent: failure.parent, syncErrors: 0, finalizeErrors: 0, lastError: "" };
        byParent.set(failure.parent, entry);
      }
      if (failure.phase === "sync") entry.syncErrors++;
      else entry.finalizeErrors++;
      entry.lastError = failure.message;
    }
    throw new ReconcileFailedError([...byParent.values()]);
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
    return this.#failureCounts.get(`sync:${this.#parentKey(parentName, namespace)}`) ?? 0;
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
    return this.#failureCounts.get(`finalize:${this.#parentKey(parentName, namespace)}`) ?? 0;
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
    await this.resources(type).delete(name, { ...rest, namespace: this.#ns(namespace) });
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
    const namespace = type.namespaced ? this.#ns(options.namespace) : undefined;
    const [parents, ...children] = this.operator.controller.informers;
    const parent = parents!.get(name, namespace);
    if (!parent) {
      throw new ResourceAssertionError(
        `Cannot get the state of parent ${this.#label(type, name, namespace)}: it is not in the ` +
          "operator's cache",
        this.#ref(type, name, namespace),
      );
    }
    const uid = parent.metadata?.uid;
    const owned = uid === undefined ? [] : children.flatMap((informer) => informer.byIndex(uid));
    return syncRequest(structuredClone(parent), structuredClone(owned));
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
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<void> | void) => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    };
    const tracked = [...this.#tracked.values()];
    await step(async () => {
      for (const { name, namespace } of tracked) {
        try {
          await this.#parents.delete(name, { namespace });
        } catch (error) {
          if (!(error instanceof ApiError && error.isNotFound)) throw error;
        }
      }
      await poll(DISPOSE_PARENTS_TIMEOUT_MS, async () => {
        for (const { name, namespace } of tracked) {
          if (await this.#parents.find(name, { namespace })) return undefined;
        }
        return true;
      });
    });
    this.#unsubscribe();
    await step(() => this.operator.stop());
    await step(() => this.#releaseParents(tracked));
    if (this.#ownsNamespace) {
      await step(async () => {
        try {
          await new ResourceClient(this.client, k8s.core.v1.Namespace).delete(this.namespace);
        } catch (error) {
          if (!(error instanceof ApiError && error.isNotFound)) throw error;
        }
      });
    }
    await step(() => this.client.close());
    if (this.#ownsControlPlane) await step(() => this.controlPlane?.stop());
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new AggregateError(
        errors,
        `Cannot dispose test kit: ${errors.length} clean-up steps failed: ${
          errors.map(messageOf).join("; ")
        }`,
      );
    }
  }

  /**
   * Removes the stopped operator's finalizer from the tracked parents still there and, when the
   * kit owns the namespace, from every parent in it, so that nothing blocks their deletion.
   */
  async #releaseParents(
    tracked: Array<{ name: string; namespace: string | undefined }>,
  ): Promise<void> {
    const finalizer = this.config.finalizer;
    if (!finalizer) return;
    const leftovers: KubernetesObject[] = [];
    for (const { name, namespace } of tracked) {
      const parent = await this.#parents.find(name, { namespace });
      if (parent) leftovers.push(parent);
    }
    if (this.#ownsNamespace && this.config.parent.namespaced) {
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
