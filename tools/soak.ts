/**
 * The soak test: `deno task soak [--minutes 20]` runs the fault operator
 * (`tools/fault/fault_operator.ts`) in a subprocess against a private control plane, creates its
 * population of parents, then churns them at a steady rate (create, edit, delete, the population
 * staying near its size) for the given time, and reports the operator
 * process's resident set size (its own `Deno.memoryUsage().rss`) over time. It fails when the RSS
 * at the end exceeds the RSS after warm-up by more than `--max-growth` (default 10 %), or when the
 * operator has not converged every parent at the end.
 *
 * Flags: `--minutes` (default 20), `--rate` changes per second (default 10), `--parents` the
 * population churn keeps around (default 100), `--warmup-minutes` (default a quarter of the run,
 * at most 5), `--sample-seconds` (default 1/60 of the run, between 1 and 30), `--max-growth`
 * (default 0.1), `--json` (print the result as JSON, last line).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { k8s } from "../config/resource_types.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { startControlPlane } from "../testkit/control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { type OperatorProcess, startOperatorProcess } from "../testkit/operator_process.ts";
import { checkConvergence } from "./fault/convergence.ts";
import { isTransient } from "./fault/retrying.ts";
import { FaultParent, type MemorySample } from "./fault/fault_operator.ts";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** How long to churn, in minutes. */
  minutes: number;
  /** Parent changes per second. */
  rate: number;
  /** The number of parents churn keeps around. */
  parents: number;
  /** The RSS baseline is taken once this many minutes have passed. */
  warmupMinutes: number;
  /** How often the operator reports its memory, in seconds. */
  sampleSeconds: number;
  /** The largest allowed growth of RSS after warm-up, as a fraction (0.1 = 10 %). */
  maxGrowth: number;
  /** Called with progress lines; default `console.error`. */
  log?: (line: string) => void;
}

/** What a soak run measured. */
export interface SoakResult {
  /** Seconds churned. */
  seconds: number;
  /** Changes made: creates, edits and deletes. */
  changes: { create: number; edit: number; delete: number };
  /** Changes that failed and were skipped (the API server busy). */
  failedChanges: number;
  /** The operator's memory, as it reported it. */
  samples: MemorySample[];
  /** Median RSS in the first quarter of the time after warm-up, bytes. */
  baselineRss: number;
  /** Median RSS in the last quarter of the time after warm-up, bytes. */
  finalRss: number;
  /** `finalRss / baselineRss - 1`. */
  growth: number;
  /** Parents and children wrong at the end, after a grace period to catch up. */
  objectsLost: number;
  /**
   * Parents named by a `parent` label of any of the operator's metric series at the end that no
   * longer exist: series left behind by deleted parents (reported, not judged). The library's
   * metrics carry no per-parent label, so this stays 0 unless one appears.
   */
  staleSeries: number;
  /** The operator's exit code after SIGTERM. */
  exitCode: number;
  /** Whether growth and convergence are within bounds and the operator exited 0. */
  passed: boolean;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Runs a soak: a private control plane, the fault operator in a subprocess, churn, RSS samples.
 *
 * @param options duration, rate, population, warm-up, sampling and the growth bound
 * @returns what was measured, and whether it passed
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const cp = await startControlPlane();
  log(`control plane ready in ${cp.startupMs} ms`);
  const admin = new KubeClient(cp.clientConfig);
  let operator: OperatorProcess | undefined;
  try {
    await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(FaultParent)]);
    const ns = "soak";
    await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: ns } });
    const parents = new ResourceClient(admin, FaultParent, ns);

    const samples: MemorySample[] = [];
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    let warnings = 0;
    operator = startOperatorProcess({
      main: new URL("./fault/fault_operator.ts", import.meta.url),
      args: [
        "--memory-every-ms",
        String(Math.round(options.sampleSeconds * 1000)),
        "--",
        "--kubeconfig",
        cp.kubeconfigPath,
        "--namespace",
        ns,
        "--port",
        String(port),
        "--log-format",
        "json",
        "--log-level",
        "warning",
      ],
      kubeconfigPaths: [cp.kubeconfigPath],
      onStdoutLine(line) {
        if (line.startsWith("{")) samples.push(JSON.parse(line) as MemorySample);
      },
      onStderr(chunk) {
        for (const line of chunk.split("\n")) {
          if (!line.trim()) continue;
          if (++warnings <= 5) log(`operator: ${line.slice(0, 300)}`);
        }
      },
    });

    // The population first, so that the run measures churn at a steady size, not growth.
    const live: string[] = [];
    let next = 0;
    const filling = Array.from({ length: options.parents }, () => `s${next++}`);
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let name = filling.shift(); name !== undefined; name = filling.shift()) {
        await parents.create({
          metadata: { name },
          spec: { value: "0", children: 1 + (next % 2) },
        });
        live.push(name);
      }
    }));
    const filled = Date.now() + 60_000;
    while ((await checkConvergence(admin, ns).catch(() => undefined))?.lost !== 0) {
      if (Date.now() > filled) throw new Error("Cannot soak: the first parents did not converge");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    log(`${live.length} parents converged; churning for ${options.minutes} min`);

    const started = Date.now();
    const end = started + options.minutes * 60_000;
    const changes = { create: 0, edit: 0, delete: 0 };
    let failedChanges = 0;
    let lastReport = started;
    const intervalMs = 1000 / options.rate;
    for (let tick = 0; Date.now() < end; tick++) {
      const due = started + tick * intervalMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const roll = Math.random();
      try {
        // Creates and deletes keep the population near its size; edits in between.
        const create = live.length < options.parents * 0.9 ||
          (live.length <= options.parents * 1.1 && roll < 0.3);
        if (create) {
          const name = `s${next++}`;
          await parents.create({
            metadata: { name },
            spec: { value: "0", children: 1 + (next % 2) },
          });
          live.push(name);
          changes.create++;
        } else if (live.length <= options.parents * 1.1 && roll < 0.7) {
          const name = live[Math.floor(Math.random() * live.length)]!;
          await parents.patch(name, {
            spec: { value: String(tick), children: 1 + Math.floor(Math.random() * 3) },
          });
          changes.edit++;
        } else {
          const index = Math.floor(Math.random() * live.length);
          const [name] = live.splice(index, 1);
          await parents.delete(name!);
          changes.delete++;
        }
      } catch (error) {
        if (!isTransient(error)) throw error;
        failedChanges++;
      }
      if (Date.now() - lastReport >= 60_000) {
        lastReport = Date.now();
        const last = samples.at(-1);
        log(
          `${((Date.now() - started) / 60_000).toFixed(1)} min: ${live.length} parents, ` +
            `${changes.create + changes.edit + changes.delete} changes, rss ${
              last ? mib(last.rss) : "?"
            }`,
        );
      }
    }
    const seconds = (Date.now() - started) / 1000;

    // The operator must catch up with the last changes.
    let objectsLost = Number.NaN;
    const catchUp = Date.now() + 60_000;
    while (true) {
      const result = await checkConvergence(admin, ns).catch(() => undefined);
      if (result) objectsLost = result.lost;
      if (objectsLost === 0 || Date.now() > catchUp) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
      .then((res) => res.text())
      .catch(() => "");
    const existing = new Set(live.map((name) => `${ns}/${name}`));
    const named = new Set(
      parsePrometheusText(metrics)
        .map((sample) => sample.labels.parent)
        .filter((parent): parent is string => parent !== undefined),
    );
    const staleSeries = [...named].filter((parent) => !existing.has(parent)).length;

    const running = operator;
    operator = undefined;
    const { status } = await running.terminate("SIGTERM");

    const during = samples.filter((s) => s.t >= started && s.t <= started + seconds * 1000);
    const warmupEnd = started + options.warmupMinutes * 60_000;
    // Two windows of a quarter of the time after warm-up each (at least three samples): right
    // after warm-up, and at the end. Their medians smooth out the garbage collector's swings.
    const runEnd = started + seconds * 1000;
    const span = Math.max(options.sampleSeconds * 3000, (runEnd - warmupEnd) / 4);
    const baseline = during.filter((s) => s.t >= warmupEnd && s.t < warmupEnd + span);
    const tail = during.filter((s) => s.t >= runEnd - span);
    const baselineRss = median(baseline.map((s) => s.rss));
    const finalRss = median(tail.map((s) => s.rss));
    const growth = finalRss / baselineRss - 1;
    const passed = Number.isFinite(growth) && growth < options.maxGrowth && objectsLost === 0 &&
      status.code === 0;
    return {
      seconds,
      changes,
      failedChanges,
      samples: during,
      baselineRss,
      finalRss,
      growth,
      objectsLost,
      staleSeries,
      exitCode: status.code,
      passed,
    };
  } finally {
    await operator?.terminate("SIGKILL").catch(() => {});
    admin.close();
    await cp.stop();
  }
}

/**
 * The RSS over time as a text table, one row per `rows`-th of the run.
 *
 * @param result a soak result
 * @param rows how many rows (default 20)
 * @returns the table
 */
export function rssTable(result: SoakResult, rows = 20): string {
  const { samples } = result;
  if (samples.length === 0) return "(no samples)";
  const t0 = samples[0]!.t;
  const step = Math.max(1, Math.floor(samples.length / rows));
  const lines = [
    "| time | rss | heap total | heap used | external |",
    "| ---: | ---: | ---: | ---: | ---: |",
  ];
  for (let i = 0; i < samples.length; i += step) {
    const s = samples[i]!;
    lines.push(
      `| ${((s.t - t0) / 1000).toFixed(0)} s | ${mib(s.rss)} | ${mib(s.heapTotal)} | ${
        mib(s.heapUsed)
      } | ${mib(s.external)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * A one-paragraph verdict of a soak result.
 *
 * @param result a soak result
 * @param options the options it ran with
 * @returns the summary
 */
export function soakSummary(result: SoakResult, options: SoakOptions): string {
  const { changes } = result;
  return [
    `soak: ${
      (result.seconds / 60).toFixed(1)
    } min, ${changes.create} creates, ${changes.edit} edits, ` +
    `${changes.delete} deletes (${result.failedChanges} failed), ${result.samples.length} samples`,
    `rss after warm-up (${options.warmupMinutes} min): ${mib(result.baselineRss)}; at the end: ${
      mib(result.finalRss)
    }; growth ${(result.growth * 100).toFixed(1)} % (limit ${
      (options.maxGrowth * 100).toFixed(0)
    } %)`,
    `objects lost: ${result.objectsLost}; metric series of deleted parents left: ${result.staleSeries}; ` +
    `operator exit code after SIGTERM: ${result.exitCode}`,
    result.passed ? "PASSED" : "FAILED",
  ].join("\n");
}

function number(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new TypeError(`Cannot run the soak: --${flag} must be a positive number, got "${value}"`);
  }
  return n;
}

/**
 * Parses the soak's command line.
 *
 * @param args the arguments
 * @returns the options, and whether to print JSON
 * @throws {TypeError} on an unknown flag or a bad number
 */
export function parseSoakArgs(args: string[]): { options: SoakOptions; json: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      minutes: { type: "string" },
      rate: { type: "string" },
      parents: { type: "string" },
      "warmup-minutes": { type: "string" },
      "sample-seconds": { type: "string" },
      "max-growth": { type: "string" },
      json: { type: "boolean" },
    },
  });
  const minutes = number(values.minutes, "minutes", 20);
  return {
    options: {
      minutes,
      rate: number(values.rate, "rate", 10),
      parents: Math.round(number(values.parents, "parents", 100)),
      warmupMinutes: number(values["warmup-minutes"], "warmup-minutes", Math.min(5, minutes / 4)),
      sampleSeconds: number(
        values["sample-seconds"],
        "sample-seconds",
        Math.min(30, Math.max(1, (minutes * 60) / 60)),
      ),
      maxGrowth: number(values["max-growth"], "max-growth", 0.1),
    },
    json: values.json ?? false,
  };
}

if (import.meta.main) {
  const { options, json } = parseSoakArgs(Deno.args);
  const result = await runSoak(options);
  console.log(rssTable(result));
  console.log(soakSummary(result, options));
  if (json) {
    console.log(JSON.stringify({ ...result, samples: result.samples.length }));
  }
  Deno.exit(result.passed ? 0 : 1);
}
