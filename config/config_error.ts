/**
 * {@linkcode OperatorConfigError}: the error `operatorConfig()` throws for an invalid field, naming
 * the field.
 *
 * @module
 */
/** Options for {@linkcode OperatorConfigError}. */
export interface OperatorConfigErrorOptions extends ErrorOptions {
  /** The path of the offending field, for example `children[1].type` or `server.port`. */
  field: string;
}

/**
 * Thrown by `operatorConfig()` when a field is invalid. The message has the form
 * `Cannot configure operator "<name>": <field>: <detail>`.
 *
 * @example
 * ```ts
 * import { operatorConfig, OperatorConfigError } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * try {
 *   operatorConfig({ name: "demo", parent: k8s.apps.v1.Deployment, concurrency: 0 });
 * } catch (error) {
 *   if (error instanceof OperatorConfigError) console.error(error.field); // "concurrency"
 * }
 * ```
 */
export class OperatorConfigError extends TypeError {
  /** The path of the offending field, for example `children[1].type`. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param message the whole message, `Cannot configure operator "<name>": <field>: <detail>`
   * @param options the offending field and the underlying cause
   */
  constructor(message: string, options: OperatorConfigErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OperatorConfigError";
    this.field = options.field;
  }
}
