/**
 * CustomResourceDefinitions for tests: a permissive CRD made from a {@linkcode ResourceType}, and
 * installing CRDs and waiting until the API server serves them.
 *
 * @module
 */
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { groupOf, type KubernetesObject, type ResourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { sleep } from "../client/_util.ts";

/**
 * A CRD for a resource type, with the status subresource and a schema that keeps any `spec` and
 * `status` fields: enough to test an operator before its real CRD is written.
 *
 * @example
 * ```ts
 * import { resourceType } from "@roperator/core";
 * import { testCustomResourceDefinition } from "@roperator/core/testkit";
 * const Widget = resourceType({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * });
 * console.log(testCustomResourceDefinition(Widget).metadata?.name); // "widgets.example.dev"
 * ```
 *
 * @param type the resource type (its group must not be the core group)
 * @returns the CRD object
 * @throws {TypeError} when the type is in the core group
 */
export function testCustomResourceDefinition(type: ResourceType): KubernetesObject {
  const group = groupOf(type);
  if (!group) {
    throw new TypeError(`Cannot define a CRD for ${type.kind}: ${type.apiVersion} is a core type`);
  }
  const version = type.apiVersion.slice(group.length + 1);
  const preserve = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${type.plural}.${group}` },
    spec: {
      group,
      scope: type.namespaced ? "Namespaced" : "Cluster",
      names: { plural: type.plural, singular: type.kind.toLowerCase(), kind: type.kind },
      versions: [{
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: { type: "object", properties: { spec: preserve, status: preserve } },
        },
      }],
    },
  };
}

/** Options for {@linkcode installCustomResourceDefinitions}. */
export interface InstallCrdsOptions {
  /** How long to wait for each CRD to be established, in ms (default 30 000). */
  timeoutMs?: number;
}

/**
 * Creates each CRD that does not exist yet and waits until every one is established.
 *
 * @param client a client allowed to create CRDs
 * @param crds the CRD objects
 * @param options the timeout
 * @returns a promise that resolves when all are served
 * @throws {TypeError} when an object is not a CustomResourceDefinition or has no name
 * @throws {Error} when a CRD is not established in time
 */
export async function installCustomResourceDefinitions(
  client: KubeClient,
  crds: readonly KubernetesObject[],
  options: InstallCrdsOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const api = new ResourceClient(
    client,
    k8s.apiextensions.v1.CustomResourceDefinition as ResourceType,
  );
  for (const object of crds) {
    const name = object.metadata?.name;
    if (!name) throw new TypeError("Cannot install CRD: metadata.name is missing");
    if (object.kind !== undefined && object.kind !== "CustomResourceDefinition") {
      throw new TypeError(
        `Cannot install CRD "${name}": it is a ${object.kind}, not a CustomResourceDefinition`,
      );
    }
    if (!(await api.find(name))) {
      try {
        await api.create(object);
      } catch (error) {
        if (!(error instanceof ApiError && error.isAlreadyExists)) throw error;
      }
    }
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const crd = await api.get(name);
      const conditions =
        (crd.status as { conditions?: Array<{ type: string; status: string }> } | undefined)
          ?.conditions ?? [];
      if (conditions.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) {
        throw new Error(`Cannot install CRD "${name}": not established after ${timeoutMs} ms`);
      }
      await sleep(50);
    }
  }
}
