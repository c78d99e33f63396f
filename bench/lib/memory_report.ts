/**
 * The memory reading of a benchmark process ({@linkcode memoryReport}), shared by the operator
 * under test (`bench/operator.ts`) and the bare hello-world (`bench/hello.ts`), which must not load
 * the library.
 *
 * @module
 */

/** What `GET /memory` answers, in bytes. */
export interface MemoryReport {
  /** Resident set size. */
  rss: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** V8 heap in use. */
  heapUsed: number;
  /** Memory outside the V8 heap held by JS objects (buffers). */
  external: number;
  /** Whether a full GC ran before the reading. */
  gc: boolean;
}

/** The `gc` function V8 exposes with `--expose-gc`. */
type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * Reads the memory of this process, after a full GC when asked and available. The GC is V8's
 * "last-resort" major collection, which also shrinks the heap's committed pages, so the reading
 * is the memory the process keeps rather than what the allocator has not returned yet.
 *
 * @param gc collect garbage first (needs `--v8-flags=--expose-gc`)
 * @returns the reading
 */
export function memoryReport(gc: boolean): MemoryReport {
  const collect = (globalThis as { gc?: GcFunction }).gc;
  const collected = gc && typeof collect === "function";
  if (collected) {
    collect();
    collect({ type: "major", execution: "sync", flavor: "last-resort" });
  }
  return { ...Deno.memoryUsage(), gc: collected };
}
