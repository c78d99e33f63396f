/**
 * {@linkcode SyncCounter}: the syncs each parent started between two points of a test, for
 * example to check that a change to a related object synced exactly the parents that refer to
 * it. Made by `TestKit.countSyncs()`.
 *
 * @module
 */
import type { SyncEvent } from "../runner/controller.ts";
import { poll } from "./poll.ts";

/** Where a {@linkcode SyncCounter} gets its events and resolves names. */
export interface SyncCounterInit {
  /** Subscribes to the operator's sync events; returns the unsubscribe function. */
  onSync(listener: (event: SyncEvent) => void): () => void;
  /** The namespace of a parent named without one (`undefined`: cluster-scoped parents). */
  namespace: string | undefined;
  /** How long {@linkcode SyncCounter.waitUntil} waits by default, in ms. */
  timeoutMs: number;
}

/** The error of a {@linkcode SyncCounter.waitUntil} that timed out. */
export class SyncCountTimeoutError extends Error {
  /** The syncs counted when the time was up, by parent key. */
  readonly counts: Readonly<Record<string, number>>;

  /**
   * Creates the error.
   *
   * @param timeoutMs how long it waited
   * @param counts the counts at the end
   */
  constructor(timeoutMs: number, counts: Readonly<Record<string, number>>) {
    const summary = Object.entries(counts).map(([k, n]) => `${k}: ${n}`).join(", ") || "none";
    super(
      `Cannot see the expected syncs: not there after ${timeoutMs} ms (syncs started: ${summary})`,
    );
    this.name = "SyncCountTimeoutError";
    this.counts = counts;
  }
}

/**
 * Counts the syncs (not the finalizations) each parent starts from its creation until
 * {@linkcode SyncCounter.stop}, and when each started (`performance.now()`).
 *
 * @example
 * ```ts ignore
 * using syncs = kit.countSyncs();
 * await kit.replaceResource(k8s.core.v1.Secret, changed);
 * await kit.reconcile();
 * syncs.parents(); // ["ns/a", "ns/b"]: exactly the parents that refer to it
 * ```
 */
export class SyncCounter implements Disposable {
  readonly #starts = new Map<string, number[]>();
  readonly #namespace: string | undefined;
  readonly #timeoutMs: number;
  #unsubscribe: (() => void) | undefined;

  /**
   * Starts counting.
   *
   * @param init the operator's events, the default namespace and the default timeout
   */
  constructor(init: SyncCounterInit) {
    this.#namespace = init.namespace;
    this.#timeoutMs = init.timeoutMs;
    this.#unsubscribe = init.onSync((event) => {
      if (event.state !== "started" || event.phase !== "sync") return;
      const at = performance.now();
      const list = this.#starts.get(event.parent);
      if (list === undefined) this.#starts.set(event.parent, [at]);
      else list.push(at);
    });
  }

  #key(name: string, namespace: string | undefined): string {
    const ns = namespace ?? this.#namespace;
    return ns === undefined ? name : `${ns}/${name}`;
  }

  /**
   * The syncs one parent started.
   *
   * @param name the parent's name
   * @param namespace its namespace (default the kit's)
   * @returns the count
   */
  count(name: string, namespace?: string): number {
    return this.#starts.get(this.#key(name, namespace))?.length ?? 0;
  }

  /**
   * When one parent's syncs started, in `performance.now()` ms.
   *
   * @param name the parent's name
   * @param namespace its namespace (default the kit's)
   * @returns the start times, in order
   */
  startTimes(name: string, namespace?: string): number[] {
    return [...this.#starts.get(this.#key(name, namespace)) ?? []];
  }

  /**
   * Every parent that started a sync, with its count.
   *
   * @returns counts by parent key (`namespace/name` or `name`)
   */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const key of [...this.#starts.keys()].sort()) counts[key] = this.#starts.get(key)!.length;
    return counts;
  }

  /**
   * The parents that started a sync, sorted.
   *
   * @returns their keys (`namespace/name` or `name`)
   */
  parents(): string[] {
    return Object.keys(this.counts());
  }

  /** The syncs started in all. */
  get total(): number {
    let total = 0;
    for (const list of this.#starts.values()) total += list.length;
    return total;
  }

  /**
   * Waits until a condition on the counts holds.
   *
   * @param condition checked on every sync start and every 50 ms
   * @param timeoutMs how long to wait, in ms (default the kit's timeout)
   * @throws {SyncCountTimeoutError} with the counts, when it does not hold in time
   */
  async waitUntil(
    condition: (counter: SyncCounter) => boolean,
    timeoutMs: number = this.#timeoutMs,
  ): Promise<void> {
    const held = await poll(timeoutMs, () => condition(this) ? true : undefined);
    if (held === undefined) throw new SyncCountTimeoutError(timeoutMs, this.counts());
  }

  /** Stops counting; the counts stay readable. */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /** Same as {@linkcode SyncCounter.stop}, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }
}
