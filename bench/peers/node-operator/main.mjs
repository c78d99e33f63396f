/**
 * The Node peer: the benchmark operator (bench/workload.ts) written the way a Node user would
 * write it on `@kubernetes/client-node` — `makeInformer` for the parents, the ConfigMaps and the
 * Services, a small de-duplicating work queue with the same concurrency (8, never two syncs of
 * one parent at once), create a missing child, replace a changed one, and write the status only
 * when it differs. It waits for every cache before the first sync, as the library does.
 *
 *   node --expose-gc bench/peers/node-operator/main.mjs --kubeconfig <path> --namespace <ns> \
 *     --port <port>
 *
 * HTTP on 127.0.0.1:<port>: `/ready` (200 once every informer listed), `/memory[?gc=1]`
 * (process.memoryUsage(), after a full "last-resort" GC when asked, as bench/operator.ts does)
 * and `/stats` (syncs, writes, queue).
 *
 * @module
 */
import http from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";

// A specifier in a variable: Deno's module graph (`deno check` of the repository) skips it, so
// the Deno project needs no entry for this Node-only dependency.
const CLIENT_NODE = "@kubernetes/client-node";
const k8s = await import(CLIENT_NODE);

const GROUP = "bench.roperator.dev";
const VERSION = "v1";
const PLURAL = "benchparents";
const KIND = "BenchParent";
const TRACKING_LABEL = "app.kubernetes.io/instance";
const OWNERSHIP_LABEL = "app.kubernetes.io/managed-by";
const OPERATOR_NAME = "bench-operator";
const SELECTOR = `${OWNERSHIP_LABEL}=${OPERATOR_NAME}`;

const { values: args } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    port: { type: "string", default: "0" },
    concurrency: { type: "string", default: "8" },
  },
});
if (!args.kubeconfig || !args.namespace) {
  console.error("main.mjs: needs --kubeconfig and --namespace");
  process.exit(2);
}
const namespace = args.namespace;
const concurrency = Number(args.concurrency);

const kc = new k8s.KubeConfig();
kc.loadFromFile(args.kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);

const stats = {
  syncs: 0,
  errors: 0,
  creates: 0,
  updates: 0,
  statuses: 0,
  conflicts: 0,
};

/** A de-duplicating queue: one run per key at a time, at most `limit` runs at once. */
class WorkQueue {
  /**
   * @param {number} limit the most runs at once
   * @param {(key: string) => Promise<void>} run the work for one key
   */
  constructor(limit, run) {
    this.limit = limit;
    this.run = run;
    /** @type {string[]} */
    this.pending = [];
    this.queued = new Set();
    this.running = new Set();
    this.dirty = new Set();
  }

  /** @param {string} key */
  add(key) {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.pump();
  }

  pump() {
    while (this.running.size < this.limit && this.pending.length > 0) {
      const key = /** @type {string} */ (this.pending.shift());
      this.queued.delete(key);
      this.running.add(key);
      this.run(key).catch((error) => {
        stats.errors++;
        console.error(`sync of ${key} failed: ${error?.message ?? error}`);
        setTimeout(() => this.add(key), 1000);
      }).finally(() => {
        this.running.delete(key);
        if (this.dirty.delete(key)) this.add(key);
        this.pump();
      });
    }
  }
}

const parentsPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
const parents = k8s.makeInformer(
  kc,
  parentsPath,
  () =>
    custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
    }),
);
const configMaps = k8s.makeInformer(
  kc,
  `/api/v1/namespaces/${namespace}/configmaps`,
  () => core.listNamespacedConfigMap({ namespace, labelSelector: SELECTOR }),
  SELECTOR,
);
const services = k8s.makeInformer(
  kc,
  `/api/v1/namespaces/${namespace}/services`,
  () => core.listNamespacedService({ namespace, labelSelector: SELECTOR }),
  SELECTOR,
);

let ready = false;
/** Parent uid → name, to find the parent of a child from its tracking label. */
const uidToName = new Map();
const queue = new WorkQueue(concurrency, reconcile);

/** @param {any} error */
function isConflict(error) {
  return error?.code === 409;
}

/**
 * Creates a child; one that exists already (our cache had not seen it yet) is fine.
 *
 * @param {() => Promise<unknown>} call
 */
async function create(call) {
  try {
    await call();
    stats.creates++;
  } catch (error) {
    if (!isConflict(error)) throw error;
    stats.conflicts++;
  }
}

/** @param {string} name */
async function reconcile(name) {
  const parent = parents.get(name, namespace);
  if (!parent) return;
  stats.syncs++;
  const meta = parent.metadata;
  const value = parent.spec?.value ?? "";
  const labels = {
    [TRACKING_LABEL]: meta.uid,
    [OWNERSHIP_LABEL]: OPERATOR_NAME,
  };
  const ownerReferences = [{
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    name,
    uid: meta.uid,
    controller: true,
    blockOwnerDeletion: true,
  }];

  const cmName = `${name}-config`;
  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: cmName, namespace, labels, ownerReferences },
    data: { value },
  };
  const currentCm = configMaps.get(cmName, namespace);
  if (!currentCm) {
    await create(() => core.createNamespacedConfigMap({ namespace, body: configMap }));
  } else if (currentCm.data?.value !== value) {
    try {
      await core.replaceNamespacedConfigMap({
        name: cmName,
        namespace,
        body: {
          ...configMap,
          metadata: {
            ...configMap.metadata,
            resourceVersion: currentCm.metadata.resourceVersion,
          },
        },
      });
      stats.updates++;
    } catch (error) {
      if (!isConflict(error)) throw error;
      stats.conflicts++; // the watch brings the newer version, which enqueues the parent again
    }
  }

  const svcName = `${name}-svc`;
  const currentSvc = services.get(svcName, namespace);
  if (!currentSvc) {
    await create(() =>
      core.createNamespacedService({
        namespace,
        body: {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: svcName, namespace, labels, ownerReferences },
          spec: {
            clusterIP: "None",
            selector: { "bench.roperator.dev/parent": name },
            ports: [{
              name: "http",
              port: 80,
              targetPort: 8080,
              protocol: "TCP",
            }],
          },
        },
      })
    );
  }

  const status = { phase: "Ready", value, observedGeneration: meta.generation };
  const current = parent.status;
  if (
    current?.phase !== status.phase || current?.value !== status.value ||
    current?.observedGeneration !== status.observedGeneration
  ) {
    try {
      await custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
        body: { ...parent, status },
      });
      stats.statuses++;
    } catch (error) {
      if (!isConflict(error)) throw error;
      stats.conflicts++; // stale cache: the watch event of the newer version enqueues again
    }
  }
}

/** @param {any} object */
function enqueueParent(object) {
  if (!object?.metadata?.name) return;
  uidToName.set(object.metadata.uid, object.metadata.name);
  if (ready) queue.add(object.metadata.name);
}

/** @param {any} object */
function enqueueOwner(object) {
  const name = uidToName.get(object?.metadata?.labels?.[TRACKING_LABEL]);
  if (name !== undefined && ready) queue.add(name);
}

parents.on("add", enqueueParent);
parents.on("update", enqueueParent);
parents.on("delete", (object) => uidToName.delete(object?.metadata?.uid));
for (const informer of [configMaps, services]) {
  informer.on("add", enqueueOwner);
  informer.on("update", enqueueOwner);
  informer.on("delete", enqueueOwner);
}
// client-node stops an informer on an error other than 410 or a timeout: restart it.
for (
  const [label, informer] of [
    ["parents", parents],
    ["configmaps", configMaps],
    [
      "services",
      services,
    ],
  ]
) {
  informer.on("error", (error) => {
    console.error(
      `informer ${label} failed: ${error?.message ?? error}; restarting in 1 s`,
    );
    setTimeout(() => informer.start().catch(() => {}), 1000);
  });
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname === "/ready") {
    response.writeHead(ready ? 200 : 503).end(
      ready ? "ok\n" : "caches not synced\n",
    );
  } else if (url.pathname === "/memory") {
    const gc = url.searchParams.get("gc") === "1" &&
      typeof globalThis.gc === "function";
    // Full collections that also return free pages, a macrotask apart, as
    // bench/lib/memory_report.ts does (buffers are released after the collection that found them).
    const collect = (round) => {
      if (gc && round < 3) {
        globalThis.gc();
        globalThis.gc({ type: "major", execution: "sync", flavor: "last-resort" });
        setTimeout(() => collect(round + 1), 0);
        return;
      }
      response.writeHead(200, { "Content-Type": "application/json" })
        .end(JSON.stringify({ ...process.memoryUsage(), gc }));
    };
    collect(0);
  } else if (url.pathname === "/stats") {
    response.writeHead(200, { "Content-Type": "application/json" }).end(
      JSON.stringify({
        ...stats,
        depth: queue.pending.length,
        running: queue.running.size,
      }),
    );
  } else {
    response.writeHead(404).end("not found\n");
  }
});
server.listen(Number(args.port), "127.0.0.1");

process.on("SIGTERM", () => {
  console.error(
    `stopping after ${Math.round(process.uptime() * 1000)} ms: ${JSON.stringify(stats)}`,
  );
  for (const informer of [parents, configMaps, services]) informer.stop();
  server.close();
  process.exit(0);
});

await Promise.all([parents.start(), configMaps.start(), services.start()]);
ready = true;
console.error(
  `ready after ${Math.round(process.uptime() * 1000)} ms: ` +
    `${parents.list(namespace).length} parents cached`,
);
for (const parent of parents.list(namespace)) queue.add(parent.metadata.name);
