/**
 * The guide's example operator: every `Greeting` gets a Deployment that serves its message over
 * HTTP and a Service in front of it; the status reports how many replicas are ready.
 *
 * @module
 */
import {
  k8s,
  type KubernetesObject,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import { type Deployment, type Service } from "@roperator/core/k8s";

/** A Greeting as stored in the cluster. */
export interface Greeting extends KubernetesObject {
  /** What the user asks for. */
  spec?: { message?: string; replicas?: number };
  /** What the operator reports. */
  status?: GreetingStatus;
}

/** The status the operator writes (it adds `observedGeneration`). */
export interface GreetingStatus {
  /** `Available` once every replica is ready. */
  phase: "Pending" | "Available";
  /** Ready replicas of the Deployment. */
  readyReplicas: number;
}

/** The Greeting custom resource type (see crd.yaml). */
export const GreetingType: ResourceType<Greeting> = resourceType<Greeting>({
  apiVersion: "example.com/v1alpha1",
  kind: "Greeting",
  plural: "greetings",
  namespaced: true,
});

/** The operator's configuration, before validation: the CLI may override namespace and port. */
export const configInit: OperatorConfigInit = {
  name: "greeting-operator",
  parent: GreetingType,
  children: [
    { type: k8s.apps.v1.Deployment, updateStrategy: "Apply" },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
  ],
};

/**
 * Computes the desired Deployment and Service of a Greeting, and its status.
 *
 * @param request the Greeting and its existing children
 * @returns the desired status and children
 */
export function sync({ parent, children }: SyncRequest<Greeting>): SyncResponse<GreetingStatus> {
  const name = parent.metadata!.name!;
  const replicas = parent.spec?.replicas ?? 1;
  const labels = { "app.kubernetes.io/name": "greeting", "example.com/greeting": name };

  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{
            name: "echo",
            image: "hashicorp/http-echo:1.0",
            args: ["-listen=:5678", `-text=${parent.spec?.message ?? "hello"}`],
            ports: [{ name: "http", containerPort: 5678 }],
          }],
        },
      },
    },
  };
  const service: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels },
    spec: { selector: labels, ports: [{ name: "http", port: 80, targetPort: "http" }] },
  };

  const ready = children.get(k8s.apps.v1.Deployment, name)?.status?.readyReplicas ?? 0;
  return {
    status: { phase: ready >= replicas ? "Available" : "Pending", readyReplicas: ready },
    children: [deployment, service],
  };
}
