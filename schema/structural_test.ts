import assert from "node:assert/strict";
import { structuralProblems, type StructuralSchema } from "./structural.ts";

function withSpec(spec: StructuralSchema): StructuralSchema {
  return { type: "object", properties: { spec } };
}

function problems(spec: StructuralSchema): string[] {
  return structuralProblems(withSpec(spec)).map((p) => `${p.path}: ${p.message}`);
}

Deno.test("structuralProblems() accepts a structural schema with every extension", () => {
  assert.deepEqual(
    problems({
      type: "object",
      required: ["ports"],
      properties: {
        ports: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
          items: {
            type: "object",
            required: ["name"],
            properties: { name: { type: "string" }, port: { "x-kubernetes-int-or-string": true } },
            "x-kubernetes-validations": [{ rule: "self.name == oldSelf.name" }],
          },
        },
        tags: { type: "array", "x-kubernetes-list-type": "set", items: { type: "string" } },
        labels: { type: "object", additionalProperties: { type: "string" } },
        raw: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        pod: {
          type: "object",
          "x-kubernetes-embedded-resource": true,
          "x-kubernetes-preserve-unknown-fields": true,
        },
        mode: { type: "string", enum: ["a", "b"], nullable: true },
        n: { type: "integer", anyOf: [{ minimum: 1 }, { maximum: -1 }] },
      },
      "x-kubernetes-validations": [
        {
          rule: "has(self.mode) && self.mode == 'a'",
          fieldPath: ".mode",
          reason: "FieldValueForbidden",
        },
        { rule: "self.ports.all(p, p.name != '')", messageExpression: "'bad'" },
        { rule: "self.labels.size() < 5 && 'self.nothing' != ''" },
      ],
    }),
    [],
  );
});

Deno.test("structuralProblems() requires a type on every field", () => {
  assert.deepEqual(problems({ type: "object", properties: { a: {} } }), [
    "spec.a: type must be set (a structural schema has a type on every field)",
  ]);
  assert.deepEqual(problems({ type: "array", items: { properties: {} } }), [
    "spec[*]: type must be set (a structural schema has a type on every field)",
  ]);
  assert.deepEqual(structuralProblems({ properties: {} }).map((p) => p.message), [
    `type must be "object" at the root`,
    "type must be set (a structural schema has a type on every field)",
  ]);
});

Deno.test("structuralProblems() refuses keywords Kubernetes does not allow", () => {
  assert.deepEqual(
    problems({
      type: "object",
      properties: {
        a: { type: "string", $ref: "#/x" },
        b: { type: "object", patternProperties: {} },
        c: { type: "array", items: { type: "string" }, uniqueItems: true },
        d: { type: "string", const: "x" },
        e: { type: "string", "x-kubernetes-validation": [] },
        f: { type: "null" },
        g: { type: "array" },
        h: { type: "array", items: [{ type: "string" }] },
        i: { type: "object", properties: {}, additionalProperties: { type: "string" } },
        j: { type: "object", additionalProperties: true },
      },
    }),
    [
      "spec.a: references are not supported: inline the schema",
      "spec.b: patternProperties are not supported: use additionalProperties for a map",
      "spec.c: uniqueItems must not be true: use x-kubernetes-list-type: set",
      "spec.d: const is not supported: use a one-value enum",
      `spec.e: unknown keyword "x-kubernetes-validation"`,
      `spec.f: type "null" is not one of object, array, string, integer, number, boolean`,
      "spec.g: items must be set on an array",
      "spec.h: items must be one schema, not a list (no tuples)",
      "spec.i: properties and additionalProperties must not both be set",
      "spec.j: additionalProperties must not be true: use x-kubernetes-preserve-unknown-fields",
    ],
  );
});

Deno.test("structuralProblems() keeps value validations to validation", () => {
  assert.deepEqual(
    problems({
      type: "object",
      properties: { a: { type: "string" } },
      anyOf: [{ type: "object", required: ["a"] }, { properties: { b: { minLength: 1 } } }],
      not: { description: "no", properties: { a: { default: "x" } } },
    }),
    [
      "spec: anyOf[0]: type must not be set in a value validation (only in the field itself)",
      `spec: anyOf[1]: property "b" must also be declared outside the value validation (spec.b)`,
      "spec: not: description must not be set in a value validation (only in the field itself)",
      "spec: not.a: default must not be set in a value validation (only in the field itself)",
    ],
  );
  assert.deepEqual(
    problems({
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    }),
    [],
  );
  assert.deepEqual(
    problems({ "x-kubernetes-int-or-string": true, anyOf: [{ type: "boolean" }] }),
    ["spec: x-kubernetes-int-or-string allows only anyOf [{type: integer}, {type: string}]"],
  );
});

Deno.test("structuralProblems() checks list and map types", () => {
  assert.deepEqual(
    problems({
      type: "object",
      properties: {
        a: { type: "string", "x-kubernetes-list-type": "set" },
        b: { type: "array", items: { type: "object" }, "x-kubernetes-list-type": "map" },
        c: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name", "port", "x"],
          items: {
            type: "object",
            required: ["name"],
            properties: {
              name: { type: "string" },
              port: { type: "integer" },
              x: { type: "object" },
            },
          },
        },
        d: { type: "array", "x-kubernetes-list-type": "set", items: { type: "object" } },
        e: { type: "array", items: { type: "string" }, "x-kubernetes-list-map-keys": ["a"] },
        f: { type: "string", "x-kubernetes-map-type": "atomic" },
      },
    }),
    [
      "spec.a: x-kubernetes-list-type must only be set on an array",
      "spec.b: x-kubernetes-list-type map needs x-kubernetes-list-map-keys",
      `spec.c: list map key "port" must be required or have a default`,
      `spec.c: list map key "x" must be a scalar`,
      "spec.d: the items of a set list must be scalars or atomic",
      "spec.e: x-kubernetes-list-map-keys needs x-kubernetes-list-type map",
      "spec.f: x-kubernetes-map-type must only be set on an object",
    ],
  );
});

Deno.test("structuralProblems() refuses a CEL rule that names a field its node does not have", () => {
  const spec: StructuralSchema = {
    type: "object",
    properties: {
      replicas: { type: "integer" },
      "max-replicas": { type: "integer" },
      nested: { type: "object", properties: { a: { type: "string" } } },
      free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
  };
  const rule = (text: string) =>
    problems({ ...spec, "x-kubernetes-validations": [{ rule: text }] });
  assert.deepEqual(rule("self.replicas <= self.max__dash__replicas"), []);
  assert.deepEqual(rule("self.nested.a.startsWith('x') && self.free.anything.goes"), []);
  assert.deepEqual(rule("self.replicas > 0 || 'self.spec' == ''"), []);
  assert.deepEqual(rule("self.spec.replicas > 0"), [
    `spec: x-kubernetes-validations[0]: rule "self.spec.replicas > 0" refers to self.spec.replicas, but spec has no field "spec": a rule sees the field it is declared on (spec) as self`,
  ]);
  assert.deepEqual(rule("self.nested.b == oldSelf.nested.b"), [
    `spec: x-kubernetes-validations[0]: rule "self.nested.b == oldSelf.nested.b" refers to self.nested.b, but spec.nested has no field "b": a rule sees the field it is declared on (spec) as self`,
  ]);
});

Deno.test("structuralProblems() refuses transition rules where the old item cannot be found", () => {
  const items: StructuralSchema = {
    type: "object",
    required: ["name"],
    properties: { name: { type: "string" } },
    "x-kubernetes-validations": [{ rule: "self.name == oldSelf.name" }],
  };
  assert.deepEqual(problems({ type: "array", items }), [
    "spec[*]: x-kubernetes-validations[0]: oldSelf cannot be used here: the items of spec cannot be matched to the old object's (only a list with x-kubernetes-list-type map can)",
  ]);
  assert.deepEqual(
    problems({
      type: "array",
      items,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    [],
  );
});

Deno.test("structuralProblems() checks each rule's message, reason and fieldPath", () => {
  assert.deepEqual(
    problems({
      type: "object",
      properties: {
        a: { type: "string" },
        m: { type: "object", additionalProperties: { type: "string" } },
      },
      "x-kubernetes-validations": [
        { rule: "" },
        { rule: "true", message: "two\nlines" },
        { rule: "true", reason: "Nope" as "FieldValueInvalid" },
        { rule: "true", fieldPath: ".b" },
        { rule: "true", fieldPath: "a" },
        { rule: "true", fieldPath: ".m['any-key']" },
        { rule: "true", optionalOldSelf: true },
      ],
    }),
    [
      "spec: x-kubernetes-validations[0]: rule must not be empty",
      "spec: x-kubernetes-validations[1]: message must be non-empty and on one line",
      'spec: x-kubernetes-validations[2]: reason "Nope" is not one of FieldValueInvalid, FieldValueForbidden, FieldValueRequired, FieldValueDuplicate',
      `spec: x-kubernetes-validations[3]: fieldPath ".b" names field "b", which the schema does not declare here`,
      `spec: x-kubernetes-validations[4]: fieldPath "a" is not a valid path such as .spec.replicas`,
      "spec: x-kubernetes-validations[6]: optionalOldSelf is set but the rule does not use oldSelf",
    ],
  );
});

Deno.test("structuralProblems() allows only name and generateName under metadata", () => {
  assert.deepEqual(
    structuralProblems({
      type: "object",
      properties: {
        metadata: {
          type: "object",
          properties: { name: { type: "string", maxLength: 20 }, labels: { type: "object" } },
        },
      },
    }).map((p) => `${p.path}: ${p.message}`),
    ["metadata.labels: only metadata.name and metadata.generateName may be given a schema"],
  );
});
