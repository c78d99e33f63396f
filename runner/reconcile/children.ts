/**
 * The children step of a sync: the handler's desired children validated (a configured type, a
 * name, the parent's namespace, no duplicates) and decorated (tracking and ownership labels, an
 * owner reference), each written per its strategy ({@linkcode writeChild}), the children no
 * longer desired deleted, and the children that could not be written collected: each is
 * reported on its own, and the parent's status gets a `ChildrenSynced` condition that names
 * them.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../../client/errors.ts";
import { type KubernetesObject, type ResourceType, typeKey } from "../../client/resource_type.ts";
import type { Condition } from "../../handler/conditions.ts";
import { objectKey } from "../cache_object.ts";
import { errorShape, isTransient } from "../log_summary.ts";
import { ChildrenFailedError, ChildWriteError, SyncError } from "../sync_error.ts";
import { messageOf } from "../../client/_util.ts";
import {
  type ChildState,
  eventsOf,
  fence,
  fenced,
  type ReconcileContext,
  regarding,
  requestSignal,
  type SyncContext,
} from "./context.ts";
import { writeChild } from "./child_write.ts";
import { normalize } from "./status.ts";

const logger = getLogger(["roperator", "controller"]);

/** The condition a parent's status gets while some of its children cannot be written. */
export const CHILDREN_CONDITION = "ChildrenSynced";

/** A desired child that could not be written, and why. */
export interface ChildFailure {
  /** `Kind "namespace/name"`. */
  child: string;
  /** Usually a {@linkcode ChildWriteError}. */
  error: unknown;
}

/** A desired child, validated and decorated, with its type. */
export interface DesiredChild {
  /** The object to write. */
  object: KubernetesObject;
  /** Its type. */
  state: ChildState;
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
 *
 * @param parent the parent, with its current status
 * @param status the handler's status
 * @param failures the children that could not be written
 * @returns the status to write
 */
export function withChildrenFailedCondition(
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

/**
 * Validates the handler's children and decorates each with the tracking and ownership labels
 * and an owner reference.
 *
 * @param rc the controller's context
 * @param key the parent key
 * @param parent the parent
 * @param children what the handler returned
 * @returns the children to write, with their types
 * @throws {SyncError} when a child is invalid
 */
export function validateChildren(
  rc: ReconcileContext,
  key: string,
  parent: KubernetesObject,
  children: KubernetesObject[],
): DesiredChild[] {
  const parentNs = parent.metadata?.namespace;
  const seen = new Set<string>();
  return children.map((raw, i) => {
    const where = `children[${i}]`;
    if (!raw || typeof raw !== "object") throw new SyncError(key, `${where} is not an object`);
    const object = normalize(raw);
    secretStringDataToData(object);
    const state = rc.children.get(`${object.apiVersion}/${object.kind}`);
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
    return { object: decorate(rc, parent, object, state.config.type), state };
  });
}

function decorate(
  rc: ReconcileContext,
  parent: KubernetesObject,
  object: KubernetesObject,
  type: ResourceType,
): KubernetesObject {
  const metadata = object.metadata!;
  metadata.labels = {
    ...metadata.labels,
    [rc.config.trackingLabel]: parent.metadata!.uid!,
    [rc.config.ownershipLabel]: rc.config.name,
  };
  // An owner reference from a cluster-scoped child to a namespaced parent is invalid: such
  // children are deleted by the operator when it finalizes the parent (with a finalizer
  // configured; without one they outlive the parent), instead of by the garbage collector.
  if (!(parent.metadata?.namespace && !type.namespaced)) {
    const ref = {
      apiVersion: parent.apiVersion ?? rc.config.parent.apiVersion,
      kind: parent.kind ?? rc.config.parent.kind,
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
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent
 * @param children the desired children (validated) and the existing ones (cached)
 * @returns the children that could not be written or deleted
 */
export async function applyChildren(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
  children: { desired: DesiredChild[]; existing: KubernetesObject[] },
): Promise<ChildFailure[]> {
  const failures: ChildFailure[] = [];
  const wanted = new Set<string>();
  const attempt = async (child: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (error) {
      if (fenced(rc, ctx, error) || ctx.signal?.aborted) throw error;
      failures.push({ child, error });
    }
  };
  for (const { object, state } of children.desired) {
    wanted.add(`${typeKey(state.config.type)}/${objectKey(object)}`);
    const child = `${object.kind} "${objectKey(object)}"`;
    await attempt(child, () => writeChild(rc, ctx, parent, object, state));
  }
  for (const object of children.existing) {
    const state = rc.children.get(`${object.apiVersion}/${object.kind}`);
    if (!state) continue;
    if (wanted.has(`${typeKey(state.config.type)}/${objectKey(object)}`)) continue;
    if (object.metadata?.deletionTimestamp) continue;
    const child = `${object.kind} "${objectKey(object)}"`;
    await attempt(child, () => deleteUndesired(rc, ctx, object, state));
  }
  return failures;
}

/** Deletes a child no longer desired (gone or replaced meanwhile: nothing to do). */
async function deleteUndesired(
  rc: ReconcileContext,
  ctx: SyncContext,
  object: KubernetesObject,
  state: ChildState,
): Promise<void> {
  const child = `${object.kind} "${objectKey(object)}"`;
  fence(rc, ctx);
  try {
    await state.client.delete(object.metadata!.name!, {
      ...(object.metadata?.namespace ? { namespace: object.metadata.namespace } : {}),
      preconditions: { uid: object.metadata!.uid! },
      propagationPolicy: "Background",
      ...requestSignal(ctx),
    });
  } catch (error) {
    if (error instanceof ApiError && (error.isNotFound || error.isConflict)) return;
    throw new ChildWriteError(`cannot delete ${child}: ${messageOf(error)}`, error);
  }
  rc.metrics.write("delete");
  logger.info("deleted {child}, no longer desired by {parent}", { child, parent: ctx.key });
}

/**
 * Records each child that could not be written (an Event and a log line each) and returns the
 * error that fails the sync, so that it is retried with backoff.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent
 * @param failure the children that could not be written, and why the status could not be
 * written, if it could not
 * @returns the error that fails the sync
 */
export function childFailures(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
  failure: { failures: ChildFailure[]; statusError: unknown },
): SyncError {
  const { failures, statusError } = failure;
  const rejected = failures.some(({ error }) => rejectedByServer(error));
  for (const { child, error } of failures) {
    const message = messageOf(error);
    rc.failureLog.log(
      isTransient(error) ? "warning" : "error",
      errorShape(`child: ${message}`, [ctx.key, ...ctx.key.split("/")]),
      {
        message: "cannot write {child} of {parent}: {error}",
        properties: { child, parent: ctx.key, error: message },
      },
    );
    eventsOf(rc, ctx)?.record({
      regarding: regarding(rc, parent),
      type: "Warning",
      reason: rejectedByServer(error) ? "ChildWriteRejected" : "ChildWriteFailed",
      action: "Sync",
      note: messageOf(error),
    });
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
