/**
 * {@linkcode LogSummary}: a run of identical warnings or errors is logged once, then summarized
 * once per window ("… and 149 more like it in the last 60 s"), so that 20 parents failing with
 * the same 403 write two lines a minute, not 150. What counts as identical is the caller's key,
 * usually the {@linkcode errorShape} of the message: the text with the parent's names and every
 * number normalized. Every record not written is counted (`onSuppressed`, the
 * `roperator_log_suppressed_total{level}` metric of the runner).
 *
 * {@linkcode isTransient} tells the failures that time fixes (the API server unreachable or
 * overloaded, a timeout), which the runner logs as warnings, from the others.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ApiError, NetworkError } from "../client/errors.ts";

/** The levels that are summarized. */
export type SummaryLevel = "warning" | "error";

/** A log record: a LogTape message template and its properties. */
export interface SummaryEntry {
  /** The message template, such as `"sync of {parent} failed: {error}"`. */
  message: string;
  /** The properties the template names, and any others. */
  properties: Record<string, unknown>;
}

/** Options for {@linkcode LogSummary}. */
export interface LogSummaryOptions {
  /** How long a run is summarized over, in ms. Default 60 000. */
  windowMs?: number;
  /** The most runs remembered; the one seen least recently is forgotten first. Default 1 000. */
  maxRuns?: number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  now?: () => number;
  /**
   * Calls `callback` after `ms`; returns a function that cancels it. Default: `setTimeout`, with
   * the timer unref'd so that it never keeps the process alive.
   */
  setTimer?: (callback: () => void, ms: number) => () => void;
  /** Called with each record not written. */
  onSuppressed?: (level: SummaryLevel, count: number) => void;
}

interface Run {
  level: SummaryLevel;
  windowStart: number;
  suppressed: number;
  last: SummaryEntry;
}

function defaultTimer(callback: () => void, ms: number): () => void {
  const id = setTimeout(callback, ms);
  Deno.unrefTimer(id);
  return () => clearTimeout(id);
}

/** Logs runs of identical records once, then once per window with a count. */
export class LogSummary {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #maxRuns: number;
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, ms: number) => () => void;
  readonly #onSuppressed: ((level: SummaryLevel, count: number) => void) | undefined;
  readonly #runs = new Map<string, Run>();
  #cancelTimer: (() => void) | undefined;
  #timerDue = Infinity;
  #closed = false;

  /**
   * Creates a summary that writes to `logger`.
   *
   * @param logger where the records go
   * @param options the window, the bound, the clock and timer, and the suppression callback
   * @throws {RangeError} when `windowMs` or `maxRuns` is not positive
   */
  constructor(logger: Logger, options: LogSummaryOptions = {}) {
    this.#logger = logger;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxRuns = options.maxRuns ?? 1_000;
    if (!(this.#windowMs > 0) || !(this.#maxRuns >= 1)) {
      throw new RangeError(
        `Cannot create log summary: windowMs and maxRuns must be positive, got ${this.#windowMs} and ${this.#maxRuns}`,
      );
    }
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? defaultTimer;
    this.#onSuppressed = options.onSuppressed;
  }

  /**
   * Writes the record, unless one with the same level and key was written within the window:
   * then it is only counted, and summarized when the window ends.
   *
   * @param level the level
   * @param key what makes records identical (for example {@linkcode errorShape} of the message)
   * @param entry the message template and properties
   * @returns whether the record was written
   */
  log(level: SummaryLevel, key: string, entry: SummaryEntry): boolean {
    const now = this.#now();
    const runKey = `${level}\u0000${key}`;
    let run = this.#runs.get(runKey);
    if (run !== undefined && now - run.windowStart >= this.#windowMs) {
      // The window is over (the timer has not run yet): summarize, and start over.
      this.#summarize(run, now);
      this.#runs.delete(runKey);
      run = undefined;
    }
    if (run !== undefined && !this.#closed) {
      run.suppressed++;
      run.last = entry;
      // Refresh its place: the run seen least recently is forgotten first.
      this.#runs.delete(runKey);
      this.#runs.set(runKey, run);
      this.#onSuppressed?.(level, 1);
      this.#arm(run.windowStart + this.#windowMs - now);
      return false;
    }
    this.#write(level, entry.message, entry.properties);
    if (this.#closed) return true;
    this.#runs.set(runKey, { level, windowStart: now, suppressed: 0, last: entry });
    while (this.#runs.size > this.#maxRuns) {
      const [oldestKey, oldest] = this.#runs.entries().next().value!;
      this.#summarize(oldest, now);
      this.#runs.delete(oldestKey);
    }
    return true;
  }

  /**
   * Writes the summaries of the runs whose window is over (every run with `all`), and forgets
   * the runs that ended.
   *
   * @param all summarize every run now, whatever its window
   */
  flush(all = false): void {
    const now = this.#now();
    let next = Infinity;
    for (const [key, run] of this.#runs) {
      const due = run.windowStart + this.#windowMs;
      if (!all && due > now) {
        if (run.suppressed > 0) next = Math.min(next, due);
        continue;
      }
      if (run.suppressed > 0 && !all) {
        // The run goes on: summarize it and open the next window.
        this.#summarize(run, now);
        run.windowStart = now;
      } else {
        this.#summarize(run, now);
        this.#runs.delete(key);
      }
    }
    if (next < Infinity) this.#arm(next - now);
  }

  /** Writes every pending summary and stops the timer; later records are all written. */
  close(): void {
    this.flush(true);
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerDue = Infinity;
  }

  #arm(delayMs: number): void {
    if (this.#closed) return;
    const due = this.#now() + Math.max(0, delayMs);
    if (this.#cancelTimer !== undefined && this.#timerDue <= due) return;
    this.#cancelTimer?.();
    this.#timerDue = due;
    this.#cancelTimer = this.#setTimer(() => {
      this.#cancelTimer = undefined;
      this.#timerDue = Infinity;
      this.flush();
    }, Math.max(0, delayMs));
  }

  #summarize(run: Run, now: number): void {
    if (run.suppressed === 0) return;
    const seconds = Math.round((now - run.windowStart) / 1000);
    this.#write(
      run.level,
      `… and {suppressed} more like it in the last {seconds} s, the last: ${run.last.message}`,
      { ...run.last.properties, suppressed: run.suppressed, seconds },
    );
    run.suppressed = 0;
  }

  #write(level: SummaryLevel, message: string, properties: Record<string, unknown>): void {
    if (level === "error") this.#logger.error(message, properties);
    else this.#logger.warn(message, properties);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The shape of a message, for telling identical errors apart: each of `names` (the parent's key,
 * namespace and name) becomes `<parent>` where it stands as a whole word, and every number
 * becomes `#`.
 *
 * @example
 * ```ts
 * import { errorShape } from "./log_summary.ts";
 * errorShape('cannot write "ns/web-1" (attempt 3)', ["ns/web-1", "ns", "web-1"]);
 * // 'cannot write "<parent>" (attempt #)'
 * ```
 *
 * @param message the message
 * @param names the names to normalize, longest first is best
 * @returns the shape
 */
export function errorShape(message: string, names: readonly string[]): string {
  let shape = message;
  const sorted = [...new Set(names)].filter((n) => n !== "").sort((a, b) => b.length - a.length);
  for (const name of sorted) {
    shape = shape.replace(
      new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(name)}(?![A-Za-z0-9])`, "g"),
      "<parent>",
    );
  }
  return shape.replace(/\d+/g, "#");
}

/**
 * Whether a failure is one that time fixes: the API server could not be reached
 * ({@linkcode NetworkError}), answered 5xx or 429, or a request or handler timed out. Looks
 * through the `cause` chain.
 *
 * @param error what was thrown
 * @returns whether it is transient
 */
export function isTransient(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e !== undefined && e !== null && !seen.has(e);) {
    seen.add(e);
    if (e instanceof NetworkError) return true;
    if (e instanceof ApiError && (e.status >= 500 || e.status === 429)) return true;
    if (e instanceof DOMException && e.name === "TimeoutError") return true;
    if (e instanceof Error && e.name === "TimeoutError") return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}
