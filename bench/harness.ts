/**
 * The workload benchmarks: converge, steady state, latency, start-up, memory and watch decoding,
 * each measured for the operator under test ("ours"), the API floor and the Node peer in the
 * same run, on a private control plane (etcd, kube-apiserver, kube-controller-manager).
 *
 * ```sh
 * deno task bench                                                    # everything (≈ 5 min)
 * deno run -A bench/harness.ts --only converge,latency --parents 100   # a quick check
 * ```
 *
 * Flags:
 *
 * - `--only <list>`: workloads among decode, converge, steady, latency, startup, memory, large;
 * - `--parents <n>`: parents of converge, steady state and latency (default 500); start-up uses
 *   2n parents (`--startup-parents`), memory 20n ConfigMaps (`--memory-objects`);
 * - `--rounds <n>` (converge, default 5), `--edits <n>` (latency, default 200),
 *   `--startup-runs <n>` (default 5);
 * - `--contenders <list>`: among ours, floor, node (default all three);
 * - `--log-level <level>`: the operator's (default info, as `operatorMain`'s);
 * - `--v8-flags <list>`: V8 flags for the operator, the floor and the hello-world (memory),
 *   instead of the flags an operator binary is compiled with (`OPERATOR_V8_FLAGS` of
 *   `deploy/v8_flags.ts`, the default); `none` for V8's defaults;
 * - `--cpu-prof`: profile the operator and the floor into the run's directory (summarise with
 *   `bench/profile_summary.ts`);
 * - `--doc` / `--no-doc`: rewrite the figures in BENCHMARKS.md (by default only a complete run
 *   at full scale does);
 * - `--keep`: keep every log and the control plane's directory; `--verbose`: log every step;
 *   `--timeout-minutes <n>`: the whole run's deadline (default 40).
 *
 * Output: a table on stdout, the raw results in `bench/results/<timestamp>.json`, and the logs of
 * every process in `bench/results/<timestamp>/` (removed after a run without failures unless
 * `--keep`). Every subprocess is stopped on an error, Ctrl-C or the deadline.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { k8s, type KubernetesObject, type ResourceType } from "../mod.ts";
import { KubeClient, ResourceClient } from "../client/mod.ts";
import {
  type ControlPlane,
  installCustomResourceDefinitions,
  parsePrometheusText,
  startControlPlane,
  testCustomResourceDefinition,
} from "../testkit/mod.ts";
import { OPERATOR_V8_FLAGS } from "../deploy/v8_flags.ts";
import { floorConverge } from "./floor.ts";
import {
  scrapeWrites,
  totalWrites,
  type WriteCounts,
  writesBetween,
} from "./lib/apiserver_writes.ts";
import {
  BENCH_DIR,
  type Contender,
  type ContenderName,
  type ContenderOptions,
  PEERS_DIR,
  REPO_DIR,
  type ReportedMemory,
  startContender,
  startHello,
  waitIdle,
  waitReady,
} from "./lib/contenders.ts";
import { describeMachine, type MachineInfo, machineInfo } from "./lib/machine.ts";
import { NamespaceObserver } from "./lib/observer.ts";
import { forEachConcurrent } from "./lib/pool.ts";
import { procCpuMs, type ProcMemory, procMemory, stopAllProcesses } from "./lib/processes.ts";
import {
  formatMiB,
  formatMs,
  formatRatio,
  markdownTable,
  median,
  quantile,
  textTable,
} from "./lib/stats.ts";
import {
  type BenchParentSpec,
  BenchParentType,
  OPERATOR_NAME,
  OWNERSHIP_LABEL,
  TRACKING_LABEL,
} from "./workload.ts";

/** The workloads, in the order they run. */
export const WORKLOADS = [
  "decode",
  "converge",
  "steady",
  "latency",
  "startup",
  "memory",
  "large",
] as const;
/** A workload's name. */
export type WorkloadName = typeof WORKLOADS[number];

/** The harness's settings. */
export interface HarnessOptions {
  /** The workloads to run. */
  only: Set<WorkloadName>;
  /** The contenders to run. */
  contenders: ContenderName[];
  /** Parents of the converge, steady-state and latency workloads. */
  parents: number;
  /** Converge rounds per contender. */
  rounds: number;
  /** Latency edits per contender. */
  edits: number;
  /** Parents present at start-up (each with 2 children). */
  startupParents: number;
  /** Start-up runs per contender. */
  startupRuns: number;
  /** Cached children of the memory workload. */
  memoryObjects: number;
  /** The operator's log level. */
  logLevel: string;
  /** Profile the operator and the floor. */
  cpuProf: boolean;
  /** V8 flags of the Deno contenders and the hello-world. */
  v8Flags: string[];
  /** Update BENCHMARKS.md. */
  doc: boolean;
  /** Keep logs and the control plane's directory. */
  keep: boolean;
  /** Log every step. */
  verbose: boolean;
  /** The whole run's deadline, in minutes. */
  timeoutMinutes: number;
}

const FULL_SCALE_PARENTS = 500;

/**
 * Parses the command line.
 *
 * @param args the arguments
 * @returns the settings
 * @throws {TypeError} on an unknown workload or contender, or a bad number
 */
export function parseHarnessArgs(args: string[]): HarnessOptions {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      contenders: { type: "string", default: "ours,floor,node" },
      parents: { type: "string", default: String(FULL_SCALE_PARENTS) },
      rounds: { type: "string", default: "5" },
      edits: { type: "string", default: "200" },
      "startup-runs": { type: "string", default: "5" },
      "startup-parents": { type: "string" },
      "memory-objects": { type: "string" },
      "log-level": { type: "string", default: "info" },
      "cpu-prof": { type: "boolean", default: false },
      "v8-flags": { type: "string", default: "" },
      doc: { type: "boolean" },
      "no-doc": { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      "timeout-minutes": { type: "string", default: "40" },
    },
  });
  const positive = (name: string, text: string | undefined): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer`);
    return n;
  };
  const only = new Set<WorkloadName>();
  for (const item of (values.only ?? WORKLOADS.join(",")).split(",").map((s) => s.trim())) {
    if (!item) continue;
    if (!(WORKLOADS as readonly string[]).includes(item)) {
      throw new TypeError(`--only: unknown workload "${item}" (known: ${WORKLOADS.join(", ")})`);
    }
    only.add(item as WorkloadName);
  }
  const contenders: ContenderName[] = [];
  for (const item of values.contenders!.split(",").map((s) => s.trim())) {
    if (item !== "ours" && item !== "floor" && item !== "node") {
      throw new TypeError(`--contenders: unknown contender "${item}" (known: ours, floor, node)`);
    }
    contenders.push(item);
  }
  const parents = positive("parents", values.parents);
  const complete = only.size === WORKLOADS.length && parents === FULL_SCALE_PARENTS &&
    contenders.length === 3 && values["startup-parents"] === undefined && !values["v8-flags"] &&
    values["memory-objects"] === undefined;
  return {
    only,
    contenders,
    parents,
    rounds: positive("rounds", values.rounds),
    edits: positive("edits", values.edits),
    startupParents: values["startup-parents"] === undefined
      ? 2 * parents
      : positive("startup-parents", values["startup-parents"]),
    startupRuns: positive("startup-runs", values["startup-runs"]),
    memoryObjects: values["memory-objects"] === undefined
      ? 20 * parents
      : positive("memory-objects", values["memory-objects"]),
    logLevel: values["log-level"]!,
    cpuProf: values["cpu-prof"]!,
    // The flags an operator binary is compiled with, unless replaced ("none": V8's defaults).
    v8Flags: values["v8-flags"] === ""
      ? [...OPERATOR_V8_FLAGS]
      : values["v8-flags"] === "none"
      ? []
      : values["v8-flags"]!.split(",").map((f) => f.trim()).filter((f) => f !== ""),
    doc: values["no-doc"] ? false : values.doc ?? complete,
    keep: values.keep!,
    verbose: values.verbose!,
    timeoutMinutes: positive("timeout-minutes", values["timeout-minutes"]),
  };
}

// ---------------------------------------------------------------------------------------------
// Results

/** One converge run. */
export interface ConvergeSample {
  /** Which contender. */
  contender: ContenderName;
  /** The round. */
  round: number;
  /** Milliseconds from the spawn to the watch event that completed convergence. */
  ms: number;
  /** CPU time of the contender's process until then, in ms. */
  cpuMs: number;
  /** Writes kube-apiserver counted until the contender was idle, by verb and resource. */
  writes: WriteCounts;
}

/** Steady-state writes of one contender. */
export interface SteadySample {
  /** Which contender. */
  contender: ContenderName;
  /** Writes by the operator after a restart, until idle + 2 s. */
  afterRestart: WriteCounts;
  /** Writes by the operator after every parent was touched, until idle + 2 s. */
  afterTouch: WriteCounts;
  /** The harness's own annotation patches in the touch window (subtracted). */
  touches: number;
}

/** Latency samples of one contender. */
export interface LatencySample {
  /** Which contender. */
  contender: ContenderName;
  /** Milliseconds from sending each edit to the watch event of the ConfigMap showing it. */
  samples: number[];
  /** The median. */
  p50: number;
  /** The 99th percentile (nearest rank). */
  p99: number;
  /** The largest. */
  max: number;
}

/** Start-up of one contender. */
export interface StartupSample {
  /** Which contender. */
  contender: ContenderName;
  /** Milliseconds from the spawn to `/ready` answering 200, per run. */
  samples: number[];
  /** The median. */
  median: number;
}

/** A memory reading of one contender. */
export interface MemorySample {
  /** Which contender. */
  contender: ContenderName;
  /** `"idle"` (nothing cached) or `"loaded"`. */
  state: "idle" | "loaded";
  /** Objects cached. */
  objects: number;
  /** RSS and peak RSS from /proc 3 s after the contender is idle, as it runs. */
  beforeGc: ProcMemory;
  /**
   * RSS and peak RSS from /proc after a full "last-resort" GC (which also returns the heap's
   * free pages): the memory the process keeps.
   */
  afterGc: ProcMemory;
  /** What the process reported after the GC. */
  reported: ReportedMemory;
}

/** The bare hello-world's idle memory, under the operator's flags: the floor of idle RSS. */
export interface HelloSample {
  /** RSS and peak RSS from /proc 3 s after it answered `/ready`. */
  beforeGc: ProcMemory;
  /** RSS and peak RSS from /proc after a full "last-resort" GC. */
  afterGc: ProcMemory;
  /** What the process reported after the GC. */
  reported: ReportedMemory;
}

/** Large objects: a few parents of hundreds of kB each, cached. */
export interface LargeSample {
  /** Which contender. */
  contender: ContenderName;
  /** Parents. */
  parents: number;
  /** Bytes of payload per parent. */
  bytesPerParent: number;
  /** `roperator_cached_bytes`, summed over the types: the JSON size of the caches. */
  cachedBytes: number;
  /** RSS and peak RSS from /proc 3 s after the contender is idle, as it runs. */
  beforeGc: ProcMemory;
  /** RSS and peak RSS from /proc after a full GC. */
  afterGc: ProcMemory;
  /** What the process reported after the GC. */
  reported: ReportedMemory;
}

/** Watch decoding. */
export interface DecodeResult {
  /** The micro-benchmarks `deno bench --json` reported. */
  benches: Array<{ name: string; avgNs: number; eventsPerSecond?: number }>;
  /** Events per second of the library's decoder, in 64 KiB chunks. */
  ours?: number;
  /** Events per second of splitting lines and `JSON.parse` alone, in 64 KiB chunks. */
  floor?: number;
  /** Events per second of `watchPath`, one event per chunk. */
  streamOurs?: number;
  /** Events per second of a plain reader, `TextDecoder` and `JSON.parse`, one per chunk. */
  streamFloor?: number;
}

/** Everything a run measured. */
export interface BenchResults {
  /** When the run started (ISO). */
  startedAt: string;
  /** The command line. */
  command: string;
  /** The settings. */
  options: Omit<HarnessOptions, "only"> & { only: WorkloadName[] };
  /** The machine. */
  machine: MachineInfo;
  /** Milliseconds the control plane took to start. */
  controlPlaneStartupMs?: number;
  /** Converge runs. */
  converge: ConvergeSample[];
  /** Steady-state writes. */
  steady: SteadySample[];
  /** Latency. */
  latency: LatencySample[];
  /** Start-up. */
  startup: StartupSample[];
  /** Memory. */
  memory: MemorySample[];
  /** The hello-world's idle memory (with the memory or large workload). */
  hello?: HelloSample;
  /** Large objects. */
  large?: LargeSample[];
  /** Watch decoding. */
  decode?: DecodeResult;
  /** Workloads that failed, with the error. */
  errors: Array<{ workload: string; contender?: string; error: string }>;
  /** The report table's rows. */
  table?: string[][];
  /** How long the whole run took, in ms. */
  durationMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function log(message: string): void {
  const time = new Date().toISOString().slice(11, 23);
  console.error(`[${time}] ${message}`);
}

let verbose = false;
/** Set on Ctrl-C, SIGTERM or the run's deadline: the cleanup owns the exit from then on. */
let interrupted = false;
function debug(message: string): void {
  if (verbose) log(message);
}

/** Scheduling of contenders across rounds: a rotation, so no contender always goes first. */
function rotation<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  return items.map((_, i) => items[(i + round) % n]!);
}

interface Env {
  options: HarnessOptions;
  cp: ControlPlane;
  client: KubeClient;
  runDir: string;
  results: BenchResults;
  signal: AbortSignal;
  /** Namespaces converged by each contender (from the converge workload or a fixture). */
  converged: Map<ContenderName, string>;
}

const PARENT_RESOURCES = ["configmaps", "services", BenchParentType.plural];

function contenderOptions(env: Env, namespace: string, label: string): ContenderOptions {
  return {
    kubeconfigPath: env.cp.kubeconfigPath,
    namespace,
    logDir: env.runDir,
    label,
    logLevel: env.options.logLevel,
    ...(env.options.cpuProf
      ? { runtimeFlags: ["--cpu-prof", `--cpu-prof-dir=${env.runDir}/profiles/${label}`] }
      : {}),
    ...(env.options.v8Flags.length ? { v8Flags: env.options.v8Flags } : {}),
  };
}

async function createNamespace(client: KubeClient, name: string): Promise<void> {
  const namespaces = new ResourceClient(client, k8s.core.v1.Namespace as ResourceType);
  await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  // The namespace controller has nothing to do here; the service-account controller adds
  // "default" shortly after, which the benchmarks do not need.
}

function parentName(i: number): string {
  return `p-${String(i).padStart(5, "0")}`;
}

async function createParents(env: Env, namespace: string, count: number): Promise<void> {
  const parents = new ResourceClient(env.client, BenchParentType, namespace);
  await forEachConcurrent(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
    await parents.create({
      apiVersion: BenchParentType.apiVersion,
      kind: BenchParentType.kind,
      metadata: { name: parentName(i), namespace },
      spec: { value: "v0" },
    });
  });
}

async function stopContender(contender: Contender | undefined): Promise<void> {
  if (!contender) return;
  debug(`stopping ${contender.process.name}`);
  await contender.process.stop(10_000);
  debug(`stopped ${contender.process.name}`);
}

async function stopObserver(observer: NamespaceObserver): Promise<void> {
  if (!await observer.stop()) {
    // The library's watch does not always end on abort (see BENCHMARKS.md, "Findings"); the
    // observer's watches then end at their server-side timeout.
    debug("the observer's watches did not close within 5 s");
  }
}

/** Waits for the control plane to digest a burst of set-up writes (GC graph, watch fan-out). */
async function settle(ms = 1500): Promise<void> {
  await sleep(ms);
}

// ---------------------------------------------------------------------------------------------
// Workloads

async function runDecode(results: BenchResults, signal: AbortSignal): Promise<void> {
  log("decode: deno bench --json bench/");
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "--json", BENCH_DIR],
    cwd: REPO_DIR,
    stdout: "piped",
    stderr: "inherit",
    signal,
  }).output();
  if (!result.success) throw new Error(`deno bench failed (exit ${result.code})`);
  const report = JSON.parse(new TextDecoder().decode(result.stdout)) as {
    benches: Array<{ name: string; results: Array<{ ok?: { avg: number } }> }>;
  };
  const decode: DecodeResult = { benches: [] };
  for (const bench of report.benches) {
    const avgNs = bench.results[0]?.ok?.avg;
    if (avgNs === undefined) continue;
    const count = bench.name.match(/([\d,]+) watch (?:events|lines)/)?.[1];
    const events = count ? Number(count.replaceAll(",", "")) : undefined;
    const eventsPerSecond = events ? events / (avgNs / 1e9) : undefined;
    decode.benches.push({
      name: bench.name,
      avgNs,
      ...(eventsPerSecond ? { eventsPerSecond } : {}),
    });
    if (!eventsPerSecond) continue;
    if (/^decode /.test(bench.name)) decode.ours = eventsPerSecond;
    else if (/^floor: split/.test(bench.name)) decode.floor = eventsPerSecond;
    else if (/^watchPath/.test(bench.name)) decode.streamOurs = eventsPerSecond;
    else if (/^floor: reader/.test(bench.name)) decode.streamFloor = eventsPerSecond;
  }
  results.decode = decode;
}

async function runConverge(env: Env): Promise<void> {
  const { parents, rounds } = env.options;
  const contenders = env.options.contenders;
  for (let round = 0; round < rounds; round++) {
    for (const name of rotation(contenders, round)) {
      const namespace = `converge-${name}-${round}`;
      debug(`${namespace}: creating ${parents} parents`);
      await createNamespace(env.client, namespace);
      await createParents(env, namespace, parents);
      debug(`${namespace}: starting the observer`);
      const observer = new NamespaceObserver(env.client, namespace);
      await observer.start();
      await settle();
      debug(`${namespace}: starting ${name}`);
      const before = await scrapeWrites(env.cp.adminFetch, PARENT_RESOURCES);
      const contender = startContender(
        name,
        contenderOptions(env, namespace, `converge-${round}`),
        "converge",
      );
      try {
        const exited = new AbortController();
        contender.process.status.then((s) => {
          if (name !== "floor" || !s.success) exited.abort(`it exited with code ${s.code}`);
        });
        const at = await observer.waitConverged(
          parents,
          Math.max(120_000, parents * 300),
          AbortSignal.any([exited.signal, env.signal]),
        );
        const ms = at - contender.process.startedAt;
        let cpuMs = contender.process.exited ? NaN : await procCpuMs(contender.process.pid);
        debug(`${namespace}: converged; waiting until ${name} is idle`);
        if (name === "floor") {
          await contender.process.status;
          // The floor may exit before its last write is seen: it reports its own CPU time.
          if (!Number.isFinite(cpuMs)) cpuMs = await reportedCpuMs(contender.process.logPath);
        } else {
          await waitIdle(contender, parents);
        }
        await sleep(1000);
        const writes = writesBetween(
          before,
          await scrapeWrites(env.cp.adminFetch, PARENT_RESOURCES),
        );
        env.results.converge.push({ contender: name, round, ms, cpuMs, writes });
        log(
          `converge ${name} round ${round}: ${formatMs(ms)} (cpu ${formatMs(cpuMs)}, ` +
            `${totalWrites(writes)} writes)`,
        );
        if (round === 0) env.converged.set(name, namespace);
      } finally {
        await stopContender(contender);
        await stopObserver(observer);
      }
    }
  }
}

/** The CPU time the floor printed on its last line, in ms. */
async function reportedCpuMs(logPath: string): Promise<number> {
  try {
    const lines = (await Deno.readTextFile(logPath)).trim().split("\n");
    const value = JSON.parse(lines[lines.length - 1]!).cpuMs;
    return typeof value === "number" ? value : NaN;
  } catch {
    return NaN;
  }
}

/** A namespace with `parents` converged parents for a contender, made now if needed. */
async function convergedNamespace(env: Env, name: ContenderName): Promise<string> {
  const existing = env.converged.get(name);
  if (existing) return existing;
  const namespace = `fixture-${name}`;
  log(`preparing ${env.options.parents} converged parents for ${name}`);
  await createNamespace(env.client, namespace);
  await createParents(env, namespace, env.options.parents);
  const observer = new NamespaceObserver(env.client, namespace);
  await observer.start();
  const contender = startContender(name, contenderOptions(env, namespace, "fixture"), "converge");
  try {
    await observer.waitConverged(env.options.parents, Math.max(120_000, env.options.parents * 300));
    if (name === "floor") await contender.process.status;
  } finally {
    await stopContender(contender);
    await stopObserver(observer);
  }
  env.converged.set(name, namespace);
  return namespace;
}

/** The writes attributable to the operator: all counted writes minus the harness's touches. */
function operatorWrites(counts: WriteCounts, touches: number): WriteCounts {
  const result = { ...counts };
  const key = `PATCH ${BenchParentType.plural}`;
  if (touches > 0) {
    result[key] = (result[key] ?? 0) - touches;
    if (result[key] === 0) delete result[key];
  }
  return result;
}

async function runSteadyAndLatency(env: Env): Promise<void> {
  const { parents, edits } = env.options;
  const steady = env.options.only.has("steady");
  const latency = env.options.only.has("latency");
  for (const name of env.options.contenders) {
    if (name === "floor" && !latency) continue;
    const namespace = await convergedNamespace(env, name);
    const observer = new NamespaceObserver(env.client, namespace);
    await observer.start();
    if (observer.convergedCount < parents) {
      throw new Error(`${namespace} has ${observer.convergedCount}/${parents} converged parents`);
    }
    let contender: Contender | undefined;
    try {
      const scrape = () => scrapeWrites(env.cp.adminFetch, PARENT_RESOURCES);
      if (name !== "floor") {
        // Restart: a new process lists everything and syncs every parent.
        const beforeRestart = await scrape();
        contender = startContender(name, contenderOptions(env, namespace, "steady"));
        await waitReady(contender);
        let state = await waitIdle(contender, parents);
        await sleep(2000);
        const afterRestart = writesBetween(beforeRestart, await scrape());
        // Touch: an annotation on every parent (no generation change) makes every parent sync.
        const beforeTouch = await scrape();
        const client = new ResourceClient(env.client, BenchParentType, namespace);
        const syncsBefore = state.syncs;
        await forEachConcurrent(observer.parents(), 16, async (parent) => {
          await client.patch(parent.metadata!.name!, {
            metadata: { annotations: { "bench.roperator.dev/touched": String(Date.now()) } },
          }, { namespace });
        });
        state = await waitIdle(contender, syncsBefore + parents);
        await sleep(2000);
        const afterTouch = operatorWrites(writesBetween(beforeTouch, await scrape()), parents);
        if (steady) {
          env.results.steady.push({ contender: name, afterRestart, afterTouch, touches: parents });
          log(
            `steady ${name}: ${totalWrites(afterRestart)} writes after restart, ` +
              `${totalWrites(afterTouch)} after touching ${parents} parents`,
          );
        }
      } else {
        contender = startContender(name, contenderOptions(env, namespace, "latency"), "latency");
        await waitReady(contender);
      }
      if (latency) {
        const client = new ResourceClient(env.client, BenchParentType, namespace);
        const names = observer.parents().map((p) => p.metadata!.name!);
        const samples: number[] = [];
        const exited = new AbortController();
        contender.process.status.then((s) => exited.abort(`it exited with code ${s.code}`));
        const signal = AbortSignal.any([exited.signal, env.signal]);
        for (let i = 0; i < edits; i++) {
          // Spread the edits over the parents (a stride coprime with most counts).
          const parent = names[(i * 7) % names.length]!;
          const value = `${name}-edit-${i}`;
          const started = performance.now();
          const shown = observer.waitConfigMapValue(parent, value, 30_000, signal);
          await client.patch(parent, { spec: { value } }, { namespace });
          samples.push(await shown - started);
          // One at a time: let the rest of this sync (the status) land before the next edit.
          if (name !== "floor") {
            await observer.waitFor(
              `${parent} converged`,
              () => observer.isConverged(parent),
              30_000,
              signal,
            );
          }
        }
        const sample: LatencySample = {
          contender: name,
          samples: samples.map((s) => Math.round(s * 100) / 100),
          p50: quantile(samples, 0.5),
          p99: quantile(samples, 0.99),
          max: Math.max(...samples),
        };
        env.results.latency.push(sample);
        log(`latency ${name}: p50 ${formatMs(sample.p50)}, p99 ${formatMs(sample.p99)}`);
      }
    } finally {
      await stopContender(contender);
      await stopObserver(observer);
    }
  }
}

async function runStartup(env: Env): Promise<void> {
  const { startupParents, startupRuns } = env.options;
  const namespace = "startup";
  log(`startup: preparing ${startupParents} parents and ${2 * startupParents} children`);
  await createNamespace(env.client, namespace);
  await createParents(env, namespace, startupParents);
  await floorConverge({ client: env.client, namespace, concurrency: 16 });
  await settle(3000);
  const samples = new Map<ContenderName, number[]>();
  for (let run = 0; run < startupRuns; run++) {
    for (const name of rotation(env.options.contenders, run)) {
      const contender = startContender(
        name,
        contenderOptions(env, namespace, `startup-${run}`),
        "startup",
      );
      try {
        const at = await waitReady(contender, 60_000, 5);
        const ms = at - contender.process.startedAt;
        if (!samples.has(name)) samples.set(name, []);
        samples.get(name)!.push(ms);
      } finally {
        await stopContender(contender);
      }
      await sleep(500);
    }
  }
  for (const [name, list] of samples) {
    env.results.startup.push({
      contender: name,
      samples: list.map((s) => Math.round(s * 10) / 10),
      median: median(list),
    });
    log(`startup ${name}: median ${formatMs(median(list))} of ${list.map(formatMs).join(", ")}`);
  }
}

async function createMemoryObjects(env: Env, namespace: string, count: number): Promise<void> {
  const configMaps = new ResourceClient(
    env.client,
    k8s.core.v1.ConfigMap as ResourceType,
    namespace,
  );
  let uid = crypto.randomUUID();
  await forEachConcurrent(Array.from({ length: count }, (_, i) => i), 32, async (i) => {
    if (i % 2 === 0) uid = crypto.randomUUID(); // two children per (absent) parent
    const object: KubernetesObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `m-${String(i).padStart(6, "0")}`,
        namespace,
        labels: { [TRACKING_LABEL]: uid, [OWNERSHIP_LABEL]: OPERATOR_NAME },
      },
      data: { value: `v${i}`, payload: "x".repeat(700) },
    };
    await configMaps.create(object, { fieldManager: "bench-harness" });
  });
}

async function measureMemory(
  env: Env,
  name: ContenderName,
  namespace: string,
  state: "idle" | "loaded",
  objects: number,
): Promise<void> {
  const options = { ...contenderOptions(env, namespace, `memory-${state}`), exposeGc: true };
  delete options.runtimeFlags; // no profiler in a memory reading
  const contender = startContender(name, options);
  try {
    await waitReady(contender, 120_000, 20);
    await waitIdle(contender, 0);
    await sleep(3000);
    const beforeGc = await procMemory(contender.process.pid);
    const reported = await contender.memory!(true);
    await sleep(500);
    const afterGc = await procMemory(contender.process.pid);
    env.results.memory.push({ contender: name, state, objects, beforeGc, afterGc, reported });
    log(
      `memory ${name} ${state} (${objects} objects): RSS ${formatMiB(beforeGc.rss)} → ` +
        `${formatMiB(afterGc.rss)} after a full GC (peak ${
          formatMiB(afterGc.peakRss)
        }), heap used ` +
        `${formatMiB(reported.heapUsed)}`,
    );
  } finally {
    await stopContender(contender);
  }
}

/** Measures the bare hello-world's idle memory, once per run. */
async function measureHello(env: Env): Promise<void> {
  if (env.results.hello) return;
  const options = { ...contenderOptions(env, "default", "memory-hello"), exposeGc: true };
  delete options.runtimeFlags;
  const hello = startHello(options);
  try {
    await waitReady(hello, 60_000, 20);
    await sleep(3000);
    const beforeGc = await procMemory(hello.process.pid);
    const reported = await hello.memory(true);
    await sleep(500);
    const afterGc = await procMemory(hello.process.pid);
    env.results.hello = { beforeGc, afterGc, reported };
    log(`memory hello-world idle: RSS ${formatMiB(beforeGc.rss)} → ${formatMiB(afterGc.rss)}`);
  } finally {
    await hello.process.stop(10_000);
  }
}

/** Parents of the large-object workload, and the payload of each. */
const LARGE_PARENTS = 20;
const LARGE_BYTES = 500_000;

async function runLarge(env: Env): Promise<void> {
  await measureHello(env);
  if (!env.results.memory.some((s) => s.contender === "ours" && s.state === "idle")) {
    await createNamespace(env.client, "memory-idle");
    await measureMemory(env, "ours", "memory-idle", "idle", 0);
  }
  log(`large: creating ${LARGE_PARENTS} parents of ${formatMiB(LARGE_BYTES)}`);
  await createNamespace(env.client, "large");
  const parents = new ResourceClient(env.client, BenchParentType, "large");
  await forEachConcurrent(Array.from({ length: LARGE_PARENTS }, (_, i) => i), 4, async (i) => {
    await parents.create({
      apiVersion: BenchParentType.apiVersion,
      kind: BenchParentType.kind,
      metadata: { name: parentName(i), namespace: "large" },
      spec: { value: `v${i}`, payload: "x".repeat(LARGE_BYTES) } as BenchParentSpec,
    });
  });
  await settle(3000);
  const options = { ...contenderOptions(env, "large", "large"), exposeGc: true };
  delete options.runtimeFlags;
  const contender = startContender("ours", options);
  try {
    await waitReady(contender, 120_000, 20);
    await waitIdle(contender, LARGE_PARENTS);
    await sleep(3000);
    const beforeGc = await procMemory(contender.process.pid);
    const cachedBytes = await scrapeSum(contender.readyUrl, "roperator_cached_bytes");
    const reported = await contender.memory!(true);
    await sleep(500);
    const afterGc = await procMemory(contender.process.pid);
    (env.results.large ??= []).push({
      contender: "ours",
      parents: LARGE_PARENTS,
      bytesPerParent: LARGE_BYTES,
      cachedBytes,
      beforeGc,
      afterGc,
      reported,
    });
    log(
      `large ours: ${formatMiB(cachedBytes)} cached; RSS ${formatMiB(beforeGc.rss)} → ` +
        `${formatMiB(afterGc.rss)} after a full GC (peak ${formatMiB(afterGc.peakRss)})`,
    );
  } finally {
    await stopContender(contender);
  }
}

/** Sums a metric's samples on the contender's `/metrics` (next to its `/ready`). */
async function scrapeSum(readyUrl: string, name: string): Promise<number> {
  const response = await fetch(readyUrl.replace(/\/ready$/, "/metrics"), {
    signal: AbortSignal.timeout(10_000),
  });
  const samples = parsePrometheusText(await response.text());
  return samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

async function runMemory(env: Env): Promise<void> {
  const { memoryObjects } = env.options;
  const contenders = env.options.contenders.filter((c) => c !== "floor");
  await measureHello(env);
  await createNamespace(env.client, "memory-idle");
  for (const name of contenders) await measureMemory(env, name, "memory-idle", "idle", 0);
  log(`memory: creating ${memoryObjects} ConfigMaps of about 1 KiB`);
  await createNamespace(env.client, "memory");
  await createMemoryObjects(env, "memory", memoryObjects);
  await settle(3000);
  for (const name of contenders) {
    await measureMemory(env, name, "memory", "loaded", memoryObjects);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  workload: string;
  ours?: number;
  floor?: number;
  node?: number;
  format: (value: number) => string;
  target: string;
  met?: boolean;
  /** Ratios are printed for times and sizes, not for counts. */
  ratios: boolean;
}

function convergeMedian(results: BenchResults, name: ContenderName): number | undefined {
  const list = results.converge.filter((s) => s.contender === name).map((s) => s.ms);
  return list.length ? median(list) : undefined;
}

function buildRows(results: BenchResults, options: HarnessOptions): Row[] {
  const rows: Row[] = [];
  const by = <T extends { contender: ContenderName }>(list: T[], name: ContenderName) =>
    list.find((s) => s.contender === name);
  const decode = results.decode;
  if (decode) {
    const eventsPerSecond = (v: number) => Math.round(v).toLocaleString("en");
    rows.push({
      workload: "watch decoding, 64 KiB chunks (events/s)",
      ...(decode.ours !== undefined ? { ours: decode.ours } : {}),
      ...(decode.floor !== undefined ? { floor: decode.floor } : {}),
      format: eventsPerSecond,
      target: "≥ 50,000/s",
      ...(decode.ours !== undefined ? { met: decode.ours >= 50_000 } : {}),
      ratios: true,
    });
    rows.push({
      workload: "  watch stream, one event per chunk (events/s)",
      ...(decode.streamOurs !== undefined ? { ours: decode.streamOurs } : {}),
      ...(decode.streamFloor !== undefined ? { floor: decode.streamFloor } : {}),
      format: eventsPerSecond,
      target: "≥ 50,000/s",
      ...(decode.streamOurs !== undefined ? { met: decode.streamOurs >= 50_000 } : {}),
      ratios: true,
    });
  }
  if (results.converge.length) {
    const ours = convergeMedian(results, "ours");
    const floor = convergeMedian(results, "floor");
    const node = convergeMedian(results, "node");
    rows.push({
      workload: `converge ${options.parents} parents (median of ${options.rounds})`,
      ...(ours !== undefined ? { ours } : {}),
      ...(floor !== undefined ? { floor } : {}),
      ...(node !== undefined ? { node } : {}),
      format: formatMs,
      target: "≤ 1.2× floor, < node",
      ...(ours !== undefined && floor !== undefined
        ? { met: ours <= 1.2 * floor && (node === undefined || ours < node) }
        : {}),
      ratios: true,
    });
    const writes = (name: ContenderName) => {
      const sample = results.converge.find((s) => s.contender === name && s.round === 0);
      return sample ? totalWrites(sample.writes) : undefined;
    };
    const [w0, w1, w2] = [writes("ours"), writes("floor"), writes("node")];
    rows.push({
      workload: "  writes to converge (round 0)",
      ...(w0 !== undefined ? { ours: w0 } : {}),
      ...(w1 !== undefined ? { floor: w1 } : {}),
      ...(w2 !== undefined ? { node: w2 } : {}),
      format: (v) => String(v),
      target: `= ${3 * options.parents}`,
      ...(w0 !== undefined ? { met: w0 === 3 * options.parents } : {}),
      ratios: false,
    });
    const cpu = (name: ContenderName) => {
      const list = results.converge.filter((s) => s.contender === name && Number.isFinite(s.cpuMs));
      return list.length ? median(list.map((s) => s.cpuMs)) : undefined;
    };
    const [c0, c1, c2] = [cpu("ours"), cpu("floor"), cpu("node")];
    rows.push({
      workload: "  CPU time of the process to converge",
      ...(c0 !== undefined ? { ours: c0 } : {}),
      ...(c1 !== undefined ? { floor: c1 } : {}),
      ...(c2 !== undefined ? { node: c2 } : {}),
      format: formatMs,
      target: "≤ 1.3× floor",
      ...(c0 !== undefined && c1 !== undefined ? { met: c0 <= 1.3 * c1 } : {}),
      ratios: true,
    });
  }
  if (results.steady.length) {
    for (
      const [label, key] of [["after restart", "afterRestart"], [
        "after touching every parent",
        "afterTouch",
      ]] as const
    ) {
      const ours = by(results.steady, "ours");
      const node = by(results.steady, "node");
      rows.push({
        workload: `steady state: writes ${label}`,
        ...(ours ? { ours: totalWrites(ours[key]) } : {}),
        floor: 0,
        ...(node ? { node: totalWrites(node[key]) } : {}),
        format: (v) => String(v),
        target: "0",
        ...(ours ? { met: totalWrites(ours[key]) === 0 } : {}),
        ratios: false,
      });
    }
  }
  if (results.latency.length) {
    const ours = by(results.latency, "ours");
    const floor = by(results.latency, "floor");
    const node = by(results.latency, "node");
    for (const [label, key, target] of [["p50", "p50", ""], ["p99", "p99", "< 100 ms"]] as const) {
      rows.push({
        workload: `latency ${label} (${options.edits} edits, ${options.parents} cached)`,
        ...(ours ? { ours: ours[key] } : {}),
        ...(floor ? { floor: floor[key] } : {}),
        ...(node ? { node: node[key] } : {}),
        format: formatMs,
        target,
        ...(ours && key === "p99" ? { met: ours.p99 < 100 } : {}),
        ratios: true,
      });
    }
  }
  if (results.startup.length) {
    const ours = by(results.startup, "ours");
    const floor = by(results.startup, "floor");
    const node = by(results.startup, "node");
    rows.push({
      workload: `start-up to /ready, ${options.startupParents} parents + ${
        2 * options.startupParents
      } children (median of ${options.startupRuns})`,
      ...(ours ? { ours: ours.median } : {}),
      ...(floor ? { floor: floor.median } : {}),
      ...(node ? { node: node.median } : {}),
      format: formatMs,
      target: "≤ 1.2× floor, < 1.5 s",
      ...(ours
        ? { met: ours.median < 1500 && (floor === undefined || ours.median <= 1.2 * floor.median) }
        : {}),
      ratios: true,
    });
  }
  if (results.memory.length) {
    const find = (name: ContenderName, state: "idle" | "loaded") =>
      results.memory.find((s) => s.contender === name && s.state === state);
    const oursIdle = find("ours", "idle");
    const oursLoaded = find("ours", "loaded");
    const nodeIdle = find("node", "idle");
    const nodeLoaded = find("node", "loaded");
    const objects = options.memoryObjects;
    const hello = results.hello;
    if (hello) {
      rows.push({
        workload: "memory: RSS idle of a bare Deno.serve hello-world (same flags; after a full GC)",
        ours: hello.afterGc.rss,
        format: formatMiB,
        ratios: false,
        target: "",
      });
    }
    const idleBudget = hello ? hello.afterGc.rss + 15 * 1048576 : undefined;
    rows.push({
      workload: "memory: RSS idle (nothing cached; after a full GC)",
      ...(oursIdle ? { ours: oursIdle.afterGc.rss } : {}),
      ...(nodeIdle ? { node: nodeIdle.afterGc.rss } : {}),
      format: formatMiB,
      target: idleBudget === undefined ? "" : `≤ ${formatMiB(idleBudget)} (hello-world + 15 MiB)`,
      ...(oursIdle && idleBudget !== undefined ? { met: oursIdle.afterGc.rss <= idleBudget } : {}),
      ratios: true,
    });
    const budget = oursIdle ? oursIdle.afterGc.rss + 3 * 1024 * objects : undefined;
    rows.push({
      workload: `memory: RSS with ${
        objects.toLocaleString("en")
      } cached children (after a full GC)`,
      ...(oursLoaded ? { ours: oursLoaded.afterGc.rss } : {}),
      ...(nodeLoaded ? { node: nodeLoaded.afterGc.rss } : {}),
      format: formatMiB,
      target: budget === undefined
        ? "≤ idle + 3 KiB/object, < node"
        : `≤ ${formatMiB(budget)} (idle + 3 KiB/object), < node`,
      ...(oursLoaded && budget !== undefined
        ? {
          met: oursLoaded.afterGc.rss <= budget &&
            (!nodeLoaded || oursLoaded.afterGc.rss < nodeLoaded.afterGc.rss),
        }
        : {}),
      ratios: true,
    });
    const perObject = (idle?: MemorySample, loaded?: MemorySample) =>
      idle && loaded ? (loaded.afterGc.rss - idle.afterGc.rss) / objects : undefined;
    const [po, pn] = [perObject(oursIdle, oursLoaded), perObject(nodeIdle, nodeLoaded)];
    rows.push({
      workload: "  RSS per cached child (loaded − idle)",
      ...(po !== undefined ? { ours: po } : {}),
      ...(pn !== undefined ? { node: pn } : {}),
      format: (v) => `${(v / 1024).toFixed(2)} KiB`,
      target: "≤ 3 KiB",
      ...(po !== undefined ? { met: po <= 3072 } : {}),
      ratios: true,
    });
    rows.push({
      workload: "  RSS with the children as it runs (no forced GC)",
      ...(oursLoaded ? { ours: oursLoaded.beforeGc.rss } : {}),
      ...(nodeLoaded ? { node: nodeLoaded.beforeGc.rss } : {}),
      format: formatMiB,
      target: oursLoaded
        ? `≤ ${formatMiB(1.3 * oursLoaded.afterGc.rss)} (1.3× after GC)`
        : "≤ 1.3× after GC",
      ...(oursLoaded ? { met: oursLoaded.beforeGc.rss <= 1.3 * oursLoaded.afterGc.rss } : {}),
      ratios: true,
    });
    rows.push({
      workload: "  heap used with the children (after a full GC)",
      ...(oursLoaded ? { ours: oursLoaded.reported.heapUsed } : {}),
      ...(nodeLoaded ? { node: nodeLoaded.reported.heapUsed } : {}),
      format: formatMiB,
      target: "",
      ratios: true,
    });
    rows.push({
      workload: "  peak RSS while listing",
      ...(oursLoaded ? { ours: oursLoaded.afterGc.peakRss } : {}),
      ...(nodeLoaded ? { node: nodeLoaded.afterGc.peakRss } : {}),
      format: formatMiB,
      target: oursLoaded
        ? `≤ ${formatMiB(1.15 * oursLoaded.beforeGc.rss)} (1.15× as it runs)`
        : "≤ 1.15× as it runs",
      ...(oursLoaded ? { met: oursLoaded.afterGc.peakRss <= 1.15 * oursLoaded.beforeGc.rss } : {}),
      ratios: true,
    });
  }
  const large = results.large?.find((s) => s.contender === "ours");
  if (large) {
    const idle = results.memory.find((s) => s.contender === "ours" && s.state === "idle");
    const budget = idle ? idle.afterGc.rss + 3 * large.cachedBytes : undefined;
    rows.push({
      workload: `large objects: ${large.parents} parents of ${
        formatMiB(large.bytesPerParent)
      }, cached bytes (roperator_cached_bytes)`,
      ours: large.cachedBytes,
      format: formatMiB,
      ratios: false,
      target: "",
    });
    rows.push({
      workload: "  RSS with them as it runs (no forced GC)",
      ours: large.beforeGc.rss,
      format: formatMiB,
      ratios: false,
      target: budget === undefined
        ? "≤ idle + 3 × cached bytes"
        : `≤ ${formatMiB(budget)} (idle + 3 × cached bytes)`,
      ...(budget !== undefined ? { met: large.beforeGc.rss <= budget } : {}),
    });
    rows.push({
      workload: "  RSS with them after a full GC",
      ours: large.afterGc.rss,
      format: formatMiB,
      ratios: false,
      target: "",
    });
    rows.push({
      workload: "  peak RSS",
      ours: large.afterGc.peakRss,
      format: formatMiB,
      ratios: false,
      target: "",
    });
  }
  return rows;
}

const HEADER = [
  "workload",
  "ours",
  "floor",
  "node peer",
  "ours/floor",
  "ours/node",
  "target",
  "met?",
];

function rowCells(row: Row): string[] {
  const cell = (v: number | undefined) => v === undefined ? "—" : row.format(v);
  return [
    row.workload,
    cell(row.ours),
    cell(row.floor),
    cell(row.node),
    row.ratios ? formatRatio(row.ours, row.floor) : "",
    row.ratios ? formatRatio(row.ours, row.node) : "",
    row.target,
    row.met === undefined ? "" : row.met ? "yes" : "NO",
  ];
}

const DOC_START = "<!-- bench:results:start -->";
const DOC_END = "<!-- bench:results:end -->";

async function updateBenchmarksMd(results: BenchResults, rows: string[][], jsonPath: string) {
  const path = `${REPO_DIR}/BENCHMARKS.md`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    text = `# Benchmarks\n\n${DOC_START}\n${DOC_END}\n`;
  }
  const start = text.indexOf(DOC_START);
  const end = text.indexOf(DOC_END);
  if (start < 0 || end < start) {
    log(`BENCHMARKS.md has no ${DOC_START} … ${DOC_END} section; not updated`);
    return;
  }
  const m = results.machine;
  const busy = m.loadAverage[0]! > 0.5 * m.cpus;
  const section = [
    DOC_START,
    "",
    `Run of ${results.startedAt.slice(0, 16).replace("T", " ")} UTC, ${
      Math.round((results.durationMs ?? 0) / 60_000)
    } min, with:`,
    "",
    "```sh",
    results.command,
    "```",
    "",
    `Machine: ${describeMachine(m)}.`,
    "",
    ...(busy
      ? [
        `**The machine was busy** (load average ${
          m.loadAverage[0]!.toFixed(2)
        } on ${m.cpus} cores at the start): other processes shared the CPU, so the times are ` +
        "noisy and the ratios less so.",
        "",
      ]
      : []),
    markdownTable(HEADER, rows.map((row) => [row[0]!.replace(/^ {2}/, "↳ "), ...row.slice(1)])),
    "",
    `Raw results: \`${jsonPath.slice(REPO_DIR.length + 1)}\` (not committed).` +
    (results.errors.length
      ? `\n\nFailed: ${results.errors.map((e) => `${e.workload}: ${e.error}`).join("; ")}`
      : ""),
    "",
    DOC_END,
  ].join("\n");
  await Deno.writeTextFile(path, text.slice(0, start) + section + text.slice(end + DOC_END.length));
  // Keep the file as `deno fmt` wants it (aligned table, wrapped prose), so `deno task check`
  // stays clean.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    cwd: REPO_DIR,
    stdout: "null",
    stderr: "inherit",
  }).output();
  log("updated BENCHMARKS.md");
}

// ---------------------------------------------------------------------------------------------
// Main

async function ensurePeerInstalled(): Promise<void> {
  try {
    await Deno.stat(`${PEERS_DIR}/node_modules/@kubernetes/client-node/package.json`);
    return;
  } catch { /* install */ }
  log("installing the Node peer's dependencies (npm ci in bench/peers)");
  const result = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund"],
    cwd: PEERS_DIR,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) throw new Error("npm ci in bench/peers failed");
}

async function warmUp(env: Env): Promise<void> {
  // Load and cache every module once, so no contender pays for the first transpilation.
  for (const script of ["operator.ts", "floor.ts"]) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${BENCH_DIR}/${script}`, "--help"],
      cwd: REPO_DIR,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(`${script} --help failed: ${new TextDecoder().decode(result.stderr)}`);
    }
  }
  if (env.options.contenders.includes("node")) {
    await new Deno.Command("node", {
      args: ["-e", 'import("@kubernetes/client-node").then(() => {})'],
      cwd: PEERS_DIR,
      stdout: "null",
      stderr: "null",
    }).output();
  }
}

async function versions(cp: ControlPlane, machine: MachineInfo): Promise<void> {
  try {
    const response = await cp.adminFetch("/version");
    machine.kubernetes = (await response.json()).gitVersion;
  } catch { /* unknown */ }
  try {
    const response = await fetch(`${cp.etcdUrl}/version`);
    machine.etcd = (await response.json()).etcdserver;
  } catch { /* unknown */ }
}

/**
 * Runs the selected workloads and reports.
 *
 * @param args the command line
 * @returns the exit status: 0 when every workload ran (targets may be missed), 1 otherwise
 */
export async function main(args: string[]): Promise<number> {
  const options = parseHarnessArgs(args);
  verbose = options.verbose;
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const resultsDir = `${BENCH_DIR}/results`;
  const runDir = `${resultsDir}/${stamp}`;
  await Deno.mkdir(runDir, { recursive: true });
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    command: args.length
      ? ["deno", "run", "--allow-all", "bench/harness.ts", ...args].join(" ")
      : "deno task bench   # deno run --allow-all bench/harness.ts",
    options: { ...options, only: [...options.only] },
    machine: await machineInfo(PEERS_DIR),
    converge: [],
    steady: [],
    latency: [],
    startup: [],
    memory: [],
    errors: [],
  };
  const abort = new AbortController();
  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  const cleanup = async () => {
    await stopAllProcesses();
    client?.close();
    await cp?.stop();
  };
  const onSignal = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    log("interrupted: stopping every process");
    abort.abort(new Error("interrupted"));
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const watchdog = setTimeout(() => {
    interrupted = true;
    log(`the run exceeded ${options.timeoutMinutes} minutes: stopping`);
    abort.abort(new Error("timed out"));
    cleanup().finally(() => Deno.exit(124));
  }, options.timeoutMinutes * 60_000);

  log(`machine: ${describeMachine(results.machine)}`);
  try {
    if (options.only.has("decode")) {
      try {
        await runDecode(results, abort.signal);
      } catch (error) {
        results.errors.push({ workload: "decode", error: String(error) });
      }
    }
    const clusterWorkloads = WORKLOADS.filter((w) => w !== "decode" && options.only.has(w));
    if (clusterWorkloads.length) {
      if (options.contenders.includes("node")) {
        try {
          if (results.machine.node === "absent") throw new Error("node is not on PATH");
          await ensurePeerInstalled();
        } catch (error) {
          log(`the Node peer cannot run (${error}); going on without it`);
          results.errors.push({ workload: "setup", contender: "node", error: String(error) });
          options.contenders = options.contenders.filter((c) => c !== "node");
        }
      }
      log("starting a private control plane");
      cp = await startControlPlane({ keepDir: options.keep });
      results.controlPlaneStartupMs = cp.startupMs;
      await versions(cp, results.machine);
      log(`control plane ready in ${formatMs(cp.startupMs)} at ${cp.server}`);
      client = new KubeClient(cp.clientConfig);
      await installCustomResourceDefinitions(client, [
        testCustomResourceDefinition(BenchParentType),
      ]);
      const env: Env = {
        options,
        cp,
        client,
        runDir,
        results,
        signal: abort.signal,
        converged: new Map(),
      };
      await warmUp(env);
      const steps: Array<[WorkloadName, () => Promise<void>]> = [
        ["converge", () => runConverge(env)],
        ["latency", () => runSteadyAndLatency(env)],
        ["startup", () => runStartup(env)],
        ["memory", () => runMemory(env)],
        ["large", () => runLarge(env)],
      ];
      for (const [workload, run] of steps) {
        const selected = workload === "latency"
          ? options.only.has("latency") || options.only.has("steady")
          : options.only.has(workload);
        if (!selected) continue;
        try {
          await run();
        } catch (error) {
          if (abort.signal.aborted) throw error;
          log(`${workload} failed: ${error instanceof Error ? error.stack : error}`);
          results.errors.push({
            workload,
            error: error instanceof Error ? error.message : String(error),
          });
          await stopAllProcesses();
        }
      }
    }
  } finally {
    clearTimeout(watchdog);
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  results.durationMs = Math.round(performance.now() - started);
  const rows = buildRows(results, options).map(rowCells);
  results.table = [HEADER, ...rows];
  const jsonPath = `${resultsDir}/${stamp}.json`;
  await Deno.writeTextFile(jsonPath, JSON.stringify(results, null, 2) + "\n");
  console.log();
  console.log(describeMachine(results.machine));
  console.log();
  console.log(textTable(HEADER, rows));
  console.log();
  for (const error of results.errors) console.log(`FAILED ${error.workload}: ${error.error}`);
  console.log(`raw results: ${jsonPath}; logs: ${runDir}/`);
  if (options.doc) await updateBenchmarksMd(results, rows, jsonPath);
  if (!options.keep && results.errors.length === 0) {
    // Keep the logs only when something failed or when asked; profiles are always kept.
    for await (const entry of Deno.readDir(runDir)) {
      if (entry.isFile && entry.name.endsWith(".log")) await Deno.remove(`${runDir}/${entry.name}`);
    }
  }
  return results.errors.length ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    // After a signal the cleanup exits the process; errors of the interrupted work are noise.
    if (interrupted) await new Promise(() => {});
    console.error(error instanceof Error ? error.stack : error);
    await stopAllProcesses();
    Deno.exit(1);
  }
}
