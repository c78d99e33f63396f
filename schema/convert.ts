/**
 * From JSON Schema, as TypeBox builds it, to the Kubernetes structural schema of a CRD: `const`
 * becomes a one-value `enum`, a union of literals an `enum`, a union with `null` a `nullable`
 * field, a union of an integer and a string `x-kubernetes-int-or-string`, a record
 * (`patternProperties`) a map (`additionalProperties`), an unknown value a field that keeps
 * whatever it holds (`x-kubernetes-preserve-unknown-fields`), and a numeric
 * `exclusiveMinimum`/`exclusiveMaximum` the OpenAPI v3.0 boolean form. Defaults are checked
 * against their schema. What has no structural form is reported, with its field.
 *
 * @module
 */
import Value from "typebox/value";
import type { SchemaProblem, StructuralSchema } from "./structural.ts";

/** A JSON Schema node, as TypeBox builds it (TypeBox's own markers are non-enumerable). */
export type JsonSchema = Record<string, unknown>;

/** The result of {@linkcode toStructuralSchema}. */
export interface Conversion {
  /** The Kubernetes schema. */
  schema: StructuralSchema;
  /** What could not be converted, or a default that its own schema refuses. */
  problems: SchemaProblem[];
}

function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeOfValue(value: unknown): string | undefined {
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return undefined;
}

/** Keywords copied as they are (the checks in structural.ts judge them). */
const ANNOTATIONS = new Set(["$id", "$schema"]);

/**
 * Converts a TypeBox (JSON Schema) node to a Kubernetes structural schema node.
 *
 * @example
 * ```ts
 * import Type from "typebox";
 * import { toStructuralSchema } from "./convert.ts";
 * const { schema } = toStructuralSchema(
 *   Type.Object({ mode: Type.Union([Type.Literal("a"), Type.Literal("b")]) }),
 *   "spec",
 * );
 * schema.properties?.mode; // { type: "string", enum: ["a", "b"] }
 * ```
 *
 * @param source the JSON Schema node
 * @param path the field's path from the object root (for problems)
 * @returns the structural schema and the problems found
 */
export function toStructuralSchema(source: unknown, path: string): Conversion {
  const problems: SchemaProblem[] = [];
  const schema = convert(source, path, problems);
  return { schema, problems };
}

function join(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

function convert(source: unknown, path: string, problems: SchemaProblem[]): StructuralSchema {
  if (source === true || (isObject(source) && Object.keys(source).length === 0)) {
    return { "x-kubernetes-preserve-unknown-fields": true };
  }
  if (!isObject(source)) {
    problems.push({ path, message: `${JSON.stringify(source)} is not a schema` });
    return {};
  }
  const merged = mergedIntersection(source);
  if (merged) return convert(merged, path, problems);
  const union = (source.anyOf ?? source.oneOf) as unknown[] | undefined;
  if (Array.isArray(union) && source.type === undefined) {
    const converted = convertUnion(source, union, path, problems);
    if (converted) return withDefault(source, converted, path, problems);
  }
  const out: StructuralSchema = {};
  for (const [key, value] of Object.entries(source)) {
    if (ANNOTATIONS.has(key)) continue;
    switch (key) {
      case "const":
        out.enum = [value];
        if (source.type === undefined) {
          const type = typeOfValue(value);
          if (type) out.type = type;
        }
        break;
      case "enum":
        out.enum = value as unknown[];
        if (source.type === undefined) {
          const types = new Set((value as unknown[]).map(typeOfValue));
          if (types.size === 2 && types.has("integer") && types.has("number")) {
            out.type = "number";
          } else if (types.size === 1) {
            const [type] = types;
            if (type) out.type = type;
          }
        }
        break;
      case "type":
        if (Array.isArray(value)) {
          const types = value.filter((t) => t !== "null");
          if (types.length === 1) {
            out.type = types[0] as string;
            if (value.includes("null")) out.nullable = true;
          } else {
            problems.push({ path, message: `type ${JSON.stringify(value)}: one type is allowed` });
          }
        } else if (value === "null") {
          problems.push({ path, message: "a field that is always null has no structural form" });
        } else {
          out.type = value as string;
        }
        break;
      case "properties": {
        const properties: Record<string, StructuralSchema> = {};
        for (const [field, child] of Object.entries(value as JsonSchema)) {
          properties[field] = convert(child, join(path, field), problems);
        }
        out.properties = properties;
        break;
      }
      case "patternProperties": {
        const entries = Object.entries(value as JsonSchema);
        const [pattern, child] = entries[0] ?? [];
        if (entries.length === 1 && (pattern === "^.*$" || pattern === "^(.*)$")) {
          out.additionalProperties = convert(child, `${path}[*]`, problems);
          if (out.type === undefined) out.type = "object";
        } else {
          problems.push({
            path,
            message: `patternProperties ${
              JSON.stringify(Object.keys(value as JsonSchema))
            } are not supported: keys can only be any string (Type.Record(Type.String(), …))`,
          });
        }
        break;
      }
      case "additionalProperties":
        if (value === true) {
          out["x-kubernetes-preserve-unknown-fields"] = true;
        } else if (value === false) {
          // Kubernetes prunes undeclared fields anyway.
        } else {
          out.additionalProperties = convert(value, `${path}[*]`, problems);
        }
        break;
      case "items":
        out.items = Array.isArray(value)
          ? value.map((item, index) => convert(item, `${path}[${index}]`, problems))
          : convert(value, `${path}[*]`, problems);
        break;
      case "exclusiveMinimum":
      case "exclusiveMaximum":
        if (typeof value === "number") {
          out[key === "exclusiveMinimum" ? "minimum" : "maximum"] = value;
          out[key] = true;
        } else {
          out[key] = value as boolean;
        }
        break;
      case "allOf":
      case "anyOf":
      case "oneOf":
        out[key] = (value as unknown[]).map((s, index) =>
          convertValidation(s, `${path}.${key}[${index}]`, problems)
        );
        break;
      case "not":
        out.not = convertValidation(value, `${path}.not`, problems);
        break;
      case "examples":
        if (Array.isArray(value) && value.length > 0) out.example = value[0];
        break;
      default:
        out[key] = value;
    }
  }
  if (
    out.type === undefined && out["x-kubernetes-int-or-string"] !== true &&
    out["x-kubernetes-preserve-unknown-fields"] !== true && out.properties === undefined &&
    out.items === undefined && out.enum === undefined
  ) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  if (out.type === undefined && out.properties !== undefined) out.type = "object";
  return withDefault(source, out, path, problems);
}

/**
 * An intersection of objects (`Type.Intersect`, JSON Schema `allOf`) as one object: the union of
 * the properties and of the required fields. `undefined` when it is anything else.
 */
function mergedIntersection(source: JsonSchema): JsonSchema | undefined {
  const members = source.allOf;
  if (source.type !== undefined || !Array.isArray(members) || members.length === 0) {
    return undefined;
  }
  if (!members.every((m) => isObject(m) && m.type === "object" && !m.additionalProperties)) {
    return undefined;
  }
  const properties: JsonSchema = {};
  const required = new Set<string>();
  for (const member of members as JsonSchema[]) {
    for (const [field, schema] of Object.entries((member.properties ?? {}) as JsonSchema)) {
      if (field in properties) return undefined; // declared twice: leave it to the checks
      properties[field] = schema;
    }
    for (const field of (member.required ?? []) as string[]) required.add(field);
  }
  const rest: JsonSchema = { ...source };
  delete rest.allOf;
  return {
    ...rest,
    type: "object",
    ...(required.size > 0 ? { required: [...required] } : {}),
    properties,
  };
}

/** A value validation keeps its keywords, with const and record converted. */
function convertValidation(
  source: unknown,
  path: string,
  problems: SchemaProblem[],
): StructuralSchema {
  if (!isObject(source)) return convert(source, path, problems);
  const converted = convert(source, path, problems);
  if (source.type === undefined) delete converted.type;
  if (!("x-kubernetes-preserve-unknown-fields" in source)) {
    delete converted["x-kubernetes-preserve-unknown-fields"];
  }
  return converted;
}

/** Unions that have a structural form; `undefined` leaves the union as a value validation. */
function convertUnion(
  source: JsonSchema,
  members: unknown[],
  path: string,
  problems: SchemaProblem[],
): StructuralSchema | undefined {
  const rest: JsonSchema = { ...source };
  delete rest.anyOf;
  delete rest.oneOf;
  const nonNull = members.filter((m) => !(isObject(m) && m.type === "null"));
  const nullable = nonNull.length < members.length;
  const extra = (schema: StructuralSchema): StructuralSchema => {
    const out = { ...schema };
    for (const [key, value] of Object.entries(convert(rest, path, []))) {
      if (key !== "x-kubernetes-preserve-unknown-fields") out[key] = value;
    }
    if (nullable) out.nullable = true;
    return out;
  };
  if (nonNull.length === 1) return extra(convert(nonNull[0], path, problems));
  const literals = nonNull.every((m) => isObject(m) && ("const" in m || "enum" in m));
  if (literals) {
    const values = nonNull.flatMap((m) => {
      const node = m as JsonSchema;
      return "const" in node ? [node.const] : (node.enum as unknown[]);
    });
    const types = new Set(values.map(typeOfValue));
    if (types.size === 2 && types.has("integer") && types.has("number")) {
      types.delete("integer");
    }
    if (types.size === 1) {
      const [type] = types;
      return extra({ type: type!, enum: values });
    }
    problems.push({
      path,
      message: `a union of literals of different types (${
        [...types].join(", ")
      }) has no structural form`,
    });
    return {};
  }
  const kinds = nonNull.map((m) => isObject(m) ? m.type : undefined);
  const plain = nonNull.every((m) => isObject(m) && Object.keys(m).length === 1);
  if (
    nonNull.length === 2 && plain && kinds.includes("string") &&
    (kinds.includes("integer") || kinds.includes("number"))
  ) {
    return extra({ "x-kubernetes-int-or-string": true });
  }
  problems.push({
    path,
    message: `a union of ${
      kinds.map((k) => k ?? "untyped").join(" | ")
    } has no structural form (Kubernetes needs one type per field): declare one object with optional fields, or Type.Unknown() to keep any value`,
  });
  return {};
}

function withDefault(
  source: JsonSchema,
  out: StructuralSchema,
  path: string,
  problems: SchemaProblem[],
): StructuralSchema {
  if (!("default" in source)) return out;
  const check = { ...source };
  delete check.default;
  let valid: boolean;
  try {
    valid = Value.Check(check as never, source.default);
  } catch {
    valid = true; // a schema TypeBox cannot check: the API server will
  }
  if (!valid) {
    problems.push({
      path,
      message: `default ${JSON.stringify(source.default)} does not match the field's own schema`,
    });
  }
  return out;
}
