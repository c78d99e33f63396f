import assert from "node:assert/strict";
import fc from "fast-check";
import { PrunedFieldReporter, prunedFields, withoutPrunedFields } from "./prune.ts";
import type { StructuralSchema } from "./structural.ts";

const status: StructuralSchema = {
  type: "object",
  properties: {
    phase: { type: "string" },
    conditions: {
      type: "array",
      items: {
        type: "object",
        properties: { type: { type: "string" }, status: { type: "string" } },
      },
    },
    counts: { type: "object", additionalProperties: { type: "integer" } },
    details: {
      type: "object",
      properties: { known: { type: "string" } },
      "x-kubernetes-preserve-unknown-fields": true,
    },
    template: {
      type: "object",
      "x-kubernetes-embedded-resource": true,
      properties: { spec: { type: "object", properties: { a: { type: "string" } } } },
    },
    port: { "x-kubernetes-int-or-string": true },
  },
};

Deno.test("prunedFields() finds undeclared fields, at any depth, with [*] for items", () => {
  assert.deepEqual(
    prunedFields(status, {
      phase: "Ready",
      mesage: "typo",
      conditions: [{ type: "A", status: "True", extra: 1 }, { type: "B", extra: 2, more: 3 }],
      counts: { a: 1, b: 2 },
      details: { known: "x", anything: { goes: true } },
      template: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "x" },
        spec: { a: "kept", b: "pruned" },
        other: 1,
      },
      port: "http",
    }, "status"),
    [
      "status.mesage",
      "status.conditions[*].extra",
      "status.conditions[*].more",
      "status.template.spec.b",
      "status.template.other",
    ],
  );
});

Deno.test("prunedFields() finds nothing in a value the schema covers", () => {
  assert.deepEqual(prunedFields(status, { phase: "x", counts: {}, conditions: [] }, "status"), []);
  assert.deepEqual(prunedFields(status, undefined, "status"), []);
  assert.deepEqual(prunedFields(status, "not an object", "status"), []);
});

Deno.test("prunedFields() reports a field of an object under a map's values", () => {
  const schema: StructuralSchema = {
    type: "object",
    additionalProperties: { type: "object", properties: { a: { type: "string" } } },
  };
  assert.deepEqual(prunedFields(schema, { x: { a: "1", b: 2 }, y: { b: 3 } }), ["[*].b"]);
});

Deno.test("PrunedFieldReporter reports each path once, however many syncs write it", () => {
  const reporter = new PrunedFieldReporter(status, "status");
  assert.deepEqual(reporter.newlyPruned({ phase: "a", extra: 1 }), ["status.extra"]);
  assert.deepEqual(reporter.newlyPruned({ phase: "b", extra: 2 }), []);
  assert.deepEqual(reporter.newlyPruned({ extra: 3, other: 4 }), ["status.other"]);
  assert.deepEqual(reporter.newlyPruned({ conditions: [{ x: 1 }, { x: 2 }] }), [
    "status.conditions[*].x",
  ]);
});

Deno.test("PrunedFieldReporter remembers at most `limit` paths", () => {
  const reporter = new PrunedFieldReporter({ type: "object", properties: {} }, "", 2);
  assert.deepEqual(reporter.newlyPruned({ a: 1, b: 1, c: 1 }), ["a", "b"]);
  assert.deepEqual(reporter.newlyPruned({ d: 1 }), []);
});

// Model: pruning as the API server does it (drop undeclared fields), then the fields that differ.
function prune(schema: StructuralSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = Array.isArray(schema.items) ? undefined : schema.items;
    return items ? value.map((v) => prune(items, v)) : value;
  }
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const declared = schema.properties?.[key];
    if (declared) out[key] = prune(declared, child);
    else if (typeof schema.additionalProperties === "object") {
      out[key] = prune(schema.additionalProperties, child);
    } else if (schema["x-kubernetes-preserve-unknown-fields"] || schema.type !== "object") {
      out[key] = child; // a value of the wrong type is refused by validation, not pruned
    }
  }
  return out;
}

Deno.test("prunedFields() is empty exactly when pruning leaves the value unchanged, and withoutPrunedFields() prunes as the API server does", () => {
  const key = fc.constantFrom("phase", "conditions", "counts", "details", "x", "type", "status");
  const leaf = fc.oneof(fc.string(), fc.integer());
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: "small" },
      leaf,
      fc.array(tie("node"), { maxLength: 3 }),
      fc.dictionary(key, tie("node"), { maxKeys: 4 }),
    ),
  })).node;
  fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (v) => {
    const stored = prune(status, v);
    const unchanged = JSON.stringify(stored) === JSON.stringify(v);
    assert.equal(prunedFields(status, v).length === 0, unchanged, JSON.stringify(v));
    assert.deepEqual(withoutPrunedFields(status, v), stored);
  }));
});

Deno.test("withoutPrunedFields() keeps preserved, embedded and mapped fields", () => {
  assert.deepEqual(
    withoutPrunedFields(status, {
      phase: "Ready",
      gone: 1,
      counts: { a: 1 },
      details: { known: "x", any: 2 },
      template: { apiVersion: "v1", kind: "Pod", spec: { a: "x", b: "y" }, other: 1 },
      conditions: [{ type: "A", extra: 1 }],
    }),
    {
      phase: "Ready",
      counts: { a: 1 },
      details: { known: "x", any: 2 },
      template: { apiVersion: "v1", kind: "Pod", spec: { a: "x" } },
      conditions: [{ type: "A" }],
    },
  );
});
