/**
 * The checks before an operator starts: that the process may reach the API server, and that the
 * API server serves every configured type as declared (plural and scope), each failure one
 * {@linkcode OperatorFatalError} that says what to do.
 *
 * @module
 */
import type { ClientConfig } from "../client/client_config.ts";
import { discoverResourceType, UnknownKindError } from "../client/discovery.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { groupOf } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import { messageOf } from "../client/_util.ts";
import { OperatorFatalError } from "./operator_fatal_error.ts";

/**
 * One line that says which permission is missing, for a `NotCapable` error of Deno, or
 * `undefined` for any other error.
 *
 * @param error the error, or one that has it as a cause
 * @returns the hint, such as `run with --allow-net=host:443`
 */
export function permissionHint(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 6; depth++) {
    if (e instanceof Deno.errors.NotCapable) {
      const match = /Requires (\w+) access to "?([^",]+)"?/.exec(e.message);
      if (match) return `run with --allow-${match[1]}=${match[2]}`;
      return "a Deno permission is missing";
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/** `host:port` of the API server, as `--allow-net` names it. */
function serverHost(clientConfig: ClientConfig): string {
  const url = new URL(clientConfig.server);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/**
 * Fails with one clear line when the process may not connect to the API server.
 *
 * @param name the operator's name
 * @param clientConfig where the API server is
 * @throws {OperatorFatalError} naming the `--allow-net` flag to add
 */
export function checkNetPermission(name: string, clientConfig: ClientConfig): void {
  const host = serverHost(clientConfig);
  const { state } = Deno.permissions.querySync({ name: "net", host });
  if (state !== "granted") {
    throw new OperatorFatalError(
      `Cannot start operator "${name}": cannot connect to the API server ${clientConfig.server}: run with --allow-net=${host}`,
    );
  }
}

/**
 * Checks that the API server serves every type of the config, as declared (plural and scope).
 *
 * @param config the operator config
 * @param client the client
 * @throws {OperatorFatalError} for the first declared type that is not served as declared
 */
export async function checkServedTypes(config: OperatorConfig, client: KubeClient): Promise<void> {
  const types = [config.parent, ...config.children.map((c) => c.type)];
  // Asked all at once; checked in declared order, so the first type at fault is reported.
  const answers = await Promise.allSettled(types.map((type) => discoverResourceType(client, type)));
  for (const [i, type] of types.entries()) {
    const answer = answers[i]!;
    let served;
    try {
      if (answer.status === "rejected") throw answer.reason;
      served = answer.value;
    } catch (error) {
      const hint = permissionHint(error);
      const detail = hint
        ? `cannot reach the API server ${client.config.server}: ${hint}`
        : error instanceof UnknownKindError
        ? messageOf(error) + (groupOf(type) ? " (is the CRD installed?)" : "")
        : `cannot ask the API server ${client.config.server} whether ${type.apiVersion} ` +
          `${type.kind} is served: ${messageOf(error)}`;
      throw new OperatorFatalError(`Cannot start operator "${config.name}": ${detail}`, {
        cause: error,
      });
    }
    if (served.plural !== type.plural || served.namespaced !== type.namespaced) {
      throw new OperatorFatalError(
        `Cannot start operator "${config.name}": ${type.apiVersion} ${type.kind} is served as ` +
          `"${served.plural}" (${served.namespaced ? "namespaced" : "cluster-scoped"}), but was ` +
          `declared as "${type.plural}" (${type.namespaced ? "namespaced" : "cluster-scoped"})`,
      );
    }
  }
}
