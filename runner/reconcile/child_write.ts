/**
 * Writing one desired child per its update strategy: create (or server-side apply), then, for
 * an existing child, repair its labels, stamp it, recreate it or replace it when it differs
 * from what is desired. A child whose name another object holds is not written: the parent
 * waits for that object to change or go.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../../client/errors.ts";
import { type KubernetesObject, typeKey } from "../../client/resource_type.ts";
import { objectKey } from "../cache_object.ts";
import { childNeedsWrite, desiredHashPatch, isSubset, withDesiredHash } from "../diff.ts";
import { LeadershipLostError } from "../leader_election.ts";
import { describeForeignChild, parentUidOf } from "../ownership.ts";
import { ChildWriteError } from "../sync_error.ts";
import { messageOf } from "../../client/_util.ts";
import {
  type ChildState,
  fence,
  type ReconcileContext,
  requestSignal,
  type SyncContext,
} from "./context.ts";

const logger = getLogger(["roperator", "controller"]);

/** One child being written: what every part of the write needs. */
interface ChildWrite {
  rc: ReconcileContext;
  ctx: SyncContext;
  /** The desired object, validated and decorated. */
  object: KubernetesObject;
  state: ChildState;
  name: string;
  /** `{ namespace }` for a namespaced child, `{}` otherwise. */
  ns: { namespace?: string };
  /** `Kind "namespace/name"`, for messages. */
  label: string;
  /** The parent's uid. */
  owner: string;
}

/**
 * Creates or updates one desired child per its strategy.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent
 * @param object the desired child, validated and decorated
 * @param state the child's type
 * @returns a promise that resolves when the child is as desired (or left alone per its strategy)
 * @throws {ChildWriteError} when the child cannot be written
 * @throws {LeadershipLostError} when the sync's leadership term is over
 */
export async function writeChild(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
  object: KubernetesObject,
  state: ChildState,
): Promise<void> {
  const name = object.metadata!.name!;
  const namespace = object.metadata!.namespace ?? undefined;
  const w: ChildWrite = {
    rc,
    ctx,
    object,
    state,
    name,
    ns: namespace ? { namespace } : {},
    label: `${object.kind} "${objectKey(object)}"`,
    owner: parent.metadata!.uid!,
  };
  const cached = state.informer.get(name, namespace);
  if (cached !== undefined && !ours(w, cached)) throw blockedBy(w, cached);
  try {
    await write(w, cached);
  } catch (error) {
    if (error instanceof LeadershipLostError || error instanceof ChildWriteError) throw error;
    throw new ChildWriteError(`cannot write ${w.label}: ${messageOf(error)}`, error);
  }
}

/**
 * Takes the answer of a write of the child into the cache, and marks the sync as one that wrote
 * a child (see `SyncContext.childrenWritten`).
 */
function observeWrite(w: ChildWrite, written: KubernetesObject): void {
  w.state.informer.observe(written);
  w.ctx.childrenWritten = true;
}

/** Whether an object with the child's name is this parent's. */
function ours(w: ChildWrite, other: KubernetesObject): boolean {
  return parentUidOf(other, w.rc.config.trackingLabel) === w.owner;
}

/**
 * Another object has this child's name: the parent waits for it to change or go (the child
 * informer then queues this parent at once), and the error says what is in the way.
 */
function blockedBy(w: ChildWrite, other: KubernetesObject): ChildWriteError {
  const { rc, ctx, object, state } = w;
  const id = `${typeKey(state.config.type)}/${objectKey(object)}`;
  let parents = rc.blocked.get(id);
  if (parents === undefined) rc.blocked.set(id, parents = new Set());
  parents.add(ctx.key);
  return new ChildWriteError(
    `cannot write ${w.label}: it ${
      describeForeignChild(
        other,
        w.owner,
        rc.config.trackingLabel,
        (uid) => rc.uidToKey.get(uid),
      )
    }`,
  );
}

/** Writes the child per its strategy, given its cached state (ours) or none. */
async function write(w: ChildWrite, cached: KubernetesObject | undefined): Promise<void> {
  const strategy = w.state.config.updateStrategy;
  let current = cached;
  if (current === undefined) {
    if (strategy === "Apply") {
      current = await findOurs(w);
    } else {
      const existing = await create(w);
      if (existing === "created") return;
      current = existing;
    }
  }
  if (current?.metadata?.deletionTimestamp) return;
  if (strategy === "Apply") return await apply(w, current);
  if (current === undefined) return;
  // OnDelete and Recreate leave the object itself alone, but its labels are repaired.
  if (strategy !== "Replace") current = await repairLabels(w, current);
  if (strategy === "OnDelete") return;
  await update(w, current);
}

/**
 * Server-side apply would silently adopt an object someone else made: look first. An object of
 * ours outside the cache (its ownership label was removed) is applied over.
 */
async function findOurs(w: ChildWrite): Promise<KubernetesObject | undefined> {
  const other = await w.state.client.find(w.name, { ...w.ns, ...requestSignal(w.ctx) });
  if (other !== undefined && !ours(w, other)) throw blockedBy(w, other);
  return other;
}

/** Creates the child; an object of ours already there is returned instead. */
async function create(w: ChildWrite): Promise<KubernetesObject | "created"> {
  const { rc, ctx, state } = w;
  fence(rc, ctx);
  try {
    const created = await state.client.create(withDesiredHash(w.object), {
      fieldManager: rc.config.name,
      ...requestSignal(ctx),
    });
    observeWrite(w, created);
    rc.metrics.write("create");
    logger.info("created {child} for {parent}", { child: w.label, parent: ctx.key });
    return "created";
  } catch (error) {
    if (!(error instanceof ApiError && error.isAlreadyExists)) throw error;
    // Not in the cache, yet there: a twin instance created it a moment ago, or its
    // ownership label was removed, or it is someone else's. Look at it.
    const other = await state.client.find(w.name, { ...w.ns, ...requestSignal(ctx) });
    if (other === undefined) {
      throw new ChildWriteError(
        `cannot create ${w.label}: it existed a moment ago and is gone now; will retry`,
        error,
      );
    }
    if (!ours(w, other)) throw blockedBy(w, other);
    return other;
  }
}

/** Server-side applies the child, unless the current state already matches. */
async function apply(w: ChildWrite, current: KubernetesObject | undefined): Promise<void> {
  const { rc, ctx, state } = w;
  if (current !== undefined && childNeedsWrite(w.object, current, "Apply").action === "none") {
    return;
  }
  fence(rc, ctx);
  const applied = await state.client.apply(withDesiredHash(w.object), {
    fieldManager: rc.config.name,
    force: true,
    ...requestSignal(ctx),
  });
  observeWrite(w, applied);
  rc.metrics.write(current ? "apply" : "create");
  logger.info("applied {child} for {parent}", { child: w.label, parent: ctx.key });
}

/**
 * Repairs the tracking and ownership labels (a tool rewrote or removed them) with a metadata
 * patch, not a re-creation.
 *
 * @returns the child as it is now
 */
async function repairLabels(w: ChildWrite, current: KubernetesObject): Promise<KubernetesObject> {
  const { rc, ctx, state } = w;
  const labels = {
    [rc.config.trackingLabel]: w.owner,
    [rc.config.ownershipLabel]: rc.config.name,
  };
  if (isSubset(labels, current.metadata?.labels)) return current;
  fence(rc, ctx);
  const patched = await state.client.patch(w.name, { metadata: { labels } }, {
    ...w.ns,
    fieldManager: rc.config.name,
    ...requestSignal(ctx),
  });
  observeWrite(w, patched);
  rc.metrics.write("update");
  logger.info("repaired the labels of {child} of {parent}", { child: w.label, parent: ctx.key });
  return patched;
}

/** Updates an existing child that differs from the desired one: stamps, recreates or replaces. */
async function update(w: ChildWrite, current: KubernetesObject): Promise<void> {
  const { rc, ctx, state } = w;
  const strategy = state.config.updateStrategy;
  const decision = childNeedsWrite(w.object, current, strategy);
  if (decision.action === "none") return;
  const changed = decision.reasons.join(", ");
  const properties = { child: w.label, parent: ctx.key, changed };
  fence(rc, ctx);
  if (decision.action === "stamp") {
    // Written by an older version (no desired-hash annotation) and otherwise matching: only
    // the annotation is added, so that no Pod is recreated and no Job re-run on upgrade.
    const stamped = await state.client.patch(w.name, desiredHashPatch(decision.hash), {
      ...w.ns,
      fieldManager: rc.config.name,
      ...requestSignal(ctx),
    });
    observeWrite(w, stamped);
    rc.metrics.write("update");
    logger.info("stamped {child} of {parent} ({changed})", properties);
    return;
  }
  if (strategy === "Recreate") {
    await state.client.delete(w.name, {
      ...w.ns,
      preconditions: { uid: current.metadata!.uid! },
      propagationPolicy: "Background",
      ...requestSignal(ctx),
    });
    rc.metrics.write("delete");
    logger.info("deleted {child} of {parent} to recreate it ({changed})", properties);
    return;
  }
  const stamped = withDesiredHash(w.object, decision.hash);
  const replaced = await state.client.replace({
    ...stamped,
    metadata: { ...stamped.metadata, resourceVersion: current.metadata!.resourceVersion! },
  }, { fieldManager: rc.config.name, ...requestSignal(ctx) });
  observeWrite(w, replaced);
  rc.metrics.write("update");
  logger.info("replaced {child} of {parent} ({changed})", properties);
}
