/**
 * Where the control-plane binaries (etcd, kube-apiserver, kube-controller-manager) come from.
 *
 * {@linkcode ensureControlPlaneBinaries} finds or provides them, first match wins for each
 * binary:
 * 1. `options.binDir`, `KUBEBUILDER_ASSETS` (the setup-envtest layout: `etcd`,
 *    `kube-apiserver`, no `kube-controller-manager`) and `ROPERATOR_CONTROLPLANE_DIR`;
 * 2. the cache: `$XDG_CACHE_HOME/roperator/controlplane/<kubernetes>-etcd<etcd>/`
 *    (`~/.cache/…` by default);
 * 3. etcd and kube-apiserver: a download of the envtest release archive for
 *    {@linkcode KUBERNETES_VERSION} (the index setup-envtest reads, SHA-512 verified), into the
 *    cache; the index URL is {@linkcode DEFAULT_ENVTEST_INDEX_URL} unless
 *    `ROPERATOR_ENVTEST_INDEX_URL` or `options.envtestIndexUrl` says otherwise (`off` skips it). Its
 *    etcd is the one that envtest release pins, which may differ from {@linkcode ETCD_VERSION};
 * 4. a build with Go (1.26 or later) from the Go module proxy, into the cache. This is the only
 *    way to get kube-controller-manager, which the envtest archives do not hold.
 *
 * {@linkcode findControlPlaneBinaries} only looks (steps 1 and 2).
 *
 * @module
 */
import { load as parseYaml } from "js-yaml";
import { buildControlPlaneBinaries, hasGo } from "./go_build.ts";

/** The Kubernetes version the project builds and tests against. */
export const KUBERNETES_VERSION = "v1.36.3";
/** The etcd version the project builds and tests against. */
export const ETCD_VERSION = "v3.6.16";

/** The index of the envtest release archives that setup-envtest reads by default. */
export const DEFAULT_ENVTEST_INDEX_URL: string =
  "https://raw.githubusercontent.com/kubernetes-sigs/controller-tools/HEAD/envtest-releases.yaml";

/** The environment variable that overrides {@linkcode DEFAULT_ENVTEST_INDEX_URL}; `off` disables the download. */
export const ENVTEST_INDEX_URL_ENV = "ROPERATOR_ENVTEST_INDEX_URL";

/** The three binaries a test control plane runs. */
export type ControlPlaneBinary = "etcd" | "kube-apiserver" | "kube-controller-manager";

/** What is lost when kube-controller-manager is not running. */
export const WITHOUT_CONTROLLER_MANAGER: string =
  "no garbage collection (children owned by a deleted parent stay), no namespace deletion " +
  '(deleted namespaces stay "Terminating") and no service accounts or their tokens in new ' +
  "namespaces";

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

/** Options for {@linkcode ensureControlPlaneBinaries}. */
export interface EnsureBinariesOptions extends FindBinariesOptions {
  /**
   * The binaries wanted (default all three). Only these are downloaded or built; a wanted
   * kube-controller-manager that cannot be provided is returned as `undefined`. Leaving etcd or
   * kube-apiserver out (to provide only the others) returns an empty path for it when it is
   * not found.
   */
  need?: readonly ControlPlaneBinary[];
  /** The cache directory (default {@linkcode defaultBinaryCacheDir}). */
  cacheDir?: string;
  /**
   * The URL of the envtest release index, or `false` for no download. Default
   * `ROPERATOR_ENVTEST_INDEX_URL`, else {@linkcode DEFAULT_ENVTEST_INDEX_URL}.
   */
  envtestIndexUrl?: string | false;
  /** The envtest release to download (default {@linkcode KUBERNETES_VERSION}). */
  envtestVersion?: string;
  /** The `go` command, or `false` for no build (default `"go"` from `PATH`). */
  go?: string | false;
  /** Where progress lines go (default `console.error`). */
  log?: (line: string) => void;
}

/** Options for {@linkcode downloadEnvtestBinaries}. */
export interface DownloadEnvtestOptions {
  /** The URL of the release index (the `envtest-releases.yaml` layout). */
  indexUrl: string;
  /** The directory etcd and kube-apiserver are written to; created when missing. */
  cacheDir: string;
  /** The release, such as `v1.36.3` (default {@linkcode KUBERNETES_VERSION}). */
  version?: string;
  /** The operating system in archive names (default from `Deno.build.os`). */
  os?: string;
  /** The architecture in archive names (default from `Deno.build.arch`: `amd64`, `arm64`). */
  arch?: string;
  /** Where progress lines go (default `console.error`). */
  log?: (line: string) => void;
}

/** Why a download of the envtest binaries failed. */
export type DownloadFailure =
  | "index"
  | "version-not-found"
  | "http"
  | "checksum-mismatch"
  | "bad-archive";

/** Thrown when the envtest binaries cannot be downloaded; nothing is left in the cache. */
export class ControlPlaneDownloadError extends Error {
  /** What went wrong. */
  readonly reason: DownloadFailure;
  /** The URL concerned (the index or the archive). */
  readonly url: string;

  /**
   * Creates a download error.
   *
   * @param reason what went wrong
   * @param url the URL concerned
   * @param message the message ("Cannot download …: detail")
   * @param options the cause
   */
  constructor(reason: DownloadFailure, url: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlPlaneDownloadError";
    this.reason = reason;
    this.url = url;
  }
}

/** Thrown when a required control-plane binary cannot be found or provided. */
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
   * @param attempts why the download and the build did not provide them, one line each
   */
  constructor(missing: ControlPlaneBinary[], searched: string[], attempts: string[] = []) {
    super(
      `Cannot find control-plane binaries: ${missing.join(", ")} not found in ${
        searched.length ? searched.map((d) => `"${d}"`).join(", ") : "any directory"
      }.${attempts.length ? ` Tried: ${attempts.join("; ")}.` : ""} To get them: set ` +
        `KUBEBUILDER_ASSETS to a directory holding etcd and kube-apiserver (for example ` +
        `"$(setup-envtest use -p path ${KUBERNETES_VERSION.slice(1)})"), or let the testkit ` +
        `download them (it needs network access to ${DEFAULT_ENVTEST_INDEX_URL}; set ` +
        `${ENVTEST_INDEX_URL_ENV} to a mirror of that index), or install Go 1.26 or later so ` +
        `that they are built from the Go module proxy on first use. kube-controller-manager is ` +
        `only built with Go, or taken from ROPERATOR_CONTROLPLANE_DIR`,
    );
    this.name = "ControlPlaneBinariesNotFoundError";
    this.missing = missing;
    this.searched = searched;
  }
}

/**
 * The default cache directory of the binaries (downloaded or built).
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

function findIn(dirs: readonly string[], name: ControlPlaneBinary): string | undefined {
  return dirs.map((dir) => `${dir}/${name}`).find(isExecutable);
}

/**
 * Finds the control-plane binaries without downloading or building anything.
 *
 * @param options where else to look
 * @returns the paths found; `kubeControllerManager` may be `undefined`
 * @throws {ControlPlaneBinariesNotFoundError} when etcd or kube-apiserver is missing
 */
export function findControlPlaneBinaries(options: FindBinariesOptions = {}): ControlPlaneBinaries {
  const searched = binarySearchPath(options);
  const etcd = findIn(searched, "etcd");
  const kubeApiServer = findIn(searched, "kube-apiserver");
  if (etcd === undefined || kubeApiServer === undefined) {
    const missing: ControlPlaneBinary[] = [];
    if (etcd === undefined) missing.push("etcd");
    if (kubeApiServer === undefined) missing.push("kube-apiserver");
    throw new ControlPlaneBinariesNotFoundError(missing, searched);
  }
  return {
    etcd,
    kubeApiServer,
    kubeControllerManager: findIn(searched, "kube-controller-manager"),
  };
}

/**
 * Finds the control-plane binaries, or downloads or builds the missing ones into the cache (see
 * the module documentation for the order).
 *
 * @param options where to look, what is needed, where to download from, whether to build
 * @returns the paths; `kubeControllerManager` is `undefined` when it was not needed or could
 *   not be built (without it: {@linkcode WITHOUT_CONTROLLER_MANAGER})
 * @throws {ControlPlaneBinariesNotFoundError} when etcd or kube-apiserver cannot be provided
 */
export async function ensureControlPlaneBinaries(
  options: EnsureBinariesOptions = {},
): Promise<ControlPlaneBinaries> {
  const log = options.log ?? ((line: string) => console.error(line));
  const need = options.need ?? ["etcd", "kube-apiserver", "kube-controller-manager"];
  const cacheDir = options.cacheDir ?? defaultBinaryCacheDir();
  const searched = [
    ...binarySearchPath(options.binDir === undefined ? {} : { binDir: options.binDir })
      .filter((d) => d !== defaultBinaryCacheDir()),
    cacheDir,
  ];
  const lookup = () => ({
    etcd: findIn(searched, "etcd"),
    "kube-apiserver": findIn(searched, "kube-apiserver"),
    "kube-controller-manager": need.includes("kube-controller-manager")
      ? findIn(searched, "kube-controller-manager")
      : undefined,
  });
  let found = lookup();
  const missing = () => need.filter((b) => found[b] === undefined) as ControlPlaneBinary[];
  const attempts: string[] = [];

  if (missing().length > 0 && (options.envtestIndexUrl !== false || options.go !== false)) {
    // One provider at a time per cache (parallel test files all start a control plane): the
    // others wait on the lock and then find what the first one downloaded or built.
    const parent = cacheDir.replace(/\/+[^/]*\/*$/, "") || "/";
    await Deno.mkdir(parent, { recursive: true });
    using lock = await Deno.open(`${cacheDir.replace(/\/+$/, "")}.lock`, {
      create: true,
      write: true,
    });
    await lock.lock(true);
    found = lookup();
    if (missing().length > 0) await provide();
  }

  async function provide(): Promise<void> {
    const envIndex = Deno.env.get(ENVTEST_INDEX_URL_ENV);
    const indexUrl = options.envtestIndexUrl ??
      (envIndex === "off" ? false : envIndex || DEFAULT_ENVTEST_INDEX_URL);
    if (indexUrl !== false && missing().some((b) => b !== "kube-controller-manager")) {
      try {
        await downloadEnvtestBinaries({
          indexUrl,
          cacheDir,
          version: options.envtestVersion ?? KUBERNETES_VERSION,
          log,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(message);
        attempts.push(message);
      }
      found = lookup();
    }

    const toBuild = missing();
    if (toBuild.length > 0 && options.go !== false) {
      const go = options.go ?? "go";
      if (await hasGo(go)) {
        await Deno.mkdir(cacheDir, { recursive: true });
        const staging = await Deno.makeTempDir({ dir: cacheDir, prefix: ".build-" });
        try {
          await buildControlPlaneBinaries(toBuild, { outDir: staging, go, log });
          for (const binary of toBuild) {
            await Deno.rename(`${staging}/${binary}`, `${cacheDir}/${binary}`);
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          log(message);
          attempts.push(message);
        } finally {
          await Deno.remove(staging, { recursive: true }).catch(() => {});
        }
        found = lookup();
      } else {
        attempts.push(`no "${go}" command to build ${toBuild.join(", ")} with`);
      }
    }
  }

  const stillMissing = missing().filter((b) => b !== "kube-controller-manager");
  if (stillMissing.length > 0) {
    throw new ControlPlaneBinariesNotFoundError(stillMissing, searched, attempts);
  }
  return {
    etcd: found.etcd ?? "",
    kubeApiServer: found["kube-apiserver"] ?? "",
    kubeControllerManager: found["kube-controller-manager"],
  };
}

function platform(): { os: string; arch: string } {
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  return { os: Deno.build.os, arch };
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function formatMb(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

interface IndexArchive {
  hash?: unknown;
  selfLink?: unknown;
}

async function fetchIndex(indexUrl: string): Promise<Record<string, Record<string, IndexArchive>>> {
  let text: string;
  try {
    // A network that drops the packets must not hang the test run: give up after 30 s.
    const res = await fetch(indexUrl, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    text = await res.text();
  } catch (error) {
    throw new ControlPlaneDownloadError(
      "index",
      indexUrl,
      `Cannot download the envtest release index ${indexUrl}: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }
  let releases: unknown;
  try {
    releases = (parseYaml(text) as { releases?: unknown } | null)?.releases;
  } catch (error) {
    releases = undefined;
    void error;
  }
  if (typeof releases !== "object" || releases === null) {
    throw new ControlPlaneDownloadError(
      "index",
      indexUrl,
      `Cannot read the envtest release index ${indexUrl}: no "releases" map`,
    );
  }
  return releases as Record<string, Record<string, IndexArchive>>;
}

async function readWithProgress(
  res: Response,
  name: string,
  log: (line: string) => void,
): Promise<Uint8Array<ArrayBuffer>> {
  const total = Number(res.headers.get("content-length") ?? 0);
  const chunks: Uint8Array[] = [];
  let received = 0;
  let lastReport = -1;
  const started = performance.now();
  for await (const chunk of res.body!) {
    chunks.push(chunk);
    received += chunk.length;
    const pct = total > 0 ? Math.floor((received / total) * 100) : 0;
    if (total > 0 && pct >= lastReport + 10) {
      lastReport = pct - (pct % 10);
      const secs = ((performance.now() - started) / 1000).toFixed(0);
      log(`  ${name}: ${formatMb(received)} of ${formatMb(total)} (${pct}%) after ${secs}s`);
    }
  }
  const bytes = new Uint8Array(new ArrayBuffer(received));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** The regular files of a tar archive, by base name. */
function untar(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = new TextDecoder();
  const field = (start: number, length: number) =>
    text.decode(bytes.subarray(start, start + length)).replace(/\0.*$/s, "");
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= bytes.length) {
    if (bytes.subarray(offset, offset + 512).every((b) => b === 0)) return files;
    const size = parseInt(field(offset + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(bytes[offset + 156] ?? 0);
    const prefix = field(offset + 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(offset, 100)}` : field(offset, 100));
    longName = undefined;
    const dataStart = offset + 512;
    if (Number.isNaN(size) || dataStart + size > bytes.length) {
      throw new Error(`the entry "${name}" runs past the end of the archive`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    if (type === "L") longName = text.decode(data).replace(/\0.*$/s, "");
    else if (type === "0" || type === "\0") files.set(name.split("/").pop() ?? name, data);
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
  throw new Error("the archive ends without its end-of-archive blocks");
}

/**
 * Downloads etcd and kube-apiserver from an envtest release archive: reads the index (the
 * `envtest-releases.yaml` layout: `releases.<version>.<archive name>.{hash, selfLink}`), fetches
 * `envtest-<version>-<os>-<arch>.tar.gz`, checks its SHA-512, and writes the two binaries into
 * `options.cacheDir`. They are unpacked in a temporary directory beside it and renamed into place
 * only when everything succeeded.
 *
 * @param options the index, the release and the target directory
 * @returns the paths of the two binaries
 * @throws {ControlPlaneDownloadError} when the index or the archive cannot be fetched, the
 *   version is not in the index, the checksum differs or the archive is damaged
 */
export async function downloadEnvtestBinaries(
  options: DownloadEnvtestOptions,
): Promise<{ etcd: string; kubeApiServer: string }> {
  const log = options.log ?? ((line: string) => console.error(line));
  const version = options.version ?? KUBERNETES_VERSION;
  const { os, arch } = { ...platform(), ...options };
  const archiveName = `envtest-${version}-${os}-${arch}.tar.gz`;
  const releases = await fetchIndex(options.indexUrl);
  const archive = releases[version]?.[archiveName];
  if (typeof archive?.hash !== "string" || typeof archive.selfLink !== "string") {
    const known = Object.keys(releases).slice(-5).join(", ");
    throw new ControlPlaneDownloadError(
      "version-not-found",
      options.indexUrl,
      `Cannot download envtest ${version}: the index ${options.indexUrl} has no ${archiveName}` +
        (known ? ` (its last releases: ${known})` : ""),
    );
  }
  const url = new URL(archive.selfLink, options.indexUrl).href;
  log(`downloading ${archiveName} from ${url} …`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    const res = await fetch(url);
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    bytes = await readWithProgress(res, archiveName, log);
  } catch (error) {
    throw new ControlPlaneDownloadError(
      "http",
      url,
      `Cannot download ${url}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const sha512 = hex(await crypto.subtle.digest("SHA-512", bytes));
  if (sha512 !== archive.hash.toLowerCase()) {
    throw new ControlPlaneDownloadError(
      "checksum-mismatch",
      url,
      `Cannot use ${url}: its SHA-512 is ${sha512}, the index says ${archive.hash}`,
    );
  }
  let files: Map<string, Uint8Array>;
  try {
    const tar = new Uint8Array(
      await new Response(
        new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
      ).arrayBuffer(),
    );
    files = untar(tar);
  } catch (error) {
    throw new ControlPlaneDownloadError(
      "bad-archive",
      url,
      `Cannot unpack ${url}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const wanted = ["etcd", "kube-apiserver"] as const;
  const absent = wanted.filter((name) => !files.has(name));
  if (absent.length > 0) {
    throw new ControlPlaneDownloadError(
      "bad-archive",
      url,
      `Cannot unpack ${url}: it holds no ${absent.join(" and no ")}`,
    );
  }
  await Deno.mkdir(options.cacheDir, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: options.cacheDir, prefix: ".download-" });
  try {
    for (const name of wanted) {
      await Deno.writeFile(`${staging}/${name}`, files.get(name)!, { mode: 0o755 });
      await Deno.chmod(`${staging}/${name}`, 0o755);
    }
    for (const name of wanted) {
      await Deno.rename(`${staging}/${name}`, `${options.cacheDir}/${name}`);
    }
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  log(`  ${archiveName}: etcd and kube-apiserver in ${options.cacheDir}`);
  return { etcd: `${options.cacheDir}/etcd`, kubeApiServer: `${options.cacheDir}/kube-apiserver` };
}
