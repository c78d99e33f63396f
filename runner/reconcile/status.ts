/**
 * Writing the parent's status: the handler's status with `observedGeneration`, written only
 * when it differs from the parent's, as a JSON merge patch of the status subresource from the
 * status the parent has to the desired one, pinned to the parent's resourceVersion (the whole
 * parent is PUT when no merge patch can give the status: it holds a `null`, or is not an object),
 * read fresh and compared again after a conflict, and a parent found gone ends the sync quietly
 * ({@linkcode ParentGoneError}). When the parent was
 * declared with `parentSchema()`, a status field its CRD schema would prune is logged once per
 * field path, and the status is compared as the API server stores it (pruned), so that such a
 * field does not make every sync write the status again.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../../client/errors.ts";
import type { KubernetesObject, ResourceType } from "../../client/resource_type.ts";
import { isParentSchema } from "../../schema/is_parent_schema.ts";
import { PrunedFieldReporter, withoutPrunedFields } from "../../schema/prune.ts";
import type { StructuralSchema } from "../../schema/structural.ts";
import { ParentGoneError, SyncError } from "../sync_error.ts";
import { fence, type ReconcileContext, requestSignal, type SyncContext } from "./context.ts";
import { jsonEqual } from "../../client/_util.ts";
import { statusMergePatch } from "./status_patch.ts";

const logger = getLogger(["roperator", "controller"]);

/**
 * A deep copy through JSON, as the value would be sent: `undefined` fields are dropped.
 *
 * @param value a JSON value
 * @returns its copy
 */
export function normalize<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}

/** Per parent type declared with `parentSchema()`: its status schema and what was reported. */
const statusSchemas = new WeakMap<
  ResourceType,
  { schema: StructuralSchema; reporter: PrunedFieldReporter } | null
>();

function statusSchemaOf(
  type: ResourceType,
): { schema: StructuralSchema; reporter: PrunedFieldReporter } | undefined {
  let entry = statusSchemas.get(type);
  if (entry === undefined) {
    const schema = isParentSchema(type) ? type.openAPIV3Schema.properties?.status : undefined;
    entry = schema ? { schema, reporter: new PrunedFieldReporter(schema, "status") } : null;
    statusSchemas.set(type, entry);
  }
  return entry ?? undefined;
}

/**
 * The status as the API server would store it, after logging (once per field path) the fields
 * the parent's CRD schema would prune; the status itself when the schema is not known.
 */
function asStored(type: ResourceType, key: string, desired: unknown): unknown {
  const known = statusSchemaOf(type);
  if (!known || !desired || typeof desired !== "object") return desired;
  for (const field of known.reporter.newlyPruned(desired)) {
    logger.warn(
      "status field {field} of {kind} is not in its CRD schema: the API server drops it " +
        "(declare it in the status schema)",
      { field, kind: type.kind, parent: key },
    );
  }
  return withoutPrunedFields(known.schema, desired);
}

/**
 * The parent clients whose status PATCH RBAC refused (403 Forbidden, "cannot patch": RBAC
 * generated before status writes became patches grants only `update` on the status
 * subresource): they write the status with PUT for the rest of the process's life.
 */
const patchForbidden = new WeakSet<object>();

/**
 * Sends one status write: a merge patch from `current.status` to `desired`, pinned to
 * `current`'s resourceVersion (so a stale write gets 409 Conflict, as a PUT would), which sends
 * only what changed instead of the whole parent; a PUT of `current` with the status when no merge
 * patch can give `desired`, `current` has no resourceVersion, or the operator may not patch the
 * status (403: it warns once and writes with PUT from then on).
 */
async function send(
  rc: ReconcileContext,
  ctx: SyncContext,
  current: KubernetesObject,
  desired: unknown,
): Promise<KubernetesObject> {
  const resourceVersion = current.metadata?.resourceVersion;
  const patch = resourceVersion && !patchForbidden.has(rc.parentClient)
    ? statusMergePatch(current.status, desired)
    : undefined;
  if (patch !== undefined) {
    try {
      return await rc.parentClient.patchStatus(
        current.metadata!.name!,
        { metadata: { resourceVersion }, status: patch },
        {
          ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
          ...requestSignal(ctx),
        },
      );
    } catch (error) {
      // RBAC's refusal names the verb; an admission webhook's denial (also 403) does not.
      if (!(error instanceof ApiError && error.isForbidden && /cannot patch/.test(error.message))) {
        throw error;
      }
      // Syncs in flight meanwhile were refused too: one warning.
      if (!patchForbidden.has(rc.parentClient)) {
        patchForbidden.add(rc.parentClient);
        logger.warn(
          "cannot patch the status of {kind} ({message}): this process writes it with update " +
            "(PUT) from now on; regenerate the operator's RBAC (--print-rbac), which grants " +
            "patch on {resource}",
          {
            kind: rc.config.parent.kind,
            message: error.message,
            resource: `${rc.config.parent.plural}/status`,
          },
        );
      }
    }
  }
  return await rc.parentClient.replaceStatus({ ...current, status: desired }, requestSignal(ctx));
}

/**
 * Writes the parent's status, with `observedGeneration` when it is an object, unless the parent
 * already has it: a merge patch of what changed, or the whole parent when the status holds a
 * `null` or is not an object. On a conflict the parent is read fresh and compared again (5
 * attempts).
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param parent the parent the handler saw
 * @param status the handler's status
 * @returns a promise that resolves when the status is as desired
 * @throws {ParentGoneError} when the parent was deleted meanwhile
 * @throws {SyncError} when the status cannot be written
 */
export async function writeStatus(
  rc: ReconcileContext,
  ctx: SyncContext,
  parent: KubernetesObject,
  status: unknown,
): Promise<void> {
  const key = ctx.key;
  let desired = normalize(status) as unknown;
  const generation = parent.metadata?.generation;
  if (
    desired && typeof desired === "object" && !Array.isArray(desired) && generation !== undefined
  ) {
    desired = { ...desired as Record<string, unknown>, observedGeneration: generation };
  }
  const stored = asStored(rc.config.parent, key, desired);
  let current = parent;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (jsonEqual(stored, current.status)) return;
    fence(rc, ctx);
    try {
      const written = await send(rc, ctx, current, desired);
      rc.parents.observe(written);
      rc.metrics.write("status");
      logger.debug("wrote status of {parent}", { parent: key });
      return;
    } catch (error) {
      if (error instanceof ApiError && error.isNotFound) {
        // The parent is gone (its deletion is on its way to the cache), unless the status
        // subresource itself is missing.
        const now = await rc.parentClient.find(current.metadata!.name!, {
          ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
          ...requestSignal(ctx),
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
      current = await rc.parentClient.get(current.metadata!.name!, {
        ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
        ...requestSignal(ctx),
      });
      if (current.metadata?.uid !== parent.metadata?.uid) return;
    }
  }
  throw new SyncError(key, "cannot write status: it kept conflicting with other writers");
}
