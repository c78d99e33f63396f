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
import { ChildWriteError, messageOf } from "../sync_error.ts";
import {
  type ChildState,
  fence,
  type ReconcileContext,
  requestSignal,
  type SyncContext,
} from "./context.ts";

const logger = getLogger(["roperator", "controller"]);

/** Creates or updates one desired child per its strategy; throws when it cannot. */
export async function writeChild(
  rc: ReconcileContext,
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
  const ours = (other: KubernetesObject) => parentUidOf(other, rc.config.trackingLabel) === owner;
  // Another object has this child's name: wait for it to change or go (the child informer
  // then queues this parent at once), and say what is in the way.
  const blockedBy = (other: KubernetesObject) => {
    let parents = rc.blocked.get(id);
    if (parents === undefined) rc.blocked.set(id, parents = new Set());
    parents.add(key);
    return new ChildWriteError(
      `cannot write ${label}: it ${
        describeForeignChild(
          other,
          owner,
          rc.config.trackingLabel,
          (uid) => rc.uidToKey.get(uid),
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
        const other = await state.client.find(name, { ...ns, ...requestSignal(ctx) });
        if (other !== undefined) {
          if (!ours(other)) throw blockedBy(other);
          current = other;
        }
      } else {
        fence(rc, ctx);
        try {
          const created = await state.client.create(withDesiredHash(object), {
            fieldManager: rc.config.name,
            ...requestSignal(ctx),
          });
          state.informer.observe(created);
          rc.metrics.write("create");
          logger.info("created {child} for {parent}", { child: label, parent: key });
          return;
        } catch (error) {
          if (!(error instanceof ApiError && error.isAlreadyExists)) throw error;
          // Not in the cache, yet there: a twin instance created it a moment ago, or its
          // ownership label was removed, or it is someone else's. Look at it.
          const other = await state.client.find(name, { ...ns, ...requestSignal(ctx) });
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
      fence(rc, ctx);
      const applied = await state.client.apply(withDesiredHash(object), {
        fieldManager: rc.config.name,
        force: true,
        ...requestSignal(ctx),
      });
      state.informer.observe(applied);
      rc.metrics.write(current ? "apply" : "create");
      logger.info("applied {child} for {parent}", { child: label, parent: key });
      return;
    }
    if (current === undefined) return;
    if (strategy !== "Replace") {
      // OnDelete and Recreate leave the object itself alone, but its labels are repaired (a
      // tool rewrote or removed them): with a metadata patch, not a re-creation.
      const labels = {
        [rc.config.trackingLabel]: owner,
        [rc.config.ownershipLabel]: rc.config.name,
      };
      if (!isSubset(labels, current.metadata?.labels)) {
        fence(rc, ctx);
        current = await state.client.patch(name, { metadata: { labels } }, {
          ...ns,
          fieldManager: rc.config.name,
          ...requestSignal(ctx),
        });
        state.informer.observe(current);
        rc.metrics.write("update");
        logger.info("repaired the labels of {child} of {parent}", { child: label, parent: key });
      }
    }
    if (strategy === "OnDelete") return;
    const decision = childNeedsWrite(object, current, strategy);
    if (decision.action === "none") return;
    const changed = decision.reasons.join(", ");
    fence(rc, ctx);
    if (decision.action === "stamp") {
      // Written by an older version (no desired-hash annotation) and otherwise matching: only
      // the annotation is added, so that no Pod is recreated and no Job re-run on upgrade.
      const stamped = await state.client.patch(name, desiredHashPatch(decision.hash), {
        ...ns,
        fieldManager: rc.config.name,
        ...requestSignal(ctx),
      });
      state.informer.observe(stamped);
      rc.metrics.write("update");
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
        ...requestSignal(ctx),
      });
      rc.metrics.write("delete");
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
    }, { fieldManager: rc.config.name, ...requestSignal(ctx) });
    state.informer.observe(replaced);
    rc.metrics.write("update");
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
