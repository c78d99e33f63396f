/**
 * Predefined {@linkcode ResourceType}s for the built-in Kubernetes APIs, grouped by API group and
 * version: `k8s.core.v1.Pod`, `k8s.apps.v1.Deployment`, `k8s.networking.v1.Ingress`,
 * `k8s.rbac.v1.Role`, `k8s.events.v1.Event` and so on. Each is typed with the matching
 * `kubernetes-types` interface, so a child view such as `children.ofType(k8s.core.v1.Pod)` yields
 * `Pod` objects.
 *
 * The group key drops the `.k8s.io` and `.authorization.k8s.io` suffixes; the core group (`v1`)
 * is `core`. Only GA (`v1`/`v2`) versions served by current clusters are listed; declare anything
 * else with {@linkcode resourceType}.
 *
 * @example
 * ```ts
 * import { k8s } from "./resource_types.ts";
 * k8s.core.v1.Pod.plural; // "pods"
 * k8s.rbac.v1.ClusterRole.namespaced; // false
 * ```
 *
 * @module
 */
import type * as admissionregistrationV1 from "kubernetes-types/admissionregistration/v1.d.ts";
import type * as apiextensionsV1 from "kubernetes-types/apiextensions/v1.d.ts";
import type * as appsV1 from "kubernetes-types/apps/v1.d.ts";
import type * as autoscalingV2 from "kubernetes-types/autoscaling/v2.d.ts";
import type * as batchV1 from "kubernetes-types/batch/v1.d.ts";
import type * as coordinationV1 from "kubernetes-types/coordination/v1.d.ts";
import type * as coreV1 from "kubernetes-types/core/v1.d.ts";
import type * as eventsV1 from "kubernetes-types/events/v1.d.ts";
import type * as networkingV1 from "kubernetes-types/networking/v1.d.ts";
import type * as policyV1 from "kubernetes-types/policy/v1.d.ts";
import type * as rbacV1 from "kubernetes-types/rbac/v1.d.ts";
import type * as schedulingV1 from "kubernetes-types/scheduling/v1.d.ts";
import type * as storageV1 from "kubernetes-types/storage/v1.d.ts";
import {
  type KubernetesObject,
  type ResourceType,
  resourceType,
  typeKey,
} from "../client/resource_type.ts";

/**
 * A `kubernetes-types` interface made assignable to {@linkcode KubernetesObject}.
 *
 * `kubernetes-types` declares interfaces without an index signature, which TypeScript does not
 * accept where `KubernetesObject` is required; the intersection keeps every typed field (so a
 * value of this type is a `T`) and adds the index signature.
 */
export type KubernetesObjectOf<T extends object> = T & KubernetesObject;

/*
 * The kubernetes-types interfaces, re-exported under this module's names (`Event` of both APIs
 * is qualified). Plain aliases keep the public API self-contained for `deno doc`.
 */

/** A `v1` Namespace, as declared by `kubernetes-types`. */
export type Namespace = coreV1.Namespace;

/** A `v1` Node, as declared by `kubernetes-types`. */
export type Node = coreV1.Node;

/** A `v1` Pod, as declared by `kubernetes-types`. */
export type Pod = coreV1.Pod;

/** A `v1` PodTemplate, as declared by `kubernetes-types`. */
export type PodTemplate = coreV1.PodTemplate;

/** A `v1` ReplicationController, as declared by `kubernetes-types`. */
export type ReplicationController = coreV1.ReplicationController;

/** A `v1` Event, as declared by `kubernetes-types`. */
export type CoreV1Event = coreV1.Event;

/** A `v1` Service, as declared by `kubernetes-types`. */
export type Service = coreV1.Service;

/** A `v1` Endpoints, as declared by `kubernetes-types`. */
export type Endpoints = coreV1.Endpoints;

/** A `v1` Secret, as declared by `kubernetes-types`. */
export type Secret = coreV1.Secret;

/** A `v1` ConfigMap, as declared by `kubernetes-types`. */
export type ConfigMap = coreV1.ConfigMap;

/** A `v1` LimitRange, as declared by `kubernetes-types`. */
export type LimitRange = coreV1.LimitRange;

/** A `v1` PersistentVolumeClaim, as declared by `kubernetes-types`. */
export type PersistentVolumeClaim = coreV1.PersistentVolumeClaim;

/** A `v1` PersistentVolume, as declared by `kubernetes-types`. */
export type PersistentVolume = coreV1.PersistentVolume;

/** A `v1` ResourceQuota, as declared by `kubernetes-types`. */
export type ResourceQuota = coreV1.ResourceQuota;

/** A `v1` ServiceAccount, as declared by `kubernetes-types`. */
export type ServiceAccount = coreV1.ServiceAccount;

/** A `apps/v1` ControllerRevision, as declared by `kubernetes-types`. */
export type ControllerRevision = appsV1.ControllerRevision;

/** A `apps/v1` DaemonSet, as declared by `kubernetes-types`. */
export type DaemonSet = appsV1.DaemonSet;

/** A `apps/v1` Deployment, as declared by `kubernetes-types`. */
export type Deployment = appsV1.Deployment;

/** A `apps/v1` ReplicaSet, as declared by `kubernetes-types`. */
export type ReplicaSet = appsV1.ReplicaSet;

/** A `apps/v1` StatefulSet, as declared by `kubernetes-types`. */
export type StatefulSet = appsV1.StatefulSet;

/** A `autoscaling/v2` HorizontalPodAutoscaler, as declared by `kubernetes-types`. */
export type HorizontalPodAutoscaler = autoscalingV2.HorizontalPodAutoscaler;

/** A `batch/v1` Job, as declared by `kubernetes-types`. */
export type Job = batchV1.Job;

/** A `batch/v1` CronJob, as declared by `kubernetes-types`. */
export type CronJob = batchV1.CronJob;

/** A `networking.k8s.io/v1` Ingress, as declared by `kubernetes-types`. */
export type Ingress = networkingV1.Ingress;

/** A `networking.k8s.io/v1` IngressClass, as declared by `kubernetes-types`. */
export type IngressClass = networkingV1.IngressClass;

/** A `networking.k8s.io/v1` NetworkPolicy, as declared by `kubernetes-types`. */
export type NetworkPolicy = networkingV1.NetworkPolicy;

/** A `policy/v1` PodDisruptionBudget, as declared by `kubernetes-types`. */
export type PodDisruptionBudget = policyV1.PodDisruptionBudget;

/** A `rbac.authorization.k8s.io/v1` Role, as declared by `kubernetes-types`. */
export type Role = rbacV1.Role;

/** A `rbac.authorization.k8s.io/v1` RoleBinding, as declared by `kubernetes-types`. */
export type RoleBinding = rbacV1.RoleBinding;

/** A `rbac.authorization.k8s.io/v1` ClusterRole, as declared by `kubernetes-types`. */
export type ClusterRole = rbacV1.ClusterRole;

/** A `rbac.authorization.k8s.io/v1` ClusterRoleBinding, as declared by `kubernetes-types`. */
export type ClusterRoleBinding = rbacV1.ClusterRoleBinding;

/** A `coordination.k8s.io/v1` Lease, as declared by `kubernetes-types`. */
export type Lease = coordinationV1.Lease;

/** A `events.k8s.io/v1` Event, as declared by `kubernetes-types`. */
export type EventsV1Event = eventsV1.Event;

/** A `apiextensions.k8s.io/v1` CustomResourceDefinition, as declared by `kubernetes-types`. */
export type CustomResourceDefinition = apiextensionsV1.CustomResourceDefinition;

/** A `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration, as declared by `kubernetes-types`. */
export type MutatingWebhookConfiguration = admissionregistrationV1.MutatingWebhookConfiguration;

/** A `admissionregistration.k8s.io/v1` ValidatingWebhookConfiguration, as declared by `kubernetes-types`. */
export type ValidatingWebhookConfiguration = admissionregistrationV1.ValidatingWebhookConfiguration;

/** A `scheduling.k8s.io/v1` PriorityClass, as declared by `kubernetes-types`. */
export type PriorityClass = schedulingV1.PriorityClass;

/** A `storage.k8s.io/v1` StorageClass, as declared by `kubernetes-types`. */
export type StorageClass = storageV1.StorageClass;

/** A `storage.k8s.io/v1` CSIDriver, as declared by `kubernetes-types`. */
export type CSIDriver = storageV1.CSIDriver;

/** A `storage.k8s.io/v1` VolumeAttachment, as declared by `kubernetes-types`. */
export type VolumeAttachment = storageV1.VolumeAttachment;

/** The predefined types of the core group, version `v1`. */
export interface CoreV1Types {
  /** `v1` Namespace, cluster-scoped. */
  readonly Namespace: ResourceType<KubernetesObjectOf<Namespace>>;
  /** `v1` Node, cluster-scoped. */
  readonly Node: ResourceType<KubernetesObjectOf<Node>>;
  /** `v1` Pod. */
  readonly Pod: ResourceType<KubernetesObjectOf<Pod>>;
  /** `v1` PodTemplate. */
  readonly PodTemplate: ResourceType<KubernetesObjectOf<PodTemplate>>;
  /** `v1` ReplicationController. */
  readonly ReplicationController: ResourceType<KubernetesObjectOf<ReplicationController>>;
  /** `v1` Event (the legacy events API; see also `k8s.events.v1.Event`). */
  readonly Event: ResourceType<KubernetesObjectOf<CoreV1Event>>;
  /** `v1` Service. */
  readonly Service: ResourceType<KubernetesObjectOf<Service>>;
  /** `v1` Endpoints. */
  readonly Endpoints: ResourceType<KubernetesObjectOf<Endpoints>>;
  /** `v1` Secret. */
  readonly Secret: ResourceType<KubernetesObjectOf<Secret>>;
  /** `v1` ConfigMap. */
  readonly ConfigMap: ResourceType<KubernetesObjectOf<ConfigMap>>;
  /** `v1` LimitRange. */
  readonly LimitRange: ResourceType<KubernetesObjectOf<LimitRange>>;
  /** `v1` PersistentVolumeClaim. */
  readonly PersistentVolumeClaim: ResourceType<KubernetesObjectOf<PersistentVolumeClaim>>;
  /** `v1` PersistentVolume, cluster-scoped. */
  readonly PersistentVolume: ResourceType<KubernetesObjectOf<PersistentVolume>>;
  /** `v1` ResourceQuota. */
  readonly ResourceQuota: ResourceType<KubernetesObjectOf<ResourceQuota>>;
  /** `v1` ServiceAccount. */
  readonly ServiceAccount: ResourceType<KubernetesObjectOf<ServiceAccount>>;
}

/** The predefined types of `apps/v1`. */
export interface AppsV1Types {
  /** `apps/v1` ControllerRevision. */
  readonly ControllerRevision: ResourceType<KubernetesObjectOf<ControllerRevision>>;
  /** `apps/v1` DaemonSet. */
  readonly DaemonSet: ResourceType<KubernetesObjectOf<DaemonSet>>;
  /** `apps/v1` Deployment. */
  readonly Deployment: ResourceType<KubernetesObjectOf<Deployment>>;
  /** `apps/v1` ReplicaSet. */
  readonly ReplicaSet: ResourceType<KubernetesObjectOf<ReplicaSet>>;
  /** `apps/v1` StatefulSet. */
  readonly StatefulSet: ResourceType<KubernetesObjectOf<StatefulSet>>;
}

/** The predefined types of `autoscaling/v2`. */
export interface AutoscalingV2Types {
  /** `autoscaling/v2` HorizontalPodAutoscaler. */
  readonly HorizontalPodAutoscaler: ResourceType<
    KubernetesObjectOf<HorizontalPodAutoscaler>
  >;
}

/** The predefined types of `batch/v1`. */
export interface BatchV1Types {
  /** `batch/v1` Job. */
  readonly Job: ResourceType<KubernetesObjectOf<Job>>;
  /** `batch/v1` CronJob. */
  readonly CronJob: ResourceType<KubernetesObjectOf<CronJob>>;
}

/** The predefined types of `networking.k8s.io/v1`. */
export interface NetworkingV1Types {
  /** `networking.k8s.io/v1` Ingress. */
  readonly Ingress: ResourceType<KubernetesObjectOf<Ingress>>;
  /** `networking.k8s.io/v1` IngressClass, cluster-scoped. */
  readonly IngressClass: ResourceType<KubernetesObjectOf<IngressClass>>;
  /** `networking.k8s.io/v1` NetworkPolicy. */
  readonly NetworkPolicy: ResourceType<KubernetesObjectOf<NetworkPolicy>>;
}

/** The predefined types of `policy/v1`. */
export interface PolicyV1Types {
  /** `policy/v1` PodDisruptionBudget. */
  readonly PodDisruptionBudget: ResourceType<KubernetesObjectOf<PodDisruptionBudget>>;
}

/** The predefined types of `rbac.authorization.k8s.io/v1`. */
export interface RbacV1Types {
  /** `rbac.authorization.k8s.io/v1` Role. */
  readonly Role: ResourceType<KubernetesObjectOf<Role>>;
  /** `rbac.authorization.k8s.io/v1` RoleBinding. */
  readonly RoleBinding: ResourceType<KubernetesObjectOf<RoleBinding>>;
  /** `rbac.authorization.k8s.io/v1` ClusterRole, cluster-scoped. */
  readonly ClusterRole: ResourceType<KubernetesObjectOf<ClusterRole>>;
  /** `rbac.authorization.k8s.io/v1` ClusterRoleBinding, cluster-scoped. */
  readonly ClusterRoleBinding: ResourceType<KubernetesObjectOf<ClusterRoleBinding>>;
}

/** The predefined types of `coordination.k8s.io/v1`. */
export interface CoordinationV1Types {
  /** `coordination.k8s.io/v1` Lease. */
  readonly Lease: ResourceType<KubernetesObjectOf<Lease>>;
}

/** The predefined types of `events.k8s.io/v1`. */
export interface EventsV1Types {
  /** `events.k8s.io/v1` Event. */
  readonly Event: ResourceType<KubernetesObjectOf<EventsV1Event>>;
}

/** The predefined types of `apiextensions.k8s.io/v1`. */
export interface ApiextensionsV1Types {
  /** `apiextensions.k8s.io/v1` CustomResourceDefinition, cluster-scoped. */
  readonly CustomResourceDefinition: ResourceType<
    KubernetesObjectOf<CustomResourceDefinition>
  >;
}

/** The predefined types of `admissionregistration.k8s.io/v1`. */
export interface AdmissionregistrationV1Types {
  /** `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration, cluster-scoped. */
  readonly MutatingWebhookConfiguration: ResourceType<
    KubernetesObjectOf<MutatingWebhookConfiguration>
  >;
  /** `admissionregistration.k8s.io/v1` ValidatingWebhookConfiguration, cluster-scoped. */
  readonly ValidatingWebhookConfiguration: ResourceType<
    KubernetesObjectOf<ValidatingWebhookConfiguration>
  >;
}

/** The predefined types of `scheduling.k8s.io/v1`. */
export interface SchedulingV1Types {
  /** `scheduling.k8s.io/v1` PriorityClass, cluster-scoped. */
  readonly PriorityClass: ResourceType<KubernetesObjectOf<PriorityClass>>;
}

/** The predefined types of `storage.k8s.io/v1`. */
export interface StorageV1Types {
  /** `storage.k8s.io/v1` StorageClass, cluster-scoped. */
  readonly StorageClass: ResourceType<KubernetesObjectOf<StorageClass>>;
  /** `storage.k8s.io/v1` CSIDriver, cluster-scoped. */
  readonly CSIDriver: ResourceType<KubernetesObjectOf<CSIDriver>>;
  /** `storage.k8s.io/v1` VolumeAttachment, cluster-scoped. */
  readonly VolumeAttachment: ResourceType<KubernetesObjectOf<VolumeAttachment>>;
}

/** The shape of {@linkcode k8s}: API group, then version, then kind. */
export interface BuiltInResourceTypes {
  /** The core group (`apiVersion: v1`). */
  readonly core: { readonly v1: CoreV1Types };
  /** `apps`. */
  readonly apps: { readonly v1: AppsV1Types };
  /** `autoscaling`. */
  readonly autoscaling: { readonly v2: AutoscalingV2Types };
  /** `batch`. */
  readonly batch: { readonly v1: BatchV1Types };
  /** `networking.k8s.io`. */
  readonly networking: { readonly v1: NetworkingV1Types };
  /** `policy`. */
  readonly policy: { readonly v1: PolicyV1Types };
  /** `rbac.authorization.k8s.io`. */
  readonly rbac: { readonly v1: RbacV1Types };
  /** `coordination.k8s.io`. */
  readonly coordination: { readonly v1: CoordinationV1Types };
  /** `events.k8s.io`. */
  readonly events: { readonly v1: EventsV1Types };
  /** `apiextensions.k8s.io`. */
  readonly apiextensions: { readonly v1: ApiextensionsV1Types };
  /** `admissionregistration.k8s.io`. */
  readonly admissionregistration: { readonly v1: AdmissionregistrationV1Types };
  /** `scheduling.k8s.io`. */
  readonly scheduling: { readonly v1: SchedulingV1Types };
  /** `storage.k8s.io`. */
  readonly storage: { readonly v1: StorageV1Types };
}

function namespaced<T extends KubernetesObject>(
  apiVersion: string,
  kind: string,
  plural: string,
): ResourceType<T> {
  return resourceType<T>({ apiVersion, kind, plural, namespaced: true });
}

function clusterScoped<T extends KubernetesObject>(
  apiVersion: string,
  kind: string,
  plural: string,
): ResourceType<T> {
  return resourceType<T>({ apiVersion, kind, plural, namespaced: false });
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

const CORE = "v1";
const APPS = "apps/v1";
const RBAC = "rbac.authorization.k8s.io/v1";
const NETWORKING = "networking.k8s.io/v1";
const STORAGE = "storage.k8s.io/v1";
const ADMISSION = "admissionregistration.k8s.io/v1";

/**
 * The predefined resource types of the built-in Kubernetes APIs, with their plural and scope.
 *
 * @example Use built-in types as children
 * ```ts
 * import { k8s } from "./resource_types.ts";
 * const children = [
 *   { type: k8s.apps.v1.Deployment, updateStrategy: "Replace" },
 *   { type: k8s.core.v1.Service, updateStrategy: "Replace" },
 *   { type: k8s.rbac.v1.ClusterRoleBinding, updateStrategy: "Apply" },
 * ];
 * ```
 */
export const k8s: BuiltInResourceTypes = deepFreeze({
  core: {
    v1: {
      Namespace: clusterScoped(CORE, "Namespace", "namespaces"),
      Node: clusterScoped(CORE, "Node", "nodes"),
      Pod: namespaced(CORE, "Pod", "pods"),
      PodTemplate: namespaced(CORE, "PodTemplate", "podtemplates"),
      ReplicationController: namespaced(CORE, "ReplicationController", "replicationcontrollers"),
      Event: namespaced(CORE, "Event", "events"),
      Service: namespaced(CORE, "Service", "services"),
      Endpoints: namespaced(CORE, "Endpoints", "endpoints"),
      Secret: namespaced(CORE, "Secret", "secrets"),
      ConfigMap: namespaced(CORE, "ConfigMap", "configmaps"),
      LimitRange: namespaced(CORE, "LimitRange", "limitranges"),
      PersistentVolumeClaim: namespaced(CORE, "PersistentVolumeClaim", "persistentvolumeclaims"),
      PersistentVolume: clusterScoped(CORE, "PersistentVolume", "persistentvolumes"),
      ResourceQuota: namespaced(CORE, "ResourceQuota", "resourcequotas"),
      ServiceAccount: namespaced(CORE, "ServiceAccount", "serviceaccounts"),
    },
  },
  apps: {
    v1: {
      ControllerRevision: namespaced(APPS, "ControllerRevision", "controllerrevisions"),
      DaemonSet: namespaced(APPS, "DaemonSet", "daemonsets"),
      Deployment: namespaced(APPS, "Deployment", "deployments"),
      ReplicaSet: namespaced(APPS, "ReplicaSet", "replicasets"),
      StatefulSet: namespaced(APPS, "StatefulSet", "statefulsets"),
    },
  },
  autoscaling: {
    v2: {
      HorizontalPodAutoscaler: namespaced(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
      ),
    },
  },
  batch: {
    v1: {
      Job: namespaced("batch/v1", "Job", "jobs"),
      CronJob: namespaced("batch/v1", "CronJob", "cronjobs"),
    },
  },
  networking: {
    v1: {
      Ingress: namespaced(NETWORKING, "Ingress", "ingresses"),
      IngressClass: clusterScoped(NETWORKING, "IngressClass", "ingressclasses"),
      NetworkPolicy: namespaced(NETWORKING, "NetworkPolicy", "networkpolicies"),
    },
  },
  policy: {
    v1: {
      PodDisruptionBudget: namespaced("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    },
  },
  rbac: {
    v1: {
      Role: namespaced(RBAC, "Role", "roles"),
      RoleBinding: namespaced(RBAC, "RoleBinding", "rolebindings"),
      ClusterRole: clusterScoped(RBAC, "ClusterRole", "clusterroles"),
      ClusterRoleBinding: clusterScoped(RBAC, "ClusterRoleBinding", "clusterrolebindings"),
    },
  },
  coordination: {
    v1: { Lease: namespaced("coordination.k8s.io/v1", "Lease", "leases") },
  },
  events: {
    v1: { Event: namespaced("events.k8s.io/v1", "Event", "events") },
  },
  apiextensions: {
    v1: {
      CustomResourceDefinition: clusterScoped(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
      ),
    },
  },
  admissionregistration: {
    v1: {
      MutatingWebhookConfiguration: clusterScoped(
        ADMISSION,
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
      ),
      ValidatingWebhookConfiguration: clusterScoped(
        ADMISSION,
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
      ),
    },
  },
  scheduling: {
    v1: {
      PriorityClass: clusterScoped("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses"),
    },
  },
  storage: {
    v1: {
      StorageClass: clusterScoped(STORAGE, "StorageClass", "storageclasses"),
      CSIDriver: clusterScoped(STORAGE, "CSIDriver", "csidrivers"),
      VolumeAttachment: clusterScoped(STORAGE, "VolumeAttachment", "volumeattachments"),
    },
  },
});

/** Every type in {@linkcode k8s}, in declaration order. */
export const builtInResourceTypes: readonly ResourceType[] = Object.freeze(
  Object.values(k8s).flatMap((versions: Record<string, Record<string, ResourceType>>) =>
    Object.values(versions).flatMap((kinds) => Object.values(kinds))
  ),
);

const BY_KEY: ReadonlyMap<string, ResourceType> = new Map(
  builtInResourceTypes.map((type) => [typeKey(type), type]),
);

/**
 * Looks up a predefined type by apiVersion and kind, for example to find the plural and scope of
 * an object read from YAML.
 *
 * @example
 * ```ts
 * import { findBuiltInType } from "./resource_types.ts";
 * findBuiltInType("apps/v1", "Deployment")?.plural; // "deployments"
 * ```
 *
 * @param apiVersion `group/version`, or `v1` for the core group
 * @param kind the kind
 * @returns the predefined type, or `undefined` when {@linkcode k8s} lacks it
 */
export function findBuiltInType(apiVersion: string, kind: string): ResourceType | undefined {
  return BY_KEY.get(typeKey({ apiVersion, kind }));
}
