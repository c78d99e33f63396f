/**
 * Builds (or finds) the test control plane: etcd, kube-apiserver and kube-controller-manager.
 *
 * `deno task controlplane` runs this file. It builds from the Go module proxy with the wrapper
 * modules beside it (`etcd/go.mod`, `kubernetes/go.mod`) into a cache outside the repository, and
 * skips the build when the cached binaries already report the pinned versions. When
 * `KUBEBUILDER_ASSETS` is set (the setup-envtest layout), the binaries found there are used and
 * only the missing ones are built. It prints the directory to use on its last line.
 *
 * @module
 */
import {
  binarySearchPath,
  type ControlPlaneBinary,
  defaultBinaryCacheDir,
  ETCD_VERSION,
  KUBERNETES_VERSION,
} from "../../testkit/binaries.ts";

const here = new URL(".", import.meta.url).pathname;

interface Target {
  binary: ControlPlaneBinary;
  module: string;
  pkg: string;
  expectVersion: string;
}

const TARGETS: Target[] = [
  {
    binary: "etcd",
    module: "etcd",
    pkg: "go.etcd.io/etcd/server/v3",
    expectVersion: `etcd Version: ${ETCD_VERSION.slice(1)}`,
  },
  {
    binary: "kube-apiserver",
    module: "kubernetes",
    pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
    expectVersion: `Kubernetes ${KUBERNETES_VERSION}`,
  },
  {
    binary: "kube-controller-manager",
    module: "kubernetes",
    pkg: "k8s.io/kubernetes/cmd/kube-controller-manager",
    expectVersion: `Kubernetes ${KUBERNETES_VERSION}`,
  },
];

async function reportedVersion(path: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(path, { args: ["--version"], stderr: "piped" }).output();
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  } catch {
    return undefined;
  }
}

function ldflags(target: Target): string {
  if (target.module !== "kubernetes") return "-s -w";
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

const goEnv = {
  GOTOOLCHAIN: "local",
  CGO_ENABLED: "0",
  GOFLAGS: "-mod=readonly",
};

async function countPackages(target: Target): Promise<number> {
  const out = await new Deno.Command("go", {
    args: ["list", "-deps", "-tags", "selinux,notest,grpcnotrace", target.pkg],
    cwd: `${here}${target.module}`,
    env: goEnv,
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`Cannot list the packages of ${target.pkg}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

async function build(target: Target, outDir: string): Promise<void> {
  const total = await countPackages(target);
  const started = performance.now();
  console.error(`building ${target.binary} (${total} packages) …`);
  const child = new Deno.Command("go", {
    args: [
      "build",
      "-v",
      "-trimpath",
      "-tags",
      "selinux,notest,grpcnotrace",
      "-ldflags",
      ldflags(target),
      "-o",
      `${outDir}/${target.binary}`,
      target.pkg,
    ],
    cwd: `${here}${target.module}`,
    env: goEnv,
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  let done = 0;
  let lastReport = 0;
  const tail: string[] = [];
  const tty = Deno.stderr.isTerminal();
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
    const secs = Math.round((performance.now() - started) / 1000);
    if (tty) {
      await Deno.stderr.write(
        new TextEncoder().encode(
          `\r  ${target.binary}: ${done}/${total} packages (${pct}%) ${secs}s`,
        ),
      );
    } else if (pct >= lastReport + 10) {
      lastReport = pct - (pct % 10);
      console.error(`  ${target.binary}: ${done}/${total} packages (${pct}%) after ${secs}s`);
    }
  }
  const status = await child.status;
  if (tty) console.error("");
  if (!status.success) {
    console.error(tail.join("\n"));
    throw new Error(`Cannot build ${target.binary}: go build exited with code ${status.code}`);
  }
  const secs = Math.round((performance.now() - started) / 1000);
  console.error(`  ${target.binary}: built in ${secs}s`);
}

async function hasGo(): Promise<boolean> {
  try {
    const out = await new Deno.Command("go", { args: ["version"], env: goEnv }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const cacheDir = defaultBinaryCacheDir();
  const assets = Deno.env.get("KUBEBUILDER_ASSETS");
  const missing: Target[] = [];
  for (const target of TARGETS) {
    // Binaries brought by the user (KUBEBUILDER_ASSETS, ROPERATOR_CONTROLPLANE_DIR) are used as
    // they are; only the cache is checked for the pinned version.
    const userDirs = binarySearchPath().filter((d) => d !== cacheDir);
    let found: string | undefined;
    for (const dir of userDirs) {
      const version = await reportedVersion(`${dir}/${target.binary}`);
      if (version !== undefined) {
        found = `${dir}/${target.binary}`;
        if (!version.includes(target.expectVersion)) {
          console.error(
            `note: ${found} reports "${version.trim()}", not "${target.expectVersion}"; using it`,
          );
        }
        break;
      }
    }
    if (found === undefined) {
      const version = await reportedVersion(`${cacheDir}/${target.binary}`);
      if (version?.includes(target.expectVersion)) found = `${cacheDir}/${target.binary}`;
    }
    if (found !== undefined) console.error(`${target.binary}: ${found}`);
    else missing.push(target);
  }
  if (missing.length === 0) {
    console.log(cacheDir);
    return 0;
  }
  if (!(await hasGo())) {
    console.error(
      `Cannot build the control plane: ${missing.map((t) => t.binary).join(", ")} ` +
        `missing and no "go" command was found.\n` +
        `Either install Go 1.26 or later and run "deno task controlplane" again, or set ` +
        `KUBEBUILDER_ASSETS to a directory holding etcd and kube-apiserver (setup-envtest ` +
        `layout) and ROPERATOR_CONTROLPLANE_DIR to one holding kube-controller-manager.` +
        (assets ? `\nKUBEBUILDER_ASSETS is "${assets}".` : ""),
    );
    return 1;
  }
  await Deno.mkdir(cacheDir, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: cacheDir, prefix: ".build-" });
  try {
    for (const target of missing) {
      await build(target, staging);
      await Deno.rename(`${staging}/${target.binary}`, `${cacheDir}/${target.binary}`);
    }
  } finally {
    await Deno.remove(staging, { recursive: true });
  }
  console.log(cacheDir);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
