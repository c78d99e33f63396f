/**
 * The informer's errors: a cache that cannot sync ({@linkcode InformerSyncError}), a watch that
 * ended at once, and which list errors are a refusal for good.
 *
 * @module
 */
import { ApiError } from "../client/errors.ts";

/**
 * `waitForSync()` cannot resolve: the informer stopped before its first list, or the API server
 * refused the first list (401, 403 or 404; the informer keeps retrying in the background).
 */
export class InformerSyncError extends Error {
  /** The resource type's `apiVersion/kind`. */
  readonly typeName: string;
  /** The HTTP status of the refused list; `undefined` when the informer stopped. */
  readonly status: number | undefined;

  /**
   * Creates the error.
   *
   * @param typeName the resource type's `apiVersion/kind`
   * @param detail why the cache cannot sync
   * @param options the HTTP status of a refused list, and the cause
   */
  constructor(
    typeName: string,
    detail: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(
      `Cannot sync the cache of ${typeName}: ${detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "InformerSyncError";
    this.typeName = typeName;
    this.status = options.status;
  }
}

/** A watch ended at once without an event: counted as an error, so that it backs off. */
export class ShortWatchError extends Error {
  constructor(typeName: string, ms: number) {
    super(`Cannot watch ${typeName}: the watch ended after ${ms} ms without an event`);
    this.name = "ShortWatchError";
  }
}

/** Why the first list was refused for good, or `undefined` for an error worth waiting out. */
export function refusal(error: unknown): ApiError | undefined {
  return error instanceof ApiError && [401, 403, 404].includes(error.status) ? error : undefined;
}
