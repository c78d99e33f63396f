/**
 * {@linkcode ClientConfigError}: the one error class thrown when a client configuration cannot be
 * loaded (kubeconfig, service account, exec plugin, token file).
 *
 * Messages follow the form `Cannot load kubeconfig "<file>": <field>: <detail>` and never contain
 * a token, password, private key or certificate.
 *
 * @module
 */

/** Options for {@linkcode ClientConfigError}. */
export interface ClientConfigErrorOptions extends ErrorOptions {
  /** The kubeconfig path, service-account directory or token file the error is about. */
  file?: string;
  /**
   * The dotted path of the offending field inside `file`, for example
   * `users[alice].user.client-key` or `contexts[dev].context.cluster`.
   */
  field?: string;
}

/**
 * Thrown when a {@linkcode ClientConfig} cannot be loaded or its credentials cannot be obtained.
 *
 * @example Report a broken kubeconfig
 * ```ts ignore
 * try {
 *   await fromKubeconfig();
 * } catch (error) {
 *   if (error instanceof ClientConfigError) console.error(error.file, error.field, error.message);
 * }
 * ```
 */
export class ClientConfigError extends Error {
  /** The kubeconfig path, service-account directory or token file the error is about. */
  readonly file?: string;
  /** The dotted path of the offending field, for example `users[alice].user.client-key`. */
  readonly field?: string;

  /**
   * Creates the error.
   *
   * @param message the whole message, in the form `Cannot X: detail`; must not contain secrets
   * @param options the file and field concerned, and the underlying cause
   */
  constructor(message: string, options?: ClientConfigErrorOptions) {
    super(
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "ClientConfigError";
    if (options?.file !== undefined) this.file = options.file;
    if (options?.field !== undefined) this.field = options.field;
  }
}

/**
 * A short, secret-free description of a file-system or permission error, such as
 * `No such file or directory`, for use after a `cannot read "<path>": ` prefix.
 *
 * @param error the error thrown by a `Deno` file API
 * @returns the description
 */
export function describeFileError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "No such file or directory";
  if (error instanceof Deno.errors.PermissionDenied) return "Permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return "missing read permission (run with --allow-read)";
  }
  if (error instanceof Deno.errors.IsADirectory) return "Is a directory";
  if (error instanceof TypeError && /utf-?8|decod/i.test(error.message)) {
    return "not UTF-8 text";
  }
  if (error instanceof Error) {
    // Deno's messages look like "Not a directory (os error 20): readfile '/x'": keep the reason.
    const reason = error.message.replace(/\s*\(os error \d+\).*$/s, "");
    return reason || error.name;
  }
  return String(error);
}

/**
 * Checks, without prompting, that the process may read `path`.
 *
 * @param path the file or directory about to be read
 * @returns `undefined` when reading is allowed, else a secret-free description of the problem
 */
export function readPermissionProblem(path: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "read", path });
  return state === "granted"
    ? undefined
    : `missing read permission (run with --allow-read=${path})`;
}

/**
 * Returns a function that reads environment variables without ever prompting: a variable the
 * process may not read is reported as a {@linkcode ClientConfigError}.
 *
 * @returns a getter for environment variables
 */
export function permissionCheckedEnv(): (name: string) => string | undefined {
  return (name) => {
    const { state } = Deno.permissions.querySync({ name: "env", variable: name });
    if (state !== "granted") {
      throw new ClientConfigError(
        `Cannot read environment variable ${name}: missing env permission (run with --allow-env=${name})`,
        { field: name },
      );
    }
    return Deno.env.get(name);
  };
}
