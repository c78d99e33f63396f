/**
 * Reporting a failed sync: a log line (transient failures are warnings; a run of identical
 * failures of many parents is logged once, then summarized) with the handler's frames, and a
 * Warning Event on the parent. Children that could not be written were each reported already.
 *
 * @module
 */
import type { KubernetesObject } from "../../client/resource_type.ts";
import { userFrames, withFrames } from "../error_frames.ts";
import { errorShape, isTransient } from "../log_summary.ts";
import { ChildrenFailedError, SyncError } from "../sync_error.ts";
import { eventsOf, type ReconcileContext, regarding, type SyncContext } from "./context.ts";

/** A failed sync of one parent. */
export interface SyncFailure {
  /** The parent. */
  parent: KubernetesObject;
  /** The phase that failed. */
  phase: "sync" | "finalize";
  /** Why it failed. */
  error: unknown;
}

/**
 * Logs a failed sync and records a Warning Event on its parent.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param failure the parent, the phase and the error
 */
export function reportFailure(
  rc: ReconcileContext,
  ctx: SyncContext,
  failure: SyncFailure,
): void {
  const { phase, error } = failure;
  const key = ctx.key;
  // Transient failures (network, 5xx, 429, timeouts) are warnings; identical failures of
  // many parents are one run, logged once and then summarized with a count.
  const message = error instanceof Error ? error.message : String(error);
  const frames = userFrames(error);
  // Children that could not be written were each logged already.
  if (!(error instanceof ChildrenFailedError)) {
    rc.failureLog.log(
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
  recordFailure(rc, ctx, failure);
}

function recordFailure(rc: ReconcileContext, ctx: SyncContext, failure: SyncFailure): void {
  const { parent, phase, error } = failure;
  if (error instanceof ChildrenFailedError) return;
  const events = eventsOf(rc, ctx);
  if (events === undefined) return;
  const reason = error instanceof SyncError && error.reason !== undefined
    ? error.reason
    : phase === "finalize"
    ? "FinalizeFailed"
    : "SyncFailed";
  events.record({
    regarding: regarding(rc, parent),
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
