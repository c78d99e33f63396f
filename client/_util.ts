/**
 * Small helpers shared by every layer (client/ is the bottom layer, so runner/, config/, handler/,
 * deploy/ and testkit/ may all import it): waiting ({@linkcode sleep},
 * {@linkcode sleepOrAbort}), error messages ({@linkcode messageOf}, {@linkcode describeCause}),
 * the Kubernetes `MicroTime` format ({@linkcode microTime}) and JSON values
 * ({@linkcode isJsonObject}, {@linkcode jsonEqual}).
 *
 * Internal: never re-exported by `mod.ts` or any other entry point.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds. With a `signal`, stops waiting as soon as it aborts and rejects with
 * its reason (at once when it is already aborted).
 *
 * @param ms how long to wait, in milliseconds (negative waits count as 0)
 * @param signal stops the wait early, with a rejection
 * @returns a promise that resolves after `ms`
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Waits `ms` milliseconds, or less when `signal` aborts: unlike {@linkcode sleep}, an abort
 * ends the wait normally, for loops that check the signal themselves.
 *
 * @param ms how long to wait, in milliseconds (negative waits count as 0)
 * @param signal ends the wait early; the promise still resolves
 * @returns a promise that resolves after `ms` or on abort, whichever comes first; never rejects
 */
export function sleepOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * The message of an error, or the value itself as text when something else was thrown.
 *
 * @param error what was thrown
 * @returns `error.message` for an `Error`, else `String(error)`
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The messages of an error and of its causes (up to five deep), joined by `": "`, each message
 * once: `fetch failed: connection refused`.
 *
 * @param error what was thrown
 * @returns the joined messages
 */
export function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const message = messageOf(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

/**
 * A time in the `MicroTime` format the API server requires (six fractional digits), as in Lease
 * `renewTime` and Event `eventTime`.
 *
 * @param date the time; default now
 * @returns for example `2024-05-01T12:00:00.123000Z`
 */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether a value is a plain JSON object (not `null`, not an array).
 *
 * @param value any value
 * @returns whether it is an object with fields
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether two JSON values are equal: objects by their fields whatever their order, arrays item
 * by item; a field whose value is `undefined` counts as absent, as `JSON.stringify` drops it.
 *
 * @param a a JSON value
 * @param b another
 * @returns whether they serialize to the same JSON, field order aside
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}
