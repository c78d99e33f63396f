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

/** What `GET /memory` answers, in bytes. */
export interface MemoryReport {
  /** Resident set size. */
  rss: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** Memory outside the V8 heap held by JS objects (buffers). */
  external: number;
  /** Whether a full GC ran before the reading. */
  gc: boolean;
}

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

/** The `gc` function V8 exposes with `--expose-gc`. */
type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * Reads the memory of this process, after a full GC when asked and available. The GC is V8's
 * "last-resort" major collection, which also shrinks the heap's committed pages, so the reading
 * is the memory the process keeps rather than what the allocator has not returned yet.
 *
 * @param gc collect garbage first (needs `--v8-flags=--expose-gc`)
 * @returns the reading
 */
export function memoryReport(gc: boolean): MemoryReport {
  const collect = (globalThis as { gc?: GcFunction }).gc;
  const collected = gc && typeof collect === "function";
  if (collected) {
    collect();
    collect({ type: "major", execution: "sync", flavor: "last-resort" });
  }
  return { ...Deno.memoryUsage(), gc: collected };
}

if (import.meta.main) {
  const { port, rest } = splitDebugPort(Deno.args);
  if (port !== undefined) {
    Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
      const url = new URL(request.url);
      if (url.pathname !== "/memory") return new Response("not found\n", { status: 404 });
      return Response.json(memoryReport(url.searchParams.get("gc") === "1"));
    });
  }
  Deno.exit(await operatorMain(benchConfigInit, benchSync, { args: rest }));
}
