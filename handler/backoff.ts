/**
 * Exponential backoff with jitter: {@linkcode ExponentialBackoff} for one sequence of retries and
 * {@linkcode KeyedBackoff} for one sequence per key (a parent uid, a queue item).
 *
 * The delay after the n-th consecutive failure is `initialMs × multiplierⁿ⁻¹`, capped at `maxMs`.
 * The first delay is exactly `initialMs`, both for a fresh sequence and after a reset (roperator
 * started at a different value until the first reset). Every later delay is spread by `jitter`
 * (±50 % by default) so that objects that failed together do not retry in lockstep; a jittered
 * delay never exceeds `maxMs`.
 *
 * @module
 */

/** The shape of a backoff sequence. */
export interface BackoffConfig {
  /** The first delay, in ms. Default 500. */
  initialMs: number;
  /** The longest delay, in ms. Default 600 000 (10 min). */
  maxMs: number;
  /** Each delay is the previous one times this (before jitter). Default 1.5. */
  multiplier: number;
  /**
   * The random spread of every delay after the first, as a fraction: 0.5 picks a delay between
   * 50 % and 150 % of the nominal one. Default 0.5; 0 makes delays deterministic.
   */
  jitter: number;
  /**
   * Give up once a retry would happen more than this long (in ms) after the first failure of the
   * sequence: `next()` then returns `undefined` until the sequence is reset. Default: never.
   * 0 never retries.
   */
  giveUpAfterMs?: number | undefined;
}

/** The default backoff: 500 ms, ×1.5, ±50 %, at most 10 min, never giving up. */
export const DEFAULT_BACKOFF: Readonly<BackoffConfig> = Object.freeze({
  initialMs: 500,
  maxMs: 600_000,
  multiplier: 1.5,
  jitter: 0.5,
});

/** Sources of time and randomness, replaceable in tests. */
export interface BackoffOptions {
  /** Returns a number in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Returns the current time in ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Fills the defaults of a partial backoff configuration and validates it.
 *
 * @example
 * ```ts
 * import { backoffConfig } from "./backoff.ts";
 * backoffConfig({ maxMs: 30_000 }); // { initialMs: 500, maxMs: 30000, multiplier: 1.5, jitter: 0.5 }
 * ```
 *
 * @param config the fields to change
 * @returns the frozen configuration
 * @throws {RangeError} when a field is out of range
 * @throws {TypeError} when a field is not an option
 */
export function backoffConfig(config: Partial<BackoffConfig> = {}): Readonly<BackoffConfig> {
  const merged: BackoffConfig = { ...DEFAULT_BACKOFF };
  for (const [key, value] of Object.entries(config)) {
    if (!(key in DEFAULT_BACKOFF) && key !== "giveUpAfterMs") {
      throw new TypeError(`Cannot configure backoff: "${key}" is not an option`);
    }
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  const { initialMs, maxMs, multiplier, jitter, giveUpAfterMs } = merged;
  const fail = (detail: string): never => {
    throw new RangeError(`Cannot configure backoff: ${detail}`);
  };
  const isNumber = (value: unknown): value is number =>
    typeof value === "number" && !Number.isNaN(value);
  if (!isNumber(initialMs) || !Number.isFinite(initialMs) || initialMs < 0) {
    fail(`initialMs must be a finite number of at least 0, got ${initialMs}`);
  }
  if (!isNumber(maxMs) || !Number.isFinite(maxMs) || maxMs < initialMs) {
    fail(`maxMs must be a finite number of at least initialMs (${initialMs}), got ${maxMs}`);
  }
  if (!isNumber(multiplier) || !Number.isFinite(multiplier) || multiplier < 1) {
    fail(`multiplier must be a finite number of at least 1, got ${multiplier}`);
  }
  if (!isNumber(jitter) || jitter < 0 || jitter > 1) {
    fail(`jitter must be between 0 and 1, got ${jitter}`);
  }
  if (giveUpAfterMs !== undefined && (!isNumber(giveUpAfterMs) || giveUpAfterMs < 0)) {
    fail(`giveUpAfterMs must be a number of at least 0, or undefined, got ${giveUpAfterMs}`);
  }
  return Object.freeze(merged);
}

/**
 * One sequence of growing delays: call {@linkcode ExponentialBackoff.prototype.next} after each
 * failure and {@linkcode ExponentialBackoff.prototype.reset} after a success.
 *
 * @example
 * ```ts
 * import { ExponentialBackoff } from "./backoff.ts";
 * const backoff = new ExponentialBackoff({ initialMs: 100, multiplier: 2, jitter: 0 });
 * backoff.next(); // 100
 * backoff.next(); // 200
 * backoff.reset();
 * backoff.next(); // 100
 * ```
 */
export class ExponentialBackoff {
  /** The resolved configuration. */
  readonly config: Readonly<BackoffConfig>;
  #random: () => number;
  #now: () => number;
  #attempts = 0;
  #nominal = 0;
  #startedAt = 0;
  #gaveUp = false;

  /**
   * Creates a sequence.
   *
   * @param config changes to {@linkcode DEFAULT_BACKOFF}
   * @param options sources of time and randomness
   * @throws {RangeError} when a configuration field is out of range
   */
  constructor(config: Partial<BackoffConfig> = {}, options: BackoffOptions = {}) {
    this.config = backoffConfig(config);
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** How many delays {@linkcode ExponentialBackoff.prototype.next} returned since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Whether the sequence has given up (see {@linkcode BackoffConfig.giveUpAfterMs}). */
  get gaveUp(): boolean {
    return this.#gaveUp;
  }

  /**
   * The delay before the next retry, to call after each failure.
   *
   * @returns the delay in ms, or `undefined` once the sequence has given up
   */
  next(): number | undefined {
    if (this.#gaveUp) return undefined;
    const { initialMs, maxMs, multiplier, jitter, giveUpAfterMs } = this.config;
    const now = this.#now();
    let delay: number;
    if (this.#attempts === 0) {
      this.#startedAt = now;
      this.#nominal = Math.min(initialMs, maxMs);
      delay = this.#nominal;
    } else {
      this.#nominal = Math.min(this.#nominal * multiplier, maxMs);
      const spread = jitter * (2 * this.#random() - 1);
      delay = Math.min(maxMs, Math.max(0, this.#nominal * (1 + spread)));
    }
    delay = Math.round(delay);
    if (giveUpAfterMs !== undefined && now - this.#startedAt + delay > giveUpAfterMs) {
      this.#gaveUp = true;
      return undefined;
    }
    this.#attempts++;
    return delay;
  }

  /** Starts over: the next delay is `initialMs` again, and a given-up sequence retries. */
  reset(): void {
    this.#attempts = 0;
    this.#nominal = 0;
    this.#gaveUp = false;
  }
}

interface KeyedEntry {
  backoff: ExponentialBackoff;
  lastUsed: number;
}

/**
 * One {@linkcode ExponentialBackoff} per key, created on the first failure and dropped on reset.
 * Keys unused for longer than twice `maxMs` (at least a minute) are forgotten, so keys that stop
 * failing without being reset (a parent deleted while failing) do not pile up.
 *
 * @example
 * ```ts
 * import { KeyedBackoff } from "./backoff.ts";
 * const backoff = new KeyedBackoff({ initialMs: 100, multiplier: 2, jitter: 0 });
 * backoff.next("uid-a"); // 100
 * backoff.next("uid-a"); // 200
 * backoff.next("uid-b"); // 100
 * backoff.reset("uid-a");
 * backoff.next("uid-a"); // 100
 * ```
 */
export class KeyedBackoff<K = string> {
  /** The resolved configuration shared by every key. */
  readonly config: Readonly<BackoffConfig>;
  #options: BackoffOptions;
  #now: () => number;
  #entries = new Map<K, KeyedEntry>();
  #lastSweep: number;
  #idleLimitMs: number;

  /**
   * Creates an empty set of sequences.
   *
   * @param config changes to {@linkcode DEFAULT_BACKOFF}
   * @param options sources of time and randomness
   * @throws {RangeError} when a configuration field is out of range
   */
  constructor(config: Partial<BackoffConfig> = {}, options: BackoffOptions = {}) {
    this.config = backoffConfig(config);
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#lastSweep = this.#now();
    this.#idleLimitMs = Math.max(2 * this.config.maxMs, 60_000);
  }

  /** How many keys have a sequence in progress. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The delay before the next retry for `key`, to call after each failure.
   *
   * @param key the key, for example a parent uid
   * @returns the delay in ms, or `undefined` once the key's sequence has given up
   */
  next(key: K): number | undefined {
    const now = this.#now();
    this.#sweep(now);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { backoff: new ExponentialBackoff(this.config, this.#options), lastUsed: now };
      this.#entries.set(key, entry);
    }
    entry.lastUsed = now;
    return entry.backoff.next();
  }

  /**
   * How many delays the key's sequence returned since it started.
   *
   * @param key the key
   * @returns the count, 0 for an unknown key
   */
  attempts(key: K): number {
    return this.#entries.get(key)?.backoff.attempts ?? 0;
  }

  /**
   * Starts the key's sequence over, after a success.
   *
   * @param key the key
   */
  reset(key: K): void {
    this.#entries.delete(key);
  }

  /**
   * Forgets the key, when the object it stands for is gone.
   *
   * @param key the key
   * @returns whether the key had a sequence
   */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Forgets every key. */
  clear(): void {
    this.#entries.clear();
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#entries) {
      if (now - entry.lastUsed > this.#idleLimitMs) this.#entries.delete(key);
    }
  }
}
