/**
 * The errors of a sync: {@linkcode SyncError} (public: a handler error, a rejected write or an
 * invalid child, tied to one parent) and the controller's internal ones, which say how the sync
 * ended (some children failed, the parent went away, one child could not be written).
 *
 * @module
 */

/** Options for {@linkcode SyncError}. */
export interface SyncErrorOptions extends ErrorOptions {
  /**
   * The Event reason this failure is reported with: `"ChildWriteRejected"` when the API server
   * rejected a child write. Default: `SyncFailed` (or `FinalizeFailed` while finalizing).
   */
  reason?: string;
}

/** A handler error, a rejected write or an invalid child, tied to one parent. */
export class SyncError extends Error {
  /** The parent, as `namespace/name` or `name`. */
  readonly parent: string;
  /** What failed, without the `Cannot sync parent "…": ` prefix. */
  readonly detail: string;
  /** The Event reason, when it is not the default one (see {@linkcode SyncErrorOptions}). */
  readonly reason: string | undefined;

  /**
   * Creates an error for a failed sync of one parent.
   *
   * @param parent the parent key
   * @param message what failed
   * @param options the cause and the Event reason
   */
  constructor(parent: string, message: string, options?: SyncErrorOptions) {
    super(
      `Cannot sync parent "${parent}": ${message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "SyncError";
    this.parent = parent;
    this.detail = message;
    this.reason = options?.reason;
  }
}

/** Some children could not be written; each was already reported with an Event of its own. */
export class ChildrenFailedError extends SyncError {
  /**
   * Creates the error.
   *
   * @param parent the parent key
   * @param message what failed
   * @param options the cause and the Event reason
   */
  constructor(parent: string, message: string, options: SyncErrorOptions) {
    super(parent, message, options);
    this.name = "SyncError";
  }
}

/** The parent was deleted while it synced (a write found it gone). */
export class ParentGoneError extends SyncError {
  /**
   * Creates the error.
   *
   * @param parent the parent key
   */
  constructor(parent: string) {
    super(parent, "it was deleted while it synced");
    this.name = "SyncError";
  }
}

/** One child could not be written; the message names the child and says why. */
export class ChildWriteError extends Error {
  /**
   * Creates the error.
   *
   * @param message names the child and says why
   * @param cause the error of the write, if any
   */
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ChildWriteError";
  }
}
