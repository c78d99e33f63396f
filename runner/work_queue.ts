/**
 * {@linkcode WorkQueue}: the reconcile queue. It does the same job as client-go's workqueue and
 * kube-rs's scheduler.
 *
 * - **One run per key at a time.** `process` is never called twice at once for the same key.
 *   An `add` that arrives while a key is running marks the key *dirty*. The key then runs exactly
 *   once more after the current run finishes.
 * - **De-duplication.** Any number of `add`s while a key waits in the queue give one run.
 * - **Bounded concurrency, FIFO fairness.** At most `concurrency` runs happen at once. Ready keys
 *   start in the order they became ready. A key that becomes ready again (dirty, retried or
 *   requeued) goes to the back of the line, so a hot key cannot starve the others. `add` costs
 *   O(1), so bursts of many thousands of keys are cheap.
 * - **Retries and requeues.** A failed run (`ok: false`, or a thrown exception) is retried after
 *   `errorBackoff(key)` milliseconds. A successful run calls `resetBackoff(key)` and, when it
 *   returns `requeueAfterMs`, runs again after that delay.
 * - **Timers.** Each key keeps at most one pending timer, and the earliest one wins. One
 *   `setTimeout` serves the whole queue. Adds and runs cancel no timer: only {@linkcode WorkQueue.forget}
 *   and {@linkcode WorkQueue.shutdown} do. A timer that fires while its key is queued is absorbed,
 *   and one that fires while the key is running marks it dirty.
 *
 * @module
 */
import { ReadyQueue } from "./ready_queue.ts";
import { TimerHeap } from "./timer_heap.ts";
import type {
  WorkQueueObserver,
  WorkQueueOptions,
  WorkQueueShutdownOptions,
  WorkQueueShutdownResult,
  WorkResult,
} from "./work_queue_options.ts";

/** The longest delay `setTimeout` accepts (2³¹ − 1 ms, about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2_147_483_647;
/** The default {@linkcode WorkQueueShutdownOptions.drainTimeoutMs}. */
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Per-key bookkeeping. It is dropped as soon as the key is neither queued, running nor timed. */
interface KeyState {
  /** The ticket of the key's entry in the ready queue, or 0 when not queued. */
  ticket: number;
  /** When the key became due (queued or marked dirty). */
  dueSince: number;
  /** A run is in progress. */
  running: boolean;
  /** An add arrived during the run in progress: run once more afterwards. */
  dirty: boolean;
  /** `forget` was called during the run in progress: ignore that run's result. */
  forgotten: boolean;
  /** The sequence number of the key's live timer entry, or 0 when none. */
  timerSeq: number;
  /** When the key's timer is due (meaningful when `timerSeq` is not 0). */
  timerDue: number;
}

/** A run in progress. */
interface Run {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The reconcile queue. See the module documentation for the rules it follows.
 *
 * @example Reconcile keys with a per-key backoff
 * ```ts ignore
 * const backoff = new KeyedBackoff();
 * const queue = new WorkQueue({
 *   concurrency: 4,
 *   process: async (key, signal) => ({ ok: await reconcile(key, signal), requeueAfterMs: 3_600_000 }),
 *   errorBackoff: (key) => backoff.next(key) ?? Infinity,
 *   resetBackoff: (key) => backoff.reset(key),
 *   forgetBackoff: (key) => backoff.delete(key),
 * });
 * queue.add("default/my-app");
 * await queue.onIdle();
 * await queue.shutdown({ drainTimeoutMs: 10_000 });
 * ```
 */
export class WorkQueue {
  readonly #concurrency: number;
  readonly #process: (key: string, signal: AbortSignal) => Promise<WorkResult>;
  readonly #errorBackoff: (key: string) => number;
  readonly #resetBackoff: (key: string) => void;
  readonly #forgetBackoff: (key: string) => void;
  readonly #now: () => number;
  readonly #observer: WorkQueueObserver | undefined;

  readonly #keys: Map<string, KeyState> = new Map();

  // Ready queue: a FIFO. Entries whose ticket no longer matches the key's state are stale (the
  // key was forgotten) and are skipped.
  readonly #ready = new ReadyQueue((key, ticket) => {
    const state = this.#keys.get(key);
    return state !== undefined && state.ticket === ticket;
  });
  #ticketSeq = 0;
  #depth = 0;

  readonly #runs: Map<string, Run> = new Map();
  #pumping = false;

  // Timers: a binary min-heap on `due`, with lazy deletion, served by one `setTimeout`.
  #heap = new TimerHeap((entry) => this.#keys.get(entry.key)?.timerSeq === entry.seq);
  #timerSeq = 0;
  #pendingTimers = 0;
  #timerId: ReturnType<typeof setTimeout> | undefined = undefined;
  #armedFor = 0;

  #idleWaiters: Array<() => void> = [];
  #shutdown: Promise<WorkQueueShutdownResult> | undefined = undefined;

  /**
   * Creates a queue. Nothing runs until the first add.
   *
   * @param options the processing function, the concurrency bound and the backoff hooks
   * @throws {RangeError} if `concurrency` is not an integer ≥ 1 or `Infinity`
   */
  constructor(options: WorkQueueOptions) {
    const { concurrency } = options;
    if (!(Number.isInteger(concurrency) && concurrency >= 1) && concurrency !== Infinity) {
      throw new RangeError(
        `Cannot create work queue: concurrency must be an integer ≥ 1 or Infinity, got ${
          String(concurrency)
        }`,
      );
    }
    this.#concurrency = concurrency;
    this.#process = options.process;
    this.#errorBackoff = options.errorBackoff;
    this.#resetBackoff = options.resetBackoff;
    this.#forgetBackoff = options.forgetBackoff ?? options.resetBackoff;
    this.#now = options.now ?? (() => performance.now());
    this.#observer = options.observer;
  }

  /** The number of keys waiting to start. Running and timed keys are not counted. */
  get depth(): number {
    return this.#depth;
  }

  /** The number of runs in progress. */
  get running(): number {
    return this.#runs.size;
  }

  /** The number of keys with a pending timer (retry, requeue or `addAfter`). */
  get pendingTimers(): number {
    return this.#pendingTimers;
  }

  /** `true` once {@linkcode WorkQueue.shutdown} has been called. */
  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  /**
   * Asks for the key to be run soon.
   *
   * - If the key is already queued, nothing changes.
   * - If it is running, it is marked dirty and runs once more after the current run.
   * - Otherwise it joins the back of the queue.
   *
   * A pending timer for the key is kept. Adds after {@linkcode WorkQueue.shutdown} are ignored.
   *
   * @param key the key, usually `namespace/name`
   */
  add(key: string): void {
    if (this.#shutdown !== undefined) return;
    this.#enqueue(key);
    this.#pump();
  }

  /**
   * Asks for the key to be run after a delay. If the key already has an earlier timer, that one
   * wins. Otherwise this schedule replaces the later one. A delay ≤ 0 is the same as
   * {@linkcode WorkQueue.add}. Calls after {@linkcode WorkQueue.shutdown} are ignored.
   *
   * @param key the key
   * @param delayMs the delay in milliseconds
   * @throws {RangeError} if `delayMs` is `NaN` or infinite
   */
  addAfter(key: string, delayMs: number): void {
    if (!Number.isFinite(delayMs)) {
      throw new RangeError(
        `Cannot schedule key "${key}": delayMs must be a finite number, got ${String(delayMs)}`,
      );
    }
    if (this.#shutdown !== undefined) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    this.#schedule(key, delayMs);
  }

  /**
   * Drops everything pending for a key whose object was deleted: its place in the queue, its
   * dirty mark, its timer and its backoff state (through `forgetBackoff`). A run in progress is
   * not interrupted, but its result is ignored: no retry or requeue follows from it. An add after
   * `forget` is honoured as usual.
   *
   * @param key the key
   */
  forget(key: string): void {
    const state = this.#keys.get(key);
    if (state !== undefined) {
      if (state.ticket !== 0) {
        state.ticket = 0;
        this.#depth--;
      }
      if (state.timerSeq !== 0) {
        state.timerSeq = 0;
        this.#pendingTimers--;
        this.#rearm();
      }
      if (state.running) {
        state.dirty = false;
        state.forgotten = true;
      }
      this.#release(key, state);
    }
    this.#guard(this.#forgetBackoff, key);
    this.#checkIdle();
  }

  /**
   * Waits until nothing is queued or running. Pending timers may remain.
   *
   * @returns a promise that resolves when the queue is idle (at once if it already is)
   */
  onIdle(): Promise<void> {
    if (this.#depth === 0 && this.#runs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops the queue. It discards queued keys and dirty marks, cancels every timer and waits for
   * the runs in progress, for at most `drainTimeoutMs`. After that it aborts their signals and
   * returns without waiting further; {@linkcode WorkQueue.onIdle} resolves once they settle.
   * Later calls return the first call's promise.
   *
   * @param options the drain timeout
   * @returns whether every in-flight run finished within the drain timeout
   * @throws {RangeError} if `drainTimeoutMs` is negative or `NaN`
   */
  shutdown(options?: WorkQueueShutdownOptions): Promise<WorkQueueShutdownResult> {
    if (this.#shutdown !== undefined) return this.#shutdown;
    const drainTimeoutMs = options?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    if (!(drainTimeoutMs >= 0)) {
      throw new RangeError(
        `Cannot shut down work queue: drainTimeoutMs must be ≥ 0, got ${String(drainTimeoutMs)}`,
      );
    }
    // Cancel every timer.
    if (this.#timerId !== undefined) clearTimeout(this.#timerId);
    this.#timerId = undefined;
    for (const entry of this.#heap.entries()) {
      const state = this.#keys.get(entry.key);
      if (state !== undefined && state.timerSeq === entry.seq) state.timerSeq = 0;
    }
    this.#heap.clear();
    this.#pendingTimers = 0;
    // Drop the ready queue and the dirty marks.
    for (const [key, state] of this.#keys) {
      state.ticket = 0;
      state.dirty = false;
      this.#release(key, state);
    }
    this.#ready.clear();
    this.#depth = 0;
    this.#shutdown = this.#drain(drainTimeoutMs);
    this.#checkIdle();
    return this.#shutdown;
  }

  async #drain(drainTimeoutMs: number): Promise<WorkQueueShutdownResult> {
    if (this.#runs.size === 0) return { drained: true };
    const inFlight = [...this.#runs.values()];
    const allDone = Promise.all(inFlight.map((run) => run.done)).then(() => true);
    if (drainTimeoutMs === Infinity) return { drained: await allDone };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), drainTimeoutMs);
    });
    try {
      if (await Promise.race([allDone, timedOut])) return { drained: true };
    } finally {
      clearTimeout(timer);
    }
    for (const [key, run] of this.#runs) {
      run.controller.abort(
        new DOMException(
          `Cannot finish run of "${key}": the work queue shut down and its drain timeout of ${drainTimeoutMs} ms elapsed`,
          "AbortError",
        ),
      );
    }
    return { drained: false };
  }

  // ── ready queue ────────────────────────────────────────────────────────────────────────────

  /** Makes a key due now: queues it, or marks it dirty if it is running. */
  #enqueue(key: string): void {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = {
        ticket: 0,
        dueSince: 0,
        running: false,
        dirty: false,
        forgotten: false,
        timerSeq: 0,
        timerDue: 0,
      };
      this.#keys.set(key, state);
    }
    if (state.running) {
      if (state.dirty) return;
      state.dirty = true;
      state.dueSince = this.#now();
    } else {
      if (state.ticket !== 0) return;
      this.#pushReady(key, state);
    }
    this.#notify("onAdd", key);
  }

  #pushReady(key: string, state: KeyState): void {
    state.ticket = ++this.#ticketSeq;
    state.dueSince = this.#now();
    this.#ready.push(key, state.ticket);
    this.#depth++;
  }

  /** Starts runs while there is capacity and work. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#shutdown === undefined && this.#runs.size < this.#concurrency) {
        const key = this.#ready.pop();
        if (key === undefined) break;
        this.#start(key, this.#keys.get(key)!);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #start(key: string, state: KeyState): void {
    state.ticket = 0;
    this.#depth--;
    state.running = true;
    state.forgotten = false;
    const started = this.#now();
    const queuedMs = started - state.dueSince;
    const controller = new AbortController();
    const process = this.#process;
    // `process` runs in a microtask, so a synchronous throw becomes a rejection and a call to
    // `add` from inside it cannot re-enter this loop.
    const done = Promise.resolve()
      .then(() => process(key, controller.signal))
      .then(
        (result: WorkResult) => this.#finish(key, started, result, undefined, false),
        (error: unknown) => this.#finish(key, started, undefined, error, true),
      );
    this.#runs.set(key, { controller, done });
    this.#notify("onStart", key, queuedMs);
  }

  #finish(
    key: string,
    started: number,
    result: WorkResult | undefined,
    error: unknown,
    threw: boolean,
  ): void {
    const durationMs = this.#now() - started;
    this.#runs.delete(key);
    const state = this.#keys.get(key)!;
    state.running = false;
    const ok = !threw && result !== null && typeof result === "object" && result.ok === true;
    if (threw) this.#notify("onDone", key, ok, durationMs, error);
    else this.#notify("onDone", key, ok, durationMs);

    const stopping = this.#shutdown !== undefined;
    if (state.forgotten) {
      state.forgotten = false;
    } else if (ok) {
      this.#guard(this.#resetBackoff, key);
      const requeueAfterMs = result!.requeueAfterMs;
      if (
        !stopping && typeof requeueAfterMs === "number" && requeueAfterMs >= 0 &&
        Number.isFinite(requeueAfterMs)
      ) {
        if (requeueAfterMs === 0) this.#enqueue(key);
        else this.#schedule(key, requeueAfterMs);
      }
    } else if (!stopping) {
      this.#retry(key);
    }

    if (state.dirty) {
      state.dirty = false;
      if (!stopping && state.ticket === 0) {
        // The key became due while it ran: keep that time for `queuedMs`.
        const dueSince = state.dueSince;
        this.#pushReady(key, state);
        state.dueSince = dueSince;
      }
    }
    this.#release(key, state);
    this.#pump();
    this.#checkIdle();
  }

  #retry(key: string): void {
    let delayMs: number;
    try {
      delayMs = this.#errorBackoff(key);
    } catch (error) {
      reportError(error);
      return;
    }
    if (typeof delayMs !== "number" || Number.isNaN(delayMs) || delayMs === Infinity) return;
    if (delayMs < 0) delayMs = 0;
    this.#notify("onRetry", key, delayMs);
    if (delayMs === 0) this.#enqueue(key);
    else this.#schedule(key, delayMs);
  }

  /** Forgets a key's state once it is neither queued, running nor timed. */
  #release(key: string, state: KeyState): void {
    if (state.ticket === 0 && !state.running && state.timerSeq === 0) this.#keys.delete(key);
  }

  #checkIdle(): void {
    if (this.#depth !== 0 || this.#runs.size !== 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ── timers ──────────────────────────────────────────────────────────────────────────────────

  /** Gives the key a timer `delayMs` from now, unless it already has an earlier one. */
  #schedule(key: string, delayMs: number): void {
    const due = this.#now() + delayMs;
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = {
        ticket: 0,
        dueSince: 0,
        running: false,
        dirty: false,
        forgotten: false,
        timerSeq: 0,
        timerDue: 0,
      };
      this.#keys.set(key, state);
    }
    if (state.timerSeq !== 0) {
      if (state.timerDue <= due) return;
    } else {
      this.#pendingTimers++;
    }
    state.timerSeq = ++this.#timerSeq;
    state.timerDue = due;
    this.#heap.push({ due, seq: state.timerSeq, key });
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#pendingTimers) this.#heap.rebuild();
    this.#rearm();
  }

  /** Points the single `setTimeout` at the earliest live timer, or clears it. */
  #rearm(): void {
    const top = this.#heap.peek();
    if (top === undefined) {
      if (this.#timerId !== undefined) clearTimeout(this.#timerId);
      this.#timerId = undefined;
      return;
    }
    // A timer that is already armed for this time or earlier will fire and re-arm.
    if (this.#timerId !== undefined && this.#armedFor <= top.due) return;
    if (this.#timerId !== undefined) clearTimeout(this.#timerId);
    const delay = Math.min(Math.max(0, Math.ceil(top.due - this.#now())), MAX_TIMER_DELAY_MS);
    this.#armedFor = Math.min(top.due, this.#now() + delay);
    this.#timerId = setTimeout(() => this.#onTimer(), delay);
  }

  #onTimer(): void {
    this.#timerId = undefined;
    // Everything due by the time the timer was armed for fires, even if the clock lags a little.
    const limit = Math.max(this.#now(), this.#armedFor);
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.due > limit) break;
      this.#heap.pop();
      const state = this.#keys.get(top.key)!;
      state.timerSeq = 0;
      this.#pendingTimers--;
      this.#enqueue(top.key);
      this.#release(top.key, state);
    }
    this.#rearm();
    this.#pump();
  }

  // ── hooks ───────────────────────────────────────────────────────────────────────────────────

  #notify<K extends keyof WorkQueueObserver>(
    hook: K,
    ...args: Parameters<NonNullable<WorkQueueObserver[K]>>
  ): void {
    const observer = this.#observer;
    const fn = observer?.[hook] as ((...a: unknown[]) => void) | undefined;
    if (fn === undefined) return;
    try {
      fn.apply(observer, args);
    } catch (error) {
      reportError(error);
    }
  }

  #guard(fn: (key: string) => void, key: string): void {
    try {
      fn(key);
    } catch (error) {
      reportError(error);
    }
  }
}
