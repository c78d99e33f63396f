/**
 * Reading kubeconfig files the way kubectl does: {@linkcode parseKubeconfig} checks one file's
 * shape, {@linkcode readKubeconfigs} reads and merges `KUBECONFIG` (or `~/.kube/config`), and
 * {@linkcode fromKubeconfig} turns a context into a {@linkcode ClientConfig}.
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

import { loadAll, mapTag, nullCoreTag, Schema, seqTag, strTag, YAMLException } from "js-yaml";
import { delimiter, dirname, isAbsolute, resolve } from "node:path";
import type {
  ClientCertificateCredentials,
  ClientConfig,
  Credentials,
  ExecCredentials,
  Impersonation,
} from "./client_config.ts";
import {
  ClientConfigError,
  describeFileError,
  permissionCheckedEnv,
  readPermissionProblem,
} from "./config_error.ts";
import { unparseablePem } from "./pem.ts";

// ---------------------------------------------------------------------------------------------
// File types
// ---------------------------------------------------------------------------------------------

/** A kubeconfig file (`apiVersion: v1`, `kind: Config`), with the keys spelt as in the file. */
export interface Kubeconfig {
  /** Usually `v1`. */
  apiVersion?: string;
  /** Usually `Config`. */
  kind?: string;
  /** The clusters, by name. */
  clusters: NamedKubeconfigCluster[];
  /** The users (credentials), by name. */
  users: NamedKubeconfigUser[];
  /** The contexts (cluster + user + namespace), by name. */
  contexts: NamedKubeconfigContext[];
  /** The context used when none is named. */
  "current-context"?: string;
}

/** An entry of a kubeconfig's `clusters` list. */
export interface NamedKubeconfigCluster {
  /** The cluster's name, referred to by contexts. */
  name: string;
  /** The cluster. */
  cluster: KubeconfigCluster;
}

/** How to reach an API server (kubeconfig `clusters[].cluster`). */
export interface KubeconfigCluster {
  /** The API server's URL, for example `https://127.0.0.1:6443`. */
  server?: string;
  /** The name the server's certificate must carry, when it differs from the host in `server`. */
  "tls-server-name"?: string;
  /** Do not verify the server's certificate. */
  "insecure-skip-tls-verify"?: boolean;
  /** Path of a PEM file of CA certificates; relative to the kubeconfig file. */
  "certificate-authority"?: string;
  /** Base64-encoded PEM CA certificates; overrides nothing, conflicts with the path. */
  "certificate-authority-data"?: string;
  /** A proxy URL (`http`, `https` or `socks5`). */
  "proxy-url"?: string;
  /** Ask the server not to compress responses. */
  "disable-compression"?: boolean;
}

/** An entry of a kubeconfig's `users` list. */
export interface NamedKubeconfigUser {
  /** The user's name, referred to by contexts. */
  name: string;
  /** The user's credentials. */
  user: KubeconfigUser;
}

/** Credentials and impersonation settings (kubeconfig `users[].user`). */
export interface KubeconfigUser {
  /** Path of a PEM client certificate; relative to the kubeconfig file. */
  "client-certificate"?: string;
  /** Base64-encoded PEM client certificate. */
  "client-certificate-data"?: string;
  /** Path of the PEM private key of the client certificate; relative to the kubeconfig file. */
  "client-key"?: string;
  /** Base64-encoded PEM private key of the client certificate. */
  "client-key-data"?: string;
  /** A bearer token. */
  token?: string;
  /** Path of a file holding a bearer token; relative to the kubeconfig file. */
  tokenFile?: string;
  /** User name to impersonate. */
  as?: string;
  /** UID to impersonate. */
  "as-uid"?: string;
  /** Groups to impersonate. */
  "as-groups"?: string[];
  /** Extra fields to impersonate. */
  "as-user-extra"?: Record<string, string[]>;
  /** Basic-authentication user name. */
  username?: string;
  /** Basic-authentication password. */
  password?: string;
  /** A legacy in-tree authentication provider (`gcp`, `azure`, `oidc`); not supported. */
  "auth-provider"?: KubeconfigAuthProvider;
  /** An exec credential plugin. */
  exec?: KubeconfigExec;
}

/** A legacy authentication provider (kubeconfig `users[].user.auth-provider`). */
export interface KubeconfigAuthProvider {
  /** The provider's name, for example `gcp` or `oidc`. */
  name: string;
  /** The provider's settings; may hold secrets. */
  config?: Record<string, string>;
}

/** An exec credential plugin (kubeconfig `users[].user.exec`). */
export interface KubeconfigExec {
  /** The command; relative to the kubeconfig file when it contains a slash. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: KubeconfigExecEnvVar[];
  /** `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`. */
  apiVersion: string;
  /** Shown when the command is missing. */
  installHint?: string;
  /** Whether to pass the cluster to the plugin in `KUBERNETES_EXEC_INFO`. */
  provideClusterInfo?: boolean;
  /** `Never`, `IfAvailable` or `Always`. */
  interactiveMode?: string;
}

/** An environment variable of an exec plugin. */
export interface KubeconfigExecEnvVar {
  /** Its name. */
  name: string;
  /** Its value. */
  value: string;
}

/** An entry of a kubeconfig's `contexts` list. */
export interface NamedKubeconfigContext {
  /** The context's name. */
  name: string;
  /** The context. */
  context: KubeconfigContext;
}

/** A cluster, a user and a default namespace (kubeconfig `contexts[].context`). */
export interface KubeconfigContext {
  /** The name of an entry of `clusters`. */
  cluster?: string;
  /** The name of an entry of `users`; anonymous when absent. */
  user?: string;
  /** The default namespace. */
  namespace?: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Options for {@linkcode parseKubeconfig}. */
export interface ParseKubeconfigOptions {
  /** The file the text was read from, for error messages. */
  path?: string;
}

/**
 * Scalars stay strings (as Go reads them into string fields: `token: 0123` keeps its zero);
 * booleans are parsed per field. Only `null` is resolved.
 */
const KUBECONFIG_SCHEMA = new Schema([strTag, seqTag, mapTag, nullCoreTag]);

type YamlMapping = Record<string, unknown>;

function isMapping(value: unknown): value is YamlMapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return "a sequence";
  if (isMapping(value)) return "a mapping";
  return "a scalar";
}

function kubeconfigError(
  file: string | undefined,
  field: string | undefined,
  detail: string,
  cause?: unknown,
): ClientConfigError {
  const subject = file === undefined
    ? "Cannot load kubeconfig"
    : `Cannot load kubeconfig "${file}"`;
  return new ClientConfigError(
    `${subject}: ${field === undefined ? "" : `${field}: `}${detail}`,
    {
      ...(file === undefined ? {} : { file }),
      ...(field === undefined ? {} : { field }),
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Reads typed values out of parsed YAML, throwing errors that name the file and field. */
class FieldReader {
  constructor(readonly file: string | undefined) {}

  fail(field: string | undefined, detail: string): never {
    throw kubeconfigError(this.file, field, detail);
  }

  mapping(value: unknown, field: string): YamlMapping | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isMapping(value)) this.fail(field, `must be a mapping, found ${describeType(value)}`);
    return value;
  }

  list(value: unknown, field: string): unknown[] | undefined {
    if (value === null || value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(field, `must be a sequence, found ${describeType(value)}`);
    return value;
  }

  string(value: unknown, field: string): string | undefined {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== "string") {
      this.fail(field, `must be a string, found ${describeType(value)}`);
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    const text = this.string(value, field);
    if (text === undefined) return undefined;
    // The YAML 1.1 spellings Go's YAML reader accepts.
    if (/^(true|yes|y|on)$/i.test(text)) return true;
    if (/^(false|no|n|off)$/i.test(text)) return false;
    this.fail(field, "must be true or false");
  }

  stringList(value: unknown, field: string): string[] | undefined {
    const items = this.list(value, field);
    if (items === undefined) return undefined;
    return items.map((item, i) => this.string(item, `${field}[${i}]`) ?? "");
  }
}

function put<T, K extends keyof T>(target: T, key: K, value: Exclude<T[K], undefined> | undefined) {
  if (value !== undefined) target[key] = value as T[K];
}

interface RawEntry {
  name: string;
  body: YamlMapping;
  field: string;
}

function namedEntries(
  r: FieldReader,
  doc: YamlMapping,
  listKey: "clusters" | "users" | "contexts",
  bodyKey: "cluster" | "user" | "context",
): RawEntry[] {
  const items = r.list(doc[listKey], listKey) ?? [];
  return items.map((item, i) => {
    const entry = r.mapping(item, `${listKey}[${i}]`);
    if (entry === undefined) r.fail(`${listKey}[${i}]`, "must be a mapping, found null");
    const name = r.string(entry["name"], `${listKey}[${i}].name`);
    if (!name) r.fail(`${listKey}[${i}].name`, "must be a non-empty string");
    const field = `${listKey}[${name}]`;
    return { name, body: r.mapping(entry[bodyKey], `${field}.${bodyKey}`) ?? {}, field };
  });
}

function parseCluster(r: FieldReader, o: YamlMapping, f: string): KubeconfigCluster {
  const c: KubeconfigCluster = {};
  put(c, "server", r.string(o["server"], `${f}.server`));
  put(c, "tls-server-name", r.string(o["tls-server-name"], `${f}.tls-server-name`));
  put(
    c,
    "insecure-skip-tls-verify",
    r.boolean(o["insecure-skip-tls-verify"], `${f}.insecure-skip-tls-verify`),
  );
  put(
    c,
    "certificate-authority",
    r.string(o["certificate-authority"], `${f}.certificate-authority`),
  );
  put(
    c,
    "certificate-authority-data",
    r.string(o["certificate-authority-data"], `${f}.certificate-authority-data`),
  );
  put(c, "proxy-url", r.string(o["proxy-url"], `${f}.proxy-url`));
  put(c, "disable-compression", r.boolean(o["disable-compression"], `${f}.disable-compression`));
  return c;
}

function parseUser(r: FieldReader, o: YamlMapping, f: string): KubeconfigUser {
  const u: KubeconfigUser = {};
  for (
    const key of [
      "client-certificate",
      "client-certificate-data",
      "client-key",
      "client-key-data",
      "token",
      "tokenFile",
      "as",
      "as-uid",
      "username",
      "password",
    ] as const
  ) {
    put(u, key, r.string(o[key], `${f}.${key}`));
  }
  put(u, "as-groups", r.stringList(o["as-groups"], `${f}.as-groups`));
  const extra = r.mapping(o["as-user-extra"], `${f}.as-user-extra`);
  if (extra !== undefined) {
    u["as-user-extra"] = Object.fromEntries(
      Object.entries(extra).map((
        [key, values],
      ) => [key, r.stringList(values, `${f}.as-user-extra.${key}`) ?? []]),
    );
  }
  const provider = r.mapping(o["auth-provider"], `${f}.auth-provider`);
  if (provider !== undefined) {
    const p: KubeconfigAuthProvider = {
      name: r.string(provider["name"], `${f}.auth-provider.name`) ?? "",
    };
    const config = r.mapping(provider["config"], `${f}.auth-provider.config`);
    if (config !== undefined) {
      p.config = Object.fromEntries(
        Object.entries(config).map((
          [key, value],
        ) => [key, r.string(value, `${f}.auth-provider.config.${key}`) ?? ""]),
      );
    }
    u["auth-provider"] = p;
  }
  const exec = r.mapping(o["exec"], `${f}.exec`);
  if (exec !== undefined) u.exec = parseExec(r, exec, `${f}.exec`);
  return u;
}

function parseExec(r: FieldReader, o: YamlMapping, f: string): KubeconfigExec {
  const e: KubeconfigExec = {
    command: r.string(o["command"], `${f}.command`) ?? "",
    apiVersion: r.string(o["apiVersion"], `${f}.apiVersion`) ?? "",
  };
  put(e, "args", r.stringList(o["args"], `${f}.args`));
  const env = r.list(o["env"], `${f}.env`);
  if (env !== undefined) {
    e.env = env.map((item, i) => {
      const v = r.mapping(item, `${f}.env[${i}]`) ?? {};
      const name = r.string(v["name"], `${f}.env[${i}].name`);
      if (!name) r.fail(`${f}.env[${i}].name`, "must be a non-empty string");
      return { name, value: r.string(v["value"], `${f}.env[${i}].value`) ?? "" };
    });
  }
  put(e, "installHint", r.string(o["installHint"], `${f}.installHint`));
  put(e, "provideClusterInfo", r.boolean(o["provideClusterInfo"], `${f}.provideClusterInfo`));
  put(e, "interactiveMode", r.string(o["interactiveMode"], `${f}.interactiveMode`));
  return e;
}

function parseContext(r: FieldReader, o: YamlMapping, f: string): KubeconfigContext {
  const c: KubeconfigContext = {};
  put(c, "cluster", r.string(o["cluster"], `${f}.cluster`));
  put(c, "user", r.string(o["user"], `${f}.user`));
  put(c, "namespace", r.string(o["namespace"], `${f}.namespace`));
  return c;
}

/**
 * Parses the text of one kubeconfig file and checks its shape. Relative paths are left as they
 * are (see {@linkcode readKubeconfigs}). An empty file is an empty kubeconfig.
 *
 * When an entry name appears twice in the file, the last one wins, as in kubectl.
 *
 * @param text the YAML (or JSON) text
 * @param options the file name, for error messages
 * @returns the kubeconfig
 * @throws {ClientConfigError} on invalid YAML or a field of the wrong type; the message gives the
 * line and column but never the file's content
 */
export function parseKubeconfig(text: string, options?: ParseKubeconfigOptions): Kubeconfig {
  const r: FieldReader = new FieldReader(options?.path);
  let docs: unknown[];
  try {
    docs = loadAll(text, { schema: KUBECONFIG_SCHEMA, maxAliases: 1000 });
  } catch (error) {
    // Not passed as `cause`: a YAMLException's message quotes the source, which may hold secrets.
    if (error instanceof YAMLException) {
      const at = error.mark === undefined
        ? ""
        : ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`;
      r.fail(undefined, `invalid YAML${at}: ${error.reason}`);
    }
    r.fail(undefined, "invalid YAML");
  }
  if (docs.length > 1) r.fail(undefined, "invalid YAML: more than one document");
  const doc = docs[0] ?? {};
  if (!isMapping(doc)) r.fail(undefined, `not a YAML mapping (found ${describeType(doc)})`);
  const config: Kubeconfig = {
    clusters: dedupe(namedEntries(r, doc, "clusters", "cluster")).map((e) => ({
      name: e.name,
      cluster: parseCluster(r, e.body, `${e.field}.cluster`),
    })),
    users: dedupe(namedEntries(r, doc, "users", "user")).map((e) => ({
      name: e.name,
      user: parseUser(r, e.body, `${e.field}.user`),
    })),
    contexts: dedupe(namedEntries(r, doc, "contexts", "context")).map((e) => ({
      name: e.name,
      context: parseContext(r, e.body, `${e.field}.context`),
    })),
  };
  put(config, "apiVersion", r.string(doc["apiVersion"], "apiVersion"));
  put(config, "kind", r.string(doc["kind"], "kind"));
  put(config, "current-context", r.string(doc["current-context"], "current-context"));
  return config;
}

/** Keeps the last entry of each name, in first-appearance order. */
function dedupe(entries: RawEntry[]): RawEntry[] {
  const byName = new Map<string, RawEntry>();
  for (const entry of entries) byName.set(entry.name, entry);
  return [...byName.values()];
}

// ---------------------------------------------------------------------------------------------
// Reading and merging
// ---------------------------------------------------------------------------------------------

/** Options for {@linkcode readKubeconfigs}. */
export interface ReadKubeconfigsOptions {
  /**
   * The files to read, in order; each must exist. Default: the `KUBECONFIG` list (missing
   * entries skipped), else `~/.kube/config`.
   */
  paths?: string[];
  /** Reads an environment variable; default `Deno.env.get`, checked for permission first. */
  env?: (name: string) => string | undefined;
}

/** Which file each entry of a merged kubeconfig came from. */
export interface KubeconfigSources {
  /** Cluster name → file. */
  clusters: Map<string, string>;
  /** User name → file. */
  users: Map<string, string>;
  /** Context name → file. */
  contexts: Map<string, string>;
  /** The file that set `current-context`, if any did. */
  currentContext?: string;
}

/** The result of {@linkcode readKubeconfigs}. */
export interface LoadedKubeconfig {
  /**
   * The merged kubeconfig. Relative paths (`certificate-authority`, `client-certificate`,
   * `client-key`, `tokenFile`, an exec `command` containing a slash) are already resolved against
   * the directory of the file that defined them.
   */
  kubeconfig: Kubeconfig;
  /** The files read, in order (absolute paths). */
  paths: string[];
  /** Where each entry came from. */
  sources: KubeconfigSources;
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}

function resolveAgainst(dir: string, path: string | undefined): string | undefined {
  return path === undefined || path === "" || isAbsolute(path) ? path : resolve(dir, path);
}

function resolvePaths(config: Kubeconfig, file: string): void {
  const dir = dirname(file);
  for (const { cluster } of config.clusters) {
    put(cluster, "certificate-authority", resolveAgainst(dir, cluster["certificate-authority"]));
  }
  for (const { user } of config.users) {
    put(user, "client-certificate", resolveAgainst(dir, user["client-certificate"]));
    put(user, "client-key", resolveAgainst(dir, user["client-key"]));
    put(user, "tokenFile", resolveAgainst(dir, user.tokenFile));
    if (user.exec !== undefined && /[/\\]/.test(user.exec.command)) {
      user.exec.command = resolveAgainst(dir, user.exec.command) ?? user.exec.command;
    }
  }
}

/** Reads a file without ever prompting; `undefined` when it does not exist and `optional`. */
async function readConfigFile(path: string, optional: boolean): Promise<string | undefined> {
  const problem = readPermissionProblem(path);
  if (problem !== undefined) throw kubeconfigError(path, undefined, problem);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (optional && error instanceof Deno.errors.NotFound) return undefined;
    throw kubeconfigError(path, undefined, `cannot read: ${describeFileError(error)}`, error);
  }
}

function homeDirectory(env: (name: string) => string | undefined): string | undefined {
  return Deno.build.os === "windows" ? env("USERPROFILE") ?? env("HOME") : env("HOME");
}

/**
 * Reads and merges kubeconfig files the way kubectl does: the files named in `KUBECONFIG`
 * (separated by `:`, or `;` on Windows; empty and missing entries skipped), or else
 * `~/.kube/config`. For `clusters`, `users` and `contexts`, the first file to define a name wins;
 * the first non-empty `current-context` wins.
 *
 * @param options explicit files to read instead of the default ones
 * @returns the merged kubeconfig, the files read and where each entry came from
 * @throws {ClientConfigError} when no file can be found, or a file cannot be read or parsed
 */
export async function readKubeconfigs(options?: ReadKubeconfigsOptions): Promise<LoadedKubeconfig> {
  const env = options?.env ?? permissionCheckedEnv();
  let candidates: string[];
  let optional: boolean;
  if (options?.paths !== undefined && options.paths.length > 0) {
    candidates = options.paths;
    optional = false;
  } else {
    const list = env("KUBECONFIG");
    if (list) {
      candidates = list.split(delimiter).filter((p) => p !== "");
      optional = true;
    } else {
      const home = homeDirectory(env);
      if (!home) {
        throw kubeconfigError(
          undefined,
          undefined,
          "neither KUBECONFIG nor HOME is set, so there is no kubeconfig to read",
        );
      }
      candidates = [resolve(home, ".kube", "config")];
      optional = false;
    }
  }
  const paths = [...new Set(candidates.map(absolute))];

  const merged: Kubeconfig = { clusters: [], users: [], contexts: [] };
  const sources: KubeconfigSources = { clusters: new Map(), users: new Map(), contexts: new Map() };
  const read: string[] = [];
  for (const path of paths) {
    const text = await readConfigFile(path, optional);
    if (text === undefined) continue;
    read.push(path);
    const config = parseKubeconfig(text, { path });
    resolvePaths(config, path);
    for (const entry of config.clusters) {
      if (sources.clusters.has(entry.name)) continue;
      sources.clusters.set(entry.name, path);
      merged.clusters.push(entry);
    }
    for (const entry of config.users) {
      if (sources.users.has(entry.name)) continue;
      sources.users.set(entry.name, path);
      merged.users.push(entry);
    }
    for (const entry of config.contexts) {
      if (sources.contexts.has(entry.name)) continue;
      sources.contexts.set(entry.name, path);
      merged.contexts.push(entry);
    }
    if (!merged["current-context"] && config["current-context"]) {
      merged["current-context"] = config["current-context"];
      sources.currentContext = path;
    }
    if (merged.apiVersion === undefined) put(merged, "apiVersion", config.apiVersion);
    if (merged.kind === undefined) put(merged, "kind", config.kind);
  }
  if (read.length === 0) {
    throw kubeconfigError(
      paths.join(delimiter),
      undefined,
      "none of the files in KUBECONFIG exists",
    );
  }
  return { kubeconfig: merged, paths: read, sources };
}

// ---------------------------------------------------------------------------------------------
// ClientConfig
// ---------------------------------------------------------------------------------------------

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

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_PRIVATE_KEY = /-----BEGIN ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----[\s\S]+?-----END /;

/** Decodes base64 (padding optional, whitespace ignored) to UTF-8 text, or `undefined`. */
function decodeBase64Text(value: string): { text?: string; problem?: string } {
  let binary: string;
  try {
    binary = atob(value.replace(/\s+/g, ""));
  } catch {
    return { problem: "is not valid base64" };
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { problem: "does not decode to PEM text" };
  }
}

const EXEC_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
];

/** Builds a ClientConfig from one context of a loaded kubeconfig. */
class ConfigBuilder {
  constructor(readonly loaded: LoadedKubeconfig) {}

  get allFiles(): string {
    return this.loaded.paths.join(delimiter);
  }

  /** Loads inline data or a file, checking it holds the expected PEM blocks and they parse. */
  async pem(
    file: string,
    base: string,
    data: { key: string; value: string | undefined },
    path: { key: string; value: string | undefined },
    kind: "certificate" | "private key",
  ): Promise<string | undefined> {
    const pattern = kind === "certificate" ? PEM_CERTIFICATE : PEM_PRIVATE_KEY;
    if (data.value && path.value) {
      throw kubeconfigError(
        file,
        `${base}.${data.key}`,
        `both ${data.key} and ${path.key} are set; remove one`,
      );
    }
    let field: string;
    let text: string;
    // How the messages say what the field holds: "does not decode to a" or "<path> is not a".
    let isNot: string;
    if (data.value) {
      field = `${base}.${data.key}`;
      const decoded = decodeBase64Text(data.value);
      if (decoded.text === undefined) {
        throw kubeconfigError(file, field, decoded.problem ?? "is invalid");
      }
      text = decoded.text;
      isNot = "does not decode to a";
    } else if (path.value) {
      field = `${base}.${path.key}`;
      const problem = readPermissionProblem(path.value);
      if (problem !== undefined) {
        throw kubeconfigError(file, field, `cannot read "${path.value}": ${problem}`);
      }
      try {
        text = await Deno.readTextFile(path.value);
      } catch (error) {
        throw kubeconfigError(
          file,
          field,
          `cannot read "${path.value}": ${describeFileError(error)}`,
          error,
        );
      }
      isNot = `"${path.value}" is not a`;
    } else {
      return undefined;
    }
    if (!pattern.test(text)) throw kubeconfigError(file, field, `${isNot} PEM ${kind}`);
    const unparseable = unparseablePem(text, kind);
    if (unparseable !== undefined) {
      throw kubeconfigError(file, field, `${isNot} valid PEM ${kind}: ${unparseable}`);
    }
    return text;
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
    const ca = await this.pem(
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
      await this.user(config, userFile, userName, user);
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

  async user(config: ClientConfig, file: string, name: string, user: KubeconfigUser) {
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
    const certificate = await this.pem(
      file,
      uf,
      { key: "client-certificate-data", value: user["client-certificate-data"] },
      { key: "client-certificate", value: user["client-certificate"] },
      "certificate",
    );
    const key = await this.pem(
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
      await this.checkTokenFile(file, `${uf}.tokenFile`, user.tokenFile);
      credentials = { kind: "tokenFile", path: user.tokenFile };
    } else if (user.token) {
      credentials = { kind: "token", token: user.token };
    } else if (hasBasic) {
      credentials = { kind: "basic", username: user.username ?? "", password: user.password ?? "" };
    } else if (user.exec !== undefined && clientCertificate === undefined) {
      credentials = this.exec(file, name, user.exec);
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

  async checkTokenFile(file: string, field: string, path: string) {
    const problem = readPermissionProblem(path);
    if (problem !== undefined) {
      throw kubeconfigError(file, field, `cannot read "${path}": ${problem}`);
    }
    try {
      await Deno.readTextFile(path);
    } catch (error) {
      throw kubeconfigError(
        file,
        field,
        `cannot read "${path}": ${describeFileError(error)}`,
        error,
      );
    }
  }

  exec(file: string, name: string, exec: KubeconfigExec): ExecCredentials {
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
