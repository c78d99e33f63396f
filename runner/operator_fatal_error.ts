/**
 * {@linkcode OperatorFatalError}: the operator cannot start or go on.
 *
 * @module
 */

/**
 * The operator cannot go on: the cluster lacks a type, the HTTP port is taken, or it lost its
 * Lease.
 */
export class OperatorFatalError extends Error {
  /**
   * Creates a fatal error.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperatorFatalError";
  }
}
