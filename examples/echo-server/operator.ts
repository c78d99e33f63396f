/**
 * The echo-server operator: each namespaced `EchoServer` gets a Pod running an HTTP echo server
 * (updated by `Recreate`: a Pod's spec is mostly immutable) and a Service in front of it
 * (updated by `Replace`). The status reports the Pod's phase and message.
 *
 * @module
 */
import {
  k8s,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import type { Pod } from "@roperator/core/k8s";
import { type ObjectOf, parentSchema, type StatusOf, Type } from "@roperator/core/schema";

/**
 * The EchoServer custom resource, declared once: its TypeScript type, its CRD (`--print-crds`
 * prints it; `crd.yaml` is that output) and its validation come from this declaration.
 */
export const EchoServerType = parentSchema({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
  shortNames: ["echo"],
  spec: Type.Object({
    serviceName: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: "^[a-z]([-a-z0-9]*[a-z0-9])?$",
      description: "Name of the Service that exposes the echo Pod.",
    }),
    image: Type.String({
      default: "hashicorp/http-echo:1.0",
      description: "Container image of the echo server.",
    }),
  }),
  status: Type.Object({
    phase: Type.String({ description: "The Pod's phase, or Pending before it exists." }),
    message: Type.String({ description: "The Pod's status message, or what is awaited." }),
  }),
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Message", type: "string", jsonPath: ".status.message" },
  ],
});

/** An EchoServer object, as the handler sees it. */
export type EchoServer = ObjectOf<typeof EchoServerType>;

/** The status the operator writes. */
export type EchoServerStatus = StatusOf<typeof EchoServerType>;

/** The operator's settings, before validation (the CLI may override namespace and port). */
export const configInit: OperatorConfigInit<EchoServer> = {
  name: "echo-server-operator",
  parent: EchoServerType,
  children: [
    { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
  ],
};

/** The validated operator config. */
export const config: OperatorConfig<EchoServer> = operatorConfig(configInit);

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
            image: parent.spec.image, // defaulted by the API server
            args: [`-text=hello from ${name}`, "-listen=:5678"],
            ports: [{ name: "http", containerPort: 5678 }],
          }],
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: parent.spec.serviceName, labels },
        spec: {
          selector: labels,
          ports: [{ name: "http", port: 80, targetPort: "http" }],
        },
      },
    ],
  };
}
