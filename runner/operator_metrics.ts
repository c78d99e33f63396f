/**
 * The operator's Prometheus metrics: syncs, errors, sync durations, queue depth, cached objects
 * and their size, watch restarts, writes by kind, API request latency and leadership.
 *
 * @module
 */
import type { ResourceType } from "../client/resource_type.ts";
import type { RequestObservation } from "../client/kube_client.ts";
import type { Informer, RestartReason } from "./informer.ts";
import { Registry } from "./metrics.ts";

/** The kinds of write the controller makes. */
export type WriteKind = "create" | "update" | "apply" | "delete" | "status" | "finalizer";

/** The metrics of one operator, rendered at `/metrics`. */
export class OperatorMetrics {
  /** The registry, for adding metrics of your own. */
  readonly registry: Registry = new Registry();
  readonly #syncs = this.registry.counter(
    "roperator_syncs_total",
    "Syncs run, by parent and result.",
    ["parent", "result"],
  );
  readonly #syncSeconds = this.registry.histogram(
    "roperator_sync_duration_seconds",
    "Duration of a sync.",
    {
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    },
  );
  readonly #writes = this.registry.counter(
    "roperator_writes_total",
    "Writes to the API server, by kind.",
    ["kind"],
  );
  readonly #restarts = this.registry.counter(
    "roperator_watch_restarts_total",
    "Watch restarts, by resource type and reason.",
    ["type", "reason"],
  );
  readonly #requests = this.registry.histogram(
    "roperator_api_request_duration_seconds",
    "Latency of API server requests until the response headers, by method and status code.",
    {
      labelNames: ["method", "code"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    },
  );

  /**
   * Registers the cache gauges of the informers: objects and their size by type. The size is the
   * JSON length of the cached objects, kept up to date by the informers as objects come and go
   * (nothing is serialised at scrape time). Informers of the same type (a shared parent type
   * with different selectors) are added up.
   *
   * @param informers the informers to report
   */
  trackInformers(informers: () => Informer[]): void {
    this.registry.gauge("roperator_cached_objects", "Objects in the informer caches, by type.", {
      labelNames: ["type"],
      collect: (gauge) => {
        gauge.reset();
        for (const informer of informers()) gauge.inc({ type: informer.typeName }, informer.size);
      },
    });
    this.registry.gauge(
      "roperator_cached_bytes",
      "JSON size of the objects in the informer caches (after pruning), by type.",
      {
        labelNames: ["type"],
        collect: (gauge) => {
          gauge.reset();
          for (const informer of informers()) {
            gauge.inc({ type: informer.typeName }, informer.bytes);
          }
        },
      },
    );
  }

  /**
   * Registers the leadership gauge, `roperator_leader{lease}`: 1 while this instance leads, else
   * 0.
   *
   * @param lease the Lease, as `namespace/name`
   * @param isLeader reads whether this instance leads now
   */
  trackLeadership(lease: string, isLeader: () => boolean): void {
    this.registry.gauge(
      "roperator_leader",
      "1 while this instance holds the leader-election Lease and syncs, else 0.",
      {
        labelNames: ["lease"],
        collect: (gauge) => gauge.set({ lease }, isLeader() ? 1 : 0),
      },
    );
  }

  /**
   * Records a finished sync.
   *
   * @param parent the parent key
   * @param ok whether it succeeded
   * @param durationMs how long it took
   */
  syncDone(parent: string, ok: boolean, durationMs: number): void {
    this.#syncs.inc({ parent, result: ok ? "success" : "error" });
    this.#syncSeconds.observe(durationMs / 1000);
  }

  /**
   * Drops the series of a deleted parent.
   *
   * @param parent the parent key
   */
  forgetParent(parent: string): void {
    this.#syncs.removeSeries({ parent });
  }

  /**
   * Counts a write.
   *
   * @param kind what was written
   */
  write(kind: WriteKind): void {
    this.#writes.inc({ kind });
  }

  /**
   * Counts a watch restart.
   *
   * @param type the resource type
   * @param reason why
   */
  watchRestart(type: ResourceType, reason: RestartReason): void {
    this.#restarts.inc({ type: `${type.apiVersion}/${type.kind}`, reason });
  }

  /**
   * Registers the queue gauges: parents waiting and syncs running, read at render time.
   *
   * @param queue reads the queue's depth and running count
   */
  trackQueue(queue: () => { depth: number; running: number }): void {
    this.registry.gauge("roperator_queue_depth", "Parents waiting for a sync.", {
      collect: (gauge) => gauge.set(queue().depth),
    });
    this.registry.gauge("roperator_syncs_running", "Syncs running now.", {
      collect: (gauge) => gauge.set(queue().running),
    });
  }

  /**
   * Records an API request.
   *
   * @param observation method, status and duration
   */
  request(observation: RequestObservation): void {
    this.#requests.observe(
      { method: observation.method, code: String(observation.status) },
      observation.durationMs / 1000,
    );
  }

  /**
   * Writes counted so far, by kind.
   *
   * @param kind the kind
   * @returns the count
   */
  writes(kind: WriteKind): number {
    return this.#writes.get({ kind });
  }

  /**
   * Syncs counted so far for a parent.
   *
   * @param parent the parent key
   * @param result success or error
   * @returns the count
   */
  syncs(parent: string, result: "success" | "error"): number {
    return this.#syncs.get({ parent, result });
  }
}
