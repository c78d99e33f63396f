/**
 * The informer: list, then watch, one resource type into an in-memory cache, forever. It resumes
 * from the last resourceVersion, relists on 410, asks for bookmarks, restarts a watch that went
 * silent (idle deadline), relists periodically, and backs off on errors (a watch that ends at
 * once without an event counts as one). A watch that ends is always restarted and logged, never
 * silently lost; an event the watch cannot decode leads to a relist and is never stored.
 *
 * Data flows one way: API server → informer (cache) → `onChange` (the controller's queue). The
 * informer is the one writer of its cache, and the cache never goes back in time: a watch event,
 * a list item or the result of our own write (`observe()`) never replaces a newer state, and a
 * deleted object is never brought back by an older write or list (see `#complete`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError, WatchDecodeError } from "../client/errors.ts";
import type { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { compareRv, hasName, objectKey, pruneCachedObject, rvOf } from "./cache_object.ts";
import { InformerSyncError, refusal, ShortWatchError } from "./informer_errors.ts";
import { WatchHealth } from "./watch_health.ts";
import {
  type InformerChange,
  type InformerClock,
  type InformerOptions,
  REAL_CLOCK,
  type RestartReason,
} from "./informer_options.ts";

import { messageOf } from "../client/_util.ts";

const logger = getLogger(["roperator", "informer"]);

/** Settles and empties a list of waiters: rejected with `error` when there is one. */
function settle(waiters: PromiseWithResolvers<void>[], error: Error | undefined): void {
  for (const waiter of waiters.splice(0)) {
    if (error) waiter.reject(error);
    else waiter.resolve();
  }
}

/**
 * A list+watch cache of one resource type. Call `run()`; stop it with the signal.
 *
 * The informer is the one writer of its cache, with these rules (resourceVersions compare as
 * integers when both are integers, as etcd's are):
 * - a watch event, a list item or our own write result (`observe()`) never replaces a newer
 *   state of the object;
 * - the cache is complete up to the highest resourceVersion a list, an event or a bookmark has
 *   shown (`#complete`): an object it lacks was deleted by then, so a state at or before it
 *   (an older list, a replayed event, a late write result) never brings the object back. This
 *   is a tombstone of every deleted key at once, in constant memory;
 * - a relist removes only the objects whose cached state is not newer than the list (a list
 *   served from the watch cache may be older than a state seen or written since);
 * - `onChange` is called only for true changes, each state at most once; `observe()` stores
 *   silently, and the watch event of the same state is then not reported.
 */
export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly #client: ResourceClient<T>;
  readonly #options: InformerOptions<T>;
  readonly #clock: InformerClock;
  readonly #cache = new Map<string, T>();
  readonly #index = new Map<string, Map<string, T>>();
  /** The JSON length of each cached object, so the total is kept without re-serialising. */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  /** Where the watch resumes; `undefined`: relist first. */
  #resourceVersion: string | undefined;
  /**
   * The cache holds every object that existed at this (integer) resourceVersion, in its state
   * then or a newer one: the highest resourceVersion a list, a watch event or a bookmark showed.
   * It never goes down, not even when a relist answers with an older list.
   */
  #complete: bigint | undefined;
  #synced = false;
  #syncWaiters: Array<PromiseWithResolvers<void>> = [];
  /** Waiters of `whenSynced()`: settled by the first list, or by a stop before it. */
  #listedWaiters: Array<PromiseWithResolvers<void>> = [];
  /** Why `waitForSync()` rejects now: a refused first list, or a stop before it. */
  #syncError: InformerSyncError | undefined;
  #restarts = 0;
  /** Whether the watch works now, for readiness. */
  readonly #health: WatchHealth;
  /** List or watch failures in a row, for the backoff; an event of a watch resets it. */
  #failures = 0;

  /**
   * Creates an informer; nothing is listed until `run()`.
   *
   * @param client the resource client (bound to a namespace, or all)
   * @param options selectors, deadlines, transform, index and callbacks
   */
  constructor(client: ResourceClient<T>, options: InformerOptions<T> = {}) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#health = new WatchHealth(this.#clock, options.shortWatchMs ?? 1_000);
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
   * Resolves once the first list has completed. Rejects with {@linkcode InformerSyncError} when
   * the informer stops before its first list, or when the API server refuses the first list
   * with 401, 403 or 404 (the informer keeps retrying in the background; a later call resolves
   * once a list succeeds).
   *
   * @returns a promise that settles as said
   */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#syncError) return Promise.reject(this.#syncError);
    const waiter = Promise.withResolvers<void>();
    this.#syncWaiters.push(waiter);
    return waiter.promise;
  }

  /**
   * Resolves once the first list has completed, however many lists were refused before it;
   * rejects with {@linkcode InformerSyncError} only when the informer stops before its first
   * list. Unlike {@linkcode waitForSync}, a refused list (401, 403, 404) does not settle it: the
   * informer keeps retrying, and an operator whose RBAC or CRD arrives a moment late starts then.
   *
   * @returns a promise that settles as said
   */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#syncError && this.#syncError.status === undefined) {
      return Promise.reject(this.#syncError);
    }
    const waiter = Promise.withResolvers<void>();
    this.#listedWaiters.push(waiter);
    return waiter.promise;
  }

  #settleSync(error?: InformerSyncError): void {
    this.#syncError = error;
    settle(this.#syncWaiters, error);
    // A refusal (an error with a status) leaves the informer retrying: `whenSynced()` waits on.
    if (error?.status === undefined) settle(this.#listedWaiters, error);
  }

  /**
   * Why this informer is not ready, or `undefined` when it is: ready means the first list has
   * completed and the watch works now, that is, it is connected, or it has been failing for less
   * than `graceMs`.
   *
   * @param graceMs how long the watch may fail before the informer is not ready
   * @returns one line that names the type and the last error, or `undefined`
   */
  notReadyReason(graceMs: number): string | undefined {
    const lastError = this.#health.lastError;
    const error = lastError ? `: ${lastError}` : "";
    if (!this.#synced) return `${this.typeName}: cache not synced${error}`;
    const failingMs = this.#health.failingMs();
    if (failingMs === undefined || failingMs < graceMs) return undefined;
    return `${this.typeName}: watch failing for ${Math.round(failingMs / 1000)} s${error}`;
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
   * resourceVersion is then ignored. The result is dropped when the cache holds a newer state,
   * or when the object was deleted after this state (the watch or a list showed the deletion).
   *
   * @param object the object the API server returned
   */
  observe(object: T): void {
    if (!hasName(object)) return;
    const transformed = this.#transform(object);
    const rv = rvOf(transformed);
    const current = this.#cache.get(objectKey(transformed));
    if (current) {
      // Only a state known to be newer replaces the cached one.
      if (compareRv(rv, rvOf(current)) !== 1) return;
    } else if (this.#deletedSince(rv)) {
      return;
    }
    this.#store(transformed);
  }

  /**
   * Whether a state of an object the cache lacks is at or before `#complete`: the object was
   * deleted (or left the selector) since.
   */
  #deletedSince(rv: string | undefined): boolean {
    if (this.#complete === undefined || !rv || !/^\d+$/.test(rv)) return false;
    return BigInt(rv) <= this.#complete;
  }

  /** The cache is complete up to `rv` (a list's, an event's or a bookmark's). */
  #advance(rv: string | undefined): void {
    if (!rv || !/^\d+$/.test(rv)) return;
    const value = BigInt(rv);
    if (this.#complete === undefined || value > this.#complete) this.#complete = value;
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

  #remove(key: string): T | undefined {
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

  /** Stores a state from the watch or a list unless the cache knows a newer one; reports it. */
  #upsert(object: T): void {
    const key = objectKey(object);
    const cached = this.#cache.get(key);
    const rv = rvOf(object);
    if (cached) {
      const order = compareRv(rv, rvOf(cached));
      // Already seen, or older than what the cache holds (a newer event, or our own write).
      if (order !== undefined && order <= 0) return;
    } else if (this.#deletedSince(rv)) {
      // An older list or a replayed event: the object was deleted since.
      return;
    }
    const previous = this.#store(object);
    this.#emit(previous ? { type: "modified", object, previous } : { type: "added", object });
  }

  /** Removes an object the watch says is deleted, unless the cache holds a later state. */
  #delete(object: T): void {
    const key = objectKey(object);
    const cached = this.#cache.get(key);
    if (!cached) return;
    // A later state: the object was created again (our own write) after this deletion.
    if ((compareRv(rvOf(cached), rvOf(object)) ?? 0) > 0) return;
    this.#remove(key);
    this.#emit({ type: "deleted", object, previous: cached });
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
    const seen = new Set<string>();
    let unnamed = 0;
    let resourceVersion = "";
    // Page by page: each page is stored before the next is asked for, so only one page of raw
    // objects (with their managedFields) is alive at a time. Deletions wait for the last page.
    for await (
      const page of this.#client.listPages({
        ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
        ...(this.#options.fieldSelector ? { fieldSelector: this.#options.fieldSelector } : {}),
        pageSize: this.#options.pageSize ?? 500,
        signal,
      })
    ) {
      resourceVersion = page.metadata.resourceVersion ?? resourceVersion;
      for (const raw of page.items) {
        if (!hasName(raw)) {
          unnamed++;
          continue;
        }
        const object = this.#transform(raw);
        seen.add(objectKey(object));
        this.#upsert(object);
      }
    }
    if (unnamed > 0) {
      logger.warn("list of {type} had {count} objects without metadata.name; ignored", {
        type: this.typeName,
        count: unnamed,
      });
    }
    for (const [key, object] of [...this.#cache]) {
      if (seen.has(key)) continue;
      // Newer than the list: written or seen after it (the list may come from the watch cache).
      if ((compareRv(rvOf(object), resourceVersion) ?? 0) > 0) continue;
      this.#remove(key);
      this.#emit({ type: "deleted", object, previous: object });
    }
    this.#advance(resourceVersion);
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#settleSync();
    }
    this.#syncError = undefined;
    this.#options.onSynced?.();
  }

  #restarted(reason: RestartReason, error?: unknown): void {
    this.#restarts++;
    this.#options.onRestart?.(reason, error);
  }

  /**
   * Lists and watches until the signal aborts. Never rejects: every error is logged and the
   * watch restarted with backoff. When it stops before the first list, `waitForSync()` rejects.
   *
   * @param signal stops the informer
   * @returns a promise that settles when stopped
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#syncError?.status === undefined) this.#syncError = undefined;
    try {
      await this.#loop(signal);
    } finally {
      this.#health.closed();
      if (!this.#synced) {
        this.#settleSync(
          new InformerSyncError(this.typeName, "the informer stopped before its first list"),
        );
      }
    }
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const clock = this.#clock;
    this.#failures = 0;
    let lastList = 0;
    while (!signal.aborted) {
      try {
        if (this.#resourceVersion === undefined) {
          await this.#firstOrRelist(signal);
          lastList = clock.now();
          logger.debug("listed {type}: {count} objects", { type: this.typeName, count: this.size });
        }
        const watch = await this.#watch(signal);
        this.#health.closed();
        if (signal.aborted) break;
        this.#watchEnded(watch, lastList);
      } catch (error) {
        this.#health.closed();
        if (signal.aborted) break;
        if (error instanceof ApiError && error.isGone) {
          logger.info("resourceVersion of {type} expired (410); relisting", {
            type: this.typeName,
          });
          this.#resourceVersion = undefined;
          this.#restarted("expired");
          continue;
        }
        this.#failures++;
        await this.#backOff(error, signal);
      }
    }
  }

  /** Relists; a first list refused for good (401, 403, 404) rejects `waitForSync()`. */
  async #firstOrRelist(signal: AbortSignal): Promise<void> {
    try {
      await this.#relist(signal);
    } catch (error) {
      const refused = refusal(error);
      if (refused && !this.#synced && !signal.aborted) {
        this.#settleSync(
          new InformerSyncError(
            this.typeName,
            `listing it was refused with ${refused.status} ${refused.reason}: ${
              refused.body?.message ?? refused.message
            }`,
            { status: refused.status, cause: error },
          ),
        );
      }
      throw error;
    }
  }

  /**
   * Watches from the last resourceVersion until the watch ends, applying each event to the cache.
   *
   * @returns how the watch went: whether it expired (410), when it opened, and below which
   * duration an end without an event counts as an error
   */
  async #watch(
    signal: AbortSignal,
  ): Promise<{ expired: boolean; openedAt: number; shortWatchMs: number }> {
    const baseTimeout = this.#options.watchTimeoutSeconds ?? 290;
    const timeoutSeconds = Math.max(1, Math.round(baseTimeout * (0.9 + Math.random() * 0.2)));
    // A watch asked to last very little may end soon without an event and still be fine.
    const shortWatchMs = Math.min(this.#options.shortWatchMs ?? 1_000, timeoutSeconds * 500);
    const openedAt = this.#clock.now();
    this.#health.opened(openedAt);
    for await (
      const event of this.#client.watch({
        resourceVersion: this.#resourceVersion!,
        ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
        ...(this.#options.fieldSelector ? { fieldSelector: this.#options.fieldSelector } : {}),
        allowWatchBookmarks: true,
        timeoutSeconds,
        idleTimeoutMs: this.#options.idleTimeoutMs ?? 70_000,
        signal,
      })
    ) {
      this.#failures = 0;
      this.#health.event();
      // Any event but an ERROR proves the watch works.
      if (event.type !== "ERROR" && this.#health.failing) this.#health.working();
      if (event.type === "ERROR") {
        if (event.object.code === 410) return { expired: true, openedAt, shortWatchMs };
        throw new ApiError(
          { method: "WATCH", path: this.typeName },
          event.object.code ?? 500,
          event.object,
        );
      }
      const rv = event.object.metadata?.resourceVersion;
      if (event.type === "BOOKMARK") {
        if (rv) this.#resourceVersion = rv;
        this.#advance(rv);
        continue;
      }
      if (!hasName(event.object)) {
        // Never stored (its key would be "undefined"); the stream is suspect: relist.
        throw new WatchDecodeError(this.typeName, `the ${event.type} object has no metadata.name`);
      }
      const object = this.#transform(event.object);
      if (event.type === "DELETED") this.#delete(object);
      else this.#upsert(object);
      if (rv) this.#resourceVersion = rv;
      this.#advance(rv);
    }
    return { expired: false, openedAt, shortWatchMs };
  }

  /** A watch ended without an error: relist (expired, or the relist period is over) or resume. */
  #watchEnded(
    watch: { expired: boolean; openedAt: number; shortWatchMs: number },
    lastList: number,
  ): void {
    const clock = this.#clock;
    const { expired } = watch;
    const relistPeriod = this.#options.relistPeriodMs ?? 600_000;
    const lasted = clock.now() - watch.openedAt;
    if (this.#health.events === 0 && !expired && lasted < watch.shortWatchMs) {
      throw new ShortWatchError(this.typeName, lasted);
    }
    if (this.#health.events === 0 && !this.#health.lastFailureIdle) this.#health.working();
    if (expired) {
      logger.info("watch of {type} expired (410); relisting", { type: this.typeName });
      this.#resourceVersion = undefined;
      this.#restarted("expired");
    } else if (relistPeriod > 0 && clock.now() - lastList >= relistPeriod) {
      this.#resourceVersion = undefined;
      this.#restarted("relist");
    } else {
      logger.debug("watch of {type} closed by the server; resuming at {rv}", {
        type: this.typeName,
        rv: this.#resourceVersion,
      });
      this.#restarted("closed");
    }
  }

  /** List or watch failed: records it, logs it and waits with backoff before the next try. */
  async #backOff(error: unknown, signal: AbortSignal): Promise<void> {
    const idle = error instanceof Error && error.name === "WatchIdleTimeoutError";
    // WatchDecodeError (a SyntaxError) and its subclasses: an event that cannot be decoded
    // or stored. The stream position is unknown: relist.
    const invalid = error instanceof WatchDecodeError || error instanceof SyntaxError;
    const reason: RestartReason = idle ? "idle" : invalid ? "invalid" : "error";
    this.#health.failed(messageOf(error), idle);
    const delay = Math.round(
      Math.min(30_000, 800 * 2 ** Math.min(this.#failures - 1, 6)) * (0.5 + Math.random() * 0.5),
    );
    logger.warn("watch of {type} failed ({reason}): {error}; restarting in {delay} ms", {
      type: this.typeName,
      reason,
      error: messageOf(error),
      delay,
    });
    this.#restarted(reason, error);
    if (invalid) this.#resourceVersion = undefined;
    await this.#clock.sleep(idle ? 0 : delay, signal);
  }
}
