/**
 * What the steps of a sync get from the controller: {@linkcode ReconcileContext} (the client of
 * the parents, the config, the handler, the metrics, the informers, leadership and events) and, per sync,
 * {@linkcode SyncContext} (the parent key, the leadership term, the signals). The steps read
 * nothing else of the controller; the write fence and the request signal are helpers here.
 *
 * @module
 */
import type { ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import type { ChildConfig, OperatorConfig } from "../../config/operator_config.ts";
import type { HandlerObject } from "../../handler/handler.ts";
import type { RelatedResource } from "../../config/related.ts";
import { type CacheReader, RelatedObjects } from "../../handler/related.ts";
import { findRelated, type RelatedIndex, resolveRefs } from "../related_index.ts";
import { SyncError } from "../sync_error.ts";
import type { EventRecorder } from "../events.ts";
import type { Informer } from "../informer.ts";
import { type Leadership, LeadershipLostError } from "../leader_election.ts";
import type { LogSummary } from "../log_summary.ts";
import type { OperatorMetrics } from "../operator_metrics.ts";

/** One configured child type: its config, its client and its informer. */
export interface ChildState {
  /** The child type's config. */
  config: ChildConfig;
  /** The client of the child type. */
  client: ResourceClient;
  /** The informer of this operator's children of the type. */
  informer: Informer;
}

/** One related-resource declaration: its informer and its reverse index. */
export interface RelatedState {
  /** The declaration. */
  declaration: RelatedResource<KubernetesObject, never>;
  /** The informer of the selected objects of the type. */
  informer: Informer;
  /** Parents by the objects they refer to. */
  index: RelatedIndex;
}

/** What every step of every sync of one controller may use. */
export interface ReconcileContext {
  /** The validated operator config. */
  readonly config: OperatorConfig;
  /** The normalized handler. */
  readonly handler: Required<HandlerObject<KubernetesObject>>;
  /** The metrics to update. */
  readonly metrics: OperatorMetrics;
  /** The client of the parent type. */
  readonly parentClient: ResourceClient;
  /** The parents' informer. */
  readonly parents: Informer;
  /** The child types, by `apiVersion/kind`. */
  readonly children: ReadonlyMap<string, ChildState>;
  /** Leader election, when on: every write is fenced by its term. */
  readonly leadership: Leadership | undefined;
  /** Records Events on parents; none are recorded without it. */
  readonly events: EventRecorder | undefined;
  /** Failed syncs and child writes: a run of identical failures is logged once. */
  readonly failureLog: LogSummary;
  /** Parents (keys) whose child cannot be written while an object of its name is in the way. */
  readonly blocked: Map<string, Set<string>>;
  /** Parent keys by uid, to name the parent of a foreign child. */
  readonly uidToKey: ReadonlyMap<string, string>;
  /** The related-resource declarations, in config order. */
  readonly related: readonly RelatedState[];
  /** The handler's read-only view of every informer. */
  readonly cache: CacheReader;
}

/** One sync: the parent key and the leadership term it started in. */
export interface SyncContext {
  /** The parent key, `namespace/name` or `name`. */
  readonly key: string;
  /** The leadership term the sync started in (0 without leader election). */
  readonly term: number;
  /**
   * Given to every API call of the sync: aborted when leadership of that term is lost or the
   * operator stops (a request is then never retried).
   */
  readonly signal: AbortSignal | undefined;
  /** Aborted when leadership of that term is lost. */
  readonly leadership: AbortSignal | undefined;
  /** Aborted when the operator stops and the sync did not finish within the drain bound. */
  readonly stopping: AbortSignal | undefined;
  /** A handler call that outlived its timeout: the sync ends only when it settles. */
  overdue: Promise<unknown> | undefined;
  /** The handler returned a response marked `failed` (see `SyncResponse.failed`). */
  failed?: boolean;
  /**
   * The sync created or changed a child. The cache took in the write's answer, so its watch event
   * queues nothing: the controller syncs the parent once more, so that the handler sees its
   * children as they are now (a status that counts them, for one).
   */
  childrenWritten?: boolean;
}

/**
 * The sync's signal as a request option.
 *
 * @param ctx the sync
 * @returns `{ signal }`, or `{}` when the sync has none
 */
export function requestSignal(ctx: SyncContext): { signal?: AbortSignal } {
  return ctx.signal === undefined ? {} : { signal: ctx.signal };
}

/**
 * The write fence: throws when the sync's leadership term is over.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @throws {LeadershipLostError} when the term is over
 */
export function fence(rc: ReconcileContext, ctx: SyncContext): void {
  const leadership = rc.leadership;
  if (leadership !== undefined && !leadership.holds(ctx.term)) {
    throw new LeadershipLostError(leadership.lease, leadership.identity);
  }
}

/**
 * Whether an error ended the sync because its leadership term is over.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @param error what the sync threw
 * @returns whether the sync was fenced
 */
export function fenced(rc: ReconcileContext, ctx: SyncContext, error: unknown): boolean {
  if (rc.leadership === undefined) return false;
  if (error instanceof LeadershipLostError) return true;
  if (error instanceof Error && error.cause instanceof LeadershipLostError) return true;
  return !rc.leadership.holds(ctx.term);
}

/**
 * Whether the sync may record Events: there is a recorder, and the sync's term is not over.
 *
 * @param rc the controller's context
 * @param ctx the sync
 * @returns the recorder, or `undefined` when no Event may be recorded
 */
export function eventsOf(rc: ReconcileContext, ctx: SyncContext): EventRecorder | undefined {
  if (rc.events === undefined) return undefined;
  if (rc.leadership !== undefined && !rc.leadership.holds(ctx.term)) return undefined;
  return rc.events;
}

/**
 * The children of a parent, from the child informers.
 *
 * @param rc the controller's context
 * @param uid the parent's uid
 * @returns every cached child of every type
 */
export function childrenOf(rc: ReconcileContext, uid: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const child of rc.children.values()) {
    for (const object of child.informer.byIndex(uid)) objects.push(object);
  }
  return objects;
}

/**
 * The parent as an Event's `regarding`: with its `apiVersion` and `kind` filled in.
 *
 * @param rc the controller's context
 * @param parent the parent
 * @returns the parent with its type
 */
export function regarding(rc: ReconcileContext, parent: KubernetesObject): KubernetesObject {
  return {
    ...parent,
    apiVersion: parent.apiVersion ?? rc.config.parent.apiVersion,
    kind: parent.kind ?? rc.config.parent.kind,
  };
}

/**
 * The related objects a parent refers to, from the related informers (not yet copied: the
 * handler call copies its snapshot).
 *
 * @param rc the controller's context
 * @param key the parent key, for the error
 * @param parent the parent
 * @returns the objects, by declaration
 * @throws {SyncError} when a declaration's `refs` throws or returns something malformed
 */
export function relatedOf(
  rc: ReconcileContext,
  key: string,
  parent: KubernetesObject,
): RelatedObjects {
  const objects = new Map<RelatedResource<KubernetesObject, never>, KubernetesObject[]>();
  for (const state of rc.related) {
    let refs;
    try {
      refs = resolveRefs(state.declaration, parent);
    } catch (error) {
      const type = state.declaration.type;
      throw new SyncError(
        key,
        `the references to ${type.apiVersion}/${type.kind} could not be computed: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
    objects.set(state.declaration, structuredClone(findRelated(refs, state.informer)));
  }
  return new RelatedObjects(objects, { complete: true });
}
