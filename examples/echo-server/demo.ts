/**
 * The demo behind `deno task demo`: starts a local control plane (or attaches to the one a test
 * run shares), installs the EchoServer CRD, runs the echo-server operator against it, creates a
 * few EchoServers and shows them converge. Then a tour shows the operator at work, each step with
 * the time it took and the writes it cost (`roperator_writes_total` by kind, read from the
 * operator's `/metrics`):
 *
 * 1. a parent's spec is edited: its Pod is recreated with the new image;
 * 2. a child is deleted: it is created again;
 * 3. a child is edited by hand: the edit is reverted;
 * 4. a parent is deleted: the finalizer runs, then the garbage collector removes the children.
 *
 * It ends with a ready-to-paste `kubectl` command against the kubeconfig it wrote, and keeps
 * running until Ctrl-C; with `--once` it exits 0 after the tour. Ctrl-C at any moment stops the
 * operator and the control plane and exits 0.
 *
 * There is no kubelet in the local control plane, so Pods are created but never scheduled: the
 * status honestly reports them as Pending.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { k8s, operatorConfig, type OperatorHandle, startOperator } from "@roperator/core";
import type { Pod, Service } from "@roperator/core/k8s";
import { KubeClient, ResourceClient } from "@roperator/core/client";
import {
  type ControlPlane,
  installCustomResourceDefinitions,
  SHARED_CONTROL_PLANE_ENV,
  testControlPlane,
} from "@roperator/core/testkit";
import { configInit, type EchoServer, EchoServerType, sync } from "./operator.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    once: { type: "boolean", default: false },
    count: { type: "string", default: "3" },
    namespace: { type: "string", default: "demo" },
  },
});
const count = Math.max(1, Number(values.count) || 3);
const namespace = values.namespace;
const tty = Deno.stdout.isTerminal();
const encoder = new TextEncoder();
function print(line = ""): void {
  try {
    Deno.stdout.writeSync(encoder.encode(line + "\n"));
  } catch { /* stdout closed: nothing to tell */ }
}

// Ctrl-C (or SIGTERM) at any moment: abort whatever step runs, then stop everything and exit 0.
const interrupt = new AbortController();
const interrupted = new Promise<void>((resolve) =>
  interrupt.signal.addEventListener("abort", () => resolve(), { once: true })
);
const onSignal = () => interrupt.abort();
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const shared = Deno.env.get(SHARED_CONTROL_PLANE_ENV) !== undefined;
let controlPlane: Promise<ControlPlane> | undefined;
let client: KubeClient | undefined;
let operator: OperatorHandle | undefined;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    interrupt.signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Polls until `probe` returns a value; throws "Cannot …" after `timeoutMs`. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!interrupt.signal.aborted) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Cannot see ${what} within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
  throw interrupt.signal.reason;
}

const WRITE_KINDS = ["create", "update", "delete", "status", "finalizer"] as const;
type Writes = Record<string, number>;

/** `roperator_writes_total` by kind, from the operator's `/metrics`. */
async function scrapeWrites(): Promise<Writes> {
  const res = await fetch(`http://127.0.0.1:${operator!.port}/metrics`, {
    signal: interrupt.signal,
  });
  const text = await res.text();
  const writes: Writes = Object.fromEntries(WRITE_KINDS.map((k) => [k, 0]));
  for (const m of text.matchAll(/^roperator_writes_total\{[^}]*kind="(\w+)"[^}]*\} (\d+)/gm)) {
    writes[m[1]!] = (writes[m[1]!] ?? 0) + Number(m[2]);
  }
  return writes;
}

/** Waits until the write counters stop moving (the operator is idle), and returns them. */
async function settledWrites(): Promise<Writes> {
  let last = JSON.stringify(await scrapeWrites());
  let stableSince = Date.now();
  const deadline = Date.now() + 5_000;
  while (!interrupt.signal.aborted && Date.now() - stableSince < 600 && Date.now() < deadline) {
    await sleep(100);
    const now = JSON.stringify(await scrapeWrites());
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
  }
  return JSON.parse(last);
}

function describeWrites(before: Writes, after: Writes): string {
  const parts = WRITE_KINDS
    .map((kind) => [kind, (after[kind] ?? 0) - (before[kind] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`);
  return parts.length ? parts.join(", ") : "none";
}

async function run(): Promise<void> {
  print(
    shared
      ? "Attaching to the test run's control plane …"
      : "Starting a local control plane (etcd, kube-apiserver, kube-controller-manager) …",
  );
  controlPlane = testControlPlane();
  const cp = await controlPlane;
  print(`  ready${shared ? "" : ` in ${cp.startupMs} ms`} at ${cp.server}`);
  client = new KubeClient(cp.clientConfig);

  print("Installing the EchoServer CRD …");
  await installCustomResourceDefinitions(client, [EchoServerType.crd()]);

  const config = operatorConfig({ ...configInit, namespace, finalizer: true, server: { port: 0 } });
  const finalized: string[] = [];
  print(`Starting the operator "${config.name}" in namespace "${namespace}" …`);
  await new ResourceClient(client, k8s.core.v1.Namespace).create({ metadata: { name: namespace } });
  operator = await startOperator(config, {
    sync,
    finalize: ({ parent }) => {
      finalized.push(parent.metadata!.name!);
      return {};
    },
  }, { clientConfig: cp.clientConfig });
  await operator.ready;

  const parents = new ResourceClient(client, EchoServerType, namespace);
  const pods = new ResourceClient(client, k8s.core.v1.Pod, namespace);
  const services = new ResourceClient(client, k8s.core.v1.Service, namespace);
  for (let i = 1; i <= count; i++) {
    await parents.create({
      metadata: { name: `echo-${i}` },
      spec: { serviceName: `echo-${i}-svc` },
    } as EchoServer);
  }
  print(`Created ${count} EchoServers.\n`);

  // Converge, with a live view.
  const started = Date.now();
  let lastView = "";
  let linesShown = 0;
  const showView = async (header: (done: number, total: number) => string) => {
    const list = (await parents.list()).items;
    const podNames = new Set((await pods.list()).items.map((p) => p.metadata!.name));
    const serviceNames = new Set((await services.list()).items.map((s) => s.metadata!.name));
    let done = 0;
    const rows = list.map((p) => {
      const status = p.status;
      const pod = podNames.has(`${p.metadata!.name}-echo`);
      const svc = serviceNames.has(p.spec?.serviceName ?? "");
      const ok = pod && svc && status?.observedGeneration === p.metadata?.generation;
      if (ok) done++;
      return `  ${ok ? "✓" : "…"} ${p.metadata!.name!.padEnd(10)} pod ${pod ? "yes" : "no "}  ` +
        `service ${svc ? "yes" : "no "}  status ${status?.phase ?? "-"}: ${
          status?.message ?? "(none yet)"
        }`;
    });
    const view = [header(done, list.length), ...rows].join("\n");
    if (view !== lastView) {
      if (tty && linesShown > 0) Deno.stdout.writeSync(encoder.encode(`\x1b[${linesShown}A\x1b[J`));
      print(view);
      linesShown = view.split("\n").length;
      lastView = view;
    }
    return { done, total: list.length };
  };
  while (true) {
    const { done, total } = await showView((done, total) => `Converging: ${done}/${total}`);
    if (done === count && total === count) break;
    if (Date.now() - started > 120_000) throw new Error("Cannot converge within 2 minutes");
    await sleep(200);
  }
  const convergedMs = Date.now() - started;
  const afterConverge = await settledWrites();
  print(
    `Converged: ${count}/${count} EchoServers in ${convergedMs} ms ` +
      `(writes: ${describeWrites({}, afterConverge)})`,
  );
  linesShown = 0;

  print("\nThe tour: what the operator does when things change.");
  let before = afterConverge;
  const step = async (title: string, result: string) => {
    const after = await settledWrites();
    print(`${title}\n   ${result}; writes: ${describeWrites(before, after)}`);
    before = after;
  };
  const name = "echo-1";
  const podName = `${name}-echo`;
  const serviceName = `${name}-svc`;

  // 1. Edit a parent.
  const image = "hashicorp/http-echo:1.0.1";
  let t0 = Date.now();
  await parents.patch(name, { spec: { image } });
  await until(`Pod "${podName}" with image ${image}`, async () => {
    const pod = await pods.find(podName) as Pod | undefined;
    return pod?.spec?.containers?.[0]?.image === image && !pod.metadata?.deletionTimestamp
      ? pod
      : undefined;
  });
  await step(
    `1. Edited EchoServer "${name}": spec.image = ${image}`,
    `its Pod was recreated with the new image (update strategy Recreate) in ${Date.now() - t0} ms`,
  );

  // 2. Delete a child.
  const oldService = await services.get(serviceName);
  t0 = Date.now();
  await services.delete(serviceName);
  await until(`Service "${serviceName}" created again`, async () => {
    const svc = await services.find(serviceName);
    return svc && svc.metadata?.uid !== oldService.metadata?.uid ? svc : undefined;
  });
  await step(
    `2. Deleted Service "${serviceName}" by hand`,
    `the operator created it again in ${Date.now() - t0} ms`,
  );

  // 3. Edit a child by hand.
  t0 = Date.now();
  await services.patch(serviceName, [{ op: "replace", path: "/spec/ports/0/port", value: 8080 }], {
    type: "json",
  });
  await until(`Service "${serviceName}" back on port 80`, async () => {
    const svc = await services.find(serviceName) as Service | undefined;
    return svc?.spec?.ports?.[0]?.port === 80 ? svc : undefined;
  });
  await step(
    `3. Edited Service "${serviceName}" by hand: port 80 → 8080`,
    `the operator put port 80 back (update strategy Replace) in ${Date.now() - t0} ms`,
  );

  // 4. Delete a parent.
  t0 = Date.now();
  await parents.delete(name);
  await until(
    `EchoServer "${name}" gone`,
    async () => (await parents.find(name)) === undefined ? true : undefined,
  );
  const parentGoneMs = Date.now() - t0;
  await until(`the children of "${name}" garbage-collected`, async () => {
    const [pod, svc] = await Promise.all([pods.find(podName), services.find(serviceName)]);
    return pod === undefined && svc === undefined ? true : undefined;
  });
  const collectedMs = Date.now() - t0;
  await step(
    `4. Deleted EchoServer "${name}"`,
    `finalize ran (${finalized.includes(name) ? "once" : "not seen"}) and the finalizer ` +
      `${config.finalizer} came off: gone after ${parentGoneMs} ms; the garbage collector ` +
      `removed its Pod and Service after ${collectedMs} ms` +
      (collectedMs > 5_000
        ? " (it learns new custom resource types only every 30 s, so the first time is slow)"
        : ""),
  );

  print("\nWatch it yourself, in another terminal:");
  print(`  export KUBECONFIG=${cp.kubeconfigPath}`);
  print(`  kubectl get echoservers,pods,services -n ${namespace}`);
  print(
    `  kubectl patch echoserver echo-${count > 1 ? 2 : 1} -n ${namespace} --type merge ` +
      `-p '{"spec":{"image":"${image}"}}'`,
  );
  print(`  curl -s http://127.0.0.1:${operator.port}/metrics | grep roperator_writes_total`);
  if (count === 1) print(`  (echo-1 was deleted by the tour: create another one first)`);
  if (values.once) {
    print("(with --once the control plane stops now: run without --once to keep it)");
  }
  if (!values.once) {
    print("\nRunning until Ctrl-C.");
    await interrupted;
  } else if (shared) {
    // Leave the shared control plane as it was found: the finalizers run while the operator does.
    for (let i = 2; i <= count; i++) await parents.delete(`echo-${i}`);
    await until(
      "the other EchoServers gone",
      async () => (await parents.list()).items.length === 0 ? true : undefined,
    );
    await new ResourceClient(client, k8s.core.v1.Namespace).delete(namespace);
  }
}

let code = 0;
try {
  await Promise.race([run(), interrupted]);
} catch (error) {
  if (!interrupt.signal.aborted) {
    print(`Demo failed: ${error instanceof Error ? error.message : error}`);
    code = 1;
  }
}
print(interrupt.signal.aborted ? "\nStopping (Ctrl-C) …" : "\nStopping …");
await operator?.stop().catch(() => {});
client?.close();
await controlPlane?.then((cp) => cp.stop()).catch(() => {});
print("Stopped.");
Deno.exit(code);
