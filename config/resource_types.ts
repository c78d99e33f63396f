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

/** The predefined types of the core group, version `v1`. */
export interface CoreV1Types {
  /** `v1` Namespace, cluster-scoped. */
  readonly Namespace: ResourceType<KubernetesObjectOf<coreV1.Namespace>>;
  /** `v1` Node, cluster-scoped. */
  readonly Node: ResourceType<KubernetesObjectOf<coreV1.Node>>;
  /** `v1` Pod. */
  readonly Pod: ResourceType<KubernetesObjectOf<coreV1.Pod>>;
  /** `v1` PodTemplate. */
  readonly PodTemplate: ResourceType<KubernetesObjectOf<coreV1.PodTemplate>>;
  /** `v1` ReplicationController. */
  readonly ReplicationController: ResourceType<KubernetesObjectOf<coreV1.ReplicationController>>;
  /** `v1` Event (the legacy events API; see also `k8s.events.v1.Event`). */
  readonly Event: ResourceType<KubernetesObjectOf<coreV1.Event>>;
  /** `v1` Service. */
  readonly Service: ResourceType<KubernetesObjectOf<coreV1.Service>>;
  /** `v1` Endpoints. */
  readonly Endpoints: ResourceType<KubernetesObjectOf<coreV1.Endpoints>>;
  /** `v1` Secret. */
  readonly Secret: ResourceType<KubernetesObjectOf<coreV1.Secret>>;
  /** `v1` ConfigMap. */
  readonly ConfigMap: ResourceType<KubernetesObjectOf<coreV1.ConfigMap>>;
  /** `v1` LimitRange. */
  readonly LimitRange: ResourceType<KubernetesObjectOf<coreV1.LimitRange>>;
  /** `v1` PersistentVolumeClaim. */
  readonly PersistentVolumeClaim: ResourceType<KubernetesObjectOf<coreV1.PersistentVolumeClaim>>;
  /** `v1` PersistentVolume, cluster-scoped. */
  readonly PersistentVolume: ResourceType<KubernetesObjectOf<coreV1.PersistentVolume>>;
  /** `v1` ResourceQuota. */
  readonly ResourceQuota: ResourceType<KubernetesObjectOf<coreV1.ResourceQuota>>;
  /** `v1` ServiceAccount. */
  readonly ServiceAccount: ResourceType<KubernetesObjectOf<coreV1.ServiceAccount>>;
}

/** The predefined types of `apps/v1`. */
export interface AppsV1Types {
  /** `apps/v1` ControllerRevision. */
  readonly ControllerRevision: ResourceType<KubernetesObjectOf<appsV1.ControllerRevision>>;
  /** `apps/v1` DaemonSet. */
  readonly DaemonSet: ResourceType<KubernetesObjectOf<appsV1.DaemonSet>>;
  /** `apps/v1` Deployment. */
  readonly Deployment: ResourceType<KubernetesObjectOf<appsV1.Deployment>>;
  /** `apps/v1` ReplicaSet. */
  readonly ReplicaSet: ResourceType<KubernetesObjectOf<appsV1.ReplicaSet>>;
  /** `apps/v1` StatefulSet. */
  readonly StatefulSet: ResourceType<KubernetesObjectOf<appsV1.StatefulSet>>;
}

/** The predefined types of `autoscaling/v2`. */
export interface AutoscalingV2Types {
  /** `autoscaling/v2` HorizontalPodAutoscaler. */
  readonly HorizontalPodAutoscaler: ResourceType<
    KubernetesObjectOf<autoscalingV2.HorizontalPodAutoscaler>
  >;
}

/** The predefined types of `batch/v1`. */
export interface BatchV1Types {
  /** `batch/v1` Job. */
  readonly Job: ResourceType<KubernetesObjectOf<batchV1.Job>>;
  /** `batch/v1` CronJob. */
  readonly CronJob: ResourceType<KubernetesObjectOf<batchV1.CronJob>>;
}

/** The predefined types of `networking.k8s.io/v1`. */
export interface NetworkingV1Types {
  /** `networking.k8s.io/v1` Ingress. */
  readonly Ingress: ResourceType<KubernetesObjectOf<networkingV1.Ingress>>;
  /** `networking.k8s.io/v1` IngressClass, cluster-scoped. */
  readonly IngressClass: ResourceType<KubernetesObjectOf<networkingV1.IngressClass>>;
  /** `networking.k8s.io/v1` NetworkPolicy. */
  readonly NetworkPolicy: ResourceType<KubernetesObjectOf<networkingV1.NetworkPolicy>>;
}

/** The predefined types of `policy/v1`. */
export interface PolicyV1Types {
  /** `policy/v1` PodDisruptionBudget. */
  readonly PodDisruptionBudget: ResourceType<KubernetesObjectOf<policyV1.PodDisruptionBudget>>;
}

/** The predefined types of `rbac.authorization.k8s.io/v1`. */
export interface RbacV1Types {
  /** `rbac.authorization.k8s.io/v1` Role. */
  readonly Role: ResourceType<KubernetesObjectOf<rbacV1.Role>>;
  /** `rbac.authorization.k8s.io/v1` RoleBinding. */
  readonly RoleBinding: ResourceType<KubernetesObjectOf<rbacV1.RoleBinding>>;
  /** `rbac.authorization.k8s.io/v1` ClusterRole, cluster-scoped. */
  readonly ClusterRole: ResourceType<KubernetesObjectOf<rbacV1.ClusterRole>>;
  /** `rbac.authorization.k8s.io/v1` ClusterRoleBinding, cluster-scoped. */
  readonly ClusterRoleBinding: ResourceType<KubernetesObjectOf<rbacV1.ClusterRoleBinding>>;
}

/** The predefined types of `coordination.k8s.io/v1`. */
export interface CoordinationV1Types {
  /** `coordination.k8s.io/v1` Lease. */
  readonly Lease: ResourceType<KubernetesObjectOf<coordinationV1.Lease>>;
}

/** The predefined types of `events.k8s.io/v1`. */
export interface EventsV1Types {
  /** `events.k8s.io/v1` Event. */
  readonly Event: ResourceType<KubernetesObjectOf<eventsV1.Event>>;
}

/** The predefined types of `apiextensions.k8s.io/v1`. */
export interface ApiextensionsV1Types {
  /** `apiextensions.k8s.io/v1` CustomResourceDefinition, cluster-scoped. */
  readonly CustomResourceDefinition: ResourceType<
    KubernetesObjectOf<apiextensionsV1.CustomResourceDefinition>
  >;
}

/** The predefined types of `admissionregistration.k8s.io/v1`. */
export interface AdmissionregistrationV1Types {
  /** `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration, cluster-scoped. */
  readonly MutatingWebhookConfiguration: ResourceType<
    KubernetesObjectOf<admissionregistrationV1.MutatingWebhookConfiguration>
  >;
  /** `admissionregistration.k8s.io/v1` ValidatingWebhookConfiguration, cluster-scoped. */
  readonly ValidatingWebhookConfiguration: ResourceType<
    KubernetesObjectOf<admissionregistrationV1.ValidatingWebhookConfiguration>
  >;
}

/** The predefined types of `scheduling.k8s.io/v1`. */
export interface SchedulingV1Types {
  /** `scheduling.k8s.io/v1` PriorityClass, cluster-scoped. */
  readonly PriorityClass: ResourceType<KubernetesObjectOf<schedulingV1.PriorityClass>>;
}

/** The predefined types of `storage.k8s.io/v1`. */
export interface StorageV1Types {
  /** `storage.k8s.io/v1` StorageClass, cluster-scoped. */
  readonly StorageClass: ResourceType<KubernetesObjectOf<storageV1.StorageClass>>;
  /** `storage.k8s.io/v1` CSIDriver, cluster-scoped. */
  readonly CSIDriver: ResourceType<KubernetesObjectOf<storageV1.CSIDriver>>;
  /** `storage.k8s.io/v1` VolumeAttachment, cluster-scoped. */
  readonly VolumeAttachment: ResourceType<KubernetesObjectOf<storageV1.VolumeAttachment>>;
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
