/**
 * {@linkcode poll}: the loop behind every wait of the test kit.
 *
 * @module
 */
import { sleep } from "../client/_util.ts";

/** How long {@linkcode poll} waits between two probes, in ms. */
export const POLL_MS = 50;

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
