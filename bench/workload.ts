/**
 * The benchmark operator, shared by the operator under test (`bench/operator.ts`), the API floor
 * (`bench/floor.ts`) and the harness (`bench/harness.ts`): each `BenchParent` gets a ConfigMap
 * `<name>-config` (its `data.value` mirrors the parent's `spec.value`) and a headless Service
 * `<name>-svc`, and the status `{ phase: "Ready", value, observedGeneration }`.
 *
 * The Node peer (`bench/peers/node-operator/main.mjs`) writes the same objects; the harness
 * checks every contender's result with {@linkcode parentConverged}, so a contender that writes
 * something else never counts as converged.
 *
 * @module
 */
import {
  DEFAULT_OWNERSHIP_LABEL,
  DEFAULT_TRACKING_LABEL,
  type KubernetesObject,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "../mod.ts";
import { k8s } from "../mod.ts";

/** The operator name: the ownership label value and the field manager. */
export const OPERATOR_NAME = "bench-operator";

/** The tracking label: its value on a child is the parent's uid. */
export const TRACKING_LABEL: string = DEFAULT_TRACKING_LABEL;

/** The ownership label: its value on a child is {@linkcode OPERATOR_NAME}. */
export const OWNERSHIP_LABEL: string = DEFAULT_OWNERSHIP_LABEL;

/** The label selector of the children (every contender's children carry it). */
export const CHILD_SELECTOR = `${OWNERSHIP_LABEL}=${OPERATOR_NAME}`;

/** The syncs running at once: the operator's default, used by the floor and the Node peer too. */
export const CONCURRENCY = 8;

/** The parent's spec. */
export interface BenchParentSpec {
  /** The value mirrored into the ConfigMap and the status; the latency workload edits it. */
  value?: string;
}

/** The parent's status, as every contender writes it. */
export interface BenchParentStatus {
  /** Always `"Ready"`. */
  phase: string;
  /** The parent's `spec.value`. */
  value: string;
  /** The parent's `metadata.generation` (the library adds it; the floor and the peer write it). */
  observedGeneration?: number;
}

/** A parent object. */
export interface BenchParent extends KubernetesObject {
  /** What the parent asks for. */
  spec?: BenchParentSpec;
  /** What the operator reports. */
  status?: BenchParentStatus;
}

/** The parent type: a namespaced custom resource. */
export const BenchParentType: ResourceType<BenchParent> = resourceType<BenchParent>({
  apiVersion: "bench.roperator.dev/v1",
  kind: "BenchParent",
  plural: "benchparents",
  namespaced: true,
});

/**
 * The operator's configuration. No finalizer: the handler has no clean-up, and the floor writes
 * none either (the workload is "2 children and a status per parent").
 */
export const benchConfigInit: OperatorConfigInit = {
  name: OPERATOR_NAME,
  parent: BenchParentType,
  children: [
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
  ],
  finalizer: false,
  concurrency: CONCURRENCY,
  server: { port: 0, hostname: "127.0.0.1" },
};

/**
 * The value of a parent: its `spec.value`, or `""`.
 *
 * @param parent the parent
 * @returns the value
 */
export function parentValue(parent: BenchParent): string {
  return parent.spec?.value ?? "";
}

/** The name of a parent's ConfigMap. */
export function configMapName(parent: string): string {
  return `${parent}-config`;
}

/** The name of a parent's Service. */
export function serviceName(parent: string): string {
  return `${parent}-svc`;
}

/**
 * The desired children of a parent, as the handler returns them (no labels or owner references:
 * the library adds those).
 *
 * @param parent the parent
 * @returns the ConfigMap and the Service
 */
export function desiredChildren(parent: BenchParent): KubernetesObject[] {
  const name = parent.metadata!.name!;
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: configMapName(name) },
      data: { value: parentValue(parent) },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: serviceName(name) },
      spec: {
        clusterIP: "None",
        selector: { "bench.roperator.dev/parent": name },
        ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      },
    },
  ];
}

/**
 * The desired status of a parent, without `observedGeneration`.
 *
 * @param parent the parent
 * @returns the status
 */
export function desiredStatus(parent: BenchParent): BenchParentStatus {
  return { phase: "Ready", value: parentValue(parent) };
}

/**
 * The children exactly as the operator writes them: with the tracking and ownership labels and
 * a controller owner reference. The floor creates these.
 *
 * @param parent the parent (with uid)
 * @returns the ConfigMap and the Service
 */
export function decoratedChildren(parent: BenchParent): KubernetesObject[] {
  const meta = parent.metadata!;
  return desiredChildren(parent).map((child) => ({
    ...child,
    metadata: {
      ...child.metadata,
      namespace: meta.namespace!,
      labels: { [TRACKING_LABEL]: meta.uid!, [OWNERSHIP_LABEL]: OPERATOR_NAME },
      ownerReferences: [{
        apiVersion: BenchParentType.apiVersion,
        kind: BenchParentType.kind,
        name: meta.name!,
        uid: meta.uid!,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
  }));
}

/**
 * The handler of the operator under test.
 *
 * @param request the parent and its children
 * @returns the two children and the status
 */
export function benchSync(request: SyncRequest<BenchParent>): SyncResponse<BenchParentStatus> {
  return { status: desiredStatus(request.parent), children: desiredChildren(request.parent) };
}

/**
 * Whether a parent is done: status written for its current generation and value, and both
 * children present with the right value and tracking label.
 *
 * @param parent the parent as the harness sees it
 * @param configMap its ConfigMap, if seen
 * @param service its Service, if seen
 * @returns whether the operator's work for this parent is visible
 */
export function parentConverged(
  parent: BenchParent,
  configMap: KubernetesObject | undefined,
  service: KubernetesObject | undefined,
): boolean {
  const uid = parent.metadata?.uid;
  const value = parentValue(parent);
  const status = parent.status;
  return status?.phase === "Ready" && status.value === value &&
    status.observedGeneration === parent.metadata?.generation &&
    configMap?.metadata?.labels?.[TRACKING_LABEL] === uid &&
    (configMap?.data as Record<string, string> | undefined)?.value === value &&
    service?.metadata?.labels?.[TRACKING_LABEL] === uid;
}
