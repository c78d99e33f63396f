/**
 * `@roperator/core`: write Kubernetes operators in TypeScript on Deno.
 *
 * A handler receives a snapshot — the parent object and the children that belong to it — and
 * returns the desired parent status and the desired children. The library watches the cluster,
 * calls the handler, and makes the cluster match: it creates, updates and deletes children,
 * writes status, and runs finalizers.
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
 * console.error(error);
 * Deno.exit(1);
 * ```
 *
 * @module
 */

// Configuration
export {
  type CacheTransform,
  type ChildConfig,
  childConfigFor,
  DEFAULT_FINALIZER_PREFIX,
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
export {
  type AdmissionregistrationV1Types,
  type ApiextensionsV1Types,
  type AppsV1Types,
  type AutoscalingV2Types,
  type BatchV1Types,
  type BuiltInResourceTypes,
  builtInResourceTypes,
  type CoordinationV1Types,
  type CoreV1Types,
  type EventsV1Types,
  findBuiltInType,
  k8s,
  type KubernetesObjectOf,
  type NetworkingV1Types,
  type PolicyV1Types,
  type RbacV1Types,
  type SchedulingV1Types,
  type StorageV1Types,
} from "./config/resource_types.ts";

// Object types of the built-in APIs (aliases of the kubernetes-types interfaces)
export {
  type ClusterRole,
  type ClusterRoleBinding,
  type ConfigMap,
  type ControllerRevision,
  type CoreV1Event,
  type CronJob,
  type CSIDriver,
  type CustomResourceDefinition,
  type DaemonSet,
  type Deployment,
  type Endpoints,
  type EventsV1Event,
  type HorizontalPodAutoscaler,
  type Ingress,
  type IngressClass,
  type Job,
  type Lease,
  type LimitRange,
  type MutatingWebhookConfiguration,
  type Namespace,
  type NetworkPolicy,
  type Node,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type PodDisruptionBudget,
  type PodTemplate,
  type PriorityClass,
  type ReplicaSet,
  type ReplicationController,
  type ResourceQuota,
  type Role,
  type RoleBinding,
  type Secret,
  type Service,
  type ServiceAccount,
  type StatefulSet,
  type StorageClass,
  type ValidatingWebhookConfiguration,
  type VolumeAttachment,
} from "./config/resource_types.ts";

// Handler
export {
  type DesiredChild,
  type FinalizeFunction,
  type FinalizeResponse,
  type Handler,
  type HandlerObject,
  type NormalizedHandler,
  normalizeHandler,
  type SyncFunction,
  type SyncRequest,
  syncRequest,
  type SyncRequestOptions,
  type SyncResponse,
  type TypedObject,
} from "./handler/handler.ts";
export { Children, ChildrenOfType, type ObjectRef } from "./handler/children.ts";
export {
  type Condition,
  type ConditionInit,
  findCondition,
  mergeConditions,
  type MergeConditionsOptions,
} from "./handler/conditions.ts";
export {
  type BackoffConfig,
  backoffConfig,
  type BackoffOptions,
  DEFAULT_BACKOFF,
  ExponentialBackoff,
  KeyedBackoff,
} from "./handler/backoff.ts";
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

// Runner
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
export {
  OperatorMetrics,
  type OperatorMetricsOptions,
  type WriteKind,
} from "./runner/operator_metrics.ts";
export { Controller, type ControllerOptions, type SyncEvent } from "./runner/controller.ts";
export { SyncError, type SyncErrorOptions } from "./runner/sync_error.ts";
export { Informer } from "./runner/informer.ts";
export {
  type InformerChange,
  type InformerClock,
  type InformerOptions,
  type RestartReason,
} from "./runner/informer_options.ts";
export { InformerSyncError } from "./runner/informer_errors.ts";
export {
  LAST_APPLIED_ANNOTATION,
  objectKey,
  pruneCachedObject,
  pruneManagedFields,
} from "./runner/cache_object.ts";
export {
  type InformerHandle,
  InformerPool,
  type InformerSubscriber,
  type SharedInformerOptions,
} from "./runner/informer_pool.ts";
export {
  defaultIdentity,
  LeaderElector,
  type LeaderElectorOptions,
  type Leadership,
  LeadershipLostError,
} from "./runner/leader_election.ts";
export { type EventInit, EventRecorder, type EventRecorderOptions } from "./runner/events.ts";
export { TRACER_NAME } from "./runner/tracing.ts";
export { WorkQueue } from "./runner/work_queue.ts";
export {
  type WorkQueueObserver,
  type WorkQueueOptions,
  type WorkQueueShutdownOptions,
  type WorkQueueShutdownResult,
  type WorkResult,
} from "./runner/work_queue_options.ts";
export {
  Counter,
  Gauge,
  type GaugeOptions,
  Histogram,
  type HistogramOptions,
  type LabelValues,
  type Metric,
  type MetricType,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "./metrics/mod.ts";

// Deployment
export { explainRules, rbacFor, type RbacOptions } from "./deploy/rbac.ts";
export {
  type ContainerResources,
  manifestsFor,
  type ManifestsOptions,
  toYaml,
  type ToYamlOptions,
} from "./deploy/manifests.ts";
export {
  OPERATOR_ENV_VARS,
  permissionFlags,
  type PermissionFlagsOptions,
  SERVICE_ACCOUNT_DIR,
} from "./deploy/permissions.ts";

// Command line
export {
  applyCliOptions,
  cliHelp,
  type CliOptions,
  CliUsageError,
  type CliUsageErrorOptions,
  operatorMain,
  type OperatorMainOptions,
  parseCliArgs,
  type ParseCliArgsOptions,
} from "./runner/cli.ts";

// Client
export type {
  BasicCredentials,
  ClientCertificateCredentials,
  ClientConfig,
  Credentials,
  ExecCredentials,
  GetTokenOptions,
  HeaderCredentials,
  Impersonation,
  TokenCredentials,
  TokenFileCredentials,
  TokenProviderCredentials,
} from "./client/client_config.ts";
export { ClientConfigError, type ClientConfigErrorOptions } from "./client/config_error.ts";
export { fromKubeconfig, type FromKubeconfigOptions } from "./client/kubeconfig.ts";
export {
  type Kubeconfig,
  type KubeconfigAuthProvider,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigExec,
  type KubeconfigExecEnvVar,
  type KubeconfigUser,
  type NamedKubeconfigCluster,
  type NamedKubeconfigContext,
  type NamedKubeconfigUser,
  parseKubeconfig,
  type ParseKubeconfigOptions,
} from "./client/kubeconfig_parse.ts";
export {
  DEFAULT_SERVICE_ACCOUNT_DIR,
  fromServiceAccount,
  type FromServiceAccountOptions,
} from "./client/service_account.ts";
export {
  loadClientConfig,
  type LoadClientConfigOptions,
  NoClientConfigError,
} from "./client/load_client_config.ts";
export { ExecPluginError } from "./client/exec_plugin.ts";
export {
  KubeClient,
  type KubeClientOptions,
  type RequestObservation,
  type RequestOptions,
  type RetryOptions,
} from "./client/kube_client.ts";
export {
  type ApplyOptions,
  type DeleteOptions,
  type ListAllOptions,
  type ListOptions,
  type ObjectList,
  type PatchOptions,
  type PatchType,
  ResourceClient,
  type WriteOptions,
} from "./client/resource_client.ts";
export {
  groupOf,
  type KubernetesObject,
  type ObjectMeta,
  resourcePath,
  type ResourcePathOptions,
  type ResourceType,
  resourceType,
  type ResourceTypeInit,
  typeKey,
} from "./client/resource_type.ts";
export {
  ApiError,
  NetworkError,
  type RequestInfo,
  type Status,
  WatchDecodeError,
  WatchIdleTimeoutError,
  WatchLineTooLongError,
  WatchUnexpectedObjectError,
} from "./client/errors.ts";
export {
  decodeWatchLine,
  decodeWatchStream,
  type DecodeWatchStreamOptions,
  DEFAULT_MAX_LINE_BYTES,
  type WatchBookmarkEvent,
  type WatchErrorEvent,
  type WatchEvent,
  type WatchObjectEvent,
  type WatchOptions,
  watchPath,
} from "./client/watch.ts";
export { discoverResourceType, UnknownKindError } from "./client/discovery.ts";
