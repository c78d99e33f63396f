/**
 * How a {@linkcode WorkQueue} is configured and what it reports: the result of a run, its
 * options, the observer hooks for metrics, and the options and result of a shutdown.
 *
 * @module
 */

/** The outcome of one run of {@linkcode WorkQueueOptions.process}. */
export interface WorkResult {
  /** `true` if the run succeeded. On `false` the key is retried after `errorBackoff(key)` ms. */
  ok: boolean;
  /**
   * After a successful run, run the key again after this many milliseconds. An earlier pending
   * schedule for the key wins. Values that are not finite numbers ≥ 0 are ignored. The field is
   * also ignored when `ok` is `false`, because the error backoff decides the retry.
   */
  requeueAfterMs?: number;
}

/**
 * Hooks the queue calls so that metrics can be kept. Every hook is optional. A hook that throws
 * does not disturb the queue: its error goes to `reportError`.
 */
export interface WorkQueueObserver {
  /**
   * A key became due: it was queued, or marked dirty while running. Adds absorbed by
   * de-duplication are not reported. This matches client-go's `workqueue_adds_total`.
   *
   * @param key the key
   */
  onAdd?(key: string): void;
  /**
   * A run started.
   *
   * @param key the key
   * @param queuedMs how long the key waited between becoming due and starting
   */
  onStart?(key: string, queuedMs: number): void;
  /**
   * A run finished.
   *
   * @param key the key
   * @param ok whether the run succeeded
   * @param durationMs how long the run took
   * @param error the exception thrown by `process`, if it threw
   */
  onDone?(key: string, ok: boolean, durationMs: number, error?: unknown): void;
  /**
   * A retry was scheduled after a failed run.
   *
   * @param key the key
   * @param delayMs the delay returned by `errorBackoff`
   */
  onRetry?(key: string, delayMs: number): void;
}

/** Options for {@linkcode WorkQueue}. */
export interface WorkQueueOptions {
  /** The most runs of `process` in progress at once: an integer ≥ 1, or `Infinity`. */
  concurrency: number;
  /**
   * Reconciles one key. It is never called twice at once for the same key. A thrown exception or
   * a rejected promise counts as `{ ok: false }`. `signal` is aborted when
   * {@linkcode WorkQueue.shutdown} gives up waiting for the run.
   */
  process: (key: string, signal: AbortSignal) => Promise<WorkResult>;
  /**
   * How many milliseconds to wait before retrying a failed run. The runner passes
   * `KeyedBackoff.next`. `Infinity` (or any value that is not a number) means give up: no retry
   * is scheduled until the next add. Negative values count as 0.
   */
  errorBackoff: (key: string) => number;
  /** Called after a successful run, to reset the key's backoff. */
  resetBackoff: (key: string) => void;
  /**
   * Called by {@linkcode WorkQueue.forget} to drop the key's backoff state for good. Defaults to
   * `resetBackoff`.
   */
  forgetBackoff?: (key: string) => void;
  /** The clock in milliseconds. Defaults to `performance.now()`. */
  now?: () => number;
  /** Hooks for metrics. */
  observer?: WorkQueueObserver;
}

/** Options for {@linkcode WorkQueue.shutdown}. */
export interface WorkQueueShutdownOptions {
  /**
   * How long to wait for in-flight runs, in milliseconds. When the wait runs out, their signals
   * are aborted. The default is 30 000. Pass `Infinity` to wait as long as it takes, or `0` to
   * abort at once.
   */
  drainTimeoutMs?: number;
}

/** The result of {@linkcode WorkQueue.shutdown}. */
export interface WorkQueueShutdownResult {
  /** `true` if every in-flight run finished within the drain timeout. */
  drained: boolean;
}
