/**
 * The checks behind `operatorConfig()`: names (DNS labels and subdomains, qualified names, label
 * values), label selectors, and {@linkcode Validator}, which reads one field at a time and throws
 * an `OperatorConfigError` naming the field.
 *
 * @module
 */
import type { ResourceType } from "../client/resource_type.ts";
import { OperatorConfigError } from "./config_error.ts";

export const DNS_LABEL: RegExp = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN: RegExp =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const QUALIFIED_NAME_PART: RegExp = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const LABEL_VALUE: RegExp = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The longest delay `setTimeout` honours; longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Why `value` is not a qualified name (`[prefix/]name`), or `undefined` when it is one. */
export function qualifiedNameProblem(value: string): string | undefined {
  const parts = value.split("/");
  if (parts.length > 2) return "must have at most one '/'";
  const name = parts.length === 2 ? parts[1] ?? "" : value;
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix.length === 0) return "the prefix before '/' must not be empty";
    if (prefix.length > 253) return "the prefix must be at most 253 characters";
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return `the prefix "${prefix}" must be a lower-case DNS subdomain`;
    }
  }
  if (name.length === 0) return "the name part must not be empty";
  if (name.length > 63) return "the name part must be at most 63 characters";
  if (!QUALIFIED_NAME_PART.test(name)) {
    return `the name part "${name}" must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`;
  }
  return undefined;
}

/** Splits a selector on the commas outside parentheses. */
function splitSelector(selector: string): string[] | undefined {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (c === "," && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  terms.push(selector.slice(start));
  return terms;
}

/** Why `selector` is not a valid label selector, or `undefined` when it is one. */
export function labelSelectorProblem(selector: string): string | undefined {
  const terms = splitSelector(selector);
  if (terms === undefined) return "has unbalanced parentheses";
  for (const raw of terms) {
    const term = raw.trim();
    if (term === "") return "has an empty requirement (check the commas)";
    let key: string;
    let values: string[] = [];
    let match: RegExpExecArray | null;
    if ((match = /^!\s*(\S+)$/.exec(term))) {
      key = match[1] ?? "";
    } else if ((match = /^([^\s!=<>(),]+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
      key = match[1] ?? "";
      values = (match[3] ?? "").split(",").map((v) => v.trim());
      if (values.length === 1 && values[0] === "") {
        return `requirement "${term}": the set of values must not be empty`;
      }
    } else if ((match = /^([^\s!=<>(),]+)\s*(==|=|!=)\s*([^\s!=<>(),]*)$/.exec(term))) {
      key = match[1] ?? "";
      values = [match[3] ?? ""];
    } else if ((match = /^([^\s!=<>(),]+)\s*([<>])\s*(\S+)$/.exec(term))) {
      key = match[1] ?? "";
      if (!/^-?\d+$/.test(match[3] ?? "")) {
        return `requirement "${term}": '${match[2]}' needs an integer value`;
      }
    } else if (/^[^\s!=<>(),]+$/.test(term)) {
      key = term;
    } else {
      return `requirement "${term}" is not "key", "!key", "key=value", "key!=value", "key in (a,b)", "key notin (a,b)", "key>n" or "key<n"`;
    }
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem !== undefined) return `requirement "${term}": key "${key}": ${keyProblem}`;
    for (const value of values) {
      if (value.length > 63 || !LABEL_VALUE.test(value)) {
        return `requirement "${term}": "${value}" is not a valid label value`;
      }
    }
  }
  return undefined;
}

/** A short description of a value for an error message: strings quoted, objects by kind. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** Builds the resolved config while reporting problems with the operator's name in them. */
export class Validator {
  #operator: string;

  constructor(operator: string) {
    this.#operator = operator;
  }

  fail(field: string, detail: string): never {
    throw new OperatorConfigError(
      `Cannot configure operator ${this.#operator}: ${field}: ${detail}`,
      { field },
    );
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string") this.fail(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  boolean(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") this.fail(field, `must be a boolean, got ${describe(value)}`);
    return value;
  }

  labelKey(value: unknown, field: string, fallback: string): string {
    if (value === undefined) return fallback;
    const key = this.string(value, field);
    const problem = qualifiedNameProblem(key);
    if (problem !== undefined) {
      this.fail(field, `"${key}" is not a valid label key: ${problem}`);
    }
    return key;
  }

  /** A duration in ms: finite, at most the longest timer delay, positive (or 0 if allowed). */
  duration(
    value: unknown,
    field: string,
    fallback: number,
    options: { zeroOff?: boolean } = {},
  ): number {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(field, `must be a finite number of milliseconds, got ${describe(value)}`);
    }
    if (options.zeroOff ? value < 0 : value <= 0) {
      this.fail(
        field,
        options.zeroOff
          ? `must be positive, or 0 to turn it off, got ${value}`
          : `must be positive, got ${value}`,
      );
    }
    if (value > MAX_TIMER_MS) {
      this.fail(
        field,
        `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer delay, got ${value}`,
      );
    }
    return value;
  }

  resourceType(value: unknown, field: string): ResourceType {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(field, `must be a ResourceType, got ${describe(value)}`);
    }
    const type = value as Partial<Record<keyof ResourceType, unknown>>;
    for (const key of ["apiVersion", "kind", "plural"] as const) {
      if (typeof type[key] !== "string" || type[key] === "") {
        this.fail(`${field}.${key}`, `must be a non-empty string, got ${describe(type[key])}`);
      }
    }
    if (typeof type.namespaced !== "boolean") {
      this.fail(`${field}.namespaced`, `must be a boolean, got ${describe(type.namespaced)}`);
    }
    return value as ResourceType;
  }
}
