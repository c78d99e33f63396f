/**
 * How an {@linkcode Informer} is configured and what it reports: its options, the changes it
 * emits, why it restarts a watch, and the clock it runs on.
 *
 * @module
 */
import { sleepOrAbort } from "../client/_util.ts";

/** A change seen by an informer. */
export interface InformerChange<T> {
  /** What happened. */
  type: "added" | "modified" | "deleted";
  /** The object's current state (its last state, for deleted). */
  object: T;
  /** The previous state, for modified and deleted. */
  previous?: T;
}

/**
 * Why a watch was restarted, for the watch-restart metric: the server ended it (`closed`), its
 * resourceVersion expired (`expired`, 410), it went silent (`idle`), it failed or ended at once
 * without an event (`error`), it sent an event that cannot be decoded or stored (`invalid`; the
 * informer relists), or the periodic relist (`relist`).
 */
export type RestartReason = "closed" | "expired" | "idle" | "error" | "invalid" | "relist";

/** Time as an informer sees it; replaced in tests. */
export interface InformerClock {
  /** The current time in milliseconds (default `Date.now`). */
  now(): number;
  /** Resolves after `ms` milliseconds, or at once when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Options for {@linkcode Informer}. */
export interface InformerOptions<T> {
  /** Label selector for list and watch. */
  labelSelector?: string;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** Idle deadline of a watch in milliseconds (default 70 000). */
  idleTimeoutMs?: number;
  /** Full relist period in milliseconds (default 10 minutes; 0 = never). */
  relistPeriodMs?: number;
  /** `timeoutSeconds` of a watch request (default 290, randomised ±10%). */
  watchTimeoutSeconds?: number;
  /**
   * Trims an object before it is cached, to save memory. The default,
   * {@linkcode pruneCachedObject}, drops `metadata.managedFields` and the
   * `kubectl.kubernetes.io/last-applied-configuration` annotation.
   */
  transform?: (object: T) => T;
  /** A secondary index: objects are also found by the key this returns (the parent uid). */
  indexBy?: (object: T) => string | undefined;
  /** Called for every change, after the cache is updated. */
  onChange?: (change: InformerChange<T>) => void;
  /** Called when a watch restarts. */
  onRestart?: (reason: RestartReason, error?: unknown) => void;
  /** Called when the cache is first complete, and again after each relist. */
  onSynced?: () => void;
  /**
   * A watch that ends sooner than this (in milliseconds) without an event counts as an error
   * and is restarted with backoff (default 1 000, as client-go).
   */
  shortWatchMs?: number;
  /** Time, for tests (default: the real clock). */
  clock?: InformerClock;
}

/** The real clock: `Date.now` and `setTimeout`. */
export const REAL_CLOCK: InformerClock = { now: () => Date.now(), sleep: sleepOrAbort };
