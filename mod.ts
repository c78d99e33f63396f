/**
 * `@roperator/core`: write Kubernetes operators in TypeScript on Deno.
 *
 * A handler receives a snapshot — the parent object and the children that belong to it — and
 * returns the desired parent status and the desired children. The library watches the cluster,
 * calls the handler, and makes the cluster match: it creates, updates and deletes children,
 * writes status, and runs finalizers.
 *
 * This entry point has what an operator author needs: the config, the handler and its helpers,
 * running the operator, and its errors. The rest lives behind subpath exports:
 * `@roperator/core/k8s` (the built-in resource types and their object types),
 * `@roperator/core/client` (the Kubernetes client), `@roperator/core/deploy` (RBAC and
 * manifests), `@roperator/core/metrics` (Prometheus metrics) and `@roperator/core/testkit`
 * (testing against a real control plane).
 *
 * ```ts ignore
 * import { k8s, operatorConfig, resourceType, runOperator } from "@roperator/core";
 *
 * const EchoServer = resourceType({
 *   apiVersion: "example.roperator.dev/v1alpha1",
 *   kind: "EchoServer",
 *   plural: "echoservers",
 *   namespaced: true,
 * });
 * const config = operatorConfig({
 *   name: "echo-operator",
 *   parent: EchoServer,
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
 * });
 * const error = await runOperator(config, ({ parent }) => ({
 *   status: { message: "ok" },
 *   children: [{
 *     apiVersion: "v1",
 *     kind: "ConfigMap",
 *     metadata: { name: `${parent.metadata?.name}-config` },
 *     data: { greeting: "hello" },
 *   }],
 * }));
 * // Resolves with the fatal error, or undefined after SIGTERM/SIGINT and a graceful stop.
 * if (error !== undefined) {
 *   console.error(error);
 *   Deno.exit(1);
 * }
 * ```
 *
 * @module
 */

// Configuration
export {
  type CacheTransform,
  type ChildConfig,
  DEFAULT_OWNERSHIP_LABEL,
  DEFAULT_TRACKING_LABEL,
  type LeaderElectionConfig,
  type LeaderElectionInit,
  type LeaderLostAction,
  type OperatorConfig,
  operatorConfig,
  OperatorConfigError,
  type OperatorConfigErrorOptions,
  type OperatorConfigInit,
  type ServerConfig,
  type ServerConfigInit,
  type UpdateStrategy,
} from "./config/operator_config.ts";
// Resource types
export { k8s, type KubernetesObjectOf } from "./config/resource_types.ts";
export {
  type KubernetesObject,
  type ObjectMeta,
  type ResourceType,
  resourceType,
  type ResourceTypeInit,
} from "./client/resource_type.ts";
export type { ClientConfig } from "./client/client_config.ts";
export { ApiError } from "./client/errors.ts";
// The handler
export type {
  DesiredChild,
  FinalizeFunction,
  FinalizeResponse,
  Handler,
  HandlerObject,
  SyncFunction,
  SyncRequest,
  SyncResponse,
  TypedObject,
} from "./handler/handler.ts";
export { Children, ChildrenOfType, type ObjectRef } from "./handler/children.ts";
export {
  type Condition,
  type ConditionInit,
  findCondition,
  mergeConditions,
  type MergeConditionsOptions,
} from "./handler/conditions.ts";
export { type BackoffConfig, KeyedBackoff } from "./handler/backoff.ts";
export {
  type FailableHandler,
  failableHandler,
  type FailableHandlerOptions,
  type FinalizeFailed,
  type FinalizeSucceeded,
  type HandlerResult,
  isFailure,
  type SyncFailed,
  type SyncSucceeded,
  type ValidationFailed,
} from "./handler/failable.ts";
// Running the operator
export {
  type OperatorEntry,
  OperatorFatalError,
  type OperatorGroupHandle,
  type OperatorHandle,
  runOperator,
  startOperator,
  type StartOperatorOptions,
  startOperators,
  type StartOperatorsOptions,
} from "./runner/run_operator.ts";
export { operatorMain, type OperatorMainOptions } from "./runner/cli.ts";
export { SyncError, type SyncErrorOptions } from "./runner/sync_error.ts";
export type { SyncEvent } from "./runner/controller.ts";
export { InformerSyncError } from "./runner/informer_errors.ts";
export { type Leadership, LeadershipLostError } from "./runner/leader_election.ts";
export { TRACER_NAME } from "./runner/tracing.ts";
