/**
 * In-cluster configuration: {@linkcode fromServiceAccount} builds a {@linkcode ClientConfig} from
 * the pod's service account (token, CA and namespace files) and the `KUBERNETES_SERVICE_*`
 * environment variables.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import type { ClientConfig } from "./client_config.ts";
import {
  ClientConfigError,
  describeFileError,
  permissionCheckedEnv,
  readPermissionProblem,
} from "./config_error.ts";
import { unparseablePem } from "./pem.ts";

const logger = getLogger(["roperator", "client"]);

/** Where Kubernetes mounts a pod's service-account token, CA certificate and namespace. */
export const DEFAULT_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Options for {@linkcode fromServiceAccount}. */
export interface FromServiceAccountOptions {
  /** The service-account directory; default `/var/run/secrets/kubernetes.io/serviceaccount`. */
  dir?: string;
  /** The `User-Agent` header of the resulting config. */
  userAgent?: string;
  /** Reads an environment variable; default `Deno.env.get`, checked for permission first. */
  env?: (name: string) => string | undefined;
}

function serviceAccountError(
  dir: string,
  field: string,
  detail: string,
  cause?: unknown,
): ClientConfigError {
  return new ClientConfigError(`Cannot load service account "${dir}": ${field}: ${detail}`, {
    file: dir,
    field,
    ...(cause === undefined ? {} : { cause }),
  });
}

function environmentError(field: string, detail: string): ClientConfigError {
  return new ClientConfigError(`Cannot load in-cluster config: ${field}: ${detail}`, { field });
}

/** Reads `dir/name`; `undefined` when it does not exist and `optional`. */
async function readServiceAccountFile(
  dir: string,
  name: string,
  optional: boolean,
): Promise<string | undefined> {
  const path = join(dir, name);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (optional && error instanceof Deno.errors.NotFound) return undefined;
    throw serviceAccountError(
      dir,
      name,
      `cannot read "${path}": ${describeFileError(error)}`,
      error,
    );
  }
}

/**
 * The API server URL from `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, with an IPv6
 * host in brackets.
 */
function inClusterServer(env: (name: string) => string | undefined): string {
  const host = env("KUBERNETES_SERVICE_HOST")?.trim();
  const port = env("KUBERNETES_SERVICE_PORT")?.trim();
  if (!host) {
    throw environmentError(
      "KUBERNETES_SERVICE_HOST",
      "not set, so this process is not running in a pod",
    );
  }
  if (!port) {
    throw environmentError(
      "KUBERNETES_SERVICE_PORT",
      "not set, so this process is not running in a pod",
    );
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw environmentError("KUBERNETES_SERVICE_PORT", `"${port}" is not a port number`);
  }
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const server = `https://${bracketed}:${port}`;
  if (!URL.canParse(server)) {
    throw environmentError("KUBERNETES_SERVICE_HOST", `"${host}" is not a valid host`);
  }
  return server;
}

/**
 * Builds a {@linkcode ClientConfig} for a process running in a pod: the server from
 * `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, the CA from `ca.crt`, the namespace
 * from `namespace`, and the credentials from the `token` file (re-read when it rotates).
 *
 * Permissions are checked first, so a missing `--allow-read` or `--allow-env` gives an error
 * instead of a prompt.
 *
 * @example
 * ```ts ignore
 * const config = await fromServiceAccount({ userAgent: "my-operator/1.0" });
 * ```
 *
 * @param options the service-account directory, the `User-Agent`, and an environment reader
 * @returns the client configuration
 * @throws {ClientConfigError} when the environment variables are not set (not running in a pod),
 * or the token file is missing, empty or unreadable, or `ca.crt` is not PEM or does not parse
 */
export async function fromServiceAccount(
  options?: FromServiceAccountOptions,
): Promise<ClientConfig> {
  const dir = options?.dir ?? DEFAULT_SERVICE_ACCOUNT_DIR;
  const server = inClusterServer(options?.env ?? permissionCheckedEnv());
  const problem = readPermissionProblem(dir);
  if (problem !== undefined) throw serviceAccountError(dir, "token", problem);

  const token = await readServiceAccountFile(dir, "token", false);
  if (token === undefined || token.trim() === "") {
    throw serviceAccountError(dir, "token", `"${join(dir, "token")}" is empty`);
  }
  const config: ClientConfig = {
    server,
    credentials: { kind: "tokenFile", path: join(dir, "token") },
  };

  const ca = await readServiceAccountFile(dir, "ca.crt", true);
  if (ca === undefined) {
    logger.warn(
      "No {path}: the API server's certificate is checked against the system roots.",
      { path: join(dir, "ca.crt") },
    );
  } else if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(ca)) {
    throw serviceAccountError(dir, "ca.crt", `"${join(dir, "ca.crt")}" is not a PEM certificate`);
  } else {
    const problem = unparseablePem(ca, "certificate");
    if (problem !== undefined) {
      throw serviceAccountError(
        dir,
        "ca.crt",
        `"${join(dir, "ca.crt")}" is not a valid PEM certificate: ${problem}`,
      );
    }
    config.caCertificates = [ca];
  }

  const namespace = (await readServiceAccountFile(dir, "namespace", true))?.trim();
  if (namespace) config.namespace = namespace;
  if (options?.userAgent !== undefined) config.userAgent = options.userAgent;
  return config;
}
