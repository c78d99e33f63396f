/**
 * Which fields of a value the API server would prune: those a structural schema does not declare
 * (outside `x-kubernetes-preserve-unknown-fields`). A status field missing from the CRD is
 * dropped silently on write; {@linkcode prunedFields} finds it first, and
 * {@linkcode PrunedFieldReporter} reports each such field once.
 *
 * @example
 * ```ts
 * import { prunedFields } from "./prune.ts";
 * const schema = { type: "object", properties: { phase: { type: "string" } } };
 * prunedFields(schema, { phase: "Ready", mesage: "typo" }, "status"); // ["status.mesage"]
 * ```
 *
 * @module
 */
import { isJsonObject } from "../client/_util.ts";
import type { StructuralSchema } from "./structural.ts";

const EMBEDDED = new Set(["apiVersion", "kind", "metadata"]);

/**
 * The paths of the fields of `value` that the schema would prune, array items and map values
 * written `[*]` (so that a path names a field, not one item): `status.items[*].extra`.
 *
 * @example
 * ```ts
 * import { prunedFields } from "./prune.ts";
 * const schema = {
 *   type: "object",
 *   properties: {
 *     ready: { type: "array", items: { type: "object", properties: { name: { type: "string" } } } },
 *   },
 * };
 * prunedFields(schema, { ready: [{ name: "a", age: 1 }, { name: "b", age: 2 }] }, "status");
 * // ["status.ready[*].age"]
 * ```
 *
 * @param schema the structural schema of the value
 * @param value the value (a status, a spec, an object)
 * @param path the value's path, the prefix of every result (default `""`)
 * @returns the pruned fields' paths, each once, in the order found
 */
export function prunedFields(schema: StructuralSchema, value: unknown, path = ""): string[] {
  const found = new Set<string>();
  walk(schema, value, path, found);
  return [...found];
}

function walk(schema: StructuralSchema, value: unknown, path: string, found: Set<string>): void {
  if (Array.isArray(value)) {
    const items = Array.isArray(schema.items) ? undefined : schema.items;
    if (items) { for (const item of value) walk(items, item, `${path}[*]`, found); }
    return;
  }
  if (!isJsonObject(value)) return;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  const embedded = schema["x-kubernetes-embedded-resource"] === true;
  const additional = typeof schema.additionalProperties === "object"
    ? schema.additionalProperties
    : undefined;
  for (const [field, child] of Object.entries(value)) {
    const childPath = path === "" ? field : `${path}.${field}`;
    const declared = schema.properties?.[field];
    if (declared) {
      walk(declared, child, childPath, found);
    } else if (additional) {
      walk(additional, child, `${path}[*]`, found);
    } else if (!preserve && !(embedded && EMBEDDED.has(field)) && schema.type === "object") {
      found.add(childPath);
    }
  }
}

/**
 * A copy of `value` without the fields the schema would prune: what the API server stores.
 *
 * @example
 * ```ts
 * import { withoutPrunedFields } from "./prune.ts";
 * const schema = { type: "object", properties: { phase: { type: "string" } } };
 * withoutPrunedFields(schema, { phase: "Ready", mesage: "typo" }); // { phase: "Ready" }
 * ```
 *
 * @param schema the structural schema of the value
 * @param value the value
 * @returns the value as the API server would store it (the same value when nothing is pruned)
 */
export function withoutPrunedFields(schema: StructuralSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = Array.isArray(schema.items) ? undefined : schema.items;
    return items ? value.map((item) => withoutPrunedFields(items, item)) : value;
  }
  if (!isJsonObject(value)) return value;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  const embedded = schema["x-kubernetes-embedded-resource"] === true;
  const additional = typeof schema.additionalProperties === "object"
    ? schema.additionalProperties
    : undefined;
  const out: Record<string, unknown> = {};
  for (const [field, child] of Object.entries(value)) {
    const declared = schema.properties?.[field];
    if (declared) out[field] = withoutPrunedFields(declared, child);
    else if (additional) out[field] = withoutPrunedFields(additional, child);
    else if (preserve || (embedded && EMBEDDED.has(field)) || schema.type !== "object") {
      out[field] = child;
    }
  }
  return out;
}

/**
 * Remembers the pruned fields already reported, so that each field path is reported once per
 * process, not at every sync.
 *
 * @example
 * ```ts
 * import { PrunedFieldReporter } from "./prune.ts";
 * const schema = { type: "object", properties: { phase: { type: "string" } } };
 * const reporter = new PrunedFieldReporter(schema, "status");
 * reporter.newlyPruned({ phase: "a", extra: 1 }); // ["status.extra"]
 * reporter.newlyPruned({ phase: "b", extra: 2 }); // []
 * ```
 */
export class PrunedFieldReporter {
  readonly #schema: StructuralSchema;
  readonly #path: string;
  readonly #reported = new Set<string>();
  readonly #limit: number;

  /**
   * Creates a reporter for values of one schema.
   *
   * @param schema the structural schema of the values
   * @param path the values' path, the prefix of every result (such as `status`)
   * @param limit the most distinct paths remembered (default 1000); beyond it nothing more is reported
   */
  constructor(schema: StructuralSchema, path = "", limit = 1000) {
    this.#schema = schema;
    this.#path = path;
    this.#limit = limit;
  }

  /**
   * The pruned fields of `value` not reported before (and now remembered as reported).
   *
   * @param value the value about to be written
   * @returns the paths to report
   */
  newlyPruned(value: unknown): string[] {
    const fresh: string[] = [];
    for (const path of prunedFields(this.#schema, value, this.#path)) {
      if (this.#reported.has(path) || this.#reported.size >= this.#limit) continue;
      this.#reported.add(path);
      fresh.push(path);
    }
    return fresh;
  }
}
