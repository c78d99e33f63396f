/**
 * {@linkcode WatchHealth}: whether an informer's watch works now, for its readiness. A watch
 * works when it is open and sent an event, or has stayed open longer than a short watch; it is
 * failing from the first error of list or watch until an event (or a clean end) proves
 * otherwise.
 *
 * @module
 */
import type { InformerClock } from "./informer_options.ts";

/** The health of one informer's list and watch. */
export class WatchHealth {
  readonly #clock: Pick<InformerClock, "now">;
  readonly #shortWatchMs: number;
  /** Since when list or watch have failed without a working watch in between. */
  #failingSince: number | undefined;
  #lastError: string | undefined;
  /** Whether the last failure was an idle deadline (an open watch then proves nothing). */
  #lastFailureIdle = false;
  /** When the open watch was asked for; `undefined` when no watch is open. */
  #openedAt: number | undefined;
  #events = 0;

  /**
   * Creates the health of a watch that has not failed.
   *
   * @param clock the informer's clock
   * @param shortWatchMs below this duration, an open watch without an event proves nothing
   */
  constructor(clock: Pick<InformerClock, "now">, shortWatchMs: number) {
    this.#clock = clock;
    this.#shortWatchMs = shortWatchMs;
  }

  /** The message of the last failure, while failing. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Whether list or watch have failed without a working watch since. */
  get failing(): boolean {
    return this.#failingSince !== undefined;
  }

  /** Whether the last failure was an idle deadline. */
  get lastFailureIdle(): boolean {
    return this.#lastFailureIdle;
  }

  /** How many events the open (or last) watch sent. */
  get events(): number {
    return this.#events;
  }

  /**
   * A watch was asked for.
   *
   * @param at when, on the informer's clock
   */
  opened(at: number): void {
    this.#openedAt = at;
    this.#events = 0;
  }

  /** The watch sent an event. */
  event(): void {
    this.#events++;
  }

  /** No watch is open (it ended, failed, or the informer stopped). */
  closed(): void {
    this.#openedAt = undefined;
  }

  /**
   * List or watch failed.
   *
   * @param message the error's message
   * @param idle whether it was an idle deadline
   */
  failed(message: string, idle = false): void {
    this.#failingSince ??= this.#clock.now();
    this.#lastError = message;
    this.#lastFailureIdle = idle;
  }

  /** The watch works again. */
  working(): void {
    this.#failingSince = undefined;
    this.#lastError = undefined;
    this.#lastFailureIdle = false;
  }

  /**
   * How long the watch has been failing while not connected.
   *
   * @returns the milliseconds, or `undefined` when it is not failing or the open watch works
   */
  failingMs(): number | undefined {
    if (this.#failingSince === undefined || this.#connected()) return undefined;
    return this.#clock.now() - this.#failingSince;
  }

  /** Whether the open watch works: it sent an event, or has lasted longer than a short watch. */
  #connected(): boolean {
    if (this.#openedAt === undefined) return false;
    if (this.#events > 0) return true;
    // After an idle deadline, a watch that is open proves nothing until it sends something.
    return !this.#lastFailureIdle && this.#clock.now() - this.#openedAt >= this.#shortWatchMs;
  }
}
