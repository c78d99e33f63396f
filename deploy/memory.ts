/**
 * How much memory an operator's container needs for what it caches
 * ({@linkcode containerMemoryFor}): the formula behind the memory request and limit of the
 * generated StatefulSet, fitted to the benchmarks of `BENCHMARKS.md`.
 *
 * For N cached objects (parents and children together) of S bytes each (their JSON, as
 * `roperator_cached_bytes` counts it, managedFields left out), and list pages of P objects:
 *
 * ```text
 * settled = 72 MiB + N × (1.5 KiB + 3 × S)           what the process holds as it runs
 * peak    = settled + 6 × S × min(N, P)              while a list page is decoded and stored
 * request = settled, limit = 1.25 × peak             each rounded up to a multiple of 16 MiB
 * ```
 *
 * 72 MiB is the idle operator as it runs (the library and the runtime, nothing cached); 1.5 KiB
 * and 3 × S the cost of one cached object in the heap, its index entries, and the heap V8 keeps
 * beyond what is used; 6 × S per object of one page the text of the page, its parsed objects and
 * the HTTP body's buffers, alive together while the page is stored. The limit keeps a quarter
 * more for bursts of syncs (their snapshots and requests).
 *
 * @module
 */

/** What an operator caches, for {@linkcode containerMemoryFor}. */
export interface CacheSize {
  /** Objects cached: parents and children of every watched type together. */
  objects: number;
  /** The JSON size of one object, in bytes (as `roperator_cached_bytes` / objects). */
  objectBytes: number;
  /** Objects per list page (the informers' `pageSize`). Default 500. */
  pageSize?: number;
}

/** The memory request and limit of the operator's container. */
export interface ContainerMemory {
  /** The request, a quantity in Mi (`"96Mi"`). */
  request: string;
  /** The limit, a quantity in Mi (`"128Mi"`). */
  limit: string;
  /** The request in bytes. */
  requestBytes: number;
  /** The limit in bytes. */
  limitBytes: number;
}

/** The size the generated StatefulSet is given when none is: 2,000 objects of 4 KiB. */
export const DEFAULT_CACHE_SIZE: Readonly<Required<CacheSize>> = Object.freeze({
  objects: 2000,
  objectBytes: 4096,
  pageSize: 500,
});

const KIB = 1024;
const MIB = 1024 * KIB;
/** The idle operator as it runs. */
const IDLE_BYTES = 72 * MIB;
/** Per cached object, beyond 3 × its JSON size. */
const PER_OBJECT_BYTES = 1.5 * KIB;
/** Heap per byte of cached JSON, as it runs. */
const CACHED_FACTOR = 3;
/** Memory per byte of one list page while it is stored. */
const PAGE_FACTOR = 6;
/** The limit's headroom over the peak. */
const HEADROOM = 1.25;
/** Quantities are rounded up to this. */
const STEP = 16 * MIB;

/**
 * The memory request and limit of an operator's container for what it caches, by the formula of
 * this module's documentation.
 *
 * @example 10,000 ConfigMaps of about 1 KiB
 * ```ts
 * import { containerMemoryFor } from "@roperator/core/deploy";
 *
 * const { request, limit } = containerMemoryFor({ objects: 10_000, objectBytes: 1024 });
 * // request "128Mi" (72 MiB + 10,000 × 4.5 KiB = 116 MiB), limit "160Mi"
 * ```
 *
 * @param size how many objects, how large, and the page size
 * @returns the request and the limit
 * @throws {RangeError} when a count or size is negative or not finite, or the page size is not
 * a positive integer
 */
export function containerMemoryFor(size: CacheSize): ContainerMemory {
  const { objects, objectBytes } = size;
  const pageSize = size.pageSize ?? DEFAULT_CACHE_SIZE.pageSize;
  for (const [name, value] of [["objects", objects], ["objectBytes", objectBytes]] as const) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(
        `Cannot size the operator's memory: ${name} must be a finite number ≥ 0, got ${value}`,
      );
    }
  }
  if (!(Number.isInteger(pageSize) && pageSize > 0)) {
    throw new RangeError(
      `Cannot size the operator's memory: pageSize must be a positive integer, got ${pageSize}`,
    );
  }
  const settled = IDLE_BYTES + objects * (PER_OBJECT_BYTES + CACHED_FACTOR * objectBytes);
  const peak = settled + PAGE_FACTOR * objectBytes * Math.min(objects, pageSize);
  const requestBytes = roundUp(settled);
  const limitBytes = Math.max(roundUp(HEADROOM * peak), requestBytes);
  return {
    request: `${requestBytes / MIB}Mi`,
    limit: `${limitBytes / MIB}Mi`,
    requestBytes,
    limitBytes,
  };
}

function roundUp(bytes: number): number {
  return Math.ceil(bytes / STEP) * STEP;
}
