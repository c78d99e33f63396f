/**
 * Where the control-plane binaries (etcd, kube-apiserver, kube-controller-manager) come from.
 *
 * Lookup order, first match wins for each binary:
 * 1. `options.binDir`;
 * 2. `KUBEBUILDER_ASSETS` (the setup-envtest layout: `etcd`, `kube-apiserver`, usually no
 *    `kube-controller-manager`);
 * 3. `ROPERATOR_CONTROLPLANE_DIR`;
 * 4. the cache that `deno task controlplane` fills:
 *    `$XDG_CACHE_HOME/roperator/controlplane/<kubernetes>-etcd<etcd>/` (`~/.cache/…` by default).
 *
 * @module
 */

/** The Kubernetes version the project builds and tests against. */
export const KUBERNETES_VERSION = "v1.36.3";
/** The etcd version the project builds and tests against. */
export const ETCD_VERSION = "v3.6.16";

/** The three binaries a test control plane runs. */
export type ControlPlaneBinary = "etcd" | "kube-apiserver" | "kube-controller-manager";

/** Absolute paths of the control-plane binaries. */
export interface ControlPlaneBinaries {
  /** Path of `etcd`. */
  etcd: string;
  /** Path of `kube-apiserver`. */
  kubeApiServer: string;
  /** Path of `kube-controller-manager`, or `undefined` when none was found. */
  kubeControllerManager: string | undefined;
}

/** Options for {@linkcode findControlPlaneBinaries}. */
export interface FindBinariesOptions {
  /** A directory searched before every other place. */
  binDir?: string;
}

/** Thrown when a required control-plane binary cannot be found anywhere. */
export class ControlPlaneBinariesNotFoundError extends Error {
  /** The binaries that were missing. */
  readonly missing: ControlPlaneBinary[];
  /** The directories that were searched, in order. */
  readonly searched: string[];

  /**
   * Creates an error that says where binaries were looked for and how to get them.
   *
   * @param missing the binaries that were not found
   * @param searched the directories searched
   */
  constructor(missing: ControlPlaneBinary[], searched: string[]) {
    super(
      `Cannot find control-plane binaries: ${missing.join(", ")} not found in ${
        searched.length ? searched.map((d) => `"${d}"`).join(", ") : "any directory"
      }. Run "deno task controlplane" to build them with Go (1.26 or later) from the Go module ` +
        `proxy, or set KUBEBUILDER_ASSETS to a directory holding etcd and kube-apiserver ` +
        `(for example from setup-envtest) and ROPERATOR_CONTROLPLANE_DIR to one holding ` +
        `kube-controller-manager`,
    );
    this.name = "ControlPlaneBinariesNotFoundError";
    this.missing = missing;
    this.searched = searched;
  }
}

/**
 * The default cache directory of the binaries built by `deno task controlplane`.
 *
 * @returns the directory, which may not exist yet
 */
export function defaultBinaryCacheDir(): string {
  const cacheHome = Deno.env.get("XDG_CACHE_HOME") ??
    `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${cacheHome}/roperator/controlplane/${KUBERNETES_VERSION}-etcd${ETCD_VERSION}`;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The directories searched for binaries, in order.
 *
 * @param options where else to look
 * @returns the candidate directories
 */
export function binarySearchPath(options: FindBinariesOptions = {}): string[] {
  const dirs = [
    options.binDir,
    Deno.env.get("KUBEBUILDER_ASSETS"),
    Deno.env.get("ROPERATOR_CONTROLPLANE_DIR"),
    defaultBinaryCacheDir(),
  ];
  return dirs.filter((d): d is string => typeof d === "string" && d.length > 0);
}

/**
 * Finds the control-plane binaries.
 *
 * @param options where else to look
 * @returns the paths found; `kubeControllerManager` may be `undefined`
 * @throws {ControlPlaneBinariesNotFoundError} when etcd or kube-apiserver is missing
 */
export function findControlPlaneBinaries(options: FindBinariesOptions = {}): ControlPlaneBinaries {
  const searched = binarySearchPath(options);
  const find = (name: ControlPlaneBinary) =>
    searched.map((dir) => `${dir}/${name}`).find(isExecutable);
  const etcd = find("etcd");
  const kubeApiServer = find("kube-apiserver");
  if (etcd === undefined || kubeApiServer === undefined) {
    const missing: ControlPlaneBinary[] = [];
    if (etcd === undefined) missing.push("etcd");
    if (kubeApiServer === undefined) missing.push("kube-apiserver");
    throw new ControlPlaneBinariesNotFoundError(missing, searched);
  }
  return { etcd, kubeApiServer, kubeControllerManager: find("kube-controller-manager") };
}
