/**
 * The handler contract: given a parent and its existing children ({@linkcode SyncRequest}), a
 * handler returns the parent's desired status and the complete list of desired children
 * ({@linkcode SyncResponse}), and, while the parent is being deleted, whether clean-up is done
 * ({@linkcode FinalizeResponse}).
 *
 * @module
 */
import { isJsonObject } from "../client/_util.ts";
import type { KubernetesObject, ObjectMeta } from "../client/resource_type.ts";
import { Children } from "./children.ts";
import { type CacheReader, EMPTY_CACHE, RelatedObjects } from "./related.ts";

/** What a handler is given: a snapshot of the parent and of its existing children. */
export interface SyncRequest<P extends KubernetesObject = KubernetesObject> {
  /** The parent, as found in the cache when the sync started. */
  readonly parent: P;
  /** The parent's existing children, as found in the cache when the sync started. */
  readonly children: Children;
  /**
   * The related objects the parent refers to (see the config's `related`), as found in the
   * cache when the sync started: `request.related.get(declaration)`.
   */
  readonly related: RelatedObjects;
  /** A read-only view of every cache the operator keeps (parents, children, related types). */
  readonly cache: CacheReader;
  /**
   * Aborted when the sync times out (`syncTimeoutMs`), when leadership is lost, or when the
   * operator stops and the sync outlives the shutdown bound; pass it to `fetch` and other
   * cancellable work.
   */
  readonly signal: AbortSignal;
}

/**
 * A typed object such as a kubernetes-types `Deployment`: TypeScript does not let an interface
 * without an index signature stand for {@linkcode KubernetesObject}, so desired children accept
 * either.
 */
export interface TypedObject {
  /** `group/version`, or `v1` for the core group. */
  apiVersion?: string | undefined;
  /** The kind. */
  kind?: string | undefined;
  /** Standard object metadata. */
  metadata?: ObjectMeta | undefined;
}

/** A desired child: a plain object literal or a typed object. */
export type DesiredChild = KubernetesObject | TypedObject;

/** What {@linkcode SyncFunction} returns. */
export interface SyncResponse<S = unknown> {
  /**
   * The parent's desired status. `undefined` or `null` leaves the status as it is (roperator
   * wrote `null`, clearing it); to clear it, return `{}`. When it is an object, the runner sets
   * `observedGeneration` to the parent's `metadata.generation`, and writes it only when it
   * differs from the current status.
   */
  status?: S | null | undefined;
  /**
   * Every child the parent should have, complete: existing children left out are deleted. Give
   * only the fields you care about (never `status`); the runner adds the tracking and ownership
   * labels and the owner reference.
   */
  children: readonly DesiredChild[];
  /**
   * Sync this parent again after this many ms even if nothing changes (for example to poll an
   * external system or to act when a deadline passes). Absent: only on changes, periodic resync
   * and errors.
   */
  resyncAfterMs?: number | undefined;
  /**
   * The sync failed, although the handler returned normally: the status and children are
   * applied as usual, but the sync counts as an error (`roperator_syncs_total{result="error"}`).
   * `failableHandler` sets it when `validate` or `syncChildren` threw. Absent: a success.
   */
  failed?: boolean | undefined;
}

/** What {@linkcode FinalizeFunction} returns. */
export interface FinalizeResponse<S = unknown> {
  /** The parent's desired status, as in {@linkcode SyncResponse.status}. */
  status?: S | null | undefined;
  /**
   * Clean-up is not finished: call `finalize` again after this many ms. Absent: clean-up is done,
   * and the runner removes the finalizer so that the deletion completes.
   */
  retryAfterMs?: number | undefined;
  /**
   * Finalizing failed, although the handler returned normally: the status is applied and
   * `retryAfterMs` honoured as usual, but the sync counts as an error
   * (`roperator_syncs_total{result="error"}`). `failableHandler` sets it when `finalize` threw.
   */
  failed?: boolean | undefined;
}

/**
 * Computes the desired status and children of a parent. It should be a pure function of the
 * request, and may throw (or reject) to report a failure: then nothing is written and the sync
 * is retried with backoff.
 */
export type SyncFunction<P extends KubernetesObject = KubernetesObject> = (
  request: SyncRequest<P>,
) => SyncResponse | Promise<SyncResponse>;

/**
 * Cleans up after a parent that is being deleted (it has a `deletionTimestamp` and still carries
 * the operator's finalizer). Children are deleted by the garbage collector afterwards, through
 * their owner references.
 */
export type FinalizeFunction<P extends KubernetesObject = KubernetesObject> = (
  request: SyncRequest<P>,
) => FinalizeResponse | Promise<FinalizeResponse>;

/** A handler with a `sync` method and an optional `finalize` method. */
export interface HandlerObject<P extends KubernetesObject = KubernetesObject> {
  /**
   * Computes the desired status and children of a parent.
   *
   * @param request the parent and its existing children
   * @returns the desired status and children
   */
  sync(request: SyncRequest<P>): SyncResponse | Promise<SyncResponse>;
  /**
   * Cleans up after a parent that is being deleted. Default: done at once, status unchanged.
   *
   * @param request the parent and its existing children
   * @returns whether clean-up is done, and the desired status
   */
  finalize?(request: SyncRequest<P>): FinalizeResponse | Promise<FinalizeResponse>;
}

/** A handler: a sync function, or an object with `sync` and optionally `finalize`. */
export type Handler<P extends KubernetesObject = KubernetesObject> =
  | SyncFunction<P>
  | HandlerObject<P>;

/**
 * A handler in the one shape the runner uses: both functions always present, always returning a
 * promise, and checking the shape of what the user's code returned.
 */
export interface NormalizedHandler<P extends KubernetesObject = KubernetesObject> {
  /**
   * Runs the user's `sync`.
   *
   * @param request the parent and its existing children
   * @returns the response
   * @throws {TypeError} (as a rejection) when the response is malformed; any error `sync` throws
   */
  sync(request: SyncRequest<P>): Promise<SyncResponse>;
  /**
   * Runs the user's `finalize`, or reports done with the status unchanged when there is none.
   *
   * @param request the parent and its existing children
   * @returns the response
   * @throws {TypeError} (as a rejection) when the response is malformed; any error `finalize`
   * throws
   */
  finalize(request: SyncRequest<P>): Promise<FinalizeResponse>;
}

function checkDelay(value: unknown, what: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(
      `Cannot use ${what}: must be a finite number of milliseconds of at least 0, got ${
        String(value)
      }`,
    );
  }
}

function checkFailed(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(
      `Cannot use ${what}: failed must be a boolean when present, got ${typeof value}`,
    );
  }
}

function checkSyncResponse(response: unknown): SyncResponse {
  if (!isJsonObject(response)) {
    throw new TypeError(
      `Cannot use sync response: the handler must return { status?, children, resyncAfterMs? }, got ${
        response === null ? "null" : typeof response
      }`,
    );
  }
  if (!Array.isArray(response.children)) {
    throw new TypeError(
      "Cannot use sync response: children must be an array (return [] to have no children)",
    );
  }
  response.children.forEach((child, i) => {
    if (!isJsonObject(child)) {
      throw new TypeError(`Cannot use sync response: children[${i}] must be an object`);
    }
  });
  checkDelay(response.resyncAfterMs, "sync response: resyncAfterMs");
  checkFailed(response.failed, "sync response");
  return response as unknown as SyncResponse;
}

function checkFinalizeResponse(response: unknown): FinalizeResponse {
  if (!isJsonObject(response)) {
    throw new TypeError(
      `Cannot use finalize response: the handler must return { status?, retryAfterMs? }, got ${
        response === null ? "null" : typeof response
      }`,
    );
  }
  checkDelay(response.retryAfterMs, "finalize response: retryAfterMs");
  checkFailed(response.failed, "finalize response");
  return response as FinalizeResponse;
}

/**
 * Turns any {@linkcode Handler} into a {@linkcode NormalizedHandler}. Methods of a handler object
 * are called on the object, so classes work.
 *
 * @example
 * ```ts
 * import { normalizeHandler } from "./handler.ts";
 * import { Children } from "./children.ts";
import { type CacheReader, EMPTY_CACHE, RelatedObjects } from "./related.ts";
 * const handler = normalizeHandler(({ parent }) => ({
 *   status: { seen: parent.metadata?.name },
 *   children: [],
 * }));
 * import { syncRequest } from "./handler.ts";
 * const request = syncRequest({ metadata: { name: "a" } }, new Children());
 * await handler.sync(request); // { status: { seen: "a" }, children: [] }
 * await handler.finalize(request); // {}
 * ```
 *
 * @param handler a sync function, or an object with `sync` and optionally `finalize`
 * @returns the normalized handler
 * @throws {TypeError} when `handler` is neither
 */
export function normalizeHandler<P extends KubernetesObject = KubernetesObject>(
  handler: Handler<P>,
): NormalizedHandler<P> {
  if (typeof handler === "function") {
    return Object.freeze({
      sync: async (request: SyncRequest<P>) => checkSyncResponse(await handler(request)),
      finalize: (): Promise<FinalizeResponse> => Promise.resolve({}),
    });
  }
  if (typeof handler !== "object" || handler === null || typeof handler.sync !== "function") {
    throw new TypeError(
      "Cannot use handler: expected a sync function or an object with a sync method",
    );
  }
  if (handler.finalize !== undefined && typeof handler.finalize !== "function") {
    throw new TypeError("Cannot use handler: finalize must be a method when present");
  }
  return Object.freeze({
    sync: async (request: SyncRequest<P>) => checkSyncResponse(await handler.sync(request)),
    finalize: async (request: SyncRequest<P>) =>
      handler.finalize === undefined ? {} : checkFinalizeResponse(await handler.finalize(request)),
  });
}

/** Options for {@linkcode syncRequest}. */
export interface SyncRequestOptions {
  /** The signal to expose as {@linkcode SyncRequest.signal}. */
  signal?: AbortSignal;
  /** The related objects, by declaration; default none. */
  related?: RelatedObjects | ReadonlyMap<object, readonly KubernetesObject[]>;
  /** The cache view; default one that watches nothing. */
  cache?: CacheReader;
}

/**
 * Builds a {@linkcode SyncRequest}, for example to unit-test a handler without a cluster.
 *
 * @example
 * ```ts
 * import { syncRequest } from "./handler.ts";
 * const request = syncRequest(
 *   { apiVersion: "example.dev/v1", kind: "Thing", metadata: { name: "a", uid: "1" } },
 *   [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } }],
 * );
 * request.children.size; // 1
 * ```
 *
 * @param parent the parent
 * @param children the existing children, or a {@linkcode Children} already built
 * @param options an abort signal, related objects and a cache view
 * @returns the request
 */
export function syncRequest<P extends KubernetesObject>(
  parent: P,
  children: readonly KubernetesObject[] | Children = [],
  options: SyncRequestOptions = {},
): SyncRequest<P> {
  return Object.freeze({
    parent,
    children: children instanceof Children ? children : new Children(children),
    related: options.related instanceof RelatedObjects
      ? options.related
      : new RelatedObjects(options.related),
    cache: options.cache ?? EMPTY_CACHE,
    signal: options.signal ?? new AbortController().signal,
  });
}
