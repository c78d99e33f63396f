/**
 * `deno task cluster`: a local control plane (etcd, kube-apiserver, kube-controller-manager on
 * loopback ports) that stays up for `kubectl` and for running an operator by hand. It prints the
 * kubeconfig path and an `export KUBECONFIG=…` line, and stops everything (and removes its
 * directory) on Ctrl-C or SIGTERM, exiting 0.
 *
 * There is no kubelet and no scheduler: Pods are stored but never run.
 *
 * @module
 */
import { startControlPlane } from "../testkit/control_plane.ts";

const encoder = new TextEncoder();
const print = (line = "") => Deno.stdout.writeSync(encoder.encode(line + "\n"));

let stopRequested: () => void = () => {};
const stopSignal = new Promise<void>((resolve) => stopRequested = resolve);
let stopping = false;
const onSignal = () => {
  if (stopping) return;
  stopping = true;
  stopRequested();
};
// Listen before the start, so that a Ctrl-C during it still stops what was started.
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

print("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager) …");
let cp;
try {
  cp = await startControlPlane();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
print(`Ready in ${cp.startupMs} ms at ${cp.server}`);
print(
  `Processes: ${Object.entries(cp.pids).map(([name, pid]) => `${name} ${pid}`).join(", ")}`,
);
print(`Kubeconfig: ${cp.kubeconfigPath}`);
print("");
print("In another terminal:");
print(`  export KUBECONFIG=${cp.kubeconfigPath}`);
print("  kubectl get namespaces");
print(
  "  kubectl apply -f examples/echo-server/crd.yaml && deno run -A examples/echo-server/main.ts",
);
print("  (or your own operator: it reads KUBECONFIG like kubectl)");
print("");
print("Ctrl-C stops the control plane and deletes its data.");

await stopSignal;
print("\nStopping the control plane …");
await cp.stop();
print("Stopped.");
Deno.exit(0);
