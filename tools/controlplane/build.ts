/**
 * `deno task controlplane`: finds or provides the test control plane (etcd, kube-apiserver,
 * kube-controller-manager) the way the testkit does (`ensureControlPlaneBinaries`:
 * `KUBEBUILDER_ASSETS`, the cache, the envtest download, a Go build) and prints the cache
 * directory on its last line.
 *
 * Flags: `--no-download` builds etcd and kube-apiserver with Go instead of downloading them;
 * `--only etcd,kube-apiserver` provides only those.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type ControlPlaneBinary,
  defaultBinaryCacheDir,
  ensureControlPlaneBinaries,
  WITHOUT_CONTROLLER_MANAGER,
} from "../../testkit/binaries.ts";

const ALL: ControlPlaneBinary[] = ["etcd", "kube-apiserver", "kube-controller-manager"];

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "no-download": { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const need = values.only === undefined
    ? ALL
    : values.only.split(",").map((s) => s.trim()) as ControlPlaneBinary[];
  const unknown = need.filter((b) => !ALL.includes(b));
  if (unknown.length > 0) {
    console.error(`Cannot provide ${unknown.join(", ")}: not one of ${ALL.join(", ")}`);
    return 2;
  }
  const started = performance.now();
  const found = await ensureControlPlaneBinaries({
    need,
    ...(values["no-download"] ? { envtestIndexUrl: false as const } : {}),
  });
  if (need.includes("etcd")) console.error(`etcd: ${found.etcd}`);
  if (need.includes("kube-apiserver")) console.error(`kube-apiserver: ${found.kubeApiServer}`);
  if (need.includes("kube-controller-manager")) {
    if (found.kubeControllerManager === undefined) {
      console.error(
        `kube-controller-manager: missing (it is only built with Go); without it: ` +
          WITHOUT_CONTROLLER_MANAGER,
      );
    } else console.error(`kube-controller-manager: ${found.kubeControllerManager}`);
  }
  console.error(`ready after ${((performance.now() - started) / 1000).toFixed(1)}s`);
  console.log(defaultBinaryCacheDir());
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
