/**
 * The informer: list, then watch, one resource type into an in-memory cache, forever. It resumes
 * from the last resourceVersion, relists on 410, asks for bookmarks, restarts a watch that went
 * silent (idle deadline), relists periodically, and backs off on errors. A watch that ends is
 * always restarted and logged, never silently lost.
 *
 * Data flows one way: API server → informer (cache) → `onChange` (the controller's queue).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";

const logger = getLogger(["roperator", "informer"]);

/** A change seen by an informer. */
export interface InformerChange<T> {
  /** What happened. */
  type: "added" | "modified" | "deleted";
  /** The object's current state (its last state, for deleted). */
  object: T;
  /** The previous state, for modified and deleted. */
  previous?: T;
}

/** Why a watch was restarted, for the watch-restart metric. */
export type RestartReason = "closed" | "expired" | "idle" | "error" | "relist";

/** Options for {@linkcode Informer}. */
export interface InformerOptions<T> {
  /** Label selector for list and watch. */
  labelSelector?: string;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** Idle deadline of a watch in milliseconds (default 70 000). */
  idleTimeoutMs?: number;
  /** Full relist period in milliseconds (default 10 minutes; 0 = never). */
  relistPeriodMs?: number;
  /** `timeoutSeconds` of a watch request (default 290, randomised ±10%). */
  watchTimeoutSeconds?: number;
  /**
   * Trims an object before it is cached, to save memory. The default,
   * {@linkcode pruneCachedObject}, drops `metadata.managedFields` and the
   * `kubectl.kubernetes.io/last-applied-configuration` annotation.
   */
  transform?: (object: T) => T;
  /** A secondary index: objects are also found by the key this returns (the parent uid). */
  indexBy?: (object: T) => string | undefined;
  /** Called for every change, after the cache is updated. */
  onChange?: (change: InformerChange<T>) => void;
  /** Called when a watch restarts. */
  onRestart?: (reason: RestartReason, error?: unknown) => void;
  /** Called when the cache is first complete, and again after each relist. */
  onSynced?: () => void;
}

/** Drops `metadata.managedFields`, about half of an object's metadata. */
export function pruneManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/** The annotation `kubectl apply` writes: a whole copy of the object, often its biggest part. */
export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The default cache transform: drops `metadata.managedFields` (about half of an object's
 * metadata) and the `kubectl.kubernetes.io/last-applied-configuration` annotation (a second copy
 * of what was applied). The object given is not modified.
 *
 * @example
 * ```ts
 * import { pruneCachedObject } from "./informer.ts";
 * const pruned = pruneCachedObject({
 *   metadata: {
 *     name: "a",
 *     managedFields: [{ manager: "kubectl" }],
 *     annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "yes" },
 *   },
 * });
 * pruned.metadata; // { name: "a", annotations: { keep: "yes" } }
 * ```
 *
 * @param object the object as the API server sent it
 * @returns the object without those fields
 */
export function pruneCachedObject<T extends KubernetesObject>(object: T): T {
  const pruned = pruneManagedFields(object);
  const annotations = pruned.metadata?.annotations;
  if (!annotations || !(LAST_APPLIED_ANNOTATION in annotations)) return pruned;
  const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = annotations;
  const metadata = { ...pruned.metadata };
  if (Object.keys(rest).length > 0) metadata.annotations = rest;
  else delete metadata.annotations;
  return { ...pruned, metadata };
}

/**
 * The cache key of an object: `namespace/name`, or `name` for cluster-scoped objects.
 *
 * @param object the object
 * @returns the key
 */
export function objectKey(object: KubernetesObject): string {
  const ns = object.metadata?.namespace;
  return ns ? `${ns}/${object.metadata?.name}` : `${object.metadata?.name}`;
}

/**
 * Whether `a` is a later state of an object than `b`. resourceVersions are opaque by contract,
 * but every storage kube-apiserver ships (etcd) uses increasing integers; when either is not an
 * integer, nothing can be said and the answer is false.
 */
function isNewer(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = a.metadata?.resourceVersion;
  const rb = b.metadata?.resourceVersion;
  if (!ra || !rb || !/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return false;
  return BigInt(ra) > BigInt(rb);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** A list+watch cache of one resource type. Call `run()`; stop it with the signal. */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly #client: ResourceClient<T>;
  readonly #options: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  readonly #index = new Map<string, Map<string, T>>();
  /** The JSON length of each cached object, so the total is kept without re-serialising. */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  #resourceVersion: string | undefined;
  #synced = false;
  #syncedWaiters: Array<() => void> = [];
  #restarts = 0;

  /**
   * Creates an informer; nothing is listed until `run()`.
   *
   * @param client the resource client (bound to a namespace, or all)
   * @param options selectors, deadlines, transform, index and callbacks
   */
  constructor(client: ResourceClient<T>, options: InformerOptions<T> = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** The resource type's `apiVersion/kind`. */
  get typeName(): string {
    return `${this.#client.type.apiVersion}/${this.#client.type.kind}`;
  }

  /** Whether the first list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Number of cached objects. */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * The JSON length of the cached objects (after the transform), kept up to date as objects are
   * stored and removed: an estimate of the cache's memory.
   */
  get bytes(): number {
    return this.#bytes;
  }

  /** How often a watch was restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Resolves once the first list has completed.
   *
   * @returns a promise
   */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncedWaiters.push(resolve));
  }

  /**
   * A cached object.
   *
   * @param name the name
   * @param namespace the namespace (omit for cluster-scoped)
   * @returns the object or `undefined`
   */
  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /**
   * A cached object by its key (`namespace/name` or `name`).
   *
   * @param key the key
   * @returns the object or `undefined`
   */
  getByKey(key: string): T | undefined {
    return this.#cache.get(key);
  }

  /**
   * Stores the result of this process's own write, so the next sync reads its own write even
   * before the watch delivers it. Emits no change; the watch event for the same
   * resourceVersion is then ignored.
   *
   * @param object the object the API server returned
   */
  observe(object: T): void {
    const transformed = this.#transform(object);
    const current = this.#cache.get(objectKey(transformed));
    // The watch may already have delivered a newer state (say, a deletion that happened while
    // our write was in flight): never replace it with the older result of our own write.
    if (current && !isNewer(transformed, current)) return;
    this.#store(transformed);
  }

  /**
   * Every cached object.
   *
   * @returns the objects
   */
  list(): T[] {
    return [...this.#cache.values()];
  }

  /**
   * The cached objects with this index key.
   *
   * @param key the index key (a parent uid)
   * @returns the objects
   */
  byIndex(key: string): T[] {
    const bucket = this.#index.get(key);
    return bucket ? [...bucket.values()] : [];
  }

  #indexKey(object: T): string | undefined {
    return this.#options.indexBy?.(object);
  }

  #store(object: T): T | undefined {
    const key = objectKey(object);
    const previous = this.#cache.get(key);
    this.#cache.set(key, object);
    const size = JSON.stringify(object).length;
    this.#bytes += size - (this.#sizes.get(key) ?? 0);
    this.#sizes.set(key, size);
    const oldIndex = previous ? this.#indexKey(previous) : undefined;
    const newIndex = this.#indexKey(object);
    if (oldIndex !== undefined && oldIndex !== newIndex) this.#index.get(oldIndex)?.delete(key);
    if (newIndex !== undefined) {
      let bucket = this.#index.get(newIndex);
      if (!bucket) this.#index.set(newIndex, bucket = new Map());
      bucket.set(key, object);
    }
    return previous;
  }

  #remove(object: T): T | undefined {
    const key = objectKey(object);
    const previous = this.#cache.get(key);
    if (!previous) return undefined;
    this.#cache.delete(key);
    this.#bytes -= this.#sizes.get(key) ?? 0;
    this.#sizes.delete(key);
    const index = this.#indexKey(previous);
    if (index !== undefined) {
      const bucket = this.#index.get(index);
      bucket?.delete(key);
      if (bucket?.size === 0) this.#index.delete(index);
    }
    return previous;
  }

  #emit(change: InformerChange<T>): void {
    try {
      this.#options.onChange?.(change);
    } catch (error) {
      logger.error("onChange of {type} threw: {error}", { type: this.typeName, error });
    }
  }

  #transform(object: T): T {
    return (this.#options.transform ?? pruneCachedObject)(object);
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.#client.listAll({
      ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
      pageSize: this.#options.pageSize ?? 500,
      signal,
    });
    const seen = new Set<string>();
    for (const raw of items) {
      const object = this.#transform(raw);
      seen.add(objectKey(object));
      const previous = this.#store(object);
      if (!previous) this.#emit({ type: "added", object });
      else if (previous.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        this.#emit({ type: "modified", object, previous });
      }
    }
    for (const [key, object] of [...this.#cache]) {
      if (!seen.has(key)) {
        this.#remove(object);
        this.#emit({ type: "deleted", object, previous: object });
      }
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncedWaiters.splice(0)) resolve();
    }
    this.#options.onSynced?.();
  }

  #restarted(reason: RestartReason, error?: unknown): void {
    this.#restarts++;
    this.#options.onRestart?.(reason, error);
  }

  /**
   * Lists and watches until the signal aborts. Never rejects: every error is logged and the
   * watch restarted with backoff.
   *
   * @param signal stops the informer
   * @returns a promise that settles when stopped
   */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let lastList = 0;
    const relistPeriod = this.#options.relistPeriodMs ?? 600_000;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) {
          await this.#relist(signal);
          lastList = Date.now();
          logger.debug("listed {type}: {count} objects", { type: this.typeName, count: this.size });
        }
        const baseTimeout = this.#options.watchTimeoutSeconds ?? 290;
        const timeoutSeconds = Math.max(1, Math.round(baseTimeout * (0.9 + Math.random() * 0.2)));
        let expired = false;
        for await (
          const event of this.#client.watch({
            resourceVersion: this.#resourceVersion!,
            ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
            allowWatchBookmarks: true,
            timeoutSeconds,
            idleTimeoutMs: this.#options.idleTimeoutMs ?? 70_000,
            signal,
          })
        ) {
          failures = 0;
          if (event.type === "ERROR") {
            if (event.object.code === 410) {
              expired = true;
              break;
            }
            throw new ApiError(
              { method: "WATCH", path: this.typeName },
              event.object.code ?? 500,
              event.object,
            );
          }
          const rv = event.object.metadata?.resourceVersion;
          if (event.type === "BOOKMARK") {
            if (rv) this.#resourceVersion = rv;
            continue;
          }
          const object = this.#transform(event.object);
          if (event.type === "DELETED") {
            const previous = this.#remove(object);
            this.#emit({ type: "deleted", object, ...(previous ? { previous } : {}) });
          } else {
            const cached = this.#cache.get(objectKey(object));
            // Already seen, or older than what our own write stored (observe()): the watch is
            // behind, and replaying it would take the cache back in time.
            if (cached && (cached.metadata?.resourceVersion === rv || isNewer(cached, object))) {
              if (rv) this.#resourceVersion = rv;
              continue;
            }
            const previous = this.#store(object);
            this.#emit(
              previous ? { type: "modified", object, previous } : { type: "added", object },
            );
          }
          if (rv) this.#resourceVersion = rv;
        }
        if (signal.aborted) break;
        if (expired) {
          logger.info("watch of {type} expired (410); relisting", { type: this.typeName });
          this.#resourceVersion = undefined;
          this.#restarted("expired");
        } else if (relistPeriod > 0 && Date.now() - lastList >= relistPeriod) {
          this.#resourceVersion = undefined;
          this.#restarted("relist");
        } else {
          logger.debug("watch of {type} closed by the server; resuming at {rv}", {
            type: this.typeName,
            rv: this.#resourceVersion,
          });
          this.#restarted("closed");
        }
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ApiError && error.isGone) {
          logger.info("resourceVersion of {type} expired (410); relisting", {
            type: this.typeName,
          });
          this.#resourceVersion = undefined;
          this.#restarted("expired");
          continue;
        }
        failures++;
        const reason: RestartReason =
          error instanceof Error && error.name === "WatchIdleTimeoutError" ? "idle" : "error";
        const delay = Math.round(
          Math.min(30_000, 800 * 2 ** Math.min(failures - 1, 6)) * (0.5 + Math.random() * 0.5),
        );
        logger.warn("watch of {type} failed ({reason}): {error}; restarting in {delay} ms", {
          type: this.typeName,
          reason,
          error: error instanceof Error ? error.message : String(error),
          delay,
        });
        this.#restarted(reason, error);
        // A decode error leaves the stream position unknown: relist to be safe.
        if (error instanceof SyntaxError) this.#resourceVersion = undefined;
        await sleep(reason === "idle" ? 0 : delay, signal);
      }
    }
  }
}
