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
 * "last-resort" major collection, which also shrinks the heap's committed pages. It runs three
 * times, a macrotask apart: memory outside the V8 heap that garbage holds (the backing stores of
 * response bodies' buffers) is released by V8's array-buffer sweeper and by finalizers, which
 * finish after the collection that found the garbage, so a single collection reads tens of MiB
 * too high after a large response (BENCHMARKS.md, finding 10). The reading is the memory the
 * process keeps rather than what is waiting to be released.
 *
 * @param gc collect garbage first (needs `--v8-flags=--expose-gc`)
 * @returns the reading
 */
export async function memoryReport(gc: boolean): Promise<MemoryReport> {
  const collect = (globalThis as { gc?: GcFunction }).gc;
  const collected = gc && typeof collect === "function";
  if (collected) {
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      collect();
      collect({ type: "major", execution: "sync", flavor: "last-resort" });
    }
  }
  return { ...Deno.memoryUsage(), gc: collected };
}
