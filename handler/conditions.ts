/**
 * Status conditions in the Kubernetes convention (`metav1.Condition`), with the one rule that
 * is easy to get wrong: `lastTransitionTime` changes only when a condition's status changes, so
 * a status computed again from the same state is equal to the one written, and the operator
 * writes nothing.
 *
 * @module
 */

/** One condition, as in `metav1.Condition`. */
export interface Condition {
  /** The condition's type in UpperCamelCase, for example `Ready`. */
  type: string;
  /** `True`, `False` or `Unknown`. */
  status: "True" | "False" | "Unknown";
  /** A machine-readable reason in UpperCamelCase. */
  reason: string;
  /** A human-readable message. */
  message?: string;
  /** When the status last changed, RFC 3339. */
  lastTransitionTime: string;
  /** The parent's `metadata.generation` the condition was computed from. */
  observedGeneration?: number;
}

/** A condition as computed by a handler: `lastTransitionTime` is filled in for it. */
export type ConditionInit = Omit<Condition, "lastTransitionTime">;

/** Options for {@linkcode mergeConditions}. */
export interface MergeConditionsOptions {
  /** The current time (default now), for tests. */
  now?: Date;
}

/**
 * Builds the new list of conditions from the previous list (the parent's current status) and
 * the conditions computed now. A condition whose status did not change keeps its previous
 * `lastTransitionTime`; conditions not computed now are dropped. The result is sorted by type
 * so that equal inputs give equal outputs.
 *
 * @example
 * ```ts
 * import { mergeConditions } from "@roperator/core";
 * const conditions = mergeConditions([], [
 *   { type: "Ready", status: "False", reason: "Waiting", message: "No pods yet" },
 * ]);
 * console.log(conditions[0]?.lastTransitionTime);
 * ```
 *
 * @param previous the conditions in the parent's current status (may be undefined)
 * @param computed the conditions computed now
 * @param options the current time
 * @returns the conditions to write
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  computed: readonly ConditionInit[],
  options: MergeConditionsOptions = {},
): Condition[] {
  const now = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const before = new Map((previous ?? []).map((c) => [c.type, c]));
  const seen = new Set<string>();
  const result: Condition[] = [];
  for (const condition of computed) {
    if (seen.has(condition.type)) {
      throw new TypeError(`Cannot merge conditions: type "${condition.type}" appears twice`);
    }
    seen.add(condition.type);
    const old = before.get(condition.type);
    const lastTransitionTime = old && old.status === condition.status
      ? old.lastTransitionTime
      : now;
    result.push({ ...condition, lastTransitionTime });
  }
  return result.sort((a, b) => a.type < b.type ? -1 : a.type > b.type ? 1 : 0);
}

/**
 * Finds a condition by type.
 *
 * @param conditions the conditions (may be undefined)
 * @param type the type
 * @returns the condition or `undefined`
 */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
