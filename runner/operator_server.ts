/**
 * The HTTP server of a running operator process: `/health` (and `/healthz`), `/ready` (and
 * `/readyz`: 503 with the reasons while the start-up checks run, a cache is not synced or its
 * watch has failed for longer than `readinessGraceMs`) and `/metrics` (several operators' metrics merged, with an `operator`
 * label).
 *
 * @module
 */
import type { OperatorConfig, ServerConfig } from "../config/operator_config.ts";
import type { Controller } from "./controller.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics/exposition.ts";
import type { OperatorMetrics } from "./operator_metrics.ts";

/** What the server reads of one operator. */
export interface ServedOperator {
  /** Its configuration (name, `readinessGraceMs`). */
  readonly config: OperatorConfig;
  /** Its controller, whose informers say whether it is ready. */
  readonly controller: Controller;
  /** Its metrics. */
  readonly metrics: OperatorMetrics;
}

/**
 * Why the operators are not ready, one line each (empty when they are): start-up checks not
 * passed yet (the server listens while they run), an informer whose first list has not
 * completed, or whose watch has failed for longer than `readinessGraceMs`.
 */
export function notReady(operators: readonly ServedOperator[]): string[] {
  const reasons: string[] = [];
  for (const { config, controller } of operators) {
    if (!controller.gateOpen) reasons.push(`${config.name}: start-up checks not passed yet`);
    for (const informer of controller.informers) {
      const reason = informer.notReadyReason(config.readinessGraceMs);
      if (reason !== undefined) reasons.push(`${config.name}: ${reason}`);
    }
  }
  return reasons;
}

/**
 * Serves `/health`, `/ready` and `/metrics` for one or more operators.
 *
 * @param server where to listen and what to serve
 * @param operators the operators of the process; read per request
 * @returns the listening server
 * @throws whatever `Deno.serve` throws when it cannot listen
 */
export function serveOperators(
  server: ServerConfig,
  operators: readonly ServedOperator[],
): Deno.HttpServer {
  const { port, hostname, health, metrics: exposeMetrics } = server;
  const render = () =>
    operators.length === 1
      ? operators[0]!.metrics.registry.render()
      : mergeMetrics(operators.map((o) => [o.config.name, o.metrics.registry.render()]));
  return Deno.serve({ port, hostname, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (health && (path === "/health" || path === "/healthz")) return new Response("ok\n");
    if (health && (path === "/ready" || path === "/readyz")) {
      // A follower is ready once its caches are warm: it can take over at once.
      const reasons = notReady(operators);
      return reasons.length === 0
        ? new Response("ok\n")
        : new Response(reasons.join("\n") + "\n", { status: 503 });
    }
    if (exposeMetrics && path === "/metrics") {
      return new Response(render(), {
        headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE },
      });
    }
    return new Response("not found\n", { status: 404 });
  });
}

/**
 * Renders several operators' metrics as one exposition: each family once, every sample with an
 * `operator` label.
 */
export function mergeMetrics(rendered: Array<[string, string]>): string {
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const [operator, text] of rendered) {
    let current: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2]!;
        current = families.get(name);
        if (current === undefined) families.set(name, current = { header: [], samples: [] });
        if (!current.header.some((h) => h.startsWith(`# ${meta[1]} `))) current.header.push(line);
        continue;
      }
      if (line.startsWith("#") || current === undefined) continue;
      const cut = line.search(/[{ ]/);
      const label = `operator="${operator}"`;
      current.samples.push(
        line[cut] !== "{"
          ? `${line.slice(0, cut)}{${label}}${line.slice(cut)}`
          : line[cut + 1] === "}"
          ? `${line.slice(0, cut + 1)}${label}${line.slice(cut + 1)}`
          : `${line.slice(0, cut + 1)}${label},${line.slice(cut + 1)}`,
      );
    }
  }
  let out = "";
  for (const { header, samples } of families.values()) {
    out += [...header, ...samples].join("\n") + "\n";
  }
  return out;
}
