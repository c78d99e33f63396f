/**
 * The operator under test, as the harness starts it: the benchmark operator
 * (`bench/workload.ts`) run by `operatorMain`, exactly as a user's binary runs, plus a debug
 * endpoint on its own port that reports `Deno.memoryUsage()` (the library has no hook for it).
 *
 * ```sh
 * deno run --allow-net --allow-env=… --allow-read=<kubeconfig> bench/operator.ts \
 *   --debug-port 9001 --kubeconfig <path> --namespace <ns> --port 9000 --log-level info
 * ```
 *
 * `GET /memory` answers `{ rss, heapTotal, heapUsed, external }` in bytes; `GET /memory?gc=1`
 * first runs a full garbage collection that also returns free pages to the system (V8's
 * "last-resort" collection), when the process was started with `--v8-flags=--expose-gc`.
 *
 * @module
 */
import { operatorMain } from "../mod.ts";
import { benchConfigInit, benchSync } from "./workload.ts";
import { memoryReport } from "./lib/memory_report.ts";

export { type MemoryReport, memoryReport } from "./lib/memory_report.ts";

/**
 * Takes `--debug-port <n>` out of the arguments.
 *
 * @param args the command line
 * @returns the port (or `undefined`) and the other arguments
 */
export function splitDebugPort(args: readonly string[]): { port?: number; rest: string[] } {
  const rest: string[] = [];
  let port: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--debug-port") {
      port = Number(args[++i]);
    } else if (arg.startsWith("--debug-port=")) {
      port = Number(arg.slice("--debug-port=".length));
    } else {
      rest.push(arg);
    }
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new TypeError(`--debug-port must be a port number`);
  }
  return port === undefined ? { rest } : { port, rest };
}

if (import.meta.main) {
  const { port, rest } = splitDebugPort(Deno.args);
  if (port !== undefined) {
    Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
      const url = new URL(request.url);
      if (url.pathname !== "/memory") return new Response("not found\n", { status: 404 });
      return memoryReport(url.searchParams.get("gc") === "1").then((r) => Response.json(r));
    });
  }
  Deno.exit(await operatorMain(benchConfigInit, benchSync, { args: rest }));
}
