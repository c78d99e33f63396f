/**
 * The web-app operator: what roperator could not do. Each `WebApp` owns a Deployment, a Service
 * and a ConfigMap kept with server-side apply (`Apply`): the operator owns only the fields it
 * sets, so an HPA may own `spec.replicas` or a human may add an annotation without a fight. The
 * status carries standard conditions (`Ready`, `ConfigApplied`) whose `lastTransitionTime`
 * changes only when their status does, so an unchanged world causes no writes.
 *
 * @module
 */
import {
  type Condition,
  k8s,
  type KubernetesObject,
  mergeConditions,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import { type Deployment } from "@roperator/core/k8s";

/** A WebApp object. */
export interface WebApp extends KubernetesObject {
  /** What to run. */
  spec?: { image?: string; replicas?: number; greeting?: string };
  /** What the operator reports. */
  status?: WebAppStatus;
}

/** The status the operator writes. */
export interface WebAppStatus {
  /** Standard conditions. */
  conditions: Condition[];
  /** Ready replicas of the Deployment. */
  readyReplicas: number;
}

/** The WebApp custom resource type. */
export const WebAppType: ResourceType<WebApp> = resourceType<WebApp>({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "WebApp",
  plural: "webapps",
  namespaced: true,
});

/** The operator's settings. */
export const configInit: OperatorConfigInit = {
  name: "web-app-operator",
  parent: WebAppType,
  children: [
    { type: k8s.apps.v1.Deployment, updateStrategy: "Apply" },
    { type: k8s.core.v1.Service, updateStrategy: "Apply" },
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" },
  ],
};

/** The validated operator config. */
export const config: OperatorConfig = operatorConfig(configInit);

/**
 * Computes the desired children and the status with conditions.
 *
 * @param request the WebApp and its children
 * @returns the desired state
 */
export function sync(request: SyncRequest<WebApp>): SyncResponse<WebAppStatus> {
  const { parent, children } = request;
  const name = parent.metadata!.name!;
  const generation = parent.metadata?.generation ?? 0;
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "web-app" };
  const deployment = children.ofType(k8s.apps.v1.Deployment).get(name) as Deployment | undefined;
  const config = children.ofType(k8s.core.v1.ConfigMap).get(`${name}-config`);
  const wanted = parent.spec?.replicas ?? 1;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const greeting = parent.spec?.greeting ?? "hello";
  const configApplied = (config?.data as Record<string, string> | undefined)?.greeting === greeting;
  const conditions = mergeConditions(parent.status?.conditions, [
    ready >= wanted
      ? { type: "Ready", status: "True", reason: "ReplicasReady", observedGeneration: generation }
      : {
        type: "Ready",
        status: "False",
        reason: deployment ? "ReplicasNotReady" : "DeploymentMissing",
        message: `${ready}/${wanted} replicas ready`,
        observedGeneration: generation,
      },
    configApplied
      ? { type: "ConfigApplied", status: "True", reason: "Applied", observedGeneration: generation }
      : {
        type: "ConfigApplied",
        status: "False",
        reason: "Pending",
        message: "The ConfigMap does not hold the greeting yet",
        observedGeneration: generation,
      },
  ]);
  return {
    status: { conditions, readyReplicas: ready },
    children: [
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${name}-config`, labels },
        data: { greeting },
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, labels },
        spec: {
          replicas: wanted,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [{
                name: "web",
                image: parent.spec?.image ?? "nginx:1.27",
                ports: [{ name: "http", containerPort: 8080 }],
                envFrom: [{ configMapRef: { name: `${name}-config` } }],
              }],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, labels },
        spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] },
      },
    ],
  };
}
