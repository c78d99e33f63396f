/**
 * The contenders as subprocesses: the operator under test (`bench/operator.ts`, run with the
 * permission flags of `deploy/permissions.ts`), the API floor (`bench/floor.ts`, same flags) and
 * the Node peer (`bench/peers/node-operator/main.mjs`), each with a `/ready` endpoint, and the
 * operator and the peer with a memory endpoint and a way to tell when they are idle.
 *
 * @module
 */
import { permissionFlags } from "../../deploy/mod.ts";
import { parsePrometheusText } from "../../testkit/mod.ts";
import type { FloorMode } from "../floor.ts";
import { type BenchProcess, freePort, logTail, spawnProcess } from "./processes.ts";

/** Who is measured. */
export type ContenderName = "ours" | "floor" | "node";

/** Where the benchmark's files are. */
export const BENCH_DIR: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The repository root. */
export const REPO_DIR: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The Node peer's project. */
export const PEERS_DIR = `${BENCH_DIR}/peers`;

/** What a contender's sync loop is doing, to tell when it is idle. */
export interface SyncState {
  /** Syncs run so far. */
  syncs: number;
  /** Parents waiting. */
  depth: number;
  /** Syncs running. */
  running: number;
}

/** A contender's memory as it reports it, in bytes. */
export interface ReportedMemory {
  /** Resident set size. */
  rss: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** V8 heap used. */
  heapUsed: number;
  /** Memory of JS objects outside the heap. */
  external: number;
  /** Whether a full GC ran first. */
  gc: boolean;
}

/** A running contender. */
export interface Contender {
  /** Which one. */
  readonly name: ContenderName;
  /** The process. */
  readonly process: BenchProcess;
  /** The URL of its `/ready`. */
  readonly readyUrl: string;
  /** Its memory report, after a full GC when `gc` (the operator and the peer only). */
  memory?(gc: boolean): Promise<ReportedMemory>;
  /** Its sync counters (the operator and the peer only). */
  syncState?(): Promise<SyncState>;
}

/** What every contender is started with. */
export interface ContenderOptions {
  /** The admin kubeconfig of the control plane. */
  kubeconfigPath: string;
  /** The namespace it is confined to. */
  namespace: string;
  /** Where logs go. */
  logDir: string;
  /** A label for the log file. */
  label: string;
  /** Start the runtime with the GC exposed, for memory readings after a full GC. */
  exposeGc?: boolean;
  /** The operator's `--log-level` (default `info`, as `operatorMain`'s). */
  logLevel?: string;
  /** Extra runtime flags, such as `--cpu-prof` (the operator and the floor). */
  runtimeFlags?: string[];
  /** V8 flags for the Deno contenders (and the hello-world), such as `--max-semi-space-size=1`. */
  v8Flags?: string[];
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  return await response.json() as T;
}

/**
 * The `deno run` permission flags of a contender: the operator's own (`permissionFlags`), and
 * read access to the profile directory when profiling.
 */
function denoFlags(options: ContenderOptions): string[] {
  return [
    ...permissionFlags({ kubeconfigPaths: [options.kubeconfigPath] }),
    ...v8Flags(options),
    ...(options.runtimeFlags ?? []),
  ];
}

/** One `--v8-flags=` with `--expose-gc` when asked and the configured V8 flags. */
function v8Flags(options: ContenderOptions): string[] {
  const flags = [...(options.exposeGc ? ["--expose-gc"] : []), ...(options.v8Flags ?? [])];
  return flags.length === 0 ? [] : [`--v8-flags=${flags.join(",")}`];
}

/** The bare hello-world: its process and its memory report. */
export interface Hello {
  /** The process. */
  readonly process: BenchProcess;
  /** The URL of its `/ready`. */
  readonly readyUrl: string;
  /** Its memory report, after a full GC when `gc`. */
  memory(gc: boolean): Promise<ReportedMemory>;
}

/**
 * Starts the bare `Deno.serve` hello-world (`bench/hello.ts`) with the operator's runtime flags:
 * the floor of idle memory.
 *
 * @param options kubeconfig (for the same permission flags), logs, GC and V8 flags
 * @returns the process and its memory report
 */
export function startHello(options: ContenderOptions): Hello {
  const port = freePort();
  const proc = spawnProcess(`${options.label}-hello`, [
    Deno.execPath(),
    "run",
    ...denoFlags(options),
    `${BENCH_DIR}/hello.ts`,
    "--port",
    String(port),
  ], { logDir: options.logDir, cwd: REPO_DIR });
  return {
    process: proc,
    readyUrl: `http://127.0.0.1:${port}/ready`,
    memory: (gc) => getJson(`http://127.0.0.1:${port}/memory${gc ? "?gc=1" : ""}`),
  };
}

/**
 * Starts the operator under test.
 *
 * @param options kubeconfig, namespace, logs
 * @returns the contender
 */
export function startOurs(options: ContenderOptions): Contender {
  const port = freePort();
  const debugPort = freePort();
  const proc = spawnProcess(`${options.label}-ours`, [
    Deno.execPath(),
    "run",
    ...denoFlags(options),
    `${BENCH_DIR}/operator.ts`,
    "--debug-port",
    String(debugPort),
    "--kubeconfig",
    options.kubeconfigPath,
    "--namespace",
    options.namespace,
    "--port",
    String(port),
    "--log-level",
    options.logLevel ?? "info",
    "--log-format",
    "json",
  ], { logDir: options.logDir, cwd: REPO_DIR });
  return {
    name: "ours",
    process: proc,
    readyUrl: `http://127.0.0.1:${port}/ready`,
    memory: (gc) => getJson(`http://127.0.0.1:${debugPort}/memory${gc ? "?gc=1" : ""}`),
    async syncState() {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
        signal: AbortSignal.timeout(10_000),
      });
      const samples = parsePrometheusText(await response.text());
      const sum = (name: string) =>
        samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
      return {
        syncs: sum("roperator_syncs_total"),
        depth: sum("roperator_queue_depth"),
        running: sum("roperator_syncs_running"),
      };
    },
  };
}

/**
 * Starts the Node peer.
 *
 * @param options kubeconfig, namespace, logs
 * @returns the contender
 */
export function startNode(options: ContenderOptions): Contender {
  const port = freePort();
  const proc = spawnProcess(`${options.label}-node`, [
    "node",
    ...(options.exposeGc ? ["--expose-gc"] : []),
    `${PEERS_DIR}/node-operator/main.mjs`,
    "--kubeconfig",
    options.kubeconfigPath,
    "--namespace",
    options.namespace,
    "--port",
    String(port),
  ], { logDir: options.logDir, cwd: PEERS_DIR });
  return {
    name: "node",
    process: proc,
    readyUrl: `http://127.0.0.1:${port}/ready`,
    memory: (gc) => getJson(`http://127.0.0.1:${port}/memory${gc ? "?gc=1" : ""}`),
    async syncState() {
      const stats = await getJson<SyncState>(`http://127.0.0.1:${port}/stats`);
      return { syncs: stats.syncs, depth: stats.depth, running: stats.running };
    },
  };
}

/**
 * Starts the API floor in a mode.
 *
 * @param options kubeconfig, namespace, logs
 * @param mode what it does
 * @returns the contender
 */
export function startFloor(options: ContenderOptions, mode: FloorMode): Contender {
  const port = freePort();
  const proc = spawnProcess(`${options.label}-floor`, [
    Deno.execPath(),
    "run",
    ...denoFlags(options),
    `${BENCH_DIR}/floor.ts`,
    "--kubeconfig",
    options.kubeconfigPath,
    "--namespace",
    options.namespace,
    "--mode",
    mode,
    "--port",
    String(port),
  ], { logDir: options.logDir, cwd: REPO_DIR });
  return { name: "floor", process: proc, readyUrl: `http://127.0.0.1:${port}/ready` };
}

/**
 * Starts a contender by name.
 *
 * @param name which one
 * @param options kubeconfig, namespace, logs
 * @param floorMode the floor's mode
 * @returns the contender
 */
export function startContender(
  name: ContenderName,
  options: ContenderOptions,
  floorMode: FloorMode = "converge",
): Contender {
  return name === "ours"
    ? startOurs(options)
    : name === "node"
    ? startNode(options)
    : startFloor(options, floorMode);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `/ready` every `intervalMs` until it answers 200.
 *
 * @param contender the contender
 * @param timeoutMs how long to wait
 * @param intervalMs the polling interval
 * @returns `performance.now()` when `/ready` first answered 200
 * @throws {Error} when the process exits or the time is up, with its log's last lines
 */
export async function waitReady(
  contender: Pick<Contender, "process" | "readyUrl">,
  timeoutMs = 120_000,
  intervalMs = 5,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    if (contender.process.exited) {
      const status = await contender.process.status;
      throw new Error(
        `${contender.process.name} exited (code ${status.code}) before it was ready:\n` +
          await logTail(contender.process),
      );
    }
    try {
      const response = await fetch(contender.readyUrl, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status === 200) return performance.now();
    } catch { /* not listening yet */ }
    if (performance.now() > deadline) {
      throw new Error(
        `${contender.process.name} not ready after ${timeoutMs} ms:\n` +
          await logTail(contender.process),
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Waits until a contender has run at least `minSyncs` syncs and has nothing queued or running,
 * twice in a row 200 ms apart.
 *
 * @param contender the operator or the peer
 * @param minSyncs the sync count to reach
 * @param timeoutMs how long to wait
 * @returns the last state
 */
export async function waitIdle(
  contender: Contender,
  minSyncs: number,
  timeoutMs = 120_000,
): Promise<SyncState> {
  if (!contender.syncState) throw new TypeError(`${contender.name} reports no sync state`);
  const deadline = performance.now() + timeoutMs;
  let idleOnce = false;
  while (true) {
    if (contender.process.exited) {
      throw new Error(`${contender.process.name} exited:\n${await logTail(contender.process)}`);
    }
    const state = await contender.syncState();
    const idle = state.syncs >= minSyncs && state.depth === 0 && state.running === 0;
    if (idle && idleOnce) return state;
    idleOnce = idle;
    if (performance.now() > deadline) {
      throw new Error(
        `${contender.process.name} not idle after ${timeoutMs} ms (${JSON.stringify(state)}, ` +
          `wanted ≥ ${minSyncs} syncs)`,
      );
    }
    await sleep(200);
  }
}
