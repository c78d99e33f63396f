/**
 * The controller: turns informer changes into queued parent keys and runs one sync per parent —
 * finalizer, handler, children (create, update per strategy, delete), status — writing nothing
 * when nothing changed.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";
import type { CacheTransform, ChildConfig, OperatorConfig } from "../config/operator_config.ts";
import { Children } from "../handler/children.ts";
import type {
  FinalizeResponse,
  HandlerObject,
  SyncRequest,
  SyncResponse,
} from "../handler/handler.ts";
import { KeyedBackoff } from "../handler/backoff.ts";
import type { Condition } from "../handler/conditions.ts";
import { childNeedsWrite, desiredHashPatch, isSubset, withDesiredHash } from "./diff.ts";
import { describeForeignChild, parentUidOf } from "./ownership.ts";
import type { Informer } from "./informer.ts";
import { objectKey, pruneCachedObject } from "./cache_object.ts";
import { type InformerHandle, InformerPool } from "./informer_pool.ts";
import { WorkQueue, type WorkResult } from "./work_queue.ts";
import type { OperatorMetrics } from "./operator_metrics.ts";
import type { EventRecorder } from "./events.ts";
import { type Leadership, LeadershipLostError } from "./leader_election.ts";
import { traceSync } from "./tracing.ts";
import { errorShape, isTransient, LogSummary } from "./log_summary.ts";
import { userFrames, withFrames } from "./error_frames.ts";

const logger = getLogger(["roperator", "controller"]);

/** Options for {@linkcode SyncError}. */
export interface SyncErrorOptions extends ErrorOptions {
  /**
   * The Event reason this failure is reported with: `"ChildWriteRejected"` when the API server
   * rejected a child write. Default: `SyncFailed` (or `FinalizeFailed` while finalizing).
   */
  reason?: string;
}

/** A handler error, a rejected write or an invalid child, tied to one parent. */
export class SyncError extends Error {
  /** The parent, as `namespace/name` or `name`. */
  readonly parent: string;
  /** What failed, without the `Cannot sync parent "…": ` prefix. */
  readonly detail: string;
  /** The Event reason, when it is not the default one (see {@linkcode SyncErrorOptions}). */
  readonly reason: string | undefined;

  /**
   * Creates an error for a failed sync of one parent.
   *
   * @param parent the parent key
   * @param message what failed
   * @param options the cause and the Event reason
   */
  constructor(parent: string, message: string, options?: SyncErrorOptions) {
    super(
      `Cannot sync parent "${parent}": ${message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "SyncError";
    this.parent = parent;
    this.detail = message;
    this.reason = options?.reason;
  }
}

/** Some children could not be written; each was already reported with an Event of its own. */
class ChildrenFailedError extends SyncError {
  constructor(parent: string, message: string, options: SyncErrorOptions) {
    super(parent, message, options);
    this.name = "SyncError";
  }
}

/** The parent was deleted while it synced (a write found it gone). */
class ParentGoneError extends SyncError {
  constructor(parent: string) {
    super(parent, "it was deleted while it synced");
    this.name = "SyncError";
  }
}

/** One child could not be written; the message names the child and says why. */
class ChildWriteError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ChildWriteError";
  }
}

/** A desired child that could not be written, and why. */
interface ChildFailure {
  /** `Kind "namespace/name"`. */
  child: string;
  /** Usually a {@linkcode ChildWriteError}. */
  error: unknown;
}

/** The condition a parent's status gets while some of its children cannot be written. */
export const CHILDREN_CONDITION = "ChildrenSynced";

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Whether the write was refused for good until something changes: the API server answered 4xx
 * (other than a throttle or a timeout), or another object is in the way.
 */
function rejectedByServer(error: unknown): boolean {
  if (error instanceof ChildWriteError && error.cause === undefined) return true;
  const cause = error instanceof ChildWriteError ? error.cause : error;
  return cause instanceof ApiError && cause.status >= 400 && cause.status < 500 &&
    cause.status !== 429 && cause.status !== 408;
}

/**
 * The handler's status with a `ChildrenSynced` condition of status `False` that names the
 * children that could not be written. Only object statuses get it; the handler's own conditions
 * are kept, and the condition's `lastTransitionTime` is kept while it stays `False`. The next sync
 * that writes every child drops it (the handler's status no longer has it).
 */
function withChildrenFailedCondition(
  parent: KubernetesObject,
  status: unknown,
  failures: ChildFailure[],
): unknown {
  if (typeof status !== "object" || status === null || Array.isArray(status)) return status;
  const desired = status as Record<string, unknown>;
  const own = Array.isArray(desired.conditions) ? desired.conditions as Condition[] : [];
  const previous = (parent.status as { conditions?: Condition[] } | undefined)?.conditions
    ?.find((c) => c?.type === CHILDREN_CONDITION);
  const message = failures.slice(0, 5).map(({ error }) => messageOf(error)).join("; ") +
    (failures.length > 5 ? `; and ${failures.length - 5} more` : "");
  const condition: Condition = {
    type: CHILDREN_CONDITION,
    status: "False",
    reason: failures.some(({ error }) => rejectedByServer(error))
      ? "ChildWriteRejected"
      : "ChildWriteFailed",
    message: message.length > 32_000 ? `${message.slice(0, 32_000)}…` : message,
    lastTransitionTime: previous?.status === "False"
      ? previous.lastTransitionTime
      : new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(parent.metadata?.generation === undefined
      ? {}
      : { observedGeneration: parent.metadata.generation }),
  };
  return {
    ...desired,
    conditions: [...own.filter((c) => c?.type !== CHILDREN_CONDITION), condition],
  };
}

function normalize<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/**
 * A Secret's `stringData` is write-only: the API server folds it into `data` (base64) and never
 * returns it. Fold it the same way before comparing, or the child would look changed forever.
 */
function secretStringDataToData(object: KubernetesObject): void {
  if (object.apiVersion !== "v1" || object.kind !== "Secret") return;
  const stringData = object.stringData as Record<string, string> | undefined;
  if (!stringData || typeof stringData !== "object") return;
  const data = { ...(object.data as Record<string, string> | undefined) };
  for (const [key, value] of Object.entries(stringData)) {
    const bytes = new TextEncoder().encode(String(value));
    data[key] = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  }
  object.data = data;
  delete object.stringData;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  return ak.length === bk.length &&
    ak.every((k) =>
      deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    );
}

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

interface ChildState {
  config: ChildConfig;
  client: ResourceClient;
  informer: Informer;
}

/** One sync: the parent key and the leadership term it started in. */
interface SyncContext {
  key: string;
  term: number;
  /**
   * Given to every API call of the sync: aborted when leadership of that term is lost or the
   * operator stops (a request is then never retried).
   */
  signal: AbortSignal | undefined;
  /** Aborted when leadership of that term is lost. */
  leadership: AbortSignal | undefined;
  /** Aborted when the operator stops and the sync did not finish within the drain bound. */
  stopping: AbortSignal | undefined;
  /** A handler call that outlived its timeout: the sync ends only when it settles. */
  overdue: Promise<unknown> | undefined;
  /** The handler returned a response marked `failed` (see `SyncResponse.failed`). */
  failed?: boolean;
}

const composedTransforms = new WeakMap<
  CacheTransform,
  Map<string, (object: KubernetesObject) => KubernetesObject>
>();

/**
 * The cache transform of one type: the built-in pruning, then the user's transform. The same
 * function is returned for the same user transform and type, so informers can be shared.
 */
function transformFor(
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

/** Runs the informers and the sync loop of one operator. */
export class Controller {
  readonly #config: OperatorConfig;
  readonly #handler: Required<HandlerObject<KubernetesObject>>;
  readonly #metrics: OperatorMetrics;
  readonly #leadership: Leadership | undefined;
  readonly #events: EventRecorder | undefined;
  readonly #parentClient: ResourceClient;
  readonly #parentHandle: InformerHandle;
  readonly #parents: Informer;
  readonly #children = new Map<string, ChildState & { handle: InformerHandle }>();
  readonly #uidToKey = new Map<string, string>();
  /** Parents (keys) whose child cannot be written while an object of its name is in the way. */
  readonly #blocked = new Map<string, Set<string>>();
  readonly #queue: WorkQueue;
  readonly #backoff: KeyedBackoff;
  #running = false;
  #accepting = true;
  /** Aborted when the leadership term in which it was created ends. */
  #termAbort = new AbortController();
  #unsubscribeLeadership: (() => void) | undefined;
  readonly #syncListeners = new Set<(event: SyncEvent) => void>();
  /** Failed syncs: a run of identical failures is logged once, then once a minute. */
  readonly #failureLog = new LogSummary(logger, {
    onSuppressed: (level, n) => this.#metrics.logSuppressed(level, n),
  });

  /**
   * Creates the informers and the queue; nothing runs until `start()`.
   *
   * @param options config, client, handler, metrics, and optionally leadership, an event
   * recorder and a shared informer pool
   */
  constructor(options: ControllerOptions) {
    const { config, client, metrics } = options;
    this.#config = config;
    this.#handler = options.handler;
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
      onChange: (change) => {
        const key = objectKey(change.object);
        const uid = change.object.metadata?.uid;
        if (change.type === "deleted") {
          if (uid) this.#uidToKey.delete(uid);
          for (const [id, parents] of this.#blocked) {
            if (parents.delete(key) && parents.size === 0) this.#blocked.delete(id);
          }
          this.#queue.forget(key);
          this.#backoff.delete(key);
          this.#metrics.forgetParent(key);
          this.#events?.forget(change.object);
          return;
        }
        if (uid) this.#uidToKey.set(uid, key);
        this.#enqueue(key);
      },
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
        onChange: (change) => {
          // The parent it belongs to now, and the one it belonged to before (a tampered owner
          // reference or label moves it).
          for (const object of [change.object, change.previous]) {
            if (object === undefined) continue;
            const uid = parentUidOf(object, config.trackingLabel);
            const key = uid === undefined ? undefined : this.#uidToKey.get(uid);
            if (key !== undefined) this.#enqueue(key);
          }
          // Parents that wait for an object of this name to go (a child of an earlier parent
          // of the same name, or another parent's) try again at once.
          const id = `${typeKey(child.type)}/${objectKey(change.object)}`;
          const blocked = this.#blocked.get(id);
          if (blocked !== undefined) {
            this.#blocked.delete(id);
            for (const key of blocked) this.#enqueue(key);
          }
        },
        onRestart: (reason) => this.#metrics.watchRestart(child.type, reason),
      });
      this.#children.set(typeKey(child.type), {
        config: child,
        client: childClient,
        informer: handle.informer,
        handle,
      });
    }
    this.#queue = new WorkQueue({
      concurrency: config.concurrency,
      process: (key, signal) => this.#sync(key, signal),
      errorBackoff: (key) => this.#backoff.next(key) ?? config.maxErrorBackoffMs,
      resetBackoff: (key) => this.#backoff.reset(key),
    });
    metrics.trackQueue(() => this.#queue);
  }

  /** Every informer: the parents' first. */
  get informers(): Informer[] {
    return [this.#parents, ...[...this.#children.values()].map((c) => c.informer)];
  }

  /** Whether every cache has completed its first list. */
  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  /** Whether this instance syncs now: always without leader election, else while it leads. */
  get leading(): boolean {
    return this.#leadership === undefined || this.#leadership.isLeader();
  }

  /** The work queue, for tests and metrics. */
  get queue(): WorkQueue {
    return this.#queue;
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
   * Starts the informers; syncs begin once every cache is complete (and, with leader election,
   * once this instance leads).
   *
   * @returns a promise that resolves when every cache has synced
   */
  async start(): Promise<void> {
    this.#parentHandle.start();
    for (const child of this.#children.values()) child.handle.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    if (!this.#accepting) return;
    // A shared informer may have synced before this controller subscribed: learn its parents.
    for (const parent of this.#parents.list()) {
      const uid = parent.metadata?.uid;
      if (uid) this.#uidToKey.set(uid, objectKey(parent));
    }
    this.#running = true;
    this.#unsubscribeLeadership = this.#leadership?.onChange((leading) =>
      this.#onLeadership(leading)
    );
    this.#enqueueAll();
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

  #childrenOf(uid: string): KubernetesObject[] {
    const objects: KubernetesObject[] = [];
    for (const child of this.#children.values()) {
      for (const object of child.informer.byIndex(uid)) objects.push(object);
    }
    return objects;
  }

  /** The sync's signal as a request option. */
  #signal(ctx: SyncContext): { signal?: AbortSignal } {
    return ctx.signal === undefined ? {} : { signal: ctx.signal };
  }

  /**
   * Records each child that could not be written (an Event and a log line each) and returns the
   * error that fails the sync, so that it is retried with backoff.
   */
  #childFailures(
    ctx: SyncContext,
    parent: KubernetesObject,
    failures: ChildFailure[],
    statusError: unknown,
  ): SyncError {
    const rejected = failures.some(({ error }) => rejectedByServer(error));
    for (const { child, error } of failures) {
      const message = messageOf(error);
      this.#failureLog.log(
        isTransient(error) ? "warning" : "error",
        errorShape(`child: ${message}`, [ctx.key, ...ctx.key.split("/")]),
        {
          message: "cannot write {child} of {parent}: {error}",
          properties: { child, parent: ctx.key, error: message },
        },
      );
      if (this.#events && (!this.#leadership || this.#leadership.holds(ctx.term))) {
        this.#events.record({
          regarding: this.#regarding(parent),
          type: "Warning",
          reason: rejectedByServer(error) ? "ChildWriteRejected" : "ChildWriteFailed",
          action: "Sync",
          note: messageOf(error),
        });
      }
    }
    const first = failures[0]!;
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more children)` : "";
    const status = statusError === undefined
      ? ""
      : `; and ${messageOf(statusError instanceof SyncError ? statusError.detail : statusError)}`;
    return new ChildrenFailedError(ctx.key, `${messageOf(first.error)}${more}${status}`, {
      cause: first.error,
      reason: rejected ? "ChildWriteRejected" : "ChildWriteFailed",
    });
  }

  /** The write fence: throws when the sync's leadership term is over. */
  #fence(ctx: SyncContext): void {
    const leadership = this.#leadership;
    if (leadership !== undefined && !leadership.holds(ctx.term)) {
      throw new LeadershipLostError(leadership.lease, leadership.identity);
    }
  }

  #fenced(ctx: SyncContext, error: unknown): boolean {
    if (this.#leadership === undefined) return false;
    if (error instanceof LeadershipLostError) return true;
    if (error instanceof Error && error.cause instanceof LeadershipLostError) return true;
    return !this.#leadership.holds(ctx.term);
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
      if (ctx.overdue !== undefined) await this.#awaitOverdue(ctx, ctx.overdue);
    }
  }

  async #awaitOverdue(ctx: SyncContext, overdue: Promise<unknown>): Promise<void> {
    const since = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const warn = () => {
      logger.warn(
        "the handler of {parent} is still running {seconds} s after its timeout; it holds one " +
          "of the {concurrency} sync slots until it returns (does it ignore its AbortSignal?)",
        {
          parent: ctx.key,
          seconds: Math.round((performance.now() - since + this.#config.syncTimeoutMs) / 1000),
          concurrency: this.#config.concurrency,
        },
      );
      timer = setTimeout(warn, 60_000);
    };
    timer = setTimeout(warn, Math.min(60_000, this.#config.syncTimeoutMs));
    // A stop that gave up draining releases the slot: the process is going away.
    const stopping = ctx.stopping;
    let onStop: (() => void) | undefined;
    try {
      await Promise.race([
        overdue.catch(() => {}),
        new Promise<void>((resolve) => {
          if (stopping === undefined) return;
          onStop = resolve;
          if (stopping.aborted) resolve();
          else stopping.addEventListener("abort", onStop, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onStop !== undefined) stopping?.removeEventListener("abort", onStop);
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
        () => phase === "finalize" ? this.#finalize(ctx, parent) : this.#reconcile(ctx, parent),
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
      if (this.#fenced(ctx, error)) {
        // Not a failure of the parent: this instance stopped leading while syncing it.
        this.#emitSync({ parent: key, phase, state: "failed", durationMs, error });
        logger.info("stopped the sync of {parent}: no longer the leader", { parent: key });
        return { ok: true };
      }
      this.#metrics.syncDone(key, false, durationMs);
      this.#emitSync({ parent: key, phase, state: "failed", durationMs, error });
      // Transient failures (network, 5xx, 429, timeouts) are warnings; identical failures of
      // many parents are one run, logged once and then summarized with a count.
      const message = error instanceof Error ? error.message : String(error);
      const frames = userFrames(error);
      // Children that could not be written were each logged already.
      if (!(error instanceof ChildrenFailedError)) {
        this.#failureLog.log(
          isTransient(error) ? "warning" : "error",
          errorShape(`${phase}: ${message}`, [key, ...key.split("/")]),
          {
            message: `sync of {parent} failed: {error}${frames.length ? "{at}" : ""}`,
            properties: {
              parent: key,
              error: message,
              ...(frames.length
                ? { at: frames.map((frame) => `\n    at ${frame}`).join(""), stack: frames }
                : {}),
            },
          },
        );
      }
      this.#recordFailure(ctx, parent, phase, error);
      return { ok: false };
    }
  }

  #recordFailure(
    ctx: SyncContext,
    parent: KubernetesObject,
    phase: "sync" | "finalize",
    error: unknown,
  ): void {
    if (this.#events === undefined || error instanceof ChildrenFailedError) return;
    if (this.#leadership !== undefined && !this.#leadership.holds(ctx.term)) return;
    const reason = error instanceof SyncError && error.reason !== undefined
      ? error.reason
      : phase === "finalize"
      ? "FinalizeFailed"
      : "SyncFailed";
    this.#events.record({
      regarding: this.#regarding(parent),
      type: "Warning",
      reason,
      action: phase === "finalize" ? "Finalize" : "Sync",
      // With the handler's frames (file:line), as many as fit the API's 1 KiB limit.
      note: withFrames(
        error instanceof SyncError
          ? error.detail
          : error instanceof Error
          ? error.message
          : String(error),
        userFrames(error),
        1024,
      ),
    });
  }

  #regarding(parent: KubernetesObject): KubernetesObject {
    return {
      ...parent,
      apiVersion: parent.apiVersion ?? this.#config.parent.apiVersion,
      kind: parent.kind ?? this.#config.parent.kind,
    };
  }

  /**
   * Calls a handler with a snapshot of the parent and its children. The snapshot is a copy, so
   * a handler that mutates it cannot corrupt the cache; its signal aborts at the sync timeout.
   */
  async #callHandler<T>(
    ctx: SyncContext,
    what: "sync" | "finalize",
    snapshot: { parent: KubernetesObject; children: KubernetesObject[] },
    call: (request: SyncRequest) => T | Promise<T>,
  ): Promise<T> {
    const key = ctx.key;
    const timeout = new AbortController();
    const signals = [timeout.signal, ctx.leadership, ctx.stopping]
      .filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 1 ? timeout.signal : AbortSignal.any(signals);
    const request: SyncRequest = {
      parent: structuredClone(snapshot.parent),
      children: new Children(structuredClone(snapshot.children)),
      signal,
    };
    const ms = this.#config.syncTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onLost: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`the ${what} handler did not finish within ${ms} ms`);
        timeout.abort(error);
        reject(error);
      }, ms);
      if (ctx.leadership) {
        onLost = () => reject(ctx.leadership!.reason);
        if (ctx.leadership.aborted) onLost();
        else ctx.leadership.addEventListener("abort", onLost, { once: true });
      }
    });
    const running = Promise.resolve().then(() => call(request));
    let settled = false;
    running.then(() => settled = true, () => settled = true);
    try {
      const response = await Promise.race([running, deadline]);
      if ((response as { failed?: unknown } | undefined)?.failed === true) ctx.failed = true;
      return response;
    } catch (error) {
      if (!settled) ctx.overdue = running;
      if (error instanceof LeadershipLostError) throw error;
      throw new SyncError(
        key,
        `the ${what} handler failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      if (onLost) ctx.leadership?.removeEventListener("abort", onLost);
    }
  }

  async #reconcile(ctx: SyncContext, original: KubernetesObject): Promise<WorkResult> {
    const key = ctx.key;
    let parent = original;
    const finalizer = this.#config.finalizer;
    if (finalizer && !(parent.metadata?.finalizers ?? []).includes(finalizer)) {
      this.#fence(ctx);
      parent = await this.#parentClient.patch(parent.metadata!.name!, {
        metadata: {
          resourceVersion: parent.metadata?.resourceVersion,
          finalizers: [...(parent.metadata?.finalizers ?? []), finalizer],
        },
      }, { namespace: parent.metadata?.namespace ?? undefined, ...this.#signal(ctx) });
      this.#parents.observe(parent);
      this.#metrics.write("finalizer");
      logger.info("added finalizer {finalizer} to {parent}", { finalizer, parent: key });
    }
    const uid = parent.metadata!.uid!;
    const existing = this.#childrenOf(uid);
    const response: SyncResponse = await this.#callHandler(
      ctx,
      "sync",
      { parent, children: existing },
      (request) => this.#handler.sync(request),
    );
    if (!response || !Array.isArray(response.children)) {
      throw new SyncError(key, "the sync handler returned no children array");
    }
    const desired = this.#validateChildren(key, parent, response.children);
    const failures = await this.#applyChildren(ctx, parent, desired, existing);
    if (failures.length === 0) {
      if (response.status !== undefined && response.status !== null) {
        await this.#writeStatus(ctx, parent, response.status);
      }
    } else {
      let statusError: unknown;
      if (response.status !== undefined && response.status !== null) {
        try {
          const status = withChildrenFailedCondition(parent, response.status, failures);
          await this.#writeStatus(ctx, parent, status);
        } catch (error) {
          if (error instanceof ParentGoneError || this.#fenced(ctx, error)) throw error;
          statusError = error;
        }
      }
      throw this.#childFailures(ctx, parent, failures, statusError);
    }
    const resync = [response.resyncAfterMs, this.#config.resyncPeriodMs]
      .filter((v): v is number => typeof v === "number" && v > 0);
    return resync.length ? { ok: true, requeueAfterMs: Math.min(...resync) } : { ok: true };
  }

  async #finalize(ctx: SyncContext, parent: KubernetesObject): Promise<WorkResult> {
    const finalizer = this.#config.finalizer;
    if (!finalizer || !(parent.metadata?.finalizers ?? []).includes(finalizer)) return { ok: true };
    const uid = parent.metadata!.uid!;
    const response: FinalizeResponse = await this.#callHandler(
      ctx,
      "finalize",
      { parent, children: this.#childrenOf(uid) },
      (request) => this.#handler.finalize(request),
    );
    if (response?.status !== undefined && response.status !== null) {
      await this.#writeStatus(ctx, parent, response.status);
    }
    if (response?.retryAfterMs !== undefined) {
      return { ok: true, requeueAfterMs: response.retryAfterMs };
    }
    // Children the garbage collector cannot know about (cluster-scoped children of a namespaced
    // parent carry no owner reference) are deleted here, before the finalizer goes.
    if (parent.metadata?.namespace) {
      for (const child of this.#childrenOf(uid)) {
        const state = this.#children.get(`${child.apiVersion}/${child.kind}`);
        if (!state || state.config.type.namespaced || child.metadata?.deletionTimestamp) continue;
        this.#fence(ctx);
        try {
          await state.client.delete(child.metadata!.name!, {
            preconditions: { uid: child.metadata!.uid! },
            propagationPolicy: "Background",
            ...this.#signal(ctx),
          });
          this.#metrics.write("delete");
          logger.info("deleted cluster-scoped {child} of {parent}, which is being deleted", {
            child: `${child.kind} "${child.metadata!.name}"`,
            parent: ctx.key,
          });
        } catch (error) {
          if (error instanceof ApiError && (error.isNotFound || error.isConflict)) continue;
          throw new SyncError(
            ctx.key,
            `cannot delete ${child.kind} "${child.metadata!.name}": ${
              error instanceof Error ? error.message : String(error)
            }`,
            { cause: error },
          );
        }
      }
    }
    if (await this.#removeFinalizer(ctx, parent, finalizer)) {
      if (this.#events && (!this.#leadership || this.#leadership.holds(ctx.term))) {
        this.#events.record({
          regarding: this.#regarding(parent),
          type: "Normal",
          reason: "Finalized",
          action: "Finalize",
          note: `finalizer "${finalizer}" removed after the finalize handler completed`,
        });
      }
    }
    return { ok: true };
  }

  /** Removes the finalizer; returns whether this call removed it. */
  async #removeFinalizer(
    ctx: SyncContext,
    parent: KubernetesObject,
    finalizer: string,
  ): Promise<boolean> {
    const key = ctx.key;
    // A JSON patch that tests the finalizer at its index before removing it: never removes
    // another controller's finalizer, even when the list changed since the cache saw it.
    let current = parent;
    for (let attempt = 0; attempt < 5; attempt++) {
      const finalizers = current.metadata?.finalizers ?? [];
      const index = finalizers.indexOf(finalizer);
      if (index < 0) return false;
      this.#fence(ctx);
      try {
        await this.#parentClient.patch(current.metadata!.name!, [
          { op: "test", path: `/metadata/finalizers/${index}`, value: finalizer },
          { op: "remove", path: `/metadata/finalizers/${index}` },
        ], {
          type: "json",
          namespace: current.metadata?.namespace ?? undefined,
          ...this.#signal(ctx),
        });
        this.#metrics.write("finalizer");
        logger.info("removed finalizer {finalizer} from {parent}", { finalizer, parent: key });
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.isNotFound) return false;
        if (!(error instanceof ApiError) || !(error.isInvalid || error.isConflict)) throw error;
        current = await this.#parentClient.get(current.metadata!.name!, {
          ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
          ...this.#signal(ctx),
        });
      }
    }
    throw new SyncError(key, `cannot remove finalizer "${finalizer}": the parent keeps changing`);
  }

  #validateChildren(
    key: string,
    parent: KubernetesObject,
    children: KubernetesObject[],
  ): Array<{ object: KubernetesObject; state: ChildState }> {
    const parentNs = parent.metadata?.namespace;
    const seen = new Set<string>();
    return children.map((raw, i) => {
      const where = `children[${i}]`;
      if (!raw || typeof raw !== "object") throw new SyncError(key, `${where} is not an object`);
      const object = normalize(raw);
      secretStringDataToData(object);
      const state = this.#children.get(`${object.apiVersion}/${object.kind}`);
      if (!state) {
        throw new SyncError(
          key,
          `${where} has type ${object.apiVersion}/${object.kind}, which is not a configured child type`,
        );
      }
      const name = object.metadata?.name;
      if (!name) throw new SyncError(key, `${where} (${object.kind}) has no metadata.name`);
      object.metadata ??= {};
      if (state.config.type.namespaced) {
        if (parentNs) {
          if (object.metadata.namespace && object.metadata.namespace !== parentNs) {
            throw new SyncError(
              key,
              `${where} (${object.kind} "${name}") is in namespace "${object.metadata.namespace}", not the parent's "${parentNs}"`,
            );
          }
          object.metadata.namespace = parentNs;
        } else if (!object.metadata.namespace) {
          throw new SyncError(key, `${where} (${object.kind} "${name}") needs metadata.namespace`);
        }
      } else {
        delete object.metadata.namespace;
      }
      const id = `${typeKey(state.config.type)}/${objectKey(object)}`;
      if (seen.has(id)) {
        throw new SyncError(key, `${where} (${object.kind} "${name}") is a duplicate`);
      }
      seen.add(id);
      return { object: this.#decorate(parent, object, state.config.type), state };
    });
  }

  #decorate(
    parent: KubernetesObject,
    object: KubernetesObject,
    type: ResourceType,
  ): KubernetesObject {
    const metadata = object.metadata!;
    metadata.labels = {
      ...metadata.labels,
      [this.#config.trackingLabel]: parent.metadata!.uid!,
      [this.#config.ownershipLabel]: this.#config.name,
    };
    // An owner reference from a cluster-scoped child to a namespaced parent is invalid: such
    // children are deleted by the operator when it finalizes the parent (with a finalizer
    // configured; without one they outlive the parent), instead of by the garbage collector.
    if (!(parent.metadata?.namespace && !type.namespaced)) {
      const ref = {
        apiVersion: parent.apiVersion ?? this.#config.parent.apiVersion,
        kind: parent.kind ?? this.#config.parent.kind,
        name: parent.metadata!.name!,
        uid: parent.metadata!.uid!,
        controller: true,
        blockOwnerDeletion: true,
      };
      metadata.ownerReferences = [
        ...(metadata.ownerReferences ?? []).filter((r) => r.uid !== ref.uid),
        ref,
      ];
    }
    return object;
  }

  /**
   * Writes every desired child that can be written and deletes the children no longer desired.
   * A child that cannot be written (rejected by admission, invalid, in the way of another
   * object) does not stop the others: its failure is returned, and the sync fails after the
   * status is written. Only a lost leadership or a stop ends the loop early.
   */
  async #applyChildren(
    ctx: SyncContext,
    parent: KubernetesObject,
    desired: Array<{ object: KubernetesObject; state: ChildState }>,
    existing: KubernetesObject[],
  ): Promise<ChildFailure[]> {
    const failures: ChildFailure[] = [];
    const wanted = new Set<string>();
    const attempt = async (child: string, write: () => Promise<void>) => {
      try {
        await write();
      } catch (error) {
        if (this.#fenced(ctx, error) || ctx.signal?.aborted) throw error;
        failures.push({ child, error });
      }
    };
    for (const { object, state } of desired) {
      wanted.add(`${typeKey(state.config.type)}/${objectKey(object)}`);
      const child = `${object.kind} "${objectKey(object)}"`;
      await attempt(child, () => this.#applyChild(ctx, parent, object, state));
    }
    for (const object of existing) {
      const state = this.#children.get(`${object.apiVersion}/${object.kind}`);
      if (!state) continue;
      if (wanted.has(`${typeKey(state.config.type)}/${objectKey(object)}`)) continue;
      if (object.metadata?.deletionTimestamp) continue;
      const child = `${object.kind} "${objectKey(object)}"`;
      await attempt(child, async () => {
        this.#fence(ctx);
        try {
          await state.client.delete(object.metadata!.name!, {
            ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
            preconditions: { uid: object.metadata!.uid! },
            propagationPolicy: "Background",
            ...this.#signal(ctx),
          });
        } catch (error) {
          if (error instanceof ApiError && (error.isNotFound || error.isConflict)) return;
          throw new ChildWriteError(`cannot delete ${child}: ${messageOf(error)}`, error);
        }
        this.#metrics.write("delete");
        logger.info("deleted {child}, no longer desired by {parent}", { child, parent: ctx.key });
      });
    }
    return failures;
  }

  /** Creates or updates one desired child per its strategy; throws when it cannot. */
  async #applyChild(
    ctx: SyncContext,
    parent: KubernetesObject,
    object: KubernetesObject,
    state: ChildState,
  ): Promise<void> {
    const key = ctx.key;
    const type = state.config.type;
    const strategy = state.config.updateStrategy;
    const name = object.metadata!.name!;
    const namespace = object.metadata!.namespace ?? undefined;
    const ns = namespace ? { namespace } : {};
    const label = `${object.kind} "${objectKey(object)}"`;
    const owner = parent.metadata!.uid!;
    const id = `${typeKey(type)}/${objectKey(object)}`;
    const ours = (other: KubernetesObject) =>
      parentUidOf(other, this.#config.trackingLabel) === owner;
    // Another object has this child's name: wait for it to change or go (the child informer
    // then queues this parent at once), and say what is in the way.
    const blockedBy = (other: KubernetesObject) => {
      let parents = this.#blocked.get(id);
      if (parents === undefined) this.#blocked.set(id, parents = new Set());
      parents.add(key);
      return new ChildWriteError(
        `cannot write ${label}: it ${
          describeForeignChild(
            other,
            owner,
            this.#config.trackingLabel,
            (uid) => this.#uidToKey.get(uid),
          )
        }`,
      );
    };
    let current = state.informer.get(name, namespace);
    if (current !== undefined && !ours(current)) throw blockedBy(current);
    try {
      if (current === undefined) {
        if (strategy === "Apply") {
          // Server-side apply would silently adopt an object someone else made: look first. An
          // object of ours outside the cache (its ownership label was removed) is applied over.
          const other = await state.client.find(name, { ...ns, ...this.#signal(ctx) });
          if (other !== undefined) {
            if (!ours(other)) throw blockedBy(other);
            current = other;
          }
        } else {
          this.#fence(ctx);
          try {
            const created = await state.client.create(withDesiredHash(object), {
              fieldManager: this.#config.name,
              ...this.#signal(ctx),
            });
            state.informer.observe(created);
            this.#metrics.write("create");
            logger.info("created {child} for {parent}", { child: label, parent: key });
            return;
          } catch (error) {
            if (!(error instanceof ApiError && error.isAlreadyExists)) throw error;
            // Not in the cache, yet there: a twin instance created it a moment ago, or its
            // ownership label was removed, or it is someone else's. Look at it.
            const other = await state.client.find(name, { ...ns, ...this.#signal(ctx) });
            if (other === undefined) {
              throw new ChildWriteError(
                `cannot create ${label}: it existed a moment ago and is gone now; will retry`,
                error,
              );
            }
            if (!ours(other)) throw blockedBy(other);
            current = other;
          }
        }
      }
      if (current?.metadata?.deletionTimestamp) return;
      if (strategy === "Apply") {
        if (current !== undefined && childNeedsWrite(object, current, "Apply").action === "none") {
          return;
        }
        this.#fence(ctx);
        const applied = await state.client.apply(withDesiredHash(object), {
          fieldManager: this.#config.name,
          force: true,
          ...this.#signal(ctx),
        });
        state.informer.observe(applied);
        this.#metrics.write(current ? "apply" : "create");
        logger.info("applied {child} for {parent}", { child: label, parent: key });
        return;
      }
      if (current === undefined) return;
      if (strategy !== "Replace") {
        // OnDelete and Recreate leave the object itself alone, but its labels are repaired (a
        // tool rewrote or removed them): with a metadata patch, not a re-creation.
        const labels = {
          [this.#config.trackingLabel]: owner,
          [this.#config.ownershipLabel]: this.#config.name,
        };
        if (!isSubset(labels, current.metadata?.labels)) {
          this.#fence(ctx);
          current = await state.client.patch(name, { metadata: { labels } }, {
            ...ns,
            fieldManager: this.#config.name,
            ...this.#signal(ctx),
          });
          state.informer.observe(current);
          this.#metrics.write("update");
          logger.info("repaired the labels of {child} of {parent}", { child: label, parent: key });
        }
      }
      if (strategy === "OnDelete") return;
      const decision = childNeedsWrite(object, current, strategy);
      if (decision.action === "none") return;
      const changed = decision.reasons.join(", ");
      this.#fence(ctx);
      if (decision.action === "stamp") {
        // Written by an older version (no desired-hash annotation) and otherwise matching: only
        // the annotation is added, so that no Pod is recreated and no Job re-run on upgrade.
        const stamped = await state.client.patch(name, desiredHashPatch(decision.hash), {
          ...ns,
          fieldManager: this.#config.name,
          ...this.#signal(ctx),
        });
        state.informer.observe(stamped);
        this.#metrics.write("update");
        logger.info("stamped {child} of {parent} ({changed})", {
          child: label,
          parent: key,
          changed,
        });
        return;
      }
      if (strategy === "Recreate") {
        await state.client.delete(name, {
          ...ns,
          preconditions: { uid: current.metadata!.uid! },
          propagationPolicy: "Background",
          ...this.#signal(ctx),
        });
        this.#metrics.write("delete");
        logger.info("deleted {child} of {parent} to recreate it ({changed})", {
          child: label,
          parent: key,
          changed,
        });
        return;
      }
      const stamped = withDesiredHash(object, decision.hash);
      const replaced = await state.client.replace({
        ...stamped,
        metadata: { ...stamped.metadata, resourceVersion: current.metadata!.resourceVersion! },
      }, { fieldManager: this.#config.name, ...this.#signal(ctx) });
      state.informer.observe(replaced);
      this.#metrics.write("update");
      logger.info("replaced {child} of {parent} ({changed})", {
        child: label,
        parent: key,
        changed,
      });
    } catch (error) {
      if (error instanceof LeadershipLostError || error instanceof ChildWriteError) throw error;
      throw new ChildWriteError(`cannot write ${label}: ${messageOf(error)}`, error);
    }
  }

  async #writeStatus(ctx: SyncContext, parent: KubernetesObject, status: unknown): Promise<void> {
    const key = ctx.key;
    let desired = normalize(status) as unknown;
    const generation = parent.metadata?.generation;
    if (
      desired && typeof desired === "object" && !Array.isArray(desired) && generation !== undefined
    ) {
      desired = { ...desired as Record<string, unknown>, observedGeneration: generation };
    }
    let current = parent;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (deepEqual(desired, current.status)) return;
      this.#fence(ctx);
      try {
        const written = await this.#parentClient.replaceStatus(
          { ...current, status: desired },
          this.#signal(ctx),
        );
        this.#parents.observe(written);
        this.#metrics.write("status");
        logger.debug("wrote status of {parent}", { parent: key });
        return;
      } catch (error) {
        if (error instanceof ApiError && error.isNotFound) {
          // The parent is gone (its deletion is on its way to the cache), unless the status
          // subresource itself is missing.
          const now = await this.#parentClient.find(current.metadata!.name!, {
            ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
            ...this.#signal(ctx),
          });
          if (now === undefined || now.metadata?.uid !== parent.metadata?.uid) {
            throw new ParentGoneError(ctx.key);
          }
        }
        if (!(error instanceof ApiError && error.isConflict)) {
          throw new SyncError(
            key,
            `cannot write status: ${error instanceof Error ? error.message : error}`,
            {
              cause: error,
            },
          );
        }
        // Someone else changed the parent: read it fresh and compare again.
        current = await this.#parentClient.get(current.metadata!.name!, {
          ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
          ...this.#signal(ctx),
        });
        if (current.metadata?.uid !== parent.metadata?.uid) return;
      }
    }
    throw new SyncError(key, "cannot write status: it kept conflicting with other writers");
  }
}
