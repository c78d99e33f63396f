/**
 * The default label names and finalizer prefix of `operatorConfig()`: an operator that
 * sets none of `trackingLabel`, `ownershipLabel` and `finalizer` uses these.
 *
 * @module
 */
/** The default tracking label name; its value on a child is the parent's uid. */
export const DEFAULT_TRACKING_LABEL = "app.kubernetes.io/instance";
/** The default ownership label name; its value on a child is the operator name. */
export const DEFAULT_OWNERSHIP_LABEL = "app.kubernetes.io/managed-by";
/** The prefix of the default finalizer, `"roperator.dev/<name>"`. */
export const DEFAULT_FINALIZER_PREFIX = "roperator.dev";
