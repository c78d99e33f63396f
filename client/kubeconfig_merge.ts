/**
 * Reading and merging kubeconfig files the way kubectl does: {@linkcode readKubeconfigs} reads
 * the `KUBECONFIG` list (or `~/.kube/config`), resolves relative paths and merges the entries,
 * remembering which file each came from.
 *
 * @module
 */

import { delimiter, dirname, isAbsolute, resolve } from "node:path";
import { describeFileError, permissionCheckedEnv, readPermissionProblem } from "./config_error.ts";
import { kubeconfigError, put } from "./kubeconfig_fields.ts";
import type { Kubeconfig } from "./kubeconfig_parse.ts";

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
    // Loaded with the first file read: the YAML parser is not part of a run in a pod.
    const { parseKubeconfig } = await import("./kubeconfig_parse.ts");
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
