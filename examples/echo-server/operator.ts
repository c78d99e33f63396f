/**
 * The echo-server operator: each namespaced `EchoServer` gets a Pod running an HTTP echo server
 * (updated by `Recreate`: a Pod's spec is mostly immutable) and a Service in front of it
 * (updated by `Replace`). The status reports the Pod's phase and message.
 *
 * @module
 */
import {
  k8s,
  type KubernetesObject,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import { type Pod } from "@roperator/core/k8s";

/** An EchoServer object. */
export interface EchoServer extends KubernetesObject {
  /** What to run. */
  spec?: { serviceName?: string; image?: string };
  /** What the operator reports. */
  status?: EchoServerStatus;
}

/** The status the operator writes. */
export interface EchoServerStatus {
  /** The Pod's phase, or `Pending` before it exists. */
  phase: string;
  /** The Pod's status message, or a description of what is awaited. */
  message: string;
}

/** The EchoServer custom resource type. */
export const EchoServerType: ResourceType<EchoServer> = resourceType<EchoServer>({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
});

/** The operator's settings, before validation (the CLI may override namespace and port). */
export const configInit: OperatorConfigInit = {
  name: "echo-server-operator",
  parent: EchoServerType,
  children: [
    { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
  ],
};

/** The validated operator config. */
export const config: OperatorConfig = operatorConfig(configInit);

/**
 * Computes the desired Pod and Service, and the status, from the parent and its Pod.
 *
 * @param request the EchoServer and its children
 * @returns the desired state
 */
export function sync(request: SyncRequest<EchoServer>): SyncResponse<EchoServerStatus> {
  const { parent, children } = request;
  const name = parent.metadata!.name!;
  const podName = `${name}-echo`;
  const labels = { "app.kubernetes.io/name": "echo-server", "example.roperator.dev/echo": name };
  const pod = children.ofType(k8s.core.v1.Pod).get(podName) as Pod | undefined;
  return {
    status: {
      phase: pod?.status?.phase ?? "Pending",
      message: pod?.status?.message ??
        (pod ? "Waiting for the Pod to be scheduled" : "Waiting for the Pod to be created"),
    },
    children: [
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: podName, labels },
        spec: {
          containers: [{
            name: "echo",
            image: parent.spec?.image ?? "hashicorp/http-echo:1.0",
            args: [`-text=hello from ${name}`, "-listen=:5678"],
            ports: [{ name: "http", containerPort: 5678 }],
          }],
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: parent.spec?.serviceName ?? name, labels },
        spec: {
          selector: labels,
          ports: [{ name: "http", port: 80, targetPort: "http" }],
        },
      },
    ],
  };
}
