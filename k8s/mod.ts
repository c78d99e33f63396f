/**
 * The built-in resource types of Kubernetes, typed with the `kubernetes-types` interfaces:
 * {@linkcode k8s} (`k8s.core.v1.Pod`, `k8s.apps.v1.Deployment`, …) to name a child type in an
 * operator config, the object types themselves (`Pod`, `Deployment`, …) for the handler's
 * children, {@linkcode KubernetesObjectOf} to get the object type of any resource type, and
 * {@linkcode findBuiltInType} to look one up by `apiVersion` and `kind`.
 *
 * @example Type a child the handler returns
 * ```ts
 * import { type Deployment, k8s } from "@roperator/core/k8s";
 *
 * const deployment: Deployment = {
 *   apiVersion: "apps/v1",
 *   kind: "Deployment",
 *   metadata: { name: "web" },
 *   spec: {
 *     selector: { matchLabels: { app: "web" } },
 *     template: {
 *       metadata: { labels: { app: "web" } },
 *       spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
 *     },
 *   },
 * };
 * k8s.apps.v1.Deployment.kind === deployment.kind; // true
 * ```
 *
 * @module
 */
export {
  type AdmissionregistrationV1Types,
  type ApiextensionsV1Types,
  type AppsV1Types,
  type AutoscalingV2Types,
  type BatchV1Types,
  type BuiltInResourceTypes,
  builtInResourceTypes,
  type ClusterRole,
  type ClusterRoleBinding,
  type ConfigMap,
  type ControllerRevision,
  type CoordinationV1Types,
  type CoreV1Event,
  type CoreV1Types,
  type CronJob,
  type CSIDriver,
  type CustomResourceDefinition,
  type DaemonSet,
  type Deployment,
  type Endpoints,
  type EventsV1Event,
  type EventsV1Types,
  findBuiltInType,
  type HorizontalPodAutoscaler,
  type Ingress,
  type IngressClass,
  type Job,
  k8s,
  type KubernetesObjectOf,
  type Lease,
  type LimitRange,
  type MutatingWebhookConfiguration,
  type Namespace,
  type NetworkingV1Types,
  type NetworkPolicy,
  type Node,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type PodDisruptionBudget,
  type PodTemplate,
  type PolicyV1Types,
  type PriorityClass,
  type RbacV1Types,
  type ReplicaSet,
  type ReplicationController,
  type ResourceQuota,
  type Role,
  type RoleBinding,
  type SchedulingV1Types,
  type Secret,
  type Service,
  type ServiceAccount,
  type StatefulSet,
  type StorageClass,
  type StorageV1Types,
  type ValidatingWebhookConfiguration,
  type VolumeAttachment,
} from "../config/resource_types.ts";
