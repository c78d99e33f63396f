/**
 * The API floor: the requests a workload cannot do without, on the same client as the operator
 * (`KubeClient`), with the same concurrency, and nothing else — no cache, no handler, no
 * comparison. It is the physical limit of this machine and control plane for that workload.
 *
 * Modes (`--mode`):
 *
 * - `converge`: one paged list of the parents, then for each parent (8 at a time) create its
 *   ConfigMap and Service and write its status, exactly the objects the operator writes; exits
 *   when done.
 * - `latency`: one list of the parents for a resourceVersion, then a watch; each parent whose
 *   `spec.value` changed gets one merge patch of its ConfigMap.
 * - `startup`: the three paged lists the operator's informers make (parents, ConfigMaps and
 *   Services with the children's label selector); `/ready` answers 200 once they are done.
 *
 * Every mode serves `GET /ready` on `--port` (503 until ready), as the operator does.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { k8s, type ResourceType } from "../mod.ts";
import {
  fromKubeconfig,
  KubeClient,
  ResourceClient,
  resourcePath,
  type WatchEvent,
} from "../client/mod.ts";
import { decodeWatchStream } from "../client/watch.ts";
import { pruneManagedFields } from "../runner/cache_object.ts";
import { forEachConcurrent } from "./lib/pool.ts";
import {
  type BenchParent,
  BenchParentType,
  CHILD_SELECTOR,
  CONCURRENCY,
  configMapName,
  decoratedChildren,
  desiredStatus,
  OPERATOR_NAME,
  parentValue,
} from "./workload.ts";

/** The floor's modes. */
export type FloorMode = "converge" | "latency" | "startup";

/** What the floor needs to run. */
export interface FloorOptions {
  /** The client (the operator's). */
  client: KubeClient;
  /** The namespace of the parents. */
  namespace: string;
  /** Requests in flight at once (the operator's `concurrency`). */
  concurrency: number;
  /** Called once the floor is ready (lists done, watch connected). */
  onReady?: () => void;
  /** Stops a long-running mode. */
  signal?: AbortSignal;
}

/**
 * Creates the two children of every parent and writes every status.
 *
 * @param options client, namespace, concurrency
 * @returns the number of writes
 */
export async function floorConverge(options: FloorOptions): Promise<number> {
  const parents = new ResourceClient(options.client, BenchParentType, options.namespace);
  const configMaps = new ResourceClient(
    options.client,
    k8s.core.v1.ConfigMap as ResourceType,
    options.namespace,
  );
  const services = new ResourceClient(
    options.client,
    k8s.core.v1.Service as ResourceType,
    options.namespace,
  );
  const { items } = await parents.listAll({ pageSize: 500 });
  options.onReady?.();
  let writes = 0;
  const fieldManager = OPERATOR_NAME;
  await forEachConcurrent(items, options.concurrency, async (raw) => {
    const parent = pruneManagedFields(raw);
    const [configMap, service] = decoratedChildren(parent);
    await configMaps.create(configMap!, { fieldManager });
    await services.create(service!, { fieldManager });
    // The status as the operator writes it: a merge patch pinned to the resourceVersion.
    await parents.patchStatus(parent.metadata!.name!, {
      metadata: { resourceVersion: parent.metadata!.resourceVersion },
      status: { ...desiredStatus(parent), observedGeneration: parent.metadata!.generation! },
    }, { fieldManager });
    writes += 3;
  });
  return writes;
}

/**
 * Lists the parents and the children, as the operator's informers do at start-up.
 *
 * @param options client, namespace
 * @returns the number of objects listed
 */
export async function floorStartup(options: FloorOptions): Promise<number> {
  const lists = await Promise.all([
    new ResourceClient(options.client, BenchParentType, options.namespace).listAll({
      pageSize: 500,
    }),
    new ResourceClient(options.client, k8s.core.v1.ConfigMap as ResourceType, options.namespace)
      .listAll({
        pageSize: 500,
        labelSelector: CHILD_SELECTOR,
      }),
    new ResourceClient(options.client, k8s.core.v1.Service as ResourceType, options.namespace)
      .listAll({
        pageSize: 500,
        labelSelector: CHILD_SELECTOR,
      }),
  ]);
  options.onReady?.();
  return lists.reduce((n, list) => n + list.items.length, 0);
}

/**
 * Watches the parents and patches the ConfigMap of each parent whose value changed, until the
 * signal aborts.
 *
 * @param options client, namespace, concurrency, signal
 * @returns the number of writes
 */
export async function floorLatency(options: FloorOptions): Promise<number> {
  const parents = new ResourceClient(options.client, BenchParentType, options.namespace);
  const configMaps = new ResourceClient(
    options.client,
    k8s.core.v1.ConfigMap as ResourceType,
    options.namespace,
  );
  const { items, resourceVersion } = await parents.listAll({ pageSize: 500 });
  const seen = new Map<string, string>(
    items.map((p) => [p.metadata!.name!, parentValue(p)]),
  );
  const path = resourcePath(BenchParentType, { namespace: options.namespace });
  const response = await options.client.send("GET", path, {
    query: { watch: true, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 3600 },
    stream: true,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.onReady?.();
  let writes = 0;
  let inFlight = 0;
  const slots: Array<() => void> = [];
  const chunks = response.body!.pipeThrough(new TextDecoderStream());
  try {
    for await (const event of decodeWatchStream<BenchParent>(path, chunks)) {
      if (event.type !== "MODIFIED" && event.type !== "ADDED") continue;
      const parent = (event as WatchEvent<BenchParent> & { object: BenchParent }).object;
      const name = parent.metadata!.name!;
      const value = parentValue(parent);
      if (seen.get(name) === value) continue;
      seen.set(name, value);
      if (inFlight >= options.concurrency) await new Promise<void>((r) => slots.push(r));
      inFlight++;
      configMaps.patch(configMapName(name), { data: { value } }, { fieldManager: OPERATOR_NAME })
        .then(() => writes++, (error) => console.error(`patch of ${name} failed: ${error}`))
        .finally(() => {
          inFlight--;
          slots.shift()?.();
        });
    }
  } catch (error) {
    if (!options.signal?.aborted) throw error;
  }
  return writes;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      mode: { type: "string", default: "converge" },
      concurrency: { type: "string", default: String(CONCURRENCY) },
      port: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "floor.ts --kubeconfig <path> --namespace <ns> --mode converge|latency|startup " +
        "[--concurrency 8] [--port <ready port>]",
    );
    Deno.exit(0);
  }
  const mode = values.mode as FloorMode;
  if (
    !values.kubeconfig || !values.namespace || !["converge", "latency", "startup"].includes(mode)
  ) {
    console.error("floor.ts: needs --kubeconfig, --namespace and a valid --mode");
    Deno.exit(2);
  }
  let ready = false;
  if (values.port) {
    Deno.serve(
      { port: Number(values.port), hostname: "127.0.0.1", onListen: () => {} },
      () => ready ? new Response("ok\n") : new Response("not ready\n", { status: 503 }),
    );
  }
  const started = performance.now();
  const client = new KubeClient(
    await fromKubeconfig({ path: values.kubeconfig, userAgent: "bench-floor" }),
  );
  const abort = new AbortController();
  Deno.addSignalListener("SIGTERM", () => {
    abort.abort();
    client.close();
    Deno.exit(0);
  });
  const options: FloorOptions = {
    client,
    namespace: values.namespace,
    concurrency: Number(values.concurrency),
    onReady: () => ready = true,
    signal: abort.signal,
  };
  const count = mode === "converge"
    ? await floorConverge(options)
    : mode === "startup"
    ? await floorStartup(options)
    : await floorLatency(options);
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({
    mode,
    count,
    ms: Math.round(performance.now() - started),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  }));
  if (mode === "startup") await new Promise<void>(() => {}); // stay up until killed
  client.close();
  Deno.exit(0);
}
