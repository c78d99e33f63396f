/**
 * The checks the API server applies to a CRD's `openAPIV3Schema` before it accepts the CRD: a
 * structural schema (a type on every field, no `$ref`, `patternProperties` or `uniqueItems`, value
 * validations that only restrict), the `x-kubernetes-*` extensions used where they may be used,
 * and `x-kubernetes-validations` (CEL) rules that refer to fields of the node they are declared
 * on. {@linkcode structuralProblems} runs them without an API server, so that a declaration
 * Kubernetes would refuse is refused at start-up, naming the field.
 *
 * @example
 * ```ts
 * import { structuralProblems } from "./structural.ts";
 * const problems = structuralProblems({
 *   type: "object",
 *   properties: { spec: { properties: { replicas: { type: "integer" } } } },
 * });
 * problems[0]?.path; // "spec"
 * ```
 *
 * @module
 */

/** A CEL validation rule (`x-kubernetes-validations` entry). */
export interface ValidationRule {
  /** The CEL expression; `self` is the value of the field the rule is declared on. */
  rule: string;
  /** The message returned when the rule is false. */
  message?: string;
  /** A CEL expression that computes the message. */
  messageExpression?: string;
  /** The reason: `FieldValueInvalid` (default), `FieldValueForbidden`, `FieldValueRequired` or `FieldValueDuplicate`. */
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
  /** The field the error is reported on, relative to the rule's field (`.spec.x`). */
  fieldPath?: string;
  /** Run the transition rule on create too, with `oldSelf` an optional. */
  optionalOldSelf?: boolean;
}

/**
 * A Kubernetes `JSONSchemaProps` (OpenAPI v3.0 subset) with the `x-kubernetes-*` extensions, as it
 * appears in a CRD version's `schema.openAPIV3Schema`.
 */
export interface StructuralSchema {
  /** `object`, `array`, `string`, `integer`, `number` or `boolean`. */
  type?: string;
  /** A description shown by `kubectl explain`. */
  description?: string;
  /** A title. */
  title?: string;
  /** A format such as `date-time`, `int64`, `byte`. */
  format?: string;
  /** The value the API server sets when the field is absent. */
  default?: unknown;
  /** Also accepts `null`. */
  nullable?: boolean;
  /** The allowed values. */
  enum?: unknown[];
  /** An example value. */
  example?: unknown;
  /** Lowest value. */
  minimum?: number;
  /** Highest value. */
  maximum?: number;
  /** `minimum` itself is not allowed. */
  exclusiveMinimum?: boolean;
  /** `maximum` itself is not allowed. */
  exclusiveMaximum?: boolean;
  /** The value is a multiple of this. */
  multipleOf?: number;
  /** Shortest string. */
  minLength?: number;
  /** Longest string. */
  maxLength?: number;
  /** A regular expression the string matches. */
  pattern?: string;
  /** Fewest items. */
  minItems?: number;
  /** Most items. */
  maxItems?: number;
  /** Items are unique (forbidden in a structural schema when true). */
  uniqueItems?: boolean;
  /** Fewest properties. */
  minProperties?: number;
  /** Most properties. */
  maxProperties?: number;
  /** Fields that must be present. */
  required?: string[];
  /** The fields of an object. */
  properties?: Record<string, StructuralSchema>;
  /** The schema of every value of a map (an object without `properties`). */
  additionalProperties?: StructuralSchema | boolean;
  /** The schema of every item of an array. */
  items?: StructuralSchema | StructuralSchema[];
  /** Value validation: all must hold. */
  allOf?: StructuralSchema[];
  /** Value validation: one or more must hold. */
  anyOf?: StructuralSchema[];
  /** Value validation: exactly one must hold. */
  oneOf?: StructuralSchema[];
  /** Value validation: must not hold. */
  not?: StructuralSchema;
  /** Keep fields the schema does not declare instead of pruning them. */
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  /** The value is an integer or a string (no `type`). */
  "x-kubernetes-int-or-string"?: boolean;
  /** The value is a Kubernetes object (apiVersion, kind, metadata kept and validated). */
  "x-kubernetes-embedded-resource"?: boolean;
  /** How a list merges under server-side apply: `atomic`, `set` or `map`. */
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  /** The keys of a `map` list. */
  "x-kubernetes-list-map-keys"?: string[];
  /** How an object merges under server-side apply: `granular` or `atomic`. */
  "x-kubernetes-map-type"?: "granular" | "atomic";
  /** CEL validation rules. */
  "x-kubernetes-validations"?: ValidationRule[];
  /** Any other keyword (refused by the checks). */
  [keyword: string]: unknown;
}

/** One reason Kubernetes would refuse a schema. */
export interface SchemaProblem {
  /** The field, as a path from the object's root: `spec.ports[*].name`, or `""` for the root. */
  path: string;
  /** What is wrong. */
  message: string;
}

const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

/** Keywords of a `JSONSchemaProps` the API server knows. */
const KNOWN_KEYWORDS = new Set([
  "type",
  "description",
  "title",
  "format",
  "default",
  "nullable",
  "enum",
  "example",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);

/** Keywords a structural schema must not use anywhere. */
const FORBIDDEN_KEYWORDS: Record<string, string> = {
  $ref: "references are not supported: inline the schema",
  definitions: "definitions are not supported: inline the schema",
  dependencies: "dependencies are not supported",
  patternProperties: "patternProperties are not supported: use additionalProperties for a map",
  additionalItems: "additionalItems is not supported",
  id: "id is not supported",
  $schema: "$schema is not supported",
  $id: "$id is not supported",
  const: "const is not supported: use a one-value enum",
  prefixItems: "tuples are not supported: use an array of one item type",
};

/** Keywords a value validation (`allOf`, `anyOf`, `oneOf`, `not`) must not use. */
const NOT_IN_VALUE_VALIDATION = [
  "type",
  "description",
  "default",
  "additionalProperties",
  "nullable",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
];

const RULE_REASONS = new Set([
  "FieldValueInvalid",
  "FieldValueForbidden",
  "FieldValueRequired",
  "FieldValueDuplicate",
]);

function join(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}

/** Where a node sits: whether `oldSelf` can be correlated with the old object there. */
interface Place {
  path: string;
  /** Under an array item that cannot be matched to the old object's item (not a `map` list). */
  uncorrelatable: string | undefined;
}

/**
 * The reasons Kubernetes would refuse a CRD version's `openAPIV3Schema`: not structural, an
 * `x-kubernetes-*` extension where it may not be, a malformed or misplaced CEL rule, an unknown
 * keyword. An empty list means the schema passes these checks.
 *
 * @example
 * ```ts
 * import { structuralProblems } from "./structural.ts";
 * structuralProblems({ type: "object", properties: { spec: { type: "object" } } }); // []
 * ```
 *
 * @param root the `openAPIV3Schema` of one version
 * @returns every problem found, with the path of its field
 */
export function structuralProblems(root: StructuralSchema): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  if (root.type !== "object") {
    problems.push({ path: "", message: `type must be "object" at the root` });
  }
  for (const key of ["nullable", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource"]) {
    if (root[key] !== undefined) {
      problems.push({ path: "", message: `${key} must not be set at the root` });
    }
  }
  if (root.default !== undefined) {
    problems.push({ path: "", message: "default must not be set at the root" });
  }
  const metadata = root.properties?.metadata;
  if (metadata) checkMetadata(metadata, problems);
  checkNode(root, { path: "", uncorrelatable: undefined }, problems);
  return problems;
}

function checkMetadata(metadata: StructuralSchema, problems: SchemaProblem[]): void {
  for (const [field, schema] of Object.entries(metadata.properties ?? {})) {
    if (field !== "name" && field !== "generateName") {
      problems.push({
        path: `metadata.${field}`,
        message: "only metadata.name and metadata.generateName may be given a schema",
      });
    } else if (schema.type !== "string") {
      problems.push({ path: `metadata.${field}`, message: `type must be "string"` });
    }
  }
  if (metadata.default !== undefined) {
    problems.push({ path: "metadata", message: "default must not be set on metadata" });
  }
}

function checkNode(node: StructuralSchema, place: Place, problems: SchemaProblem[]): void {
  const { path } = place;
  const fail = (message: string, at: string = path) => problems.push({ path: at, message });
  for (const key of Object.keys(node)) {
    const forbidden = FORBIDDEN_KEYWORDS[key];
    if (forbidden) fail(forbidden);
    else if (!KNOWN_KEYWORDS.has(key)) fail(`unknown keyword "${key}"`);
  }
  const intOrString = node["x-kubernetes-int-or-string"] === true;
  const preserve = node["x-kubernetes-preserve-unknown-fields"];
  if (preserve === false) {
    fail("x-kubernetes-preserve-unknown-fields must be true or absent");
  }
  if (node["x-kubernetes-int-or-string"] === false) {
    fail("x-kubernetes-int-or-string must be true or absent");
  }
  if (node.type === undefined) {
    if (!intOrString && preserve !== true) {
      fail("type must be set (a structural schema has a type on every field)");
    }
  } else if (!TYPES.has(node.type)) {
    fail(`type "${node.type}" is not one of ${[...TYPES].join(", ")}`);
  }
  if (intOrString) {
    if (node.type !== undefined) fail("x-kubernetes-int-or-string must not be set with a type");
    checkIntOrStringAnyOf(node, fail);
  }
  if (node.uniqueItems === true) {
    fail("uniqueItems must not be true: use x-kubernetes-list-type: set");
  }
  if (node.properties !== undefined && node.additionalProperties !== undefined) {
    if (node.additionalProperties !== false) {
      fail("properties and additionalProperties must not both be set");
    }
  }
  if (node.additionalProperties === false) {
    fail("additionalProperties must not be false: unknown fields are pruned anyway");
  }
  if (node.additionalProperties === true) {
    fail("additionalProperties must not be true: use x-kubernetes-preserve-unknown-fields");
  }
  if (node.type === "array") {
    if (node.items === undefined) fail("items must be set on an array");
  } else if (node.items !== undefined && node.type !== undefined) {
    fail(`items must not be set on a ${node.type}`);
  }
  if (Array.isArray(node.items)) fail("items must be one schema, not a list (no tuples)");
  if (
    (node.properties !== undefined || typeof node.additionalProperties === "object") &&
    node.type !== undefined && node.type !== "object"
  ) {
    fail(`properties must not be set on a ${node.type}`);
  }
  if (node["x-kubernetes-embedded-resource"] === true) {
    if (node.type !== "object") fail("x-kubernetes-embedded-resource needs type object");
    if (node.properties === undefined && preserve !== true) {
      fail(
        "x-kubernetes-embedded-resource needs properties or x-kubernetes-preserve-unknown-fields",
      );
    }
  }
  checkListAndMapTypes(node, fail);
  for (const field of node.required ?? []) {
    if (node.properties !== undefined && !(field in node.properties) && preserve !== true) {
      fail(`required field "${field}" is not among the properties`);
    }
  }
  checkValueValidations(node, path, fail);
  checkRules(node, place, problems);

  for (const [field, child] of Object.entries(node.properties ?? {})) {
    checkNode(child, { ...place, path: join(path, field) }, problems);
  }
  if (typeof node.additionalProperties === "object") {
    checkNode(node.additionalProperties, { ...place, path: `${path}[*]` }, problems);
  }
  if (node.items !== undefined && !Array.isArray(node.items)) {
    const listType = node["x-kubernetes-list-type"];
    const itemPath = `${path}[*]`;
    checkNode(node.items, {
      path: itemPath,
      uncorrelatable: place.uncorrelatable ?? (listType === "map" ? undefined : path),
    }, problems);
  }
}

function checkIntOrStringAnyOf(node: StructuralSchema, fail: (message: string) => void): void {
  const anyOf = node.anyOf ?? node.allOf?.find((s) => s.anyOf)?.anyOf;
  if (anyOf === undefined) return;
  const types = anyOf.map((s) => JSON.stringify(s));
  if (
    types.length !== 2 || types[0] !== `{"type":"integer"}` || types[1] !== `{"type":"string"}`
  ) {
    fail(`x-kubernetes-int-or-string allows only anyOf [{type: integer}, {type: string}]`);
  }
}

function checkListAndMapTypes(node: StructuralSchema, fail: (message: string) => void): void {
  const listType = node["x-kubernetes-list-type"];
  const keys = node["x-kubernetes-list-map-keys"];
  if (listType !== undefined) {
    if (node.type !== "array") fail("x-kubernetes-list-type must only be set on an array");
    else if (!["atomic", "set", "map"].includes(listType)) {
      fail(`x-kubernetes-list-type "${listType}" is not atomic, set or map`);
    }
  }
  const items = Array.isArray(node.items) ? undefined : node.items;
  if (listType === "map") {
    if (!keys || keys.length === 0) {
      fail("x-kubernetes-list-type map needs x-kubernetes-list-map-keys");
    }
    if (items && items.type !== "object") fail("the items of a map list must be objects");
    for (const key of keys ?? []) {
      const keySchema = items?.properties?.[key];
      if (!keySchema) {
        fail(`list map key "${key}" is not a property of the items`);
      } else if (!["string", "integer", "number", "boolean"].includes(keySchema.type ?? "")) {
        fail(`list map key "${key}" must be a scalar`);
      } else if (!items?.required?.includes(key) && keySchema.default === undefined) {
        fail(`list map key "${key}" must be required or have a default`);
      }
    }
  } else if (keys !== undefined) {
    fail("x-kubernetes-list-map-keys needs x-kubernetes-list-type map");
  }
  if (listType === "set" && items) {
    const scalar = ["string", "integer", "number", "boolean"].includes(items.type ?? "") ||
      items["x-kubernetes-int-or-string"] === true;
    if (!scalar && items["x-kubernetes-map-type"] !== "atomic") {
      fail("the items of a set list must be scalars or atomic");
    }
  }
  const mapType = node["x-kubernetes-map-type"];
  if (mapType !== undefined) {
    if (node.type !== "object") fail("x-kubernetes-map-type must only be set on an object");
    else if (mapType !== "granular" && mapType !== "atomic") {
      fail(`x-kubernetes-map-type "${mapType}" is not granular or atomic`);
    }
  }
}

function checkValueValidations(
  node: StructuralSchema,
  path: string,
  fail: (message: string) => void,
): void {
  const intOrString = node["x-kubernetes-int-or-string"] === true;
  const inner: Array<[string, StructuralSchema]> = [];
  for (const key of ["allOf", "anyOf", "oneOf"] as const) {
    (node[key] ?? []).forEach((schema, index) => inner.push([`${key}[${index}]`, schema]));
  }
  if (node.not) inner.push(["not", node.not]);
  const walk = (where: string, schema: StructuralSchema, outer: StructuralSchema | undefined) => {
    for (const key of NOT_IN_VALUE_VALIDATION) {
      if (schema[key] === undefined) continue;
      if (key === "type" && intOrString && where.includes("anyOf")) continue;
      fail(`${where}: ${key} must not be set in a value validation (only in the field itself)`);
    }
    for (const [field, child] of Object.entries(schema.properties ?? {})) {
      const declared = outer?.properties?.[field];
      if (!declared && outer?.["x-kubernetes-preserve-unknown-fields"] !== true) {
        fail(
          `${where}: property "${field}" must also be declared outside the value validation (${
            join(path, field)
          })`,
        );
      }
      walk(`${where}.${field}`, child, declared);
    }
    const items = Array.isArray(schema.items) ? undefined : schema.items;
    if (items) walk(`${where}[*]`, items, Array.isArray(outer?.items) ? undefined : outer?.items);
    for (const key of ["allOf", "anyOf", "oneOf"] as const) {
      (schema[key] ?? []).forEach((s, index) => walk(`${where}.${key}[${index}]`, s, outer));
    }
    if (schema.not) walk(`${where}.not`, schema.not, outer);
  };
  for (const [where, schema] of inner) walk(where, schema, node);
}

/** Removes CEL string literals so that field references can be found by a pattern. */
function withoutStrings(rule: string): string {
  return rule.replace(
    /[rRbB]?('''[\s\S]*?'''|"""[\s\S]*?"""|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")/g,
    "''",
  );
}

/** The field name a CEL identifier stands for (`__dash__` is `-`, and so on). */
function unescapeCel(identifier: string): string {
  return identifier.replace(/__(dash|dot|slash|underscores|[a-z]+)__/g, (_match, word) => {
    switch (word) {
      case "dash":
        return "-";
      case "dot":
        return ".";
      case "slash":
        return "/";
      case "underscores":
        return "__";
      default:
        return word;
    }
  });
}

/**
 * The first field a chain `self.a.b.c` names that the schema does not declare, when the schema
 * lets us know (objects with properties and no preserved unknown fields).
 */
function missingField(
  node: StructuralSchema,
  chain: string[],
): { field: string; at: string } | undefined {
  let current: StructuralSchema | undefined = node;
  const walked: string[] = [];
  for (const identifier of chain) {
    if (
      !current || current.type !== "object" || current.properties === undefined ||
      current["x-kubernetes-preserve-unknown-fields"] === true ||
      current["x-kubernetes-embedded-resource"] === true
    ) {
      return undefined;
    }
    const field = unescapeCel(identifier);
    const next: StructuralSchema | undefined = current.properties[field];
    if (!next) return { field, at: walked.join(".") };
    walked.push(field);
    current = next;
  }
  return undefined;
}

/** The field a rule's `fieldPath` (`.a.b`, `.a['b-c']`, `.list[0]`) names is declared. */
function fieldPathProblem(node: StructuralSchema, fieldPath: string): string | undefined {
  const parts = fieldPath.match(/\.[A-Za-z_][A-Za-z0-9_-]*|\['[^']*'\]|\[\d+\]/g);
  if (!fieldPath.startsWith(".") || !parts || parts.join("") !== fieldPath) {
    return `fieldPath "${fieldPath}" is not a valid path such as .spec.replicas`;
  }
  let current: StructuralSchema | undefined = node;
  for (const part of parts) {
    if (!current) return undefined;
    if (current["x-kubernetes-preserve-unknown-fields"] === true) return undefined;
    if (part.startsWith("[") && /^\[\d+\]$/.test(part)) {
      if (current.type !== "array") return `fieldPath "${fieldPath}": ${part} indexes a non-list`;
      current = Array.isArray(current.items) ? undefined : current.items;
      continue;
    }
    const field = part.startsWith(".") ? part.slice(1) : part.slice(2, -2);
    if (typeof current.additionalProperties === "object") {
      current = current.additionalProperties;
    } else if (current.properties?.[field]) {
      current = current.properties[field];
    } else {
      return `fieldPath "${fieldPath}" names field "${field}", which the schema does not declare here`;
    }
  }
  return undefined;
}

function checkRules(node: StructuralSchema, place: Place, problems: SchemaProblem[]): void {
  const rules = node["x-kubernetes-validations"];
  if (rules === undefined) return;
  const { path } = place;
  if (!Array.isArray(rules)) {
    problems.push({ path, message: "x-kubernetes-validations must be a list of rules" });
    return;
  }
  rules.forEach((rule, index) => {
    const fail = (message: string) =>
      problems.push({ path, message: `x-kubernetes-validations[${index}]: ${message}` });
    if (typeof rule?.rule !== "string" || rule.rule.trim() === "") {
      fail("rule must not be empty");
      return;
    }
    if (rule.message !== undefined && (rule.message.trim() === "" || /[\r\n]/.test(rule.message))) {
      fail("message must be non-empty and on one line");
    }
    if (rule.reason !== undefined && !RULE_REASONS.has(rule.reason)) {
      fail(`reason "${rule.reason}" is not one of ${[...RULE_REASONS].join(", ")}`);
    }
    if (rule.fieldPath !== undefined) {
      const problem = fieldPathProblem(node, rule.fieldPath);
      if (problem) fail(problem);
    }
    const text = withoutStrings(rule.rule);
    const usesOldSelf = /\boldSelf\b/.test(text);
    if (rule.optionalOldSelf === true && !usesOldSelf) {
      fail("optionalOldSelf is set but the rule does not use oldSelf");
    }
    if (usesOldSelf && place.uncorrelatable !== undefined) {
      fail(
        `oldSelf cannot be used here: the items of ${
          place.uncorrelatable || "the root"
        } cannot be matched to the old object's (only a list with x-kubernetes-list-type map can)`,
      );
    }
    const reference = /\b(self|oldSelf)((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)+)(\s*\()?/g;
    for (const match of text.matchAll(reference)) {
      const chain = match[2]!.split(".").map((s) => s.trim()).filter((s) => s !== "");
      if (match[3]) chain.pop(); // a method call: self.x.size(), self.startsWith(...)
      const missing = missingField(node, chain);
      if (!missing) continue;
      const here = path === "" ? "the root" : path;
      const owner = missing.at === "" ? here : join(path, missing.at);
      fail(
        `rule "${rule.rule}" refers to ${match[1]}.${
          chain.join(".")
        }, but ${owner} has no field "${missing.field}": a rule sees the field it is declared on (${here}) as self`,
      );
      break;
    }
  });
}
