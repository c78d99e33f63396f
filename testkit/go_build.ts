/**
 * Builds the control-plane binaries from the Go module proxy with the wrapper modules shipped in
 * this package (`controlplane/etcd/go.mod`, `controlplane/kubernetes/go.mod`, with their `go.sum`).
 *
 * etcd comes from its own module, kube-apiserver from the Kubernetes one. The
 * kube-controller-manager built here is `controlplane/kubernetes/kube-controller-manager/main.go`:
 * the garbage collector, namespace and service-account controllers of Kubernetes, and nothing
 * else (882 packages instead of the real binary's 2407), so its cold build takes about a third of
 * the time; it accepts the flags the testkit passes. The two modules build at the same time, and
 * the two Kubernetes binaries in one `go build` so their shared packages compile once. The flags
 * keep the build small: `-trimpath`, `-ldflags=-s -w` (no symbol table, no DWARF),
 * `CGO_ENABLED=0` and the build tags Kubernetes itself releases with.
 *
 * @module
 */
import { type ControlPlaneBinary, ETCD_VERSION, KUBERNETES_VERSION } from "./binaries.ts";

/** Options for {@linkcode buildControlPlaneBinaries}. */
export interface GoBuildOptions {
  /** The directory the binaries are written to; it must exist. */
  outDir: string;
  /** The `go` command (default `"go"` from `PATH`). */
  go?: string;
  /** Where progress lines go (default `console.error`). */
  log?: (line: string) => void;
}

/** Thrown when `go build` fails or Go is missing. */
export class GoBuildError extends Error {
  /**
   * Creates an error for a failed build.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GoBuildError";
  }
}

interface Group {
  label: string;
  module: "etcd" | "kubernetes";
  binaries: ControlPlaneBinary[];
  packages: string[];
}

const PACKAGE: Record<ControlPlaneBinary, string> = {
  "etcd": "go.etcd.io/etcd/server/v3",
  "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
  "kube-controller-manager": "./kube-controller-manager",
};

/** The files of each wrapper module, relative to its directory. */
const MODULE_FILES: Record<Group["module"], string[]> = {
  etcd: ["go.mod", "go.sum"],
  kubernetes: ["go.mod", "go.sum", "kube-controller-manager/main.go"],
};

const TAGS = "selinux,notest,grpcnotrace";

const GO_ENV = {
  GOTOOLCHAIN: "local",
  CGO_ENABLED: "0",
  GOFLAGS: "-mod=readonly",
};

function ldflags(module: Group["module"]): string {
  if (module !== "kubernetes") return "-s -w";
  const [major, minor] = KUBERNETES_VERSION.slice(1).split(".");
  const v = "k8s.io/component-base/version";
  return [
    "-s -w",
    `-X ${v}.gitVersion=${KUBERNETES_VERSION}`,
    `-X ${v}.gitMajor=${major}`,
    `-X ${v}.gitMinor=${minor}`,
    `-X ${v}.gitTreeState=clean`,
    `-X ${v}.buildDate=2026-01-01T00:00:00Z`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${KUBERNETES_VERSION}`,
  ].join(" ");
}

/**
 * Whether a working `go` command is on the `PATH` (or at `go`).
 *
 * @param go the command
 * @returns true when `go version` succeeds
 */
export async function hasGo(go = "go"): Promise<boolean> {
  try {
    const out = await new Deno.Command(go, {
      args: ["version"],
      env: GO_ENV,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The directory of a wrapper module on disk. In a local checkout it is the directory beside this
 * file; when the package is loaded over HTTP (JSR), its files are fetched into a temporary
 * directory, which the caller removes (`temporary` is then true).
 *
 * @param module the module
 * @param base the URL of the `controlplane/` directory (default: beside this file)
 * @returns the directory and whether it is temporary
 * @throws {GoBuildError} when a file cannot be fetched
 */
export async function wrapperModuleDir(
  module: "etcd" | "kubernetes",
  base: URL = new URL("./controlplane/", import.meta.url),
): Promise<{ dir: string; temporary: boolean }> {
  const moduleBase = new URL(`${module}/`, base);
  if (moduleBase.protocol === "file:") {
    return { dir: decodeURIComponent(moduleBase.pathname), temporary: false };
  }
  const dir = await Deno.makeTempDir({ prefix: `roperator-go-${module}-` });
  try {
    for (const file of MODULE_FILES[module]) {
      const url = new URL(file, moduleBase);
      const res = await fetch(url);
      if (!res.ok) {
        await res.body?.cancel();
        throw new GoBuildError(`Cannot fetch ${url}: HTTP ${res.status}`);
      }
      const path = `${dir}/${file}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, new Uint8Array(await res.arrayBuffer()));
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return { dir, temporary: true };
}

async function countPackages(go: string, group: Group, cwd: string): Promise<number> {
  const out = await new Deno.Command(go, {
    args: ["list", "-deps", "-tags", TAGS, ...group.packages],
    cwd,
    env: GO_ENV,
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new GoBuildError(
      `Cannot list the packages of ${group.label}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

async function buildGroup(
  go: string,
  group: Group,
  outDir: string,
  log: (line: string) => void,
): Promise<void> {
  const { dir, temporary } = await wrapperModuleDir(group.module);
  try {
    const total = await countPackages(go, group, dir);
    const started = performance.now();
    log(`building ${group.label} with Go (${total} packages) …`);
    const out = group.binaries.length === 1 ? `${outDir}/${group.binaries[0]}` : `${outDir}/`;
    const child = new Deno.Command(go, {
      args: [
        "build",
        "-v",
        "-trimpath",
        "-tags",
        TAGS,
        "-ldflags",
        ldflags(group.module),
        "-o",
        out,
        ...group.packages,
      ],
      cwd: dir,
      env: GO_ENV,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let done = 0;
    let lastReport = 0;
    const tail: string[] = [];
    let buffered = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (/^[\w.\-/]+$/.test(line)) done++;
        else tail.push(line);
        if (tail.length > 40) tail.shift();
      }
      const pct = Math.min(100, Math.floor((done / total) * 100));
      if (pct >= lastReport + 10) {
        lastReport = pct - (pct % 10);
        const secs = Math.round((performance.now() - started) / 1000);
        log(`  ${group.label}: ${done}/${total} packages (${pct}%) after ${secs}s`);
      }
    }
    const status = await child.status;
    if (!status.success) {
      throw new GoBuildError(
        `Cannot build ${group.label}: go build exited with code ${status.code}\n${tail.join("\n")}`,
      );
    }
    log(`  ${group.label}: built in ${Math.round((performance.now() - started) / 1000)}s`);
  } finally {
    if (temporary) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Builds the given binaries with Go into `options.outDir`. etcd builds alongside the Kubernetes
 * binaries; kube-apiserver and kube-controller-manager build in one `go build`.
 *
 * @param binaries the binaries to build (only these are built)
 * @param options where to write them and where to log
 * @throws {GoBuildError} when Go is missing or a build fails
 */
export async function buildControlPlaneBinaries(
  binaries: readonly ControlPlaneBinary[],
  options: GoBuildOptions,
): Promise<void> {
  const go = options.go ?? "go";
  const log = options.log ?? ((line: string) => console.error(line));
  if (!(await hasGo(go))) {
    throw new GoBuildError(`Cannot build ${binaries.join(", ")}: no working "${go}" command`);
  }
  const groups: Group[] = [];
  if (binaries.includes("etcd")) {
    groups.push({
      label: `etcd ${ETCD_VERSION}`,
      module: "etcd",
      binaries: ["etcd"],
      packages: [PACKAGE.etcd],
    });
  }
  const kube = binaries.filter((b) => b !== "etcd");
  if (kube.length > 0) {
    groups.push({
      label: `${kube.join(" + ")} ${KUBERNETES_VERSION}`,
      module: "kubernetes",
      binaries: kube,
      packages: kube.map((b) => PACKAGE[b]),
    });
  }
  const results = await Promise.allSettled(
    groups.map((group) => buildGroup(go, group, options.outDir, log)),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
