/**
 * {@linkcode loadClientConfig}: the in-cluster service account when running in a pod, else the
 * kubeconfig, like kubectl and controller-runtime.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ClientConfig } from "./client_config.ts";
import { ClientConfigError, permissionCheckedEnv } from "./config_error.ts";
import { fromKubeconfig } from "./kubeconfig.ts";
import { DEFAULT_SERVICE_ACCOUNT_DIR, fromServiceAccount } from "./service_account.ts";
import { messageOf } from "./_util.ts";

const logger = getLogger(["roperator", "client"]);

/** Options for {@linkcode loadClientConfig}. */
export interface LoadClientConfigOptions {
  /** Use this kubeconfig file only (like `kubectl --kubeconfig`); disables in-cluster config. */
  kubeconfig?: string;
  /** Use this kubeconfig context; disables in-cluster config. */
  context?: string;
  /** The `User-Agent` header of the resulting config. */
  userAgent?: string;
  /** Reads an environment variable; default `Deno.env.get`, checked for permission first. */
  env?: (name: string) => string | undefined;
  /** The service-account directory; default `/var/run/secrets/kubernetes.io/serviceaccount`. */
  serviceAccountDir?: string;
}

/**
 * Thrown by {@linkcode loadClientConfig} when neither the in-cluster config nor a kubeconfig can
 * be loaded. `errors` holds both causes (in the order tried); the message reports both.
 */
export class NoClientConfigError extends ClientConfigError {
  /** Why each source failed, in the order they were tried. */
  readonly errors: readonly unknown[];

  /**
   * Creates the error from the failure of each source.
   *
   * @param errors the failure of each source, in the order tried, labelled
   */
  constructor(errors: { source: "in-cluster" | "kubeconfig"; error: unknown }[]) {
    const details = errors.map(({ source, error }) => `${source}: ${messageOf(error)}`);
    super(
      `Cannot load a client config from in-cluster or kubeconfig: ${details.join("; ")}`,
      { cause: new AggregateError(errors.map((e) => e.error)) },
    );
    this.name = "NoClientConfigError";
    this.errors = errors.map((e) => e.error);
  }
}

/**
 * Loads the {@linkcode ClientConfig} the way operators usually want:
 *
 * 1. with `kubeconfig` or `context` given, from the kubeconfig only;
 * 2. with `KUBECONFIG` set, from the kubeconfig, else in-cluster;
 * 3. otherwise in-cluster when `KUBERNETES_SERVICE_HOST` is set and the service-account token
 *    exists, else from `~/.kube/config`.
 *
 * @example
 * ```ts ignore
 * const config = await loadClientConfig({ userAgent: "my-operator/1.0" });
 * ```
 *
 * @param options an explicit kubeconfig file or context, and the `User-Agent`
 * @returns the client configuration
 * @throws {ClientConfigError} from the kubeconfig when one was named explicitly
 * @throws {NoClientConfigError} when both the in-cluster config and the kubeconfig fail
 */
export async function loadClientConfig(options?: LoadClientConfigOptions): Promise<ClientConfig> {
  const env = options?.env ?? permissionCheckedEnv();
  const common = {
    env,
    ...(options?.userAgent === undefined ? {} : { userAgent: options.userAgent }),
  };
  const kubeconfig = () =>
    fromKubeconfig({
      ...common,
      ...(options?.kubeconfig === undefined ? {} : { path: options.kubeconfig }),
      ...(options?.context === undefined ? {} : { context: options.context }),
    });
  if (options?.kubeconfig !== undefined || options?.context !== undefined) {
    return await kubeconfig();
  }
  const inCluster = () =>
    fromServiceAccount({
      ...common,
      dir: options?.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR,
    });

  const order: { source: "in-cluster" | "kubeconfig"; load: () => Promise<ClientConfig> }[] =
    env("KUBECONFIG")
      ? [{ source: "kubeconfig", load: kubeconfig }, { source: "in-cluster", load: inCluster }]
      : [{ source: "in-cluster", load: inCluster }, { source: "kubeconfig", load: kubeconfig }];
  const errors: { source: "in-cluster" | "kubeconfig"; error: unknown }[] = [];
  for (const { source, load } of order) {
    try {
      const config = await load();
      for (const failed of errors) {
        // Not being in a pod is the normal case on a workstation: not worth a warning.
        if (failed.source === "in-cluster" && !env("KUBERNETES_SERVICE_HOST")) continue;
        logger.warn("Using the {source} config: the {failed} config failed: {message}", {
          source,
          failed: failed.source,
          message: messageOf(failed.error),
        });
      }
      return config;
    } catch (error) {
      errors.push({ source, error });
    }
  }
  throw new NoClientConfigError(errors);
}
