/**
 * The Kubernetes client under `@roperator/core`, for handlers and tools that read or write
 * objects themselves: where the API server is and how to authenticate ({@linkcode ClientConfig},
 * loaded from a kubeconfig, the in-cluster service account, or built by hand), a
 * {@linkcode KubeClient} for one API server, a typed {@linkcode ResourceClient} per resource type
 * (get, list, create, replace, patch, server-side apply, delete, status, watch), discovery, and the
 * errors they throw.
 *
 * @example Read ConfigMaps with whatever credentials the environment offers
 * ```ts ignore
 * import { KubeClient, loadClientConfig, ResourceClient } from "@roperator/core/client";
 * import { k8s } from "@roperator/core";
 *
 * using client = new KubeClient(await loadClientConfig());
 * const configMaps = new ResourceClient(client, k8s.core.v1.ConfigMap, "default");
 * for (const cm of (await configMaps.list()).items) console.log(cm.metadata?.name);
 * ```
 *
 * @module
 */
export type {
  BasicCredentials,
  ClientCertificateCredentials,
  ClientConfig,
  Credentials,
  ExecCredentials,
  GetTokenOptions,
  HeaderCredentials,
  Impersonation,
  TokenCredentials,
  TokenFileCredentials,
  TokenProviderCredentials,
} from "./client_config.ts";
export { ClientConfigError, type ClientConfigErrorOptions } from "./config_error.ts";
export { fromKubeconfig, type FromKubeconfigOptions } from "./kubeconfig.ts";
export {
  type Kubeconfig,
  type KubeconfigAuthProvider,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigExec,
  type KubeconfigExecEnvVar,
  type KubeconfigUser,
  type NamedKubeconfigCluster,
  type NamedKubeconfigContext,
  type NamedKubeconfigUser,
  parseKubeconfig,
  type ParseKubeconfigOptions,
} from "./kubeconfig_parse.ts";
export {
  DEFAULT_SERVICE_ACCOUNT_DIR,
  fromServiceAccount,
  type FromServiceAccountOptions,
} from "./service_account.ts";
export {
  loadClientConfig,
  type LoadClientConfigOptions,
  NoClientConfigError,
} from "./load_client_config.ts";
export { ExecPluginError } from "./exec_plugin.ts";
export {
  KubeClient,
  type KubeClientOptions,
  type RequestObservation,
  type RequestOptions,
  type RetryOptions,
} from "./kube_client.ts";
export {
  type ApplyOptions,
  type DeleteOptions,
  type ListAllOptions,
  type ListOptions,
  type ObjectList,
  type PatchOptions,
  type PatchType,
  ResourceClient,
  type WriteOptions,
} from "./resource_client.ts";
export {
  type KubernetesObject,
  type ObjectMeta,
  resourcePath,
  type ResourcePathOptions,
  type ResourceType,
  resourceType,
  type ResourceTypeInit,
} from "./resource_type.ts";
export {
  ApiError,
  NetworkError,
  type RequestInfo,
  type Status,
  WatchDecodeError,
  WatchIdleTimeoutError,
  WatchLineTooLongError,
  WatchUnexpectedObjectError,
} from "./errors.ts";
export {
  DEFAULT_MAX_LINE_BYTES,
  type WatchBookmarkEvent,
  type WatchErrorEvent,
  type WatchEvent,
  type WatchObjectEvent,
  type WatchOptions,
  watchPath,
} from "./watch.ts";
export { discoverResourceType, UnknownKindError } from "./discovery.ts";
