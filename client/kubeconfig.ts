/**
 * {@linkcode fromKubeconfig}: choosing a kubeconfig context and its cluster, and turning them
 * into a {@linkcode ClientConfig}. The rest of the kubeconfig room: `kubeconfig_parse.ts` (the
 * file format and `parseKubeconfig`), `kubeconfig_merge.ts` (`readKubeconfigs`: reading and
 * merging `KUBECONFIG`), `kubeconfig_user.ts` (a user entry into credentials) and
 * `kubeconfig_fields.ts` (checking fields, with errors naming file and field).
 *
 * @example Connect with the current context
 * ```ts ignore
 * import { fromKubeconfig } from "./kubeconfig.ts";
 *
 * const config = await fromKubeconfig({ context: "kind-dev", userAgent: "my-operator/1.0" });
 * ```
 *
 * @module
 */

import { delimiter } from "node:path";
import type { ClientConfig } from "./client_config.ts";
import { kubeconfigError, loadPem, put } from "./kubeconfig_fields.ts";
import { type LoadedKubeconfig, readKubeconfigs } from "./kubeconfig_merge.ts";
import { applyUser } from "./kubeconfig_user.ts";

/** Options for {@linkcode fromKubeconfig}. */
export interface FromKubeconfigOptions {
  /** Read only this file (like `kubectl --kubeconfig`), which must exist. */
  path?: string;
  /** Use this context instead of `current-context`. */
  context?: string;
  /** The `User-Agent` header of the resulting config. */
  userAgent?: string;
  /** Reads an environment variable; default `Deno.env.get`, checked for permission first. */
  env?: (name: string) => string | undefined;
}

/** A DNS name (letters, digits, `-`, `_`, dots) or an IPv6 literal in brackets. */
const VALID_HOST =
  /^(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?|\[[0-9a-f:.]+\])$/i;

/** Builds a ClientConfig from one context of a loaded kubeconfig. */
class ConfigBuilder {
  constructor(readonly loaded: LoadedKubeconfig) {}

  get allFiles(): string {
    return this.loaded.paths.join(delimiter);
  }

  async build(options: FromKubeconfigOptions | undefined): Promise<ClientConfig> {
    const { kubeconfig, sources } = this.loaded;

    // Context.
    let contextName = options?.context;
    let contextFile: string;
    let contextField: string;
    if (contextName) {
      contextFile = sources.contexts.get(contextName) ?? this.allFiles;
      contextField = `contexts[${contextName}]`;
    } else {
      contextName = kubeconfig["current-context"];
      contextFile = sources.currentContext ?? this.allFiles;
      contextField = "current-context";
      if (!contextName) {
        throw kubeconfigError(
          this.allFiles,
          "current-context",
          "not set; set it (kubectl config use-context) or name a context",
        );
      }
    }
    const context = kubeconfig.contexts.find((c) => c.name === contextName)?.context;
    if (context === undefined) {
      throw kubeconfigError(contextFile, contextField, `context "${contextName}" not found`);
    }
    contextFile = sources.contexts.get(contextName) ?? contextFile;
    const ctxField = `contexts[${contextName}].context`;

    // Cluster.
    if (!context.cluster) throw kubeconfigError(contextFile, `${ctxField}.cluster`, "not set");
    const clusterName = context.cluster;
    const cluster = kubeconfig.clusters.find((c) => c.name === clusterName)?.cluster;
    if (cluster === undefined) {
      throw kubeconfigError(
        contextFile,
        `${ctxField}.cluster`,
        `cluster "${clusterName}" not found`,
      );
    }
    const clusterFile = sources.clusters.get(clusterName) ?? this.allFiles;
    const cf = `clusters[${clusterName}].cluster`;
    if (!cluster.server) throw kubeconfigError(clusterFile, `${cf}.server`, "not set");
    const config: ClientConfig = {
      server: this.server(clusterFile, `${cf}.server`, cluster.server),
    };
    const ca = await loadPem(
      clusterFile,
      cf,
      { key: "certificate-authority-data", value: cluster["certificate-authority-data"] },
      { key: "certificate-authority", value: cluster["certificate-authority"] },
      "certificate",
    );
    if (cluster["insecure-skip-tls-verify"] && ca !== undefined) {
      throw kubeconfigError(
        clusterFile,
        `${cf}.insecure-skip-tls-verify`,
        "cannot be combined with certificate-authority(-data); remove one",
      );
    }
    if (ca !== undefined) config.caCertificates = [ca];
    put(config, "tlsServerName", cluster["tls-server-name"] || undefined);
    if (cluster["insecure-skip-tls-verify"]) config.insecureSkipTlsVerify = true;
    if (cluster["proxy-url"]) {
      if (!URL.canParse(cluster["proxy-url"])) {
        throw kubeconfigError(clusterFile, `${cf}.proxy-url`, "is not a valid URL");
      }
      config.proxyUrl = cluster["proxy-url"];
    }

    // User.
    if (context.user) {
      const userName = context.user;
      const user = kubeconfig.users.find((u) => u.name === userName)?.user;
      if (user === undefined) {
        throw kubeconfigError(contextFile, `${ctxField}.user`, `user "${userName}" not found`);
      }
      const userFile = sources.users.get(userName) ?? this.allFiles;
      await applyUser(config, userFile, userName, user);
    }

    put(config, "namespace", context.namespace || undefined);
    put(config, "userAgent", options?.userAgent);
    return config;
  }

  server(file: string, field: string, server: string): string {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw kubeconfigError(file, field, "is not a valid URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw kubeconfigError(file, field, `has unsupported scheme "${url.protocol}"`);
    }
    // The URL parser accepts hosts such as "ht!tp" and paths such as "//::not a url": ask for a
    // host name or an IP address, and nothing odd after it.
    if (!VALID_HOST.test(url.hostname) || /\s/.test(server) || url.pathname.startsWith("//")) {
      throw kubeconfigError(file, field, "is not a valid URL with a host");
    }
    return withScheme;
  }
}

/**
 * Loads a {@linkcode ClientConfig} from the kubeconfig files (see {@linkcode readKubeconfigs}),
 * for the current or a named context.
 *
 * Files named by the kubeconfig (CA, client certificate and key, token file) are read now, so a
 * broken path fails here rather than on the first request. A token file is re-read later by the
 * authenticator, when it changes.
 *
 * As in kubectl, a token or a password takes precedence over an exec plugin, and an exec plugin
 * is ignored when the user has a client certificate. A token and a client certificate can both be
 * used: the token goes to `credentials`, the certificate to `clientCertificate`.
 *
 * @example
 * ```ts ignore
 * const config = await fromKubeconfig({ context: "kind-dev" });
 * ```
 *
 * @param options the file, context and `User-Agent` to use
 * @returns the client configuration
 * @throws {ClientConfigError} naming the file and the field at fault, for example
 * `users[alice].user.client-key`; legacy `auth-provider` users are refused
 */
export async function fromKubeconfig(options?: FromKubeconfigOptions): Promise<ClientConfig> {
  const loaded = await readKubeconfigs({
    ...(options?.path === undefined ? {} : { paths: [options.path] }),
    ...(options?.env === undefined ? {} : { env: options.env }),
  });
  return await new ConfigBuilder(loaded).build(options);
}
