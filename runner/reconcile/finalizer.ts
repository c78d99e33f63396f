/**
 * The finalizer: added to a parent before its first sync (when one is configured), and, once
 * the parent is being deleted, the finalize phase — the finalize handler, its status, the
 * cluster-scoped children the garbage collector cannot know about — then the finalizer removed
 * with a JSON patch that never removes another controller's finalizer.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../../client/errors.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import type { FinalizeResponse } from "../../handler/handler.ts";
import { SyncError } from "../sync_error.ts";
import type { WorkResult } from "../work_queue_options.ts";
import {
  childrenOf,
  eventsOf,
  fence,
  type ReconcileContext,
  regarding,
  requestSignal,
  type SyncContext,
} from "./context.ts";
import { callHandler } from "./handler_call.ts";
import { writeStatus } from "./status.ts";

const logger = getLogger(["roperator", "controller"]);

/**
 * Adds the configured finalizer to the parent unless it has it already.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent
 * @returns the parent, as written when the finalizer was added
 */
export async function addFinalizer(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
): Promise<KubernetesObject> {
  const finalizer = rc.config.finalizer;
  if (!finalizer || (parent.metadata?.finalizers ?? []).includes(finalizer)) return parent;
  fence(rc, ctx);
  const written = await rc.parentClient.patch(parent.metadata!.name!, {
    metadata: {
      resourceVersion: parent.metadata?.resourceVersion,
      finalizers: [...(parent.metadata?.finalizers ?? []), finalizer],
    },
  }, { namespace: parent.metadata?.namespace ?? undefined, ...requestSignal(ctx) });
  rc.parents.observe(written);
  rc.metrics.write("finalizer");
  logger.info("added finalizer {finalizer} to {parent}", { finalizer, parent: ctx.key });
  return written;
}

/**
 * The finalize phase of a parent being deleted: calls the finalize handler, writes its status,
 * deletes the cluster-scoped children of a namespaced parent and removes the finalizer (unless
 * the handler asks to retry later).
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent, with a deletion timestamp
 * @returns the work result: a requeue when the handler asked for one
 */
export async function finalize(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
): Promise<WorkResult> {
  const finalizer = rc.config.finalizer;
  if (!finalizer || !(parent.metadata?.finalizers ?? []).includes(finalizer)) return { ok: true };
  const uid = parent.metadata!.uid!;
  const response: FinalizeResponse = await callHandler(ctx, {
    what: "finalize",
    snapshot: { parent, children: childrenOf(rc, uid) },
    call: (request) => rc.handler.finalize(request),
    timeoutMs: rc.config.syncTimeoutMs,
  });
  if (response?.status !== undefined && response.status !== null) {
    await writeStatus(rc, ctx, parent, response.status);
  }
  if (response?.retryAfterMs !== undefined) {
    return { ok: true, requeueAfterMs: response.retryAfterMs };
  }
  // Children the garbage collector cannot know about (cluster-scoped children of a namespaced
  // parent carry no owner reference) are deleted here, before the finalizer goes.
  if (parent.metadata?.namespace) await deleteClusterScopedChildren(rc, ctx, uid);
  if (await removeFinalizer(rc, ctx, parent)) {
    eventsOf(rc, ctx)?.record({
      regarding: regarding(rc, parent),
      type: "Normal",
      reason: "Finalized",
      action: "Finalize",
      note: `finalizer "${finalizer}" removed after the finalize handler completed`,
    });
  }
  return { ok: true };
}

/** Deletes the cluster-scoped children of a namespaced parent (they have no owner reference). */
async function deleteClusterScopedChildren(
  rc: ReconcileContext,
  ctx: SyncContext,
  uid: string,
): Promise<void> {
  for (const child of childrenOf(rc, uid)) {
    const state = rc.children.get(`${child.apiVersion}/${child.kind}`);
    if (!state || state.config.type.namespaced || child.metadata?.deletionTimestamp) continue;
    fence(rc, ctx);
    try {
      await state.client.delete(child.metadata!.name!, {
        preconditions: { uid: child.metadata!.uid! },
        propagationPolicy: "Background",
        ...requestSignal(ctx),
      });
      rc.metrics.write("delete");
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

/** Removes the configured finalizer; returns whether this call removed it. */
async function removeFinalizer(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
): Promise<boolean> {
  const key = ctx.key;
  const finalizer = rc.config.finalizer!;
  // A JSON patch that tests the finalizer at its index before removing it: never removes
  // another controller's finalizer, even when the list changed since the cache saw it.
  let current = parent;
  for (let attempt = 0; attempt < 5; attempt++) {
    const finalizers = current.metadata?.finalizers ?? [];
    const index = finalizers.indexOf(finalizer);
    if (index < 0) return false;
    fence(rc, ctx);
    try {
      await rc.parentClient.patch(current.metadata!.name!, [
        { op: "test", path: `/metadata/finalizers/${index}`, value: finalizer },
        { op: "remove", path: `/metadata/finalizers/${index}` },
      ], {
        type: "json",
        namespace: current.metadata?.namespace ?? undefined,
        ...requestSignal(ctx),
      });
      rc.metrics.write("finalizer");
      logger.info("removed finalizer {finalizer} from {parent}", { finalizer, parent: key });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.isNotFound) return false;
      if (!(error instanceof ApiError) || !(error.isInvalid || error.isConflict)) throw error;
      current = await rc.parentClient.get(current.metadata!.name!, {
        ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
        ...requestSignal(ctx),
      });
    }
  }
  throw new SyncError(key, `cannot remove finalizer "${finalizer}": the parent keeps changing`);
}
