/**
 * Reading and checking the fields of a kubeconfig, with a {@linkcode ClientConfigError} that names
 * the file and the field at fault: typed values out of parsed YAML ({@linkcode FieldReader}), PEM
 * fields given inline or as paths ({@linkcode loadPem}), files that must be readable
 * ({@linkcode checkReadableFile}). Internal to the kubeconfig modules.
 *
 * @module
 */

import { ClientConfigError, describeFileError, readPermissionProblem } from "./config_error.ts";
import { unparseablePem } from "./pem.ts";

/** A YAML mapping, as parsed. */
export type YamlMapping = Record<string, unknown>;

/**
 * Whether a parsed YAML value is a mapping.
 *
 * @param value the value
 * @returns `true` for a mapping (not `null`, not a sequence)
 */
export function isMapping(value: unknown): value is YamlMapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Names the YAML type of a parsed value, for error messages.
 *
 * @param value the value
 * @returns `a sequence`, `a mapping` or `a scalar`
 */
export function describeType(value: unknown): string {
  if (Array.isArray(value)) return "a sequence";
  if (isMapping(value)) return "a mapping";
  return "a scalar";
}

/**
 * Makes the error of a kubeconfig that cannot be loaded:
 * `Cannot load kubeconfig "<file>": <field>: <detail>`.
 *
 * @param file the kubeconfig file (or files, joined), if known
 * @param field the dotted path of the field at fault, if any
 * @param detail what is wrong; must not quote a secret
 * @param cause the underlying error, if any
 * @returns the error
 */
export function kubeconfigError(
  file: string | undefined,
  field: string | undefined,
  detail: string,
  cause?: unknown,
): ClientConfigError {
  const subject = file === undefined
    ? "Cannot load kubeconfig"
    : `Cannot load kubeconfig "${file}"`;
  return new ClientConfigError(
    `${subject}: ${field === undefined ? "" : `${field}: `}${detail}`,
    {
      ...(file === undefined ? {} : { file }),
      ...(field === undefined ? {} : { field }),
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Reads typed values out of parsed YAML, throwing errors that name the file and field. */
export class FieldReader {
  constructor(readonly file: string | undefined) {}

  fail(field: string | undefined, detail: string): never {
    throw kubeconfigError(this.file, field, detail);
  }

  mapping(value: unknown, field: string): YamlMapping | undefined {
    if (value === null || value === undefined) return undefined;
    if (!isMapping(value)) this.fail(field, `must be a mapping, found ${describeType(value)}`);
    return value;
  }

  list(value: unknown, field: string): unknown[] | undefined {
    if (value === null || value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(field, `must be a sequence, found ${describeType(value)}`);
    return value;
  }

  string(value: unknown, field: string): string | undefined {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== "string") {
      this.fail(field, `must be a string, found ${describeType(value)}`);
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    const text = this.string(value, field);
    if (text === undefined) return undefined;
    // The YAML 1.1 spellings Go's YAML reader accepts.
    if (/^(true|yes|y|on)$/i.test(text)) return true;
    if (/^(false|no|n|off)$/i.test(text)) return false;
    this.fail(field, "must be true or false");
  }

  stringList(value: unknown, field: string): string[] | undefined {
    const items = this.list(value, field);
    if (items === undefined) return undefined;
    return items.map((item, i) => this.string(item, `${field}[${i}]`) ?? "");
  }
}

/**
 * Sets `target[key]` when `value` is defined, so that absent fields stay absent.
 *
 * @param target the object to set
 * @param key the key
 * @param value the value, or `undefined` to leave `target` alone
 */
export function put<T, K extends keyof T>(
  target: T,
  key: K,
  value: Exclude<T[K], undefined> | undefined,
): void {
  if (value !== undefined) target[key] = value as T[K];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const PEM_PRIVATE_KEY = /-----BEGIN ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----[\s\S]+?-----END /;

/** Decodes base64 (padding optional, whitespace ignored) to UTF-8 text, or `undefined`. */
function decodeBase64Text(value: string): { text?: string; problem?: string } {
  let binary: string;
  try {
    binary = atob(value.replace(/\s+/g, ""));
  } catch {
    return { problem: "is not valid base64" };
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { problem: "does not decode to PEM text" };
  }
}

/**
 * Loads a PEM field given inline (`…-data`, base64) or as a path, checking it holds the expected
 * PEM blocks and that they parse. Never quotes the content.
 *
 * @param file the kubeconfig file, for error messages
 * @param base the dotted path of the entry holding the field, for example `users[alice].user`
 * @param data the inline field's key and value
 * @param path the path field's key and value
 * @param kind what the field must hold
 * @returns the PEM text, or `undefined` when neither field is set
 * @throws {ClientConfigError} when both fields are set, or the data is unreadable or not PEM
 */
export async function loadPem(
  file: string,
  base: string,
  data: { key: string; value: string | undefined },
  path: { key: string; value: string | undefined },
  kind: "certificate" | "private key",
): Promise<string | undefined> {
  const pattern = kind === "certificate" ? PEM_CERTIFICATE : PEM_PRIVATE_KEY;
  if (data.value && path.value) {
    throw kubeconfigError(
      file,
      `${base}.${data.key}`,
      `both ${data.key} and ${path.key} are set; remove one`,
    );
  }
  let field: string;
  let text: string;
  // How the messages say what the field holds: "does not decode to a" or "<path> is not a".
  let isNot: string;
  if (data.value) {
    field = `${base}.${data.key}`;
    const decoded = decodeBase64Text(data.value);
    if (decoded.text === undefined) {
      throw kubeconfigError(file, field, decoded.problem ?? "is invalid");
    }
    text = decoded.text;
    isNot = "does not decode to a";
  } else if (path.value) {
    field = `${base}.${path.key}`;
    const problem = readPermissionProblem(path.value);
    if (problem !== undefined) {
      throw kubeconfigError(file, field, `cannot read "${path.value}": ${problem}`);
    }
    try {
      text = await Deno.readTextFile(path.value);
    } catch (error) {
      throw kubeconfigError(
        file,
        field,
        `cannot read "${path.value}": ${describeFileError(error)}`,
        error,
      );
    }
    isNot = `"${path.value}" is not a`;
  } else {
    return undefined;
  }
  if (!pattern.test(text)) throw kubeconfigError(file, field, `${isNot} PEM ${kind}`);
  const unparseable = unparseablePem(text, kind);
  if (unparseable !== undefined) {
    throw kubeconfigError(file, field, `${isNot} valid PEM ${kind}: ${unparseable}`);
  }
  return text;
}

/**
 * Checks that a file named by a kubeconfig field can be read now, so that a broken path fails
 * when the configuration is loaded.
 *
 * @param file the kubeconfig file, for error messages
 * @param field the dotted path of the field naming the file
 * @param path the file to read
 * @throws {ClientConfigError} when the file cannot be read
 */
export async function checkReadableFile(file: string, field: string, path: string): Promise<void> {
  const problem = readPermissionProblem(path);
  if (problem !== undefined) {
    throw kubeconfigError(file, field, `cannot read "${path}": ${problem}`);
  }
  try {
    await Deno.readTextFile(path);
  } catch (error) {
    throw kubeconfigError(
      file,
      field,
      `cannot read "${path}": ${describeFileError(error)}`,
      error,
    );
  }
}
