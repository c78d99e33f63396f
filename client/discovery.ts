/**
 * Discovery: resolve a kind to its plural and scope from the API server, so CRD types need no
 * hand-written plural.
 *
 * @module
 */
import type { KubeClient } from "./kube_client.ts";
import { ApiError } from "./errors.ts";
import type { KubernetesObject, ResourceType } from "./resource_type.ts";

interface ApiResourceList {
  groupVersion: string;
  resources: Array<{ name: string; kind: string; namespaced: boolean }>;
}

/** Thrown when the API server does not serve a kind. */
export class UnknownKindError extends Error {
  /** The apiVersion asked for. */
  readonly apiVersion: string;
  /** The kind asked for. */
  readonly kind: string;

  /**
   * Creates an error for a kind the server does not serve.
   *
   * @param apiVersion the apiVersion
   * @param kind the kind
   * @param detail why
   * @param options the cause
   */
  constructor(apiVersion: string, kind: string, detail: string, options?: ErrorOptions) {
    super(`Cannot discover ${apiVersion} ${kind}: ${detail}`, options);
    this.name = "UnknownKindError";
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/**
 * Asks the API server for the plural and scope of a kind.
 *
 * @param client the client
 * @param target the apiVersion and kind
 * @returns the resource type
 * @throws {UnknownKindError} when the group/version or kind is not served
 * @throws {ApiError} or {NetworkError} when the server cannot be asked (RBAC, TLS, network)
 */
export async function discoverResourceType<T extends KubernetesObject = KubernetesObject>(
  client: KubeClient,
  target: { apiVersion: string; kind: string },
): Promise<ResourceType<T>> {
  const path = target.apiVersion.includes("/")
    ? `/apis/${target.apiVersion}`
    : `/api/${target.apiVersion}`;
  let list: ApiResourceList;
  try {
    list = await client.request<ApiResourceList>("GET", path);
  } catch (error) {
    // Only a 404 means "not served"; a network, TLS, credential or RBAC failure is rethrown as
    // it is, so that it is not mistaken for a missing CRD.
    if (!(error instanceof ApiError && error.isNotFound)) throw error;
    throw new UnknownKindError(target.apiVersion, target.kind, "the group/version is not served", {
      cause: error,
    });
  }
  const found = list.resources.find((r) => r.kind === target.kind && !r.name.includes("/"));
  if (!found) {
    throw new UnknownKindError(target.apiVersion, target.kind, "the kind is not served");
  }
  return Object.freeze({
    apiVersion: target.apiVersion,
    kind: target.kind,
    plural: found.name,
    namespaced: found.namespaced,
  });
}
