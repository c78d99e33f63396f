/**
 * Running a client.authentication.k8s.io exec credential plugin (kubeconfig `users[].user.exec`,
 * for example `gke-gcloud-auth-plugin`, `aws eks get-token` or `kubelogin`): see
 * {@linkcode runExecPlugin}.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ClientConfig, ExecCredentials } from "./client_config.ts";
import { ClientConfigError } from "./config_error.ts";
import { messageOf } from "./_util.ts";

const logger = getLogger(["roperator", "client"]);

/** The default time an exec plugin may run before it is killed. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

/** What an exec plugin returned. */
export interface ExecPluginResult {
  /** A bearer token. */
  token?: string;
  /** A client certificate and its key, PEM. */
  clientCertificate?: { certificate: string; key: string };
  /** When the credential expires; never when absent. */
  expiresAt?: Date;
}

/** The cluster passed to a plugin whose `provideClusterInfo` is set. */
export type ExecPluginCluster = Pick<
  ClientConfig,
  "server" | "caCertificates" | "tlsServerName" | "insecureSkipTlsVerify" | "proxyUrl"
>;

/** Options for {@linkcode runExecPlugin}. */
export interface RunExecPluginOptions {
  /** The cluster, passed in `KUBERNETES_EXEC_INFO` when `provideClusterInfo` is set. */
  cluster?: ExecPluginCluster;
  /** Kill the plugin after this many milliseconds; default 30 000. */
  timeoutMs?: number;
  /** The current time in milliseconds, to reject an expired credential; default `Date.now`. */
  now?: () => number;
}

/** Options for {@linkcode ExecPluginError}. */
export interface ExecPluginErrorOptions extends ErrorOptions {
  /** Where the plugin is defined, as in {@linkcode ExecCredentials.source}. */
  source?: string;
  /** The plugin's exit code, when it exited with a non-zero one. */
  exitCode?: number;
}

const SOURCE_PATTERN = /^(.*) (users\[.*\])$/s;

/**
 * Thrown when an exec credential plugin cannot be run or returns no usable credential. When the
 * plugin comes from a kubeconfig, `file` is the kubeconfig and `field` is
 * `users[<name>].user.exec`. The message never contains the plugin's standard output.
 */
export class ExecPluginError extends ClientConfigError {
  /** Where the plugin is defined (kubeconfig path and user), when known. */
  readonly source?: string;
  /** The plugin's exit code, when it exited with a non-zero one. */
  readonly exitCode?: number;

  /**
   * Creates the error; the message names the plugin and where it is defined.
   *
   * @param command the plugin's command
   * @param detail what went wrong, without secrets
   * @param options where the plugin is defined, its exit code and the cause
   */
  constructor(command: string, detail: string, options?: ExecPluginErrorOptions) {
    const match = options?.source === undefined ? null : SOURCE_PATTERN.exec(options.source);
    const file = match?.[1];
    const field = match?.[2] === undefined ? undefined : `${match[2]}.user.exec`;
    const where = file !== undefined && field !== undefined
      ? `of kubeconfig "${file}": ${field}: "${command}"`
      : options?.source === undefined
      ? `"${command}"`
      : `"${command}" (${options.source})`;
    super(`Cannot get credentials from exec plugin ${where}: ${detail}`, {
      ...(file === undefined ? {} : { file }),
      ...(field === undefined ? {} : { field }),
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = "ExecPluginError";
    if (options?.source !== undefined) this.source = options.source;
    if (options?.exitCode !== undefined) this.exitCode = options.exitCode;
  }
}

function toBase64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The `KUBERNETES_EXEC_INFO` value for a plugin. */
function execInfo(exec: ExecCredentials, cluster: ExecPluginCluster | undefined): string {
  const spec: Record<string, unknown> = { interactive: false };
  if (exec.provideClusterInfo && cluster !== undefined) {
    const info: Record<string, unknown> = { server: cluster.server };
    if (cluster.tlsServerName) info["tls-server-name"] = cluster.tlsServerName;
    if (cluster.insecureSkipTlsVerify) info["insecure-skip-tls-verify"] = true;
    if (cluster.caCertificates !== undefined && cluster.caCertificates.length > 0) {
      info["certificate-authority-data"] = toBase64(cluster.caCertificates.join("\n"));
    }
    if (cluster.proxyUrl) info["proxy-url"] = cluster.proxyUrl;
    spec["cluster"] = info;
  }
  return JSON.stringify({ apiVersion: exec.apiVersion, kind: "ExecCredential", spec });
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // Cancelled after a timeout: keep what was read.
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Shown instead of a value read from the plugin's output unless it looks like an identifier. */
function safeValue(value: unknown): string {
  return typeof value === "string" && /^[\w./:+-]{0,100}$/.test(value)
    ? `"${value}"`
    : "an unexpected value";
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** How long to wait for the output pipes to close once the plugin has exited. */
const PIPE_GRACE_MS = 1_000;

/**
 * Runs an exec credential plugin once and returns the credential it prints.
 *
 * The plugin gets `KUBERNETES_EXEC_INFO` (an `ExecCredential` with `spec.interactive: false` and,
 * when `provideClusterInfo` is set, `spec.cluster`), the process environment plus `exec.env`,
 * and no standard input. It must print an `ExecCredential` of the same `apiVersion` with a token
 * or a client certificate and key. It is killed after `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * const { token, expiresAt } = await runExecPlugin({
 *   kind: "exec",
 *   apiVersion: "client.authentication.k8s.io/v1",
 *   command: "gke-gcloud-auth-plugin",
 * });
 * ```
 *
 * @param exec the plugin to run
 * @param options the cluster to describe to the plugin, a timeout and a clock
 * @returns the credential
 * @throws {ExecPluginError} when the command is missing, fails, times out, prints something
 * other than an ExecCredential, or returns no credential or an expired one
 */
export async function runExecPlugin(
  exec: ExecCredentials,
  options?: RunExecPluginOptions,
): Promise<ExecPluginResult> {
  const fail: (detail: string, extra?: { exitCode?: number; cause?: unknown }) => never = (
    detail,
    extra,
  ) => {
    throw new ExecPluginError(exec.command, detail, {
      ...(exec.source === undefined ? {} : { source: exec.source }),
      ...extra,
    });
  };
  const timeoutMs = options?.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;

  const permission = runPermission(exec.command);
  if (permission !== undefined) fail(permission);

  const command = new Deno.Command(exec.command, {
    args: exec.args ?? [],
    env: { ...exec.env, KUBERNETES_EXEC_INFO: execInfo(exec, options?.cluster) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      fail(`command not found${exec.installHint ? `. ${exec.installHint.trim()}` : ""}`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      fail("the command is not executable (permission denied)", { cause: error });
    }
    fail(`cannot start: ${messageOf(error)}`, {
      cause: error,
    });
  }
  logger.debug("Ran exec plugin {command} from {source}.", {
    command: exec.command,
    source: exec.source,
  });

  const stdoutReader = child.stdout.getReader();
  const stderrReader = child.stderr.getReader();
  const cancelReaders = () => {
    stdoutReader.cancel().catch(() => {});
    stderrReader.cancel().catch(() => {});
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    cancelReaders();
  }, timeoutMs);
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let status: Deno.CommandStatus;
  let stdoutBytes: Uint8Array;
  let stderrBytes: Uint8Array;
  try {
    const statusPromise = child.status.then((s) => {
      // A background process that inherited the pipes must not keep us waiting.
      graceTimer = setTimeout(cancelReaders, PIPE_GRACE_MS);
      return s;
    });
    [status, stdoutBytes, stderrBytes] = await Promise.all([
      statusPromise,
      drain(stdoutReader),
      drain(stderrReader),
    ]);
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
  }
  if (timedOut) fail(`did not finish within ${timeoutMs / 1000} s and was killed`);
  const decoder = new TextDecoder();
  if (!status.success) {
    const reason = status.signal === null
      ? `exited with code ${status.code}`
      : `was killed by ${status.signal}`;
    const line = firstLine(decoder.decode(stderrBytes));
    fail(line === "" ? reason : `${reason}: ${line}`, { exitCode: status.code });
  }
  return parseExecCredential(exec, decoder.decode(stdoutBytes), {
    fail,
    now: options?.now ?? Date.now,
  });
}

function runPermission(command: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "run", command });
  return state === "granted"
    ? undefined
    : `missing run permission (run with --allow-run=${command})`;
}

function parseExecCredential(
  exec: ExecCredentials,
  stdout: string,
  options: { fail: (detail: string) => never; now: () => number },
): ExecPluginResult {
  const fail: (detail: string) => never = options.fail;
  const now = options.now;
  let output: unknown;
  try {
    output = JSON.parse(stdout);
  } catch {
    fail("it printed something that is not JSON; an ExecCredential was expected");
  }
  if (typeof output !== "object" || output === null || Array.isArray(output)) {
    fail("it printed JSON that is not an object; an ExecCredential was expected");
  }
  const credential = output as Record<string, unknown>;
  if (credential["kind"] !== "ExecCredential") {
    fail(`it printed kind ${safeValue(credential["kind"])}; "ExecCredential" was expected`);
  }
  if (credential["apiVersion"] !== exec.apiVersion) {
    fail(
      `it printed apiVersion ${safeValue(credential["apiVersion"])}; "${exec.apiVersion}" ` +
        "was expected",
    );
  }
  const status = credential["status"];
  if (typeof status !== "object" || status === null || Array.isArray(status)) {
    fail("its ExecCredential has no status");
  }
  const { token, clientCertificateData, clientKeyData, expirationTimestamp } = status as Record<
    string,
    unknown
  >;
  const result: ExecPluginResult = {};
  if (token !== undefined && token !== null && token !== "") {
    if (typeof token !== "string") fail("its status.token is not a string");
    result.token = token;
  }
  const hasCert = typeof clientCertificateData === "string" && clientCertificateData !== "";
  const hasKey = typeof clientKeyData === "string" && clientKeyData !== "";
  if (hasCert !== hasKey) {
    fail(
      hasCert
        ? "its status has clientCertificateData but no clientKeyData"
        : "its status has clientKeyData but no clientCertificateData",
    );
  }
  if (hasCert && hasKey) {
    result.clientCertificate = { certificate: clientCertificateData, key: clientKeyData };
  }
  if (result.token === undefined && result.clientCertificate === undefined) {
    fail("its status has neither a token nor a client certificate");
  }
  if (expirationTimestamp !== undefined && expirationTimestamp !== null) {
    const time = typeof expirationTimestamp === "string" ? Date.parse(expirationTimestamp) : NaN;
    if (Number.isNaN(time)) {
      fail(
        `its status.expirationTimestamp ${safeValue(expirationTimestamp)} is not an RFC 3339 time`,
      );
    }
    if (time <= now()) {
      fail(
        `it returned a credential that already expired (at ${new Date(time).toISOString()})`,
      );
    }
    result.expiresAt = new Date(time);
  }
  return result;
}
