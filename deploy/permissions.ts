/**
 * The narrowest Deno permissions an operator binary needs, derived from how it connects:
 * network (the API server and the HTTP port), the environment variables the client reads, and
 * read access to the service-account files or the kubeconfig. `deno task compile` bakes these
 * flags into the binary; the tests run the same entry point with `deno run` and the same flags.
 *
 * @module
 */

/** The service-account directory mounted into every pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The environment variables the library reads. */
export const OPERATOR_ENV_VARS: readonly string[] = Object.freeze([
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
  "KUBECONFIG",
  "HOME",
  "ROPERATOR_NAMESPACE",
  "HOSTNAME",
]);

/** Options for {@linkcode permissionFlags}. */
export interface PermissionFlagsOptions {
  /**
   * Kubeconfig files the binary may read (for running outside a cluster). In a pod only the
   * service-account directory is read.
   */
  kubeconfigPaths?: readonly string[];
  /** Hosts (`host` or `host:port`) the binary may connect to; all when absent. */
  netHosts?: readonly string[];
  /** Also allow running exec credential plugins (kubeconfig `exec`), by command name. */
  execCommands?: readonly string[];
}

/**
 * The `--allow-*` flags for an operator binary.
 *
 * @example
 * ```ts
 * import { permissionFlags } from "@roperator/core/deploy";
 * console.log(permissionFlags().join(" "));
 * ```
 *
 * @param options kubeconfig paths, network hosts and exec plugins
 * @returns the flags, for `deno compile` or `deno run`
 */
export function permissionFlags(options: PermissionFlagsOptions = {}): string[] {
  const read = [SERVICE_ACCOUNT_DIR, ...(options.kubeconfigPaths ?? [])];
  const flags = [
    options.netHosts?.length ? `--allow-net=${options.netHosts.join(",")}` : "--allow-net",
    `--allow-env=${OPERATOR_ENV_VARS.join(",")}`,
    `--allow-read=${read.join(",")}`,
  ];
  if (options.execCommands?.length) flags.push(`--allow-run=${options.execCommands.join(",")}`);
  return flags;
}
