/**
 * Turning a kubeconfig user entry into credentials: a token or token file, basic authentication,
 * a client certificate, an exec plugin, and impersonation ({@linkcode applyUser}).
 *
 * @module
 */

import type {
  ClientCertificateCredentials,
  ClientConfig,
  Credentials,
  ExecCredentials,
  Impersonation,
} from "./client_config.ts";
import { checkReadableFile, kubeconfigError, loadPem, put } from "./kubeconfig_fields.ts";
import type { KubeconfigExec, KubeconfigUser } from "./kubeconfig_parse.ts";

const EXEC_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
];

/**
 * Turns a kubeconfig user entry into the credentials, client certificate and impersonation of
 * `config`, reading the files it names now.
 *
 * As in kubectl, a token or a password takes precedence over an exec plugin, and an exec plugin
 * is ignored when the user has a client certificate.
 *
 * @param config the configuration to complete
 * @param file the kubeconfig file that defined the user, for error messages
 * @param name the user's name
 * @param user the user entry
 * @throws {ClientConfigError} naming the field at fault
 */
export async function applyUser(
  config: ClientConfig,
  file: string,
  name: string,
  user: KubeconfigUser,
): Promise<void> {
  const uf = `users[${name}].user`;
  if (user["auth-provider"] !== undefined) {
    throw kubeconfigError(
      file,
      `${uf}.auth-provider`,
      `the "${
        user["auth-provider"].name
      }" auth provider is not supported (kubectl removed auth providers); ` +
        "use an exec credential plugin instead (for example gke-gcloud-auth-plugin, kubelogin)",
    );
  }
  const hasToken = Boolean(user.token || user.tokenFile);
  const hasBasic = Boolean(user.username || user.password);
  if (hasToken && hasBasic) {
    throw kubeconfigError(
      file,
      uf,
      "more than one authentication method found (token and username/password); only one is allowed",
    );
  }

  // Client certificate.
  const certificate = await loadPem(
    file,
    uf,
    { key: "client-certificate-data", value: user["client-certificate-data"] },
    { key: "client-certificate", value: user["client-certificate"] },
    "certificate",
  );
  const key = await loadPem(
    file,
    uf,
    { key: "client-key-data", value: user["client-key-data"] },
    { key: "client-key", value: user["client-key"] },
    "private key",
  );
  if (certificate !== undefined && key === undefined) {
    throw kubeconfigError(
      file,
      `${uf}.client-key`,
      "not set, but a client certificate is; set client-key or client-key-data",
    );
  }
  if (key !== undefined && certificate === undefined) {
    throw kubeconfigError(
      file,
      `${uf}.client-certificate`,
      "not set, but a client key is; set client-certificate or client-certificate-data",
    );
  }
  const clientCertificate: ClientCertificateCredentials | undefined =
    certificate !== undefined && key !== undefined
      ? { kind: "clientCertificate", certificate, key }
      : undefined;

  // Credentials, in kubectl's order of precedence: a token or a password (or a client
  // certificate) makes kubectl ignore the exec plugin.
  let credentials: Credentials | undefined;
  if (user.tokenFile) {
    await checkReadableFile(file, `${uf}.tokenFile`, user.tokenFile);
    credentials = { kind: "tokenFile", path: user.tokenFile };
  } else if (user.token) {
    credentials = { kind: "token", token: user.token };
  } else if (hasBasic) {
    credentials = { kind: "basic", username: user.username ?? "", password: user.password ?? "" };
  } else if (user.exec !== undefined && clientCertificate === undefined) {
    credentials = execCredentials(file, name, user.exec);
  }
  if (credentials !== undefined) config.credentials = credentials;
  if (clientCertificate !== undefined) config.clientCertificate = clientCertificate;

  // Impersonation.
  const groups = user["as-groups"] ?? [];
  const extra = user["as-user-extra"] ?? {};
  if (user.as) {
    const impersonate: Impersonation = { user: user.as };
    put(impersonate, "uid", user["as-uid"] || undefined);
    if (groups.length > 0) impersonate.groups = groups;
    if (Object.keys(extra).length > 0) impersonate.extra = extra;
    config.impersonate = impersonate;
  } else if (user["as-uid"] || groups.length > 0 || Object.keys(extra).length > 0) {
    throw kubeconfigError(
      file,
      `${uf}.as`,
      "not set, but as-uid, as-groups or as-user-extra is; impersonating needs a user name",
    );
  }
}

/**
 * Checks a kubeconfig exec plugin entry and turns it into {@linkcode ExecCredentials}.
 *
 * @param file the kubeconfig file that defined the user
 * @param name the user's name
 * @param exec the exec entry
 * @returns the credentials
 * @throws {ClientConfigError} on a missing command, an unsupported API version or an interactive
 * mode of `Always`
 */
export function execCredentials(file: string, name: string, exec: KubeconfigExec): ExecCredentials {
  const ef = `users[${name}].user.exec`;
  if (!exec.command) throw kubeconfigError(file, `${ef}.command`, "not set");
  if (!exec.apiVersion) throw kubeconfigError(file, `${ef}.apiVersion`, "not set");
  if (!EXEC_API_VERSIONS.includes(exec.apiVersion)) {
    throw kubeconfigError(
      file,
      `${ef}.apiVersion`,
      `"${exec.apiVersion}" is not supported; use ${EXEC_API_VERSIONS.join(" or ")}`,
    );
  }
  if (exec.interactiveMode === "Always") {
    throw kubeconfigError(
      file,
      `${ef}.interactiveMode`,
      "is Always, but the plugin cannot be run interactively here (no terminal)",
    );
  }
  const credentials: ExecCredentials = {
    kind: "exec",
    apiVersion: exec.apiVersion,
    command: exec.command,
    source: `${file} users[${name}]`,
  };
  if (exec.args !== undefined && exec.args.length > 0) credentials.args = exec.args;
  if (exec.env !== undefined && exec.env.length > 0) {
    credentials.env = Object.fromEntries(exec.env.map(({ name, value }) => [name, value]));
  }
  put(credentials, "installHint", exec.installHint || undefined);
  if (exec.provideClusterInfo) credentials.provideClusterInfo = true;
  return credentials;
}
