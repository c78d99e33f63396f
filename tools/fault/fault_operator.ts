/**
 * The operator of the fault suite, as a module (its type, handler and config) and as a program
 * run in a subprocess by the SIGTERM test and by `tools/soak.ts`:
 *
 * ```sh
 * deno run <permission flags> tools/fault/fault_operator.ts [--handler-delay-ms N] \
 *   [--memory-every-ms N] -- <operator flags: --kubeconfig, --namespace, --port, ...>
 * ```
 *
 * `--handler-delay-ms` makes every sync take that long (so a signal finds syncs in flight);
 * `--memory-every-ms` prints `Deno.memoryUsage()` as a JSON line on stdout that often.
 *
 * @module
 */
import { type KubernetesObject, resourceType } from "../../client/resource_type.ts";
import { sleep } from "../../client/_util.ts";
import type { OperatorConfigInit } from "../../config/operator_config.ts";
import { k8s } from "../../config/resource_types.ts";
import type { SyncRequest, SyncResponse } from "../../handler/handler.ts";
import { operatorMain } from "../../runner/cli.ts";

/** The parent type of the fault suite. */
export const FaultParent = resourceType<FaultParentObject>({
  apiVersion: "fault.roperator.dev/v1",
  kind: "FaultParent",
  plural: "faultparents",
  namespaced: true,
});

/** What a parent asks for. */
export interface FaultSpec {
  /** How many ConfigMap children (default 1). */
  children?: number;
  /** Copied into every child and into the status. */
  value?: string;
}

/** The status the fault handler writes. */
export interface FaultStatus {
  /** How many children were desired. */
  children?: number;
  /** The spec's value. */
  value?: string;
  /** Set by the runtime. */
  observedGeneration?: number;
}

/** A FaultParent object. */
export interface FaultParentObject extends KubernetesObject {
  /** What it asks for. */
  spec?: FaultSpec;
  /** What the operator reports. */
  status?: FaultStatus;
}

/** The operator's name: its field manager, ownership label value and finalizer. */
export const OPERATOR_NAME = "fault-operator";

/**
 * The ConfigMaps a parent should have: `<name>-c<i>` for each of `spec.children`.
 *
 * @param parent the parent
 * @returns the desired children, without the labels and owner reference the runtime adds
 */
export function desiredChildren(parent: FaultParentObject): KubernetesObject[] {
  const name = parent.metadata!.name!;
  const count = parent.spec?.children ?? 1;
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${name}-c${i}` },
    data: { value: parent.spec?.value ?? "", index: String(i) },
  }));
}

/**
 * The well-behaved handler: the desired children and a status saying how many there are.
 *
 * @param request the parent and its children
 * @returns the desired state
 */
export function faultHandler(request: SyncRequest<FaultParentObject>): SyncResponse {
  const { parent } = request;
  return {
    status: { children: parent.spec?.children ?? 1, value: parent.spec?.value ?? "" },
    children: desiredChildren(parent),
  };
}

/**
 * The operator's settings: the FaultParent with ConfigMap children, no finalizer, short error
 * backoff so faults heal within a test.
 */
export const faultConfigInit: OperatorConfigInit = {
  name: OPERATOR_NAME,
  parent: FaultParent,
  children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
  finalizer: false,
  maxErrorBackoffMs: 5_000,
};

/** One line of `--memory-every-ms` output. */
export interface MemorySample {
  /** Milliseconds since the epoch. */
  t: number;
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap used, bytes. */
  heapUsed: number;
  /** V8 heap total, bytes. */
  heapTotal: number;
  /** Memory of JavaScript objects bound to native ones (buffers), bytes. */
  external: number;
}

function flag(args: string[], name: string): number | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`Cannot run the fault operator: ${name} needs a number of milliseconds`);
  }
  return value;
}

if (import.meta.main) {
  const split = Deno.args.indexOf("--");
  const own = split < 0 ? [] : Deno.args.slice(0, split);
  const rest = split < 0 ? Deno.args : Deno.args.slice(split + 1);
  const delayMs = flag(own, "--handler-delay-ms") ?? 0;
  const memoryEveryMs = flag(own, "--memory-every-ms");
  if (memoryEveryMs) {
    const report = () => {
      const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
      const sample: MemorySample = { t: Date.now(), rss, heapUsed, heapTotal, external };
      console.log(JSON.stringify(sample));
    };
    report();
    setInterval(report, memoryEveryMs);
  }
  const handler = delayMs
    ? async (request: SyncRequest<FaultParentObject>): Promise<SyncResponse> => {
      await sleep(delayMs);
      return faultHandler(request);
    }
    : faultHandler;
  Deno.exit(await operatorMain(faultConfigInit, handler, { args: rest }));
}
