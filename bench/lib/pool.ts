/**
 * Bounded concurrency for the benchmark scripts.
 *
 * @module
 */

/**
 * Runs `fn` on every item with at most `concurrency` calls in flight, in item order. The first
 * error stops new calls and is thrown once the running ones settle.
 *
 * @param items the items
 * @param concurrency the most calls at once (≥ 1)
 * @param fn the work for one item
 * @returns a promise that resolves when every item is done
 */
export async function forEachConcurrent<T>(
  items: Iterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const iterator = [...items].entries()[Symbol.iterator]();
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const next = iterator.next();
      if (next.done) return;
      const [index, item] = next.value;
      try {
        await fn(item, index);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    }
  };
  const workers = Math.max(1, Math.floor(concurrency));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failed) throw firstError;
}
