import assert from "node:assert/strict";
import Type from "typebox";
import { toStructuralSchema } from "./convert.ts";

function ok(source: unknown): unknown {
  const { schema, problems } = toStructuralSchema(source, "spec.x");
  assert.deepEqual(problems, []);
  return schema;
}

function problem(source: unknown): string {
  const { problems } = toStructuralSchema(source, "spec.x");
  assert.equal(problems.length, 1, JSON.stringify(problems));
  return `${problems[0]!.path}: ${problems[0]!.message}`;
}

Deno.test("toStructuralSchema() keeps scalars and their constraints", () => {
  assert.deepEqual(
    ok(Type.String({ minLength: 1, maxLength: 5, pattern: "^a", format: "date-time" })),
    {
      type: "string",
      minLength: 1,
      maxLength: 5,
      pattern: "^a",
      format: "date-time",
    },
  );
  assert.deepEqual(ok(Type.Integer({ minimum: 0, maximum: 9, multipleOf: 3, default: 3 })), {
    type: "integer",
    minimum: 0,
    maximum: 9,
    multipleOf: 3,
    default: 3,
  });
  assert.deepEqual(ok(Type.Boolean({ description: "on?" })), {
    type: "boolean",
    description: "on?",
  });
});

Deno.test("toStructuralSchema() turns numeric exclusive bounds into the OpenAPI v3.0 form", () => {
  assert.deepEqual(ok(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })), {
    type: "number",
    minimum: 0,
    exclusiveMinimum: true,
    maximum: 1,
    exclusiveMaximum: true,
  });
});

Deno.test("toStructuralSchema() turns literals and unions of literals into enums", () => {
  assert.deepEqual(ok(Type.Literal("x")), { type: "string", enum: ["x"] });
  assert.deepEqual(ok(Type.Union([Type.Literal(1), Type.Literal(2)])), {
    type: "integer",
    enum: [1, 2],
  });
  assert.deepEqual(ok(Type.Union([Type.Literal(1), Type.Literal(2.5)])), {
    type: "number",
    enum: [1, 2.5],
  });
  assert.deepEqual(ok(Type.Enum(["a", "b"])), { type: "string", enum: ["a", "b"] });
  assert.deepEqual(ok(Type.Union([Type.Literal("a"), Type.Literal("b")], { default: "a" })), {
    type: "string",
    enum: ["a", "b"],
    default: "a",
  });
  assert.equal(
    problem(Type.Union([Type.Literal("a"), Type.Literal(1)])),
    "spec.x: a union of literals of different types (string, integer) has no structural form",
  );
});

Deno.test("toStructuralSchema() turns a union with null into a nullable field", () => {
  assert.deepEqual(ok(Type.Union([Type.String(), Type.Null()])), {
    type: "string",
    nullable: true,
  });
  assert.deepEqual(ok(Type.Union([Type.Literal("a"), Type.Literal("b"), Type.Null()])), {
    type: "string",
    enum: ["a", "b"],
    nullable: true,
  });
  assert.deepEqual(ok({ type: ["integer", "null"] }), { type: "integer", nullable: true });
  assert.equal(problem(Type.Null()), "spec.x: a field that is always null has no structural form");
});

Deno.test("toStructuralSchema() turns a union of an integer and a string into int-or-string", () => {
  assert.deepEqual(ok(Type.Union([Type.Integer(), Type.String()])), {
    "x-kubernetes-int-or-string": true,
  });
  assert.deepEqual(ok(Type.Union([Type.String(), Type.Number()], { default: "50%" })), {
    "x-kubernetes-int-or-string": true,
    default: "50%",
  });
});

Deno.test("toStructuralSchema() refuses other unions, naming the field", () => {
  assert.match(
    problem(Type.Union([Type.String(), Type.Boolean()])),
    /^spec\.x: a union of string \| boolean has no structural form/,
  );
});

Deno.test("toStructuralSchema() turns records into maps and unknown values into preserved fields", () => {
  assert.deepEqual(ok(Type.Record(Type.String(), Type.Integer())), {
    type: "object",
    additionalProperties: { type: "integer" },
  });
  assert.deepEqual(ok(Type.Unknown()), { "x-kubernetes-preserve-unknown-fields": true });
  assert.deepEqual(ok(Type.Any()), { "x-kubernetes-preserve-unknown-fields": true });
  assert.deepEqual(ok(Type.Object({}, { additionalProperties: true })), {
    type: "object",
    properties: {},
    "x-kubernetes-preserve-unknown-fields": true,
  });
  assert.deepEqual(ok(Type.Object({ a: Type.String() }, { additionalProperties: false })), {
    type: "object",
    required: ["a"],
    properties: { a: { type: "string" } },
  });
  assert.match(
    problem(Type.Record(Type.String({ pattern: "^[a-z]+$" }), Type.String())),
    /^spec\.x: patternProperties \["\^\[a-z\]\+\$"\] are not supported/,
  );
});

Deno.test("toStructuralSchema() converts objects and arrays deeply, with paths", () => {
  const source = Type.Object({
    ports: Type.Array(Type.Object({ name: Type.String(), port: Type.Integer() }), {
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
    mode: Type.Optional(Type.Literal("on")),
  });
  assert.deepEqual(ok(source), {
    type: "object",
    required: ["ports"],
    properties: {
      ports: {
        type: "array",
        items: {
          type: "object",
          required: ["name", "port"],
          properties: { name: { type: "string" }, port: { type: "integer" } },
        },
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      },
      mode: { type: "string", enum: ["on"] },
    },
  });
  const { problems } = toStructuralSchema(
    Type.Object({ list: Type.Array(Type.Object({ n: Type.Null() })) }),
    "spec",
  );
  assert.deepEqual(problems.map((p) => p.path), ["spec.list[*].n"]);
});

Deno.test("toStructuralSchema() checks defaults against their own schema", () => {
  assert.equal(
    problem(Type.String({ enum: ["a"], default: "b" })),
    `spec.x: default "b" does not match the field's own schema`,
  );
  assert.equal(
    problem(Type.Object({ a: Type.Integer() }, { default: {} })),
    `spec.x: default {} does not match the field's own schema`,
  );
  assert.deepEqual(ok(Type.Object({ a: Type.Integer() }, { default: { a: 1 } })), {
    type: "object",
    required: ["a"],
    properties: { a: { type: "integer" } },
    default: { a: 1 },
  });
});

Deno.test("toStructuralSchema() passes x-kubernetes extensions and CEL rules through", () => {
  const rule = { rule: "self.a > 0", message: "a must be positive" };
  assert.deepEqual(
    ok(Type.Object({ a: Type.Integer() }, {
      "x-kubernetes-validations": [rule],
      "x-kubernetes-map-type": "atomic",
    })),
    {
      type: "object",
      required: ["a"],
      properties: { a: { type: "integer" } },
      "x-kubernetes-validations": [rule],
      "x-kubernetes-map-type": "atomic",
    },
  );
  assert.deepEqual(ok({ "x-kubernetes-int-or-string": true }), {
    "x-kubernetes-int-or-string": true,
  });
});

Deno.test("toStructuralSchema() merges an intersection of objects into one object", () => {
  assert.deepEqual(
    ok(Type.Intersect([
      Type.Object({ a: Type.String() }),
      Type.Object({ b: Type.Optional(Type.Integer()) }, { description: "more" }),
    ])),
    {
      type: "object",
      required: ["a"],
      properties: { a: { type: "string" }, b: { type: "integer" } },
    },
  );
});
