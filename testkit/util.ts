/**
 * Small helpers shared by the test kit's modules: {@linkcode sleep}, {@linkcode poll} (the loop
 * behind every wait of the kit) and {@linkcode errorMessage}.
 *
 * @module
 */

/** How long {@linkcode poll} waits between two probes, in ms. */
export const POLL_MS = 50;

/**
 * Resolves after a delay.
 *
 * @param ms the delay, in ms
 * @returns a promise that resolves after `ms`
 */
export const sleep = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The message of an error, or the value as a string when it is not an `Error`.
 *
 * @param error the thrown value
 * @returns its message
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Calls `probe` until it returns something other than `undefined`, or until the time is up
 * (it is called at least once).
 *
 * @param timeoutMs how long to keep probing, in ms
 * @param probe the probe
 * @returns the first value other than `undefined`, or `undefined` when the time is up
 */
export async function poll<T>(
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    await sleep(Math.min(POLL_MS, left));
  }
}
