/**
 * The operator's Prometheus metrics: syncs by result, sync durations, queue depth, cached objects
 * and their size, watch restarts, writes by kind, API request latency, leadership, suppressed
 * log records and twin instances.
 *
 * @module
 */
import type { ResourceType } from "../client/resource_type.ts";
import type { RequestObservation } from "../client/kube_client.ts";
import { Registry } from "./metrics/registry.ts";
import {
  type ProcessMetrics,
  type ProcessMetricsOptions,
  trackProcessMetrics,
} from "./process_metrics.ts";

/** The kinds of write the controller makes. */
export type WriteKind = "create" | "update" | "apply" | "delete" | "status" | "finalizer";

/** Options for {@linkcode OperatorMetrics}. */
export interface OperatorMetricsOptions {
  /**
   * How many parents the in-memory per-parent sync tally ({@linkcode OperatorMetrics.syncs})
   * remembers; the parent synced least recently is forgotten first. Default 10 000.
   */
  maxTrackedParents?: number;
}

/** What the cache gauges read of one informer cache. */
export interface CacheStats {
  /** The cached type, `apiVersion/kind`. */
  readonly typeName: string;
  /** How many objects it holds. */
  readonly size: number;
  /** The JSON length of the objects it holds. */
  readonly bytes: number;
}

/**
 * The metrics of one operator, rendered at `/metrics`.
 *
 * Counters carry no per-parent label (the convention of controller-runtime: per controller, per
 * result), so their cardinality does not grow with the number of parents. Per-parent sync counts,
 * for tests, are kept in a bounded in-memory tally that is not exported.
 */
export class OperatorMetrics {
  /** The registry, for adding metrics of your own. */
  readonly registry: Registry = new Registry();
  readonly #syncs = this.registry.counter(
    "roperator_syncs_total",
    "Syncs run, by result (error: the sync threw, or a failableHandler step failed).",
    ["result"],
  );
  /** Per parent: [successes, errors]; in order of the last sync, oldest first. */
  readonly #tally = new Map<string, [number, number]>();
  readonly #maxTracked: number;
  readonly #suppressed = this.registry.counter(
    "roperator_log_suppressed_total",
    "Log records not written because they repeated an earlier one, by level.",
    ["level"],
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
   * Creates the metrics of one operator.
   *
   * @param options the bound of the per-parent tally
   * @throws {RangeError} when `maxTrackedParents` is not a positive integer
   */
  constructor(options: OperatorMetricsOptions = {}) {
    const max = options.maxTrackedParents ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `Cannot create operator metrics: maxTrackedParents must be a positive integer, got ${max}`,
      );
    }
    this.#maxTracked = max;
  }

  /**
   * Registers the cache gauges of the informers: objects and their size by type. The size is the
   * JSON length of the cached objects, kept up to date by the informers as objects come and go
   * (nothing is serialised at scrape time). Informers of the same type (a shared parent type
   * with different selectors) are added up.
   *
   * @param informers the informers to report
   */
  trackInformers(informers: () => readonly CacheStats[]): void {
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
   * Registers the process and runtime metrics: `process_resident_memory_bytes`,
   * `process_cpu_seconds_total`, `process_start_time_seconds`, `process_open_fds` (when
   * `/proc/self/fd` may be read), `deno_heap_used_bytes`, `deno_heap_total_bytes`,
   * `deno_external_memory_bytes` and `deno_eventloop_lag_seconds`. One set per process: the
   * runner registers them with the first operator of a group.
   *
   * @param options the probe and the lag sampler's period, for tests
   * @returns the event-loop lag sampler, to stop on shutdown
   */
  trackProcess(options: ProcessMetricsOptions = {}): ProcessMetrics {
    return trackProcessMetrics(this.registry, options);
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
    this.#syncs.inc({ result: ok ? "success" : "error" });
    this.#syncSeconds.observe(durationMs / 1000);
    const counts = this.#tally.get(parent) ?? [0, 0];
    counts[ok ? 0 : 1]++;
    // Re-insert: the Map's order is the order of the last sync.
    this.#tally.delete(parent);
    this.#tally.set(parent, counts);
    if (this.#tally.size > this.#maxTracked) {
      const oldest = this.#tally.keys().next().value;
      if (oldest !== undefined) this.#tally.delete(oldest);
    }
  }

  /**
   * Forgets the per-parent tally of a deleted parent.
   *
   * @param parent the parent key
   */
  forgetParent(parent: string): void {
    this.#tally.delete(parent);
  }

  /**
   * Counts log records not written because they repeated an earlier one
   * (`roperator_log_suppressed_total{level}`).
   *
   * @param level the level of the suppressed records
   * @param n how many
   */
  logSuppressed(level: "warning" | "error", n = 1): void {
    this.#suppressed.inc({ level }, n);
  }

  /**
   * Log records suppressed so far, by level.
   *
   * @param level the level
   * @returns the count
   */
  suppressed(level: "warning" | "error"): number {
    return this.#suppressed.get({ level });
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
   * @param reason why: `closed`, `expired`, `idle`, `error`, `invalid` or `relist`
   */
  watchRestart(type: ResourceType, reason: string): void {
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
   * Syncs counted so far for a parent, from the bounded in-memory tally (not exported: the
   * `roperator_syncs_total` counter has no parent label). A parent that was deleted, or that has
   * not synced while {@linkcode OperatorMetricsOptions.maxTrackedParents} others did, counts 0.
   *
   * @param parent the parent key
   * @param result success or error
   * @returns the count
   */
  syncs(parent: string, result: "success" | "error"): number {
    return this.#tally.get(parent)?.[result === "success" ? 0 : 1] ?? 0;
  }

  /**
   * Syncs counted so far for every parent, by result (`roperator_syncs_total`).
   *
   * @param result success or error
   * @returns the count
   */
  syncsTotal(result: "success" | "error"): number {
    return this.#syncs.get({ result });
  }
}
