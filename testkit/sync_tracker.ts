/**
 * What the test kit knows about the operator's syncs: a {@linkcode SyncTracker} records the sync
 * events of the controller, waits until the operator is idle (`TestKit.reconcile`, throwing
 * {@linkcode ReconcileTimeoutError}), counts failed syncs by parent and reports the new ones
 * (`TestKit.reconcileAndAssertSuccess`, throwing {@linkcode ReconcileFailedError}).
 *
 * @module
 */
import type { SyncEvent } from "../runner/controller.ts";
import { messageOf, sleep } from "../client/_util.ts";

/** A parent that kept the operator busy, as reported by {@linkcode ReconcileTimeoutError}. */
export interface BusyParent {
  /** The parent key, `namespace/name` or `name`. */
  readonly parent: string;
  /** Whether a sync of it was running when the wait ran out. */
  readonly running: boolean;
  /** How many syncs of it started during the wait. */
  readonly syncsStarted: number;
  /** How many of those failed. */
  readonly syncsFailed: number;
}

/** `TestKit.reconcile` ran out of time before the operator became idle. */
export class ReconcileTimeoutError extends Error {
  /** How long it waited, in ms. */
  readonly timeoutMs: number;
  /**
   * The parents running, or that started a sync shortly before the deadline (within twice the
   * quiet period, or up to a second for long waits).
   */
  readonly busy: readonly BusyParent[];
  /** How many parents were waiting in the queue. */
  readonly queued: number;

  /**
   * Creates the error.
   *
   * @param timeoutMs how long the wait was
   * @param busy the parents still busy
   * @param queued the parents waiting in the queue
   */
  constructor(timeoutMs: number, busy: readonly BusyParent[], queued: number) {
    const parents = busy.map((p) =>
      `"${p.parent}" (${p.running ? "running, " : ""}${p.syncsStarted} syncs during the wait` +
      `${p.syncsFailed ? `, ${p.syncsFailed} failed` : ""})`
    );
    const detail = [
      parents.length ? `parents still busy: ${parents.join(", ")}` : "",
      queued ? `${queued} parent${queued === 1 ? "" : "s"} queued` : "",
    ].filter(Boolean).join("; ");
    super(
      `Cannot reconcile: the operator was still busy after ${timeoutMs} ms` +
        (detail ? `; ${detail}` : ""),
    );
    this.name = "ReconcileTimeoutError";
    this.timeoutMs = timeoutMs;
    this.busy = busy;
    this.queued = queued;
  }
}

/** The failed syncs of one parent, as reported by {@linkcode ReconcileFailedError}. */
export interface ParentFailures {
  /** The parent key, `namespace/name` or `name`. */
  readonly parent: string;
  /** Failed syncs while the parent was not being deleted. */
  readonly syncErrors: number;
  /** Failed syncs while it was being deleted (finalize). */
  readonly finalizeErrors: number;
  /** The message of the last failure. */
  readonly lastError: string;
}

/** `TestKit.reconcileAndAssertSuccess` found failed syncs. */
export class ReconcileFailedError extends Error {
  /** The parents whose syncs failed, with counts. */
  readonly failures: readonly ParentFailures[];

  /**
   * Creates the error.
   *
   * @param failures the parents whose syncs failed
   */
  constructor(failures: readonly ParentFailures[]) {
    const parts = failures.map((f) => {
      const counts = [
        f.syncErrors ? `${f.syncErrors} sync error${f.syncErrors === 1 ? "" : "s"}` : "",
        f.finalizeErrors
          ? `${f.finalizeErrors} finalize error${f.finalizeErrors === 1 ? "" : "s"}`
          : "",
      ].filter(Boolean).join(", ");
      return `"${f.parent}" (${counts}; last: ${f.lastError})`;
    });
    super(
      `Cannot assert that every sync succeeded: ${failures.length} parent${
        failures.length === 1 ? "" : "s"
      } failed: ${parts.join("; ")}`,
    );
    this.name = "ReconcileFailedError";
    this.failures = failures;
  }
}

/** One failed sync. */
export interface SyncFailure {
  /** The parent key, `namespace/name` or `name`. */
  parent: string;
  /** Whether the parent was being deleted. */
  phase: "sync" | "finalize";
  /** The error's message. */
  message: string;
}

/** The work queue's load, as a {@linkcode SyncTracker} reads it. */
export interface QueueLoad {
  /** Parents waiting in the queue. */
  readonly depth: number;
  /** Parents being synced. */
  readonly running: number;
}

/** What a {@linkcode SyncTracker} watches. */
export interface SyncTrackerInit {
  /** The controller's work queue. */
  queue: QueueLoad;
  /** How long the operator must stay idle for {@linkcode SyncTracker.reconcile} to return, in ms. */
  quietMs: number;
}

/** Records the syncs of one operator, from its start. */
export class SyncTracker {
  readonly #queue: QueueLoad;
  readonly #quietMs: number;
  readonly #running = new Set<string>();
  readonly #started = new Map<string, number>();
  readonly #lastStart = new Map<string, number>();
  readonly #failureCounts = new Map<string, number>();
  readonly #failures: SyncFailure[] = [];
  #checkedFailures = 0;
  #lastActivity = performance.now();

  /**
   * Creates the tracker.
   *
   * @param init the work queue and the quiet period
   */
  constructor(init: SyncTrackerInit) {
    this.#queue = init.queue;
    this.#quietMs = init.quietMs;
  }

  /**
   * Records a sync event of the controller; give it to `controller.onSync`.
   *
   * @param event the event
   */
  observe(event: SyncEvent): void {
    const now = performance.now();
    this.#lastActivity = now;
    if (event.state === "started") {
      this.#running.add(event.parent);
      this.#started.set(event.parent, (this.#started.get(event.parent) ?? 0) + 1);
      this.#lastStart.set(event.parent, now);
      return;
    }
    this.#running.delete(event.parent);
    if (event.state === "failed") {
      const countKey = `${event.phase}:${event.parent}`;
      this.#failureCounts.set(countKey, (this.#failureCounts.get(countKey) ?? 0) + 1);
      this.#failures.push({
        parent: event.parent,
        phase: event.phase,
        message: messageOf(event.error),
      });
    }
  }

  /**
   * Waits until the operator is idle: nothing queued, nothing running, and no sync started for
   * the quiet period.
   *
   * @param timeoutMs how long to wait, in ms
   * @throws {ReconcileTimeoutError} naming the parents still busy when the time is up
   */
  async reconcile(timeoutMs: number): Promise<void> {
    const queue = this.#queue;
    const begin = performance.now();
    const deadline = begin + timeoutMs;
    const startedBefore = new Map(this.#started);
    const failuresBefore = this.#failures.length;
    let lastBusy = begin;
    while (true) {
      const now = performance.now();
      if (queue.depth > 0 || queue.running > 0 || this.#running.size > 0) lastBusy = now;
      lastBusy = Math.max(lastBusy, this.#lastActivity);
      if (now - lastBusy >= this.#quietMs) return;
      if (now >= deadline) break;
      await sleep(Math.min(20, Math.max(1, deadline - now)));
    }
    // The parents that kept it from a quiet period: those running, or that started a sync
    // shortly before the deadline.
    const recent = performance.now() - Math.max(2 * this.#quietMs, Math.min(1000, timeoutMs / 2));
    const keys = new Set<string>(this.#running);
    for (const [key, at] of this.#lastStart) if (at >= recent) keys.add(key);
    const failedDuring = this.#failures.slice(failuresBefore);
    const busy = [...keys].sort().map((parent) => ({
      parent,
      running: this.#running.has(parent),
      syncsStarted: (this.#started.get(parent) ?? 0) - (startedBefore.get(parent) ?? 0),
      syncsFailed: failedDuring.filter((f) => f.parent === parent).length,
    }));
    throw new ReconcileTimeoutError(timeoutMs, busy, queue.depth);
  }

  /**
   * Checks that no sync failed since the tracker was created or since the last call.
   *
   * @throws {ReconcileFailedError} naming each parent whose syncs failed, with counts and the
   * last error
   */
  assertNoNewFailures(): void {
    const failures = this.#failures.slice(this.#checkedFailures);
    this.#checkedFailures = this.#failures.length;
    if (failures.length === 0) return;
    const byParent = new Map<
      string,
      { parent: string; syncErrors: number; finalizeErrors: number; lastError: string }
    >();
    for (const failure of failures) {
      let entry = byParent.get(failure.parent);
      if (!entry) {
        entry = { parent: failure.parent, syncErrors: 0, finalizeErrors: 0, lastError: "" };
        byParent.set(failure.parent, entry);
      }
      if (failure.phase === "sync") entry.syncErrors++;
      else entry.finalizeErrors++;
      entry.lastError = failure.message;
    }
    throw new ReconcileFailedError([...byParent.values()]);
  }

  /**
   * How many syncs of a parent failed since the tracker was created.
   *
   * @param phase `"sync"` (the parent was not being deleted) or `"finalize"`
   * @param parent the parent key, `namespace/name` or `name`
   * @returns the count
   */
  failureCount(phase: SyncFailure["phase"], parent: string): number {
    return this.#failureCounts.get(`${phase}:${parent}`) ?? 0;
  }

  /**
   * The most recent failed sync of any parent, to explain a wait that timed out.
   *
   * @returns the failure, if any
   */
  latestFailure(): SyncFailure | undefined {
    return this.#failures.at(-1);
  }

  /**
   * The last failed sync of a parent in a phase.
   *
   * @param phase `"sync"` or `"finalize"`
   * @param parent the parent key, `namespace/name` or `name`
   * @returns the failure, or `undefined` when none failed
   */
  lastFailure(phase: SyncFailure["phase"], parent: string): SyncFailure | undefined {
    return this.#failures.findLast((f) => f.parent === parent && f.phase === phase);
  }
}
