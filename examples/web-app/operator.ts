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
  k8s,
  mergeConditions,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import type { Deployment } from "@roperator/core/k8s";
import { type ObjectOf, parentSchema, type StatusOf, Type } from "@roperator/core/schema";

/** A standard condition (`metav1.Condition`), as the status schema declares it. */
const ConditionSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  status: Type.Union([Type.Literal("True"), Type.Literal("False"), Type.Literal("Unknown")]),
  reason: Type.String(),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.String({ format: "date-time" }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});

/**
 * The WebApp custom resource, declared once: its TypeScript type and its CRD (`crd.yaml` is what
 * `main.ts --print-crds` prints) come from this declaration.
 */
export const WebAppType = parentSchema({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "WebApp",
  plural: "webapps",
  namespaced: true,
  spec: Type.Object({
    image: Type.String({ minLength: 1, description: "The container image of the web server." }),
    replicas: Type.Integer({ minimum: 0, default: 1 }),
    greeting: Type.String({ default: "hello", description: "Given to the app in a ConfigMap." }),
  }),
  status: Type.Object({
    conditions: Type.Array(ConditionSchema, {
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    }),
    readyReplicas: Type.Integer({ description: "Ready replicas of the Deployment." }),
  }),
  printerColumns: [
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  ],
});

/** A WebApp object, as the handler sees it. */
export type WebApp = ObjectOf<typeof WebAppType>;

/** The status the operator writes. */
export type WebAppStatus = StatusOf<typeof WebAppType>;

/** The operator's settings. */
export const configInit: OperatorConfigInit<WebApp> = {
  name: "web-app-operator",
  parent: WebAppType,
  children: [
    { type: k8s.apps.v1.Deployment, updateStrategy: "Apply" },
    { type: k8s.core.v1.Service, updateStrategy: "Apply" },
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" },
  ],
};

/** The validated operator config. */
export const config: OperatorConfig<WebApp> = operatorConfig(configInit);

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
  const wanted = parent.spec.replicas; // defaulted by the API server
  const ready = deployment?.status?.readyReplicas ?? 0;
  const greeting = parent.spec.greeting;
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
                image: parent.spec.image,
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
