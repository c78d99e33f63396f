/**
 * The floor of idle memory: a bare `Deno.serve` hello-world, started by the harness with the same
 * runtime flags as the operator (`deploy/permissions.ts`'s, `--v8-flags`). It answers `/ready`
 * and `/memory` (the operator's debug report, `?gc=1` after a full GC), and loads nothing else.
 *
 * ```sh
 * deno run --allow-net bench/hello.ts --port 9000
 * ```
 *
 * @module
 */
import { memoryReport } from "./lib/memory_report.ts";

if (import.meta.main) {
  const at = Deno.args.indexOf("--port");
  const port = Number(at >= 0 ? Deno.args[at + 1] : "8080");
  Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/ready") return new Response("ok\n");
    if (url.pathname === "/memory") {
      return memoryReport(url.searchParams.get("gc") === "1").then((r) => Response.json(r));
    }
    return new Response("hello\n");
  });
}
