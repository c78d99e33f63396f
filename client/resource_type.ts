/**
 * {@linkcode ResourceType}: what the client needs to address a kind of Kubernetes object
 * (apiVersion, kind, plural and scope), and the paths built from it.
 *
 * @module
 */
import type * as metaV1 from "kubernetes-types/meta/v1.d.ts";

/** Standard object metadata (`metadata`): name, namespace, uid, labels, ownerReferences, … */
export type ObjectMeta = metaV1.ObjectMeta;

/** Any Kubernetes object: apiVersion, kind, metadata and whatever else it holds. */
export interface KubernetesObject {
  /** `group/version`, or `v1` for the core group. */
  apiVersion?: string;
  /** The kind. */
  kind?: string;
  /** Standard object metadata. */
  metadata?: ObjectMeta;
  /** Any other field (spec, status, data, …). */
  [field: string]: unknown;
}

/**
 * A kind of object the client can address. `T` is the object's TypeScript type, carried only for
 * type inference.
 */
export interface ResourceType<T extends KubernetesObject = KubernetesObject> {
  /** `group/version`, or `v1` for the core group. */
  readonly apiVersion: string;
  /** The kind, for example `Deployment`. */
  readonly kind: string;
  /** The lower-case plural used in URLs, for example `deployments`. */
  readonly plural: string;
  /** Whether objects live in a namespace. */
  readonly namespaced: boolean;
  /** Phantom field that carries `T`; never set. */
  readonly __object?: T;
}

/** The definition of a resource type, as passed to {@linkcode resourceType}. */
export interface ResourceTypeInit {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  /** The kind. */
  kind: string;
  /** The lower-case plural. */
  plural: string;
  /** Whether objects live in a namespace. */
  namespaced: boolean;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Declares a resource type, for a CRD or any API the predefined types lack.
 *
 * @example
 * ```ts
 * import { resourceType } from "@roperator/core";
 * const EchoServer = resourceType({
 *   apiVersion: "example.roperator.dev/v1alpha1",
 *   kind: "EchoServer",
 *   plural: "echoservers",
 *   namespaced: true,
 * });
 * ```
 *
 * @param init apiVersion, kind, plural and scope
 * @returns the frozen resource type
 * @throws {TypeError} when a field is malformed
 */
export function resourceType<T extends KubernetesObject = KubernetesObject>(
  init: ResourceTypeInit,
): ResourceType<T> {
  const parts = init.apiVersion.split("/");
  const valid = parts.length === 1
    ? /^v\d+((alpha|beta)\d+)?$/.test(parts[0] ?? "")
    : parts.length === 2 && DNS_SUBDOMAIN.test(parts[0] ?? "") &&
      /^v\d+((alpha|beta)\d+)?$/.test(parts[1] ?? "");
  if (!valid) {
    throw new TypeError(
      `Cannot declare resource type "${init.kind}": apiVersion "${init.apiVersion}" is not "group/version" or "version"`,
    );
  }
  if (!/^[A-Z][A-Za-z0-9]*$/.test(init.kind)) {
    throw new TypeError(
      `Cannot declare resource type "${init.kind}": kind must be UpperCamelCase`,
    );
  }
  if (!DNS_LABEL.test(init.plural)) {
    throw new TypeError(
      `Cannot declare resource type "${init.kind}": plural "${init.plural}" must be a lower-case DNS label`,
    );
  }
  return Object.freeze({
    apiVersion: init.apiVersion,
    kind: init.kind,
    plural: init.plural,
    namespaced: init.namespaced,
  });
}

/**
 * The API group of a type (`""` for the core group).
 *
 * @param type the resource type
 * @returns the group
 */
export function groupOf(type: { apiVersion: string }): string {
  const slash = type.apiVersion.indexOf("/");
  return slash < 0 ? "" : type.apiVersion.slice(0, slash);
}

/**
 * `"<apiVersion>/<kind>"`, a key that tells types apart.
 *
 * @param type the resource type
 * @returns the key
 */
export function typeKey(type: { apiVersion: string; kind: string }): string {
  return `${type.apiVersion}/${type.kind}`;
}

/** Options for {@linkcode resourcePath}. */
export interface ResourcePathOptions {
  /** The namespace (ignored for cluster-scoped types; all namespaces when absent). */
  namespace?: string | undefined;
  /** The object's name. */
  name?: string | undefined;
  /** A subresource such as `status`. */
  subresource?: string | undefined;
}

/**
 * The URL path of a collection or an object.
 *
 * @param type the resource type
 * @param options namespace, name and subresource
 * @returns a path such as `/apis/apps/v1/namespaces/ns/deployments/name`
 */
export function resourcePath(type: ResourceType, options: ResourcePathOptions = {}): string {
  const prefix = type.apiVersion.includes("/")
    ? `/apis/${type.apiVersion}`
    : `/api/${type.apiVersion}`;
  const ns = type.namespaced && options.namespace
    ? `/namespaces/${encodeURIComponent(options.namespace)}`
    : "";
  const name = options.name === undefined ? "" : `/${encodeURIComponent(options.name)}`;
  const sub = options.subresource === undefined ? "" : `/${options.subresource}`;
  return `${prefix}${ns}/${type.plural}${name}${sub}`;
}
