/**
 * The demo behind `deno task demo`: starts a local control plane, installs the EchoServer CRD,
 * runs the echo-server operator against it, creates a few EchoServers and shows them converge in
 * a live view. It keeps running until Ctrl-C; with `--once` it exits 0 as soon as everything has
 * converged (and 1 if that takes longer than two minutes).
 *
 * There is no kubelet in the local control plane, so Pods are created but never scheduled: the
 * status honestly reports them as Pending.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ClientConfig, k8s, startOperator } from "@roperator/core";
import { KubeClient, ResourceClient } from "@roperator/core/client";
import { installCustomResourceDefinitions, startControlPlane } from "@roperator/core/testkit";
import { config, type EchoServer, EchoServerType, sync } from "./operator.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { once: { type: "boolean", default: false }, count: { type: "string", default: "3" } },
});
const count = Number(values.count);
const tty = Deno.stdout.isTerminal();
const encoder = new TextEncoder();
const print = (line = "") => Deno.stdout.writeSync(encoder.encode(line + "\n"));

print("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager) …");
const cp = await startControlPlane();
print(`  ready in ${cp.startupMs} ms at ${cp.server}`);
print(`  kubeconfig: ${cp.kubeconfigPath}`);

const clientConfig: ClientConfig = cp.clientConfig;
const client = new KubeClient(clientConfig);
let operator: Awaited<ReturnType<typeof startOperator>> | undefined;
let exitCode = 0;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    print("\nStopping the operator and the control plane …");
    await operator?.stop();
    client.close();
    await cp.stop();
  }
  Deno.exit(code);
}
Deno.addSignalListener("SIGINT", () => void shutdown(0));
Deno.addSignalListener("SIGTERM", () => void shutdown(0));

try {
  print("Installing the EchoServer CRD …");
  await installCustomResourceDefinitions(client, [EchoServerType.crd()]);

  print(`Starting the operator "${config.name}" …`);
  operator = await startOperator(config, sync, { clientConfig });
  await operator.ready;

  const namespace = "demo";
  await new ResourceClient(client, k8s.core.v1.Namespace).create({ metadata: { name: namespace } });
  const parents = new ResourceClient(client, EchoServerType, namespace);
  for (let i = 1; i <= count; i++) {
    await parents.create({
      metadata: { name: `echo-${i}` },
      spec: { serviceName: `echo-${i}-svc` },
    } as EchoServer);
  }
  print(`Created ${count} EchoServers in namespace "${namespace}".\n`);

  const pods = new ResourceClient(client, k8s.core.v1.Pod, namespace);
  const services = new ResourceClient(client, k8s.core.v1.Service, namespace);
  const started = Date.now();
  let lastView = "";
  let linesShown = 0;
  let convergedAt: number | undefined;
  while (!stopping) {
    const list = (await parents.list()).items;
    const podNames = new Set((await pods.list()).items.map((p) => p.metadata!.name));
    const serviceNames = new Set((await services.list()).items.map((s) => s.metadata!.name));
    let done = 0;
    const rows = list.map((p) => {
      const status = p.status;
      const observed = (status as { observedGeneration?: number } | undefined)?.observedGeneration;
      const pod = podNames.has(`${p.metadata!.name}-echo`);
      const svc = serviceNames.has(p.spec?.serviceName ?? "");
      const ok = pod && svc && observed === p.metadata?.generation;
      if (ok) done++;
      return `  ${ok ? "✓" : "…"} ${p.metadata!.name!.padEnd(10)} pod ${pod ? "yes" : "no "}  ` +
        `service ${svc ? "yes" : "no "}  status ${status?.phase ?? "-"}: ${
          status?.message ?? "(none yet)"
        }`;
    });
    const converged = done === list.length && list.length === count;
    if (converged && convergedAt === undefined) convergedAt = Date.now();
    const writes = (["create", "update", "delete", "status", "finalizer"] as const)
      .map((kind) => `${kind} ${operator!.metrics.writes(kind)}`).join(", ");
    const header = converged
      ? `Converged: ${done}/${list.length} EchoServers in ${
        convergedAt! - started
      } ms (writes: ${writes})`
      : `Converging: ${done}/${list.length} EchoServers`;
    const view = [header, ...rows].join("\n");
    if (view !== lastView) {
      if (tty && linesShown > 0) {
        Deno.stdout.writeSync(encoder.encode(`\x1b[${linesShown}A\x1b[J`));
      }
      print(view);
      linesShown = view.split("\n").length;
      lastView = view;
    }
    if (converged && values.once) break;
    if (values.once && Date.now() - started > 120_000) {
      print("Not converged after 2 minutes.");
      exitCode = 1;
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  if (!values.once) print("\nRunning until Ctrl-C.");
} catch (error) {
  print(`Demo failed: ${error instanceof Error ? error.message : error}`);
  exitCode = 1;
}
if (values.once || exitCode !== 0) await shutdown(exitCode);
