/**
 * {@linkcode failableHandler}: build a handler from three steps, validate the parent, compute the
 * children, derive the status from the outcome, where any step may fail. Failures end up in the
 * parent's status and are retried with per-parent exponential backoff, instead of failing the
 * sync. The response of a failure carries `failed: true`: the runner still writes its status and
 * children, but counts the sync as an error (`roperator_syncs_total{result="error"}`).
 *
 * Unlike roperator, a failure keeps the existing children by default (roperator deleted them
 * all); pass `onErrorChildren: "delete"` for the old behaviour.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { KubernetesObject } from "../client/resource_type.ts";
import { type BackoffConfig, KeyedBackoff } from "./backoff.ts";
import type { FinalizeResponse, HandlerObject, SyncRequest, SyncResponse } from "./handler.ts";

/** `validate` threw. */
export interface ValidationFailed<E = unknown> {
  /** The tag. */
  readonly kind: "validationFailed";
  /** What `validate` threw. */
  readonly error: E;
}

/** `validate` succeeded and `syncChildren` threw. */
export interface SyncFailed<V, E = unknown> {
  /** The tag. */
  readonly kind: "syncFailed";
  /** What `validate` returned. */
  readonly value: V;
  /** What `syncChildren` threw. */
  readonly error: E;
}

/** `validate` and `syncChildren` succeeded. */
export interface SyncSucceeded<V> {
  /** The tag. */
  readonly kind: "syncSucceeded";
  /** What `validate` returned. */
  readonly value: V;
  /** What `syncChildren` returned. */
  readonly children: readonly KubernetesObject[];
}

/** `finalize` threw. */
export interface FinalizeFailed<E = unknown> {
  /** The tag. */
  readonly kind: "finalizeFailed";
  /** What `finalize` threw. */
  readonly error: E;
}

/** `finalize` succeeded (or there is none). */
export interface FinalizeSucceeded {
  /** The tag. */
  readonly kind: "finalizeSucceeded";
}

/** The outcome of a sync or finalize, passed to {@linkcode FailableHandler.status}. */
export type HandlerResult<V, E = unknown> =
  | ValidationFailed<E>
  | SyncFailed<V, E>
  | SyncSucceeded<V>
  | FinalizeFailed<E>
  | FinalizeSucceeded;

/**
 * Whether a result is a failure.
 *
 * @param result the result
 * @returns `true` for `validationFailed`, `syncFailed` and `finalizeFailed`
 */
export function isFailure<V, E>(
  result: HandlerResult<V, E>,
): result is ValidationFailed<E> | SyncFailed<V, E> | FinalizeFailed<E> {
  return result.kind === "validationFailed" || result.kind === "syncFailed" ||
    result.kind === "finalizeFailed";
}

/**
 * The steps of a handler built with {@linkcode failableHandler}. `P` is the parent type, `V` what
 * `validate` returns, `S` the status.
 */
export interface FailableHandler<
  P extends KubernetesObject = KubernetesObject,
  V = unknown,
  S = unknown,
> {
  /**
   * Checks the parent and extracts what `syncChildren` needs; throws when the parent is invalid.
   *
   * @param request the parent and its existing children
   * @returns the validated value
   */
  validate(request: SyncRequest<P>): V | Promise<V>;
  /**
   * Computes the desired children; throws when it cannot.
   *
   * @param validated what `validate` returned
   * @param request the parent and its existing children
   * @returns every desired child
   */
  syncChildren(
    validated: V,
    request: SyncRequest<P>,
  ): readonly KubernetesObject[] | Promise<readonly KubernetesObject[]>;
  /**
   * Cleans up after a parent that is being deleted; throws to be retried with backoff. Default:
   * nothing to clean up.
   *
   * @param request the parent and its existing children
   */
  finalize?(request: SyncRequest<P>): void | Promise<void>;
  /**
   * Derives the parent's status from the outcome, success or failure. Return `undefined` or
   * `null` to leave the status as it is.
   *
   * @param request the parent and its existing children
   * @param result the outcome
   * @returns the desired status
   */
  status(request: SyncRequest<P>, result: HandlerResult<V>): S | Promise<S>;
}

/** Options for {@linkcode failableHandler}. */
export interface FailableHandlerOptions {
  /**
   * The retry delays after failures, per parent: changes to the default backoff (500 ms, ×1.5,
   * ±50 %, at most 10 min, never giving up), or a {@linkcode KeyedBackoff} to use (keyed by
   * parent uid).
   */
  backoff?: Partial<BackoffConfig> | KeyedBackoff<string>;
  /**
   * After a successful sync, sync again after this many ms even if nothing changes. Default:
   * only on changes.
   */
  regularResyncMs?: number;
  /**
   * What to do with the existing children when `validate` or `syncChildren` fails: `"keep"`
   * (the default) returns them unchanged, so nothing is created, updated or deleted; `"delete"`
   * returns no children, so all are deleted, as roperator did.
   */
  onErrorChildren?: "keep" | "delete";
}

const logger = getLogger(["roperator", "failable"]);

function parentKey(parent: KubernetesObject): string {
  const meta = parent.metadata;
  return meta?.uid ?? `${meta?.namespace ?? ""}/${meta?.name ?? ""}`;
}

function parentName(parent: KubernetesObject): string {
  const meta = parent.metadata;
  return meta?.namespace ? `${meta.namespace}/${meta.name ?? ""}` : meta?.name ?? "";
}

/**
 * Builds a handler from failable steps.
 *
 * On sync, `validate` then `syncChildren` run. When both succeed, the backoff of the parent is
 * reset and the response carries their children, the status for `syncSucceeded` and
 * `resyncAfterMs: regularResyncMs`. When one throws, the response carries the status for
 * `validationFailed` or `syncFailed`, the existing children (or none with
 * `onErrorChildren: "delete"`) and `resyncAfterMs` set to the parent's next backoff delay (none
 * once the backoff has given up). The error is logged as a warning.
 *
 * On finalize, `finalize` runs. When it succeeds, the response carries the status for
 * `finalizeSucceeded` and reports done. When it throws, the response carries the status for
 * `finalizeFailed` and `retryAfterMs` set to the next backoff delay; once the backoff has given
 * up, it reports done, so the finalizer is removed anyway.
 *
 * Errors thrown by `status` itself are not caught: they fail the sync.
 *
 * @example
 * ```ts
 * import { failableHandler } from "./failable.ts";
 * import type { KubernetesObject } from "../client/resource_type.ts";
 *
 * type Parent = KubernetesObject & { spec?: { replicas?: unknown } };
 * interface Validated { name: string; replicas: number }
 * interface Status { ok: boolean; error?: string }
 *
 * const handler = failableHandler<Parent, Validated, Status>({
 *   validate: ({ parent }) => {
 *     const replicas = parent.spec?.replicas;
 *     if (typeof replicas !== "number") throw new Error("spec.replicas must be a number");
 *     return { name: parent.metadata?.name ?? "", replicas };
 *   },
 *   syncChildren: ({ name, replicas }) => [{
 *     apiVersion: "v1",
 *     kind: "ConfigMap",
 *     metadata: { name },
 *     data: { replicas: String(replicas) },
 *   }],
 *   status: (_request, result) =>
 *     "error" in result ? { ok: false, error: String(result.error) } : { ok: true },
 * }, { regularResyncMs: 60_000 });
 * ```
 *
 * @param impl the steps
 * @param options backoff, regular resync and what to do with children on errors
 * @returns a handler object with both `sync` and `finalize`
 * @throws {RangeError} when an option is out of range
 */
export function failableHandler<
  P extends KubernetesObject = KubernetesObject,
  V = unknown,
  S = unknown,
>(
  impl: FailableHandler<P, V, S>,
  options: FailableHandlerOptions = {},
): Required<HandlerObject<P>> {
  const backoff = options.backoff instanceof KeyedBackoff
    ? options.backoff
    : new KeyedBackoff<string>(options.backoff ?? {});
  const { regularResyncMs } = options;
  if (
    regularResyncMs !== undefined &&
    (typeof regularResyncMs !== "number" || !Number.isFinite(regularResyncMs) ||
      regularResyncMs < 0)
  ) {
    throw new RangeError(
      `Cannot build failable handler: regularResyncMs must be a finite number of at least 0, got ${regularResyncMs}`,
    );
  }
  const onErrorChildren = options.onErrorChildren ?? "keep";
  if (onErrorChildren !== "keep" && onErrorChildren !== "delete") {
    throw new RangeError(
      `Cannot build failable handler: onErrorChildren must be "keep" or "delete", got ${
        JSON.stringify(onErrorChildren)
      }`,
    );
  }

  async function failed(
    request: SyncRequest<P>,
    result: ValidationFailed | SyncFailed<V>,
  ): Promise<SyncResponse> {
    const key = parentKey(request.parent);
    const retryMs = backoff.next(key);
    logger.warn(
      "{step} failed for parent {parent}: {error}; {retry}",
      {
        step: result.kind === "validationFailed" ? "Validation" : "Syncing children",
        parent: parentName(request.parent),
        error: result.error,
        retry: retryMs === undefined
          ? "gave up retrying"
          : `retrying in ${retryMs} ms (attempt ${backoff.attempts(key)})`,
      },
    );
    const status = await impl.status(request, result);
    return {
      status,
      children: onErrorChildren === "keep" ? request.children.all() : [],
      ...(retryMs === undefined ? {} : { resyncAfterMs: retryMs }),
      // The controller applies the status and children, and counts the sync as an error.
      failed: true,
    };
  }

  return {
    async sync(request: SyncRequest<P>): Promise<SyncResponse> {
      let value: V;
      try {
        value = await impl.validate(request);
      } catch (error) {
        return await failed(request, { kind: "validationFailed", error });
      }
      let children: readonly KubernetesObject[];
      try {
        children = await impl.syncChildren(value, request);
      } catch (error) {
        return await failed(request, { kind: "syncFailed", value, error });
      }
      backoff.reset(parentKey(request.parent));
      const status = await impl.status(request, { kind: "syncSucceeded", value, children });
      return {
        status,
        children,
        ...(regularResyncMs === undefined ? {} : { resyncAfterMs: regularResyncMs }),
      };
    },

    async finalize(request: SyncRequest<P>): Promise<FinalizeResponse> {
      const key = parentKey(request.parent);
      try {
        await impl.finalize?.(request);
      } catch (error) {
        const retryMs = backoff.next(key);
        logger.warn("Finalizing parent {parent} failed: {error}; {retry}", {
          parent: parentName(request.parent),
          error,
          retry: retryMs === undefined
            ? "gave up retrying, the finalizer will be removed"
            : `retrying in ${retryMs} ms (attempt ${backoff.attempts(key)})`,
        });
        const status = await impl.status(request, { kind: "finalizeFailed", error });
        if (retryMs === undefined) backoff.delete(key);
        // Counted as an error by the runner; `retryAfterMs` still decides what happens next.
        return retryMs === undefined
          ? { status, failed: true }
          : { status, retryAfterMs: retryMs, failed: true };
      }
      backoff.delete(key);
      return { status: await impl.status(request, { kind: "finalizeSucceeded" }) };
    },
  };
}
