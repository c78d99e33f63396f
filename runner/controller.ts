/**
 * The controller: turns informer changes into queued parent keys and runs one sync per parent.
 * It only wires the parts together — the informers, the work queue, the enqueue rules and
 * leadership — and calls the steps of a sync, each a module of its own under `reconcile/`:
 * the finalizer (`finalizer.ts`), the handler call (`handler_call.ts`), the children
 * (`children.ts`, `child_write.ts`), the status (`status.ts`) and the failure report
 * (`failure.ts`). A sync writes nothing when nothing changed.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import type { RelatedResource } from "../config/related.ts";
import {
  type HandlerObject,
  type SyncRequest,
  syncRequest,
  type SyncResponse,
} from "../handler/handler.ts";
import { KeyedBackoff } from "../handler/backoff.ts";
import type { Informer } from "./informer.ts";
import type { InformerChange } from "./informer_options.ts";
import { objectKey } from "./cache_object.ts";
import { parentUidOf } from "./ownership.ts";
import { relatedTransformFor, transformFor } from "./cache_transforms.ts";
import { type InformerHandle, InformerPool } from "./informer_pool.ts";
import { WorkQueue } from "./work_queue.ts";
import { RelatedIndex, resolveRefs } from "./related_index.ts";
import { InformerCacheView } from "./cache_view.ts";
import type { WorkResult } from "./work_queue_options.ts";
import type { OperatorMetrics } from "./operator_metrics.ts";
import type { EventRecorder } from "./events.ts";
import { type Leadership, LeadershipLostError } from "./leader_election.ts";
import { traceSync } from "./tracing.ts";
import { LogSummary } from "./log_summary.ts";
import { ParentGoneError, SyncError } from "./sync_error.ts";
import {
  childrenOf,
  type ChildState,
  fenced,
  type ReconcileContext,
  relatedOf,
  type RelatedState,
  type SyncContext,
} from "./reconcile/context.ts";
import { addFinalizer, finalize } from "./reconcile/finalizer.ts";
import { awaitOverdue, callHandler } from "./reconcile/handler_call.ts";
import {
  applyChildren,
  childFailures,
  validateChildren,
  withChildrenFailedCondition,
} from "./reconcile/children.ts";
import { writeStatus } from "./reconcile/status.ts";
import { reportFailure } from "./reconcile/failure.ts";

const logger = getLogger(["roperator", "controller"]);

/**
 * How many syncs in a row that wrote children are each followed by another at once (see
 * `Controller.#followUp`).
 */
const MAX_FOLLOW_UPS = 3;

/**
 * A sync of one parent starting or ending, as given to {@linkcode Controller.onSync} listeners.
 */
export interface SyncEvent {
  /** The parent key, `namespace/name` or `name`. */
  readonly parent: string;
  /** `"finalize"` when the parent is being deleted, `"sync"` otherwise. */
  readonly phase: "sync" | "finalize";
  /** `"started"`, then `"succeeded"` or `"failed"`. */
  readonly state: "started" | "succeeded" | "failed";
  /** How long the sync took, in ms; absent when it started. */
  readonly durationMs?: number;
  /** Why it failed (usually a {@linkcode SyncError}); only when it failed. */
  readonly error?: unknown;
}

/** Everything the controller needs. */
export interface ControllerOptions {
  /** The validated operator config. */
  config: OperatorConfig;
  /** The API client. */
  client: KubeClient;
  /** The normalized handler. */
  handler: Required<HandlerObject<KubernetesObject>>;
  /** The metrics to update. */
  metrics: OperatorMetrics;
  /**
   * Leader election: when given, only the leader syncs, and every write of a sync is fenced by
   * {@linkcode Leadership.holds}. Without it, this instance always syncs.
   */
  leadership?: Leadership;
  /** Records Events on parents; none are recorded without it. */
  events?: EventRecorder;
  /** Shares informers with other controllers; by default the controller has its own. */
  informers?: InformerPool;
}

/** Runs the informers and the sync loop of one operator. */
export class Controller {
  readonly #config: OperatorConfig;
  readonly #metrics: OperatorMetrics;
  readonly #leadership: Leadership | undefined;
  readonly #events: EventRecorder | undefined;
  readonly #parentClient: ResourceClient;
  readonly #parentHandle: InformerHandle;
  readonly #parents: Informer;
  readonly #children = new Map<string, ChildState & { handle: InformerHandle }>();
  readonly #uidToKey = new Map<string, string>();
  readonly #related: (RelatedState & { handle: InformerHandle })[] = [];
  /** Parents (keys) whose child cannot be written while an object of its name is in the way. */
  readonly #blocked = new Map<string, Set<string>>();
  readonly #queue: WorkQueue;
  readonly #backoff: KeyedBackoff;
  #running = false;
  #accepting = true;
  /** Whether the gate given to `start()` has opened. */
  #gateOpen = false;
  /** Per parent, syncs in a row that wrote children (see `#followUp`). */
  readonly #followUps = new Map<string, number>();
  /** Resolved when syncs begin (every cache synced, the gate open). */
  readonly #begun = Promise.withResolvers<void>();
  /** Aborted when the leadership term in which it was created ends. */
  #termAbort = new AbortController();
  #unsubscribeLeadership: (() => void) | undefined;
  readonly #syncListeners = new Set<(event: SyncEvent) => void>();
  /** Failed syncs: a run of identical failures is logged once, then once a minute. */
  readonly #failureLog = new LogSummary(logger, {
    onSuppressed: (level, n) => this.#metrics.logSuppressed(level, n),
  });
  /** What the steps of a sync get. */
  readonly #rc: ReconcileContext;

  /**
   * Creates the informers and the queue; nothing runs until `start()`.
   *
   * @param options config, client, handler, metrics, and optionally leadership, an event
   * recorder and a shared informer pool
   */
  constructor(options: ControllerOptions) {
    const { config, client, metrics } = options;
    this.#config = config;
    this.#metrics = metrics;
    this.#leadership = options.leadership;
    this.#events = options.events;
    const pool = options.informers ?? new InformerPool();
    this.#backoff = new KeyedBackoff({ maxMs: config.maxErrorBackoffMs });
    this.#parentClient = new ResourceClient(client, config.parent, config.namespace);
    const timings = {
      idleTimeoutMs: config.watchIdleTimeoutMs,
      relistPeriodMs: config.relistPeriodMs,
    };
    const parentTransform = transformFor(config.transform, config.parent);
    this.#parentHandle = pool.acquire(this.#parentClient, {
      ...timings,
      ...(config.parentLabelSelector ? { labelSelector: config.parentLabelSelector } : {}),
      ...(parentTransform ? { transform: parentTransform } : {}),
    }, {
      onChange: (change) => this.#onParentChange(change),
      onRestart: (reason) => this.#metrics.watchRestart(config.parent, reason),
    });
    this.#parents = this.#parentHandle.informer;
    for (const child of config.children) {
      const childClient = new ResourceClient(client, child.type, config.namespace);
      const transform = transformFor(config.transform, child.type);
      // Only this operator's children are cached: objects that merely carry the tracking label
      // (Helm, Kustomize and Argo CD write it too) never enter the cache.
      const handle = pool.acquire(childClient, {
        ...timings,
        labelSelector: `${config.ownershipLabel}=${config.name}`,
        indexLabel: config.trackingLabel,
        ...(transform ? { transform } : {}),
      }, {
        onChange: (change) => this.#onChildChange(child.type, change),
        onRestart: (reason) => this.#metrics.watchRestart(child.type, reason),
      });
      this.#children.set(typeKey(child.type), {
        config: child,
        client: childClient,
        informer: handle.informer,
        handle,
      });
    }
    for (const declaration of config.related) {
      const scope = declaration.scope;
      const namespace = typeof scope === "object"
        ? scope.namespace
        : scope === "parent"
        ? config.namespace
        : undefined;
      const relatedClient = new ResourceClient(client, declaration.type, namespace);
      const transform = relatedTransformFor(declaration);
      const state = { declaration, index: new RelatedIndex() } as RelatedState & {
        handle: InformerHandle;
      };
      state.handle = pool.acquire(relatedClient, {
        ...timings,
        ...(declaration.labelSelector ? { labelSelector: declaration.labelSelector } : {}),
        ...(declaration.fieldSelector ? { fieldSelector: declaration.fieldSelector } : {}),
        ...(transform ? { transform } : {}),
      }, {
        onChange: (change) => this.#onRelatedChange(state, change),
        onRestart: (reason) => this.#metrics.watchRestart(declaration.type, reason),
      });
      state.informer = state.handle.informer;
      this.#related.push(state);
    }
    this.#queue = new WorkQueue({
      concurrency: config.concurrency,
      process: (key, signal) => this.#sync(key, signal),
      errorBackoff: (key) => this.#backoff.next(key) ?? config.maxErrorBackoffMs,
      resetBackoff: (key) => this.#backoff.reset(key),
    });
    metrics.trackQueue(() => this.#queue);
    this.#rc = {
      config,
      handler: options.handler,
      metrics,
      parentClient: this.#parentClient,
      parents: this.#parents,
      children: this.#children,
      leadership: this.#leadership,
      events: this.#events,
      failureLog: this.#failureLog,
      blocked: this.#blocked,
      uidToKey: this.#uidToKey,
      related: this.#related,
      cache: new InformerCacheView(() => this.informers),
    };
  }

  /** Every informer: the parents' first, then the children's, then the related types'. */
  get informers(): Informer[] {
    return [
      this.#parents,
      ...[...this.#children.values()].map((c) => c.informer),
      ...this.#related.map((r) => r.informer),
    ];
  }

  /**
   * The parents that refer to a related object, for tests: the reverse index of the declaration.
   *
   * @param declaration a declaration of the config's `related`
   * @param object the related object (its name, namespace and labels)
   * @returns the parent keys, sorted
   */
  parentsReferring(
    declaration: RelatedResource<KubernetesObject, never>,
    object: KubernetesObject,
  ): string[] {
    const state = this.#related.find((r) => r.declaration === declaration);
    return state === undefined ? [] : [...state.index.parentsOf(object)].sort();
  }

  /**
   * What the handler would be given for a parent now (parent, children, related objects and the
   * cache view), as copies; for the test kit.
   *
   * @param key the parent key
   * @returns the request, or `undefined` when the parent is not cached
   * @throws {SyncError} when a declaration's `refs` throws for the parent
   */
  requestFor(key: string): SyncRequest | undefined {
    const parent = this.#parents.getByKey(key);
    if (parent === undefined) return undefined;
    const uid = parent.metadata?.uid;
    return syncRequest(
      structuredClone(parent),
      structuredClone(uid === undefined ? [] : childrenOf(this.#rc, uid)),
      { related: relatedOf(this.#rc, key, parent), cache: this.#rc.cache },
    );
  }

  /** Re-indexes a parent's references; a parent whose `refs` throws refers to nothing. */
  #indexParent(key: string, parent: KubernetesObject): void {
    for (const state of this.#related) {
      try {
        state.index.set(key, resolveRefs(state.declaration, parent));
      } catch {
        // Its sync fails with the same error and reports it; until then it refers to nothing.
        state.index.remove(key);
      }
    }
  }

  /** A related object changed: queue the parents that refer to it now or referred to it before. */
  #onRelatedChange(state: RelatedState, change: InformerChange<KubernetesObject>): void {
    const parents = state.index.parentsOf(change.object);
    if (change.previous !== undefined) {
      for (const key of state.index.parentsOf(change.previous)) parents.add(key);
    }
    for (const key of parents) this.#enqueue(key);
  }

  /** Whether every cache has completed its first list. */
  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  /**
   * Resolves when syncs begin: the gate has opened and every cache has synced, possibly long
   * after `start()` rejected for a refused first list. It never settles when the controller is
   * stopped first.
   *
   * @returns a promise that resolves as said
   */
  whenRunning(): Promise<void> {
    return this.#begun.promise;
  }

  /** Whether the gate given to `start()` has opened (it opens once; `/ready` waits for it). */
  get gateOpen(): boolean {
    return this.#gateOpen;
  }

  /** Whether this instance syncs now: always without leader election, else while it leads. */
  get leading(): boolean {
    return this.#leadership === undefined || this.#leadership.isLeader();
  }

  /** The work queue, for tests and metrics. */
  get queue(): WorkQueue {
    return this.#queue;
  }

  /** A parent changed: queue it, or forget everything about it once it is gone. */
  #onParentChange(change: InformerChange<KubernetesObject>): void {
    const key = objectKey(change.object);
    const uid = change.object.metadata?.uid;
    if (change.type === "deleted") {
      if (uid) this.#uidToKey.delete(uid);
      for (const state of this.#related) state.index.remove(key);
      for (const [id, parents] of this.#blocked) {
        if (parents.delete(key) && parents.size === 0) this.#blocked.delete(id);
      }
      this.#queue.forget(key);
      this.#backoff.delete(key);
      this.#metrics.forgetParent(key);
      this.#followUps.delete(key);
      this.#events?.forget(change.object);
      return;
    }
    if (uid) this.#uidToKey.set(uid, key);
    this.#indexParent(key, change.object);
    this.#enqueue(key);
  }

  /** A child changed: queue its parents, and the parents that wait for its name. */
  #onChildChange(type: ResourceType, change: InformerChange<KubernetesObject>): void {
    // The parent it belongs to now, and the one it belonged to before (a tampered owner
    // reference or label moves it).
    for (const object of [change.object, change.previous]) {
      if (object === undefined) continue;
      const uid = parentUidOf(object, this.#config.trackingLabel);
      const key = uid === undefined ? undefined : this.#uidToKey.get(uid);
      if (key !== undefined) this.#enqueue(key);
    }
    // Parents that wait for an object of this name to go (a child of an earlier parent
    // of the same name, or another parent's) try again at once.
    const id = `${typeKey(type)}/${objectKey(change.object)}`;
    const blocked = this.#blocked.get(id);
    if (blocked !== undefined) {
      this.#blocked.delete(id);
      for (const key of blocked) this.#enqueue(key);
    }
  }

  #enqueue(key: string): void {
    if (!this.#accepting) return;
    // Wait for every cache before the first sync: a sync on a partial child cache would
    // create children that already exist, or delete ones it has not seen yet.
    if (!this.#running || !this.synced) return;
    // Followers keep their caches warm but sync nothing.
    if (!this.leading) return;
    this.#queue.add(key);
  }

  #enqueueAll(): void {
    for (const parent of this.#parents.list()) this.#enqueue(objectKey(parent));
  }

  #onLeadership(leading: boolean): void {
    if (leading) {
      this.#termAbort = new AbortController();
      this.#enqueueAll();
      return;
    }
    // Lost: abort the handlers of this term and drop the queued work; every write of a sync in
    // flight is fenced. The next leader syncs every parent anyway.
    this.#termAbort.abort(
      new LeadershipLostError(this.#leadership!.lease, this.#leadership!.identity),
    );
    for (const parent of this.#parents.list()) this.#queue.forget(objectKey(parent));
  }

  /**
   * Starts the informers at once; syncs begin once the gate has opened and every cache is
   * complete (and, with leader election, once this instance leads). The gate lets the first lists
   * run while the start-up checks (discovery of the configured types) are still under way:
   * nothing is queued, so no handler is called and nothing is written, until it opens.
   *
   * A first list the API server refuses (401, 403, 404: RBAC or a CRD that arrives a moment
   * after the operator) rejects the returned promise, to say why the operator is not ready, but
   * the informers keep retrying and syncs begin as soon as every cache has synced.
   *
   * @param gate resolves when syncs may begin; rejects when they never may (the start failed).
   * Default: open.
   * @returns a promise that resolves when the gate has opened and every cache has synced; it
   * rejects with the gate's reason when the gate rejects (whatever the lists did meanwhile), else
   * as `Informer.waitForSync()` does
   */
  async start(gate: Promise<void> = Promise.resolve()): Promise<void> {
    this.#parentHandle.start();
    for (const child of this.#children.values()) child.handle.start();
    for (const related of this.#related) related.handle.start();
    await gate;
    this.#gateOpen = true;
    // Syncs begin once every cache has synced, even after refused lists; a stop ends the wait.
    const synced = Promise.all(this.informers.map((i) => i.whenSynced()))
      .then(() => this.#begin());
    synced.catch(() => {}); // a stop before the first list: reported by waitForSync() below
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    await synced;
  }

  /** Every cache has synced: learn the parents, follow the leadership, queue every parent. */
  #begin(): void {
    if (!this.#accepting || this.#running) return;
    // A shared informer may have synced before this controller subscribed: learn its parents.
    for (const parent of this.#parents.list()) {
      const uid = parent.metadata?.uid;
      if (uid) this.#uidToKey.set(uid, objectKey(parent));
      this.#indexParent(objectKey(parent), parent);
    }
    this.#running = true;
    this.#unsubscribeLeadership = this.#leadership?.onChange((leading) =>
      this.#onLeadership(leading)
    );
    this.#enqueueAll();
    this.#begun.resolve();
  }

  /**
   * Stops taking work, lets in-flight syncs finish within the bound, and closes every watch
   * (shared informers stay open for their other users).
   *
   * @param drainTimeoutMs how long in-flight syncs may take
   * @returns whether every in-flight sync finished
   */
  async stop(drainTimeoutMs = 10_000): Promise<boolean> {
    this.#accepting = false;
    this.#unsubscribeLeadership?.();
    const { drained } = await this.#queue.shutdown({ drainTimeoutMs });
    this.#failureLog.close();
    await Promise.all([
      this.#parentHandle.release(),
      ...[...this.#children.values()].map((c) => c.handle.release()),
      ...this.#related.map((r) => r.handle.release()),
    ]);
    return drained;
  }

  /**
   * Calls the listener when a sync of a parent starts and when it ends, for tests and tooling.
   * A listener that throws is reported with `reportError` and does not disturb the sync.
   *
   * @param listener called synchronously with each event
   * @returns a function that removes the listener
   */
  onSync(listener: (event: SyncEvent) => void): () => void {
    this.#syncListeners.add(listener);
    return () => {
      this.#syncListeners.delete(listener);
    };
  }

  #emitSync(event: SyncEvent): void {
    for (const listener of this.#syncListeners) {
      try {
        listener(event);
      } catch (error) {
        reportError(error);
      }
    }
  }

  async #sync(key: string, stopping?: AbortSignal): Promise<WorkResult> {
    const started = performance.now();
    const parent = this.#parents.getByKey(key);
    if (!parent) return { ok: true };
    const term = this.#leadership?.term ?? 0;
    // Not leading (any more): drop the key; the leader syncs it.
    if (this.#leadership !== undefined && !this.#leadership.holds(term)) return { ok: true };
    const leadership = this.#leadership === undefined ? undefined : this.#termAbort.signal;
    const signals = [leadership, stopping].filter((s): s is AbortSignal => s !== undefined);
    const ctx: SyncContext = {
      key,
      term,
      signal: signals.length < 2 ? signals[0] : AbortSignal.any(signals),
      leadership,
      stopping,
      overdue: undefined,
    };
    const phase = parent.metadata?.deletionTimestamp ? "finalize" : "sync";
    this.#emitSync({ parent: key, phase, state: "started" });
    try {
      return await this.#run(ctx, parent, phase, started);
    } finally {
      // A handler that outlived its timeout still runs: it keeps its parent's slot (no second
      // handler of the same parent starts, and it counts against the concurrency limit) until it
      // really returns. The failure was recorded when the timeout fired.
      if (ctx.overdue !== undefined) await awaitOverdue(ctx, ctx.overdue, this.#config);
    }
  }

  async #run(
    ctx: SyncContext,
    parent: KubernetesObject,
    phase: "sync" | "finalize",
    started: number,
  ): Promise<WorkResult> {
    const key = ctx.key;
    try {
      const result = await traceSync(
        parent,
        { operator: this.#config.name, phase },
        () => phase === "finalize" ? finalize(this.#rc, ctx, parent) : this.#reconcile(ctx, parent),
      );
      const durationMs = performance.now() - started;
      // A parent deleted meanwhile has had its series dropped: do not bring them back.
      if (this.#parents.getByKey(key)) this.#metrics.syncDone(key, !ctx.failed, durationMs);
      this.#emitSync({ parent: key, phase, state: "succeeded", durationMs });
      return result;
    } catch (error) {
      const durationMs = performance.now() - started;
      if (
        error instanceof ParentGoneError ||
        (error instanceof SyncError && !this.#parents.getByKey(key))
      ) {
        // The parent was deleted while it synced (its writes then fail with 404 or 409): that
        // is not a failure of anything, and its series are gone with it.
        this.#emitSync({ parent: key, phase, state: "succeeded", durationMs });
        logger.debug("{parent} was deleted during its sync", { parent: key });
        return { ok: true };
      }
      if (fenced(this.#rc, ctx, error)) {
        // Not a failure of the parent: this instance stopped leading while syncing it.
        this.#emitSync({ parent: key, phase, state: "failed", durationMs, error });
        logger.info("stopped the sync of {parent}: no longer the leader", { parent: key });
        return { ok: true };
      }
      this.#metrics.syncDone(key, false, durationMs);
      this.#emitSync({ parent: key, phase, state: "failed", durationMs, error });
      reportFailure(this.#rc, ctx, { parent, phase, error });
      return { ok: false };
    }
  }

  async #reconcile(ctx: SyncContext, original: KubernetesObject): Promise<WorkResult> {
    const key = ctx.key;
    const parent = await addFinalizer(this.#rc, ctx, original);
    const uid = parent.metadata!.uid!;
    const existing = childrenOf(this.#rc, uid);
    const response: SyncResponse = await callHandler(ctx, {
      what: "sync",
      snapshot: {
        parent,
        children: existing,
        related: relatedOf(this.#rc, key, parent),
        cache: this.#rc.cache,
      },
      call: (request) => this.#rc.handler.sync(request),
      timeoutMs: this.#config.syncTimeoutMs,
    });
    if (!response || !Array.isArray(response.children)) {
      throw new SyncError(key, "the sync handler returned no children array");
    }
    const desired = validateChildren(this.#rc, key, parent, response.children);
    const failures = await applyChildren(this.#rc, ctx, parent, { desired, existing });
    if (failures.length === 0) {
      if (response.status !== undefined && response.status !== null) {
        await writeStatus(this.#rc, ctx, parent, response.status);
      }
    } else {
      let statusError: unknown;
      if (response.status !== undefined && response.status !== null) {
        try {
          const status = withChildrenFailedCondition(parent, response.status, failures);
          await writeStatus(this.#rc, ctx, parent, status);
        } catch (error) {
          if (error instanceof ParentGoneError || fenced(this.#rc, ctx, error)) throw error;
          statusError = error;
        }
      }
      throw childFailures(this.#rc, ctx, parent, { failures, statusError });
    }
    const resync = [response.resyncAfterMs, this.#config.resyncPeriodMs]
      .filter((v): v is number => typeof v === "number" && v > 0);
    if (this.#followUp(key, ctx)) resync.push(0);
    return resync.length ? { ok: true, requeueAfterMs: Math.min(...resync) } : { ok: true };
  }

  /**
   * Whether a sync that succeeded must be followed by another at once: it created or changed a
   * child (`SyncContext.childrenWritten`), so the status the handler returned was computed from
   * children as they were before. At most {@linkcode MAX_FOLLOW_UPS} in a row: a child that
   * another writer (a webhook, a controller) changes back after every write would otherwise keep
   * the parent syncing without pause; it then waits for its next event or resync.
   */
  #followUp(key: string, ctx: SyncContext): boolean {
    if (!ctx.childrenWritten) {
      this.#followUps.delete(key);
      return false;
    }
    const inRow = (this.#followUps.get(key) ?? 0) + 1;
    this.#followUps.set(key, inRow);
    if (inRow <= MAX_FOLLOW_UPS) return true;
    if (inRow === MAX_FOLLOW_UPS + 1) {
      logger.warn(
        "{parent} wrote its children in {syncs} syncs in a row: something changes them back " +
          "after every write (a mutating webhook, another controller, a field the API server " +
          "defaults); it now waits for its next change or resync",
        { parent: key, syncs: inRow },
      );
    }
    return false;
  }
}
