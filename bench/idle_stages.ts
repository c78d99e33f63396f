/**
 * Where the idle operator's memory goes: one process reads its RSS after each stage of a start
 * (a `Deno.serve` hello-world, LogTape configured, the library imported, the client config loaded
 * from a kubeconfig, the first request, the benchmark operator started and ready, 3 s idle), each
 * reading after full collections as the benchmark makes them (`bench/lib/memory_report.ts`).
 * Run against a private control plane, three times; BENCHMARKS.md, finding 10.
 *
 * ```sh
 * deno run -A bench/idle_stages.ts [--runs 3]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { memoryReport } from "./lib/memory_report.ts";

/** The stages, in order, as the child process names them. */
const STAGES = [
  "Deno.serve hello-world",
  "+ LogTape configured",
  "+ the library imported",
  "+ client config from a kubeconfig",
  "+ the first request",
  "+ operator started and ready",
  "+ 3 s idle",
] as const;

/** RSS in MiB after full collections (`memoryReport`, as the benchmark's readings). */
async function settledRss(): Promise<number> {
  return (await memoryReport(true)).rss / 1024 / 1024;
}

/** The measured process: prints one JSON array of RSS readings, one per stage. */
async function child(kubeconfig: string, namespace: string): Promise<void> {
  const readings: number[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, () => {
    return new Response("hello\n");
  });
  readings.push(await settledRss());
  const { configure, getConsoleSink } = await import("@logtape/logtape");
  await configure({
    sinks: { console: getConsoleSink() },
    loggers: [{ category: [], sinks: ["console"], lowestLevel: "warning" }],
  });
  readings.push(await settledRss());
  const lib = await import("../mod.ts");
  const client = await import("../client/mod.ts");
  const workload = await import("./workload.ts");
  readings.push(await settledRss());
  const config = await client.loadClientConfig({ kubeconfig });
  readings.push(await settledRss());
  const probe = new client.KubeClient(config);
  await probe.request("GET", "/version");
  probe.close();
  readings.push(await settledRss());
  const handle = await lib.startOperator(
    lib.operatorConfig({ ...workload.benchConfigInit, namespace }),
    workload.benchSync,
    { clientConfig: config },
  );
  await handle.ready;
  readings.push(await settledRss());
  await new Promise((resolve) => setTimeout(resolve, 3000));
  readings.push(await settledRss());
  await handle.stop();
  await server.shutdown();
  console.log(JSON.stringify(readings));
}

async function main(runs: number): Promise<void> {
  const { startControlPlane, installCustomResourceDefinitions, testCustomResourceDefinition } =
    await import("../testkit/mod.ts");
  const { KubeClient, ResourceClient } = await import("../client/mod.ts");
  const { k8s } = await import("../mod.ts");
  const { BenchParentType } = await import("./workload.ts");
  await using cp = await startControlPlane();
  const admin = new KubeClient(cp.clientConfig);
  try {
    await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(BenchParentType)]);
    const namespace = "idle-stages";
    await new ResourceClient(admin, k8s.core.v1.Namespace).create({
      metadata: { name: namespace },
    });
    const rows: number[][] = [];
    for (let run = 0; run < runs; run++) {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--v8-flags=--expose-gc",
          new URL(import.meta.url).pathname,
          "--child",
          cp.kubeconfigPath,
          namespace,
        ],
        stderr: "inherit",
      }).output();
      if (!output.success) throw new Error(`run ${run + 1} failed (exit ${output.code})`);
      rows.push(JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!));
    }
    console.log(`| stage | ${rows.map((_, i) => `run ${i + 1}`).join(" | ")} |`);
    console.log(`| --- | ${rows.map(() => "---").join(" | ")} |`);
    for (const [i, stage] of STAGES.entries()) {
      const cells = rows.map((row) => {
        const delta = i === 0 ? "" : ` (+${(row[i]! - row[i - 1]!).toFixed(1)})`;
        return `${row[i]!.toFixed(1)} MiB${delta}`;
      });
      console.log(`| ${stage} | ${cells.join(" | ")} |`);
    }
  } finally {
    admin.close();
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    await child(Deno.args[1]!, Deno.args[2]!);
    Deno.exit(0);
  }
  const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
  await main(Number(values.runs ?? 3));
}
