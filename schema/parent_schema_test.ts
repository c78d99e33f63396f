import assert from "node:assert/strict";
import Type from "typebox";
import { isParentSchema, parentSchema, ParentSchemaError } from "./parent_schema.ts";
import { resourceType } from "../client/resource_type.ts";

const names = {
  apiVersion: "example.roperator.dev/v1",
  kind: "Greeting",
  plural: "greetings",
  namespaced: true,
} as const;

type Crd = {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: Record<string, unknown>;
    versions: Array<Record<string, unknown> & { schema: { openAPIV3Schema: unknown } }>;
  };
};

function refusal(fn: () => unknown): ParentSchemaError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ParentSchemaError) return error;
    throw error;
  }
  assert.fail("the declaration was accepted");
}

Deno.test("parentSchema() is a resource type and makes a CRD with names, scope and subresources", () => {
  const Greeting = parentSchema({
    ...names,
    namespaced: false,
    shortNames: ["gr"],
    categories: ["all"],
    spec: Type.Object({ replicas: Type.Integer({ minimum: 0 }) }),
    status: Type.Object({ replicas: Type.Optional(Type.Integer()) }),
    scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
  });
  assert.equal(Greeting.apiVersion, "example.roperator.dev/v1");
  assert.equal(Greeting.plural, "greetings");
  assert.equal(Greeting.namespaced, false);
  assert.equal(Greeting.group, "example.roperator.dev");
  assert.equal(Greeting.version, "v1");
  assert.ok(isParentSchema(Greeting));
  assert.ok(!isParentSchema(resourceType(names)));
  const crd = Greeting.crd() as unknown as Crd;
  assert.equal(crd.metadata.name, "greetings.example.roperator.dev");
  assert.equal(crd.spec.scope, "Cluster");
  assert.deepEqual(crd.spec.names, {
    plural: "greetings",
    singular: "greeting",
    kind: "Greeting",
    listKind: "GreetingList",
    shortNames: ["gr"],
    categories: ["all"],
  });
  assert.deepEqual(crd.spec.versions[0]!.subresources, {
    status: {},
    scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
  });
  // A fresh copy each time: editing one does not change the next.
  crd.spec.group = "changed";
  assert.equal((Greeting.crd() as unknown as Crd).spec.group, "example.roperator.dev");
});

Deno.test("parentSchema() requires spec, and adds observedGeneration to the status", () => {
  const Greeting = parentSchema({ ...names, spec: Type.Object({}) });
  const root = Greeting.openAPIV3Schema;
  assert.deepEqual(root.required, ["spec"]);
  assert.deepEqual(root.properties?.status, {
    type: "object",
    properties: {
      observedGeneration: {
        type: "integer",
        format: "int64",
        description: "The metadata.generation the status was computed from.",
      },
    },
  });
});

Deno.test("parentSchema() makes one storage version, by default the operator's", () => {
  const spec = Type.Object({ message: Type.String() });
  const two = parentSchema({ ...names, spec, otherVersions: [{ name: "v1beta1", spec }] });
  const versions = (two.crd() as unknown as Crd).spec.versions;
  assert.deepEqual(versions.map((v) => [v.name, v.served, v.storage]), [
    ["v1", true, true],
    ["v1beta1", true, false],
  ]);
  const older = parentSchema({
    ...names,
    spec,
    otherVersions: [{ name: "v1beta1", spec, storage: true }],
  });
  assert.deepEqual(
    (older.crd() as unknown as Crd).spec.versions.map((v) => v.storage),
    [false, true],
  );
  const error = refusal(() =>
    parentSchema({ ...names, spec, storage: false, otherVersions: [{ name: "v1beta1", spec }] })
  );
  assert.match(error.message, /exactly one version must be the storage version \(none is\)/);
  const twice = refusal(() =>
    parentSchema({ ...names, spec, otherVersions: [{ name: "v1", spec, storage: false }] })
  );
  assert.match(twice.message, /version "v1" is declared twice/);
  const problem = refusal(() =>
    parentSchema({
      ...names,
      spec,
      otherVersions: [{ name: "v1beta1", spec: Type.Object({ n: Type.Null() }) }],
    })
  );
  assert.equal(problem.problems[0]?.version, "v1beta1");
  assert.match(problem.message, /version v1beta1: spec\.n: a field that is always null/);
});

Deno.test("ParentSchemaError names the kind and every field at fault", () => {
  const error = refusal(() =>
    parentSchema({
      ...names,
      spec: Type.Object({
        replicas: Type.Integer({ minimum: 0, default: -1 }),
        choice: Type.Union([Type.Object({ a: Type.String() }), Type.Object({ b: Type.String() })]),
      }),
    })
  );
  assert.ok(error instanceof TypeError);
  assert.equal(error.name, "ParentSchemaError");
  assert.equal(error.kind, "Greeting");
  assert.deepEqual(error.problems.map((p) => p.path), ["spec.replicas", "spec.choice"]);
  assert.match(
    error.message,
    /^Cannot declare parent Greeting: spec\.replicas: default -1 does not match the field's own schema; spec\.choice: a union of object \| object has no structural form/,
  );
});

Deno.test("parentSchema() refuses malformed names", () => {
  const spec = Type.Object({});
  assert.match(
    refusal(() => parentSchema({ ...names, apiVersion: "v1", spec })).message,
    /group "" must be a domain name with a dot/,
  );
  assert.match(
    refusal(() => parentSchema({ ...names, apiVersion: "example/v1", spec })).message,
    /group "example" must be a domain name/,
  );
  assert.match(
    refusal(() => parentSchema({ ...names, kind: "greeting", spec })).message,
    /^Cannot declare parent greeting: \(root\): kind must be UpperCamelCase/,
  );
  assert.match(
    refusal(() => parentSchema({ ...names, shortNames: ["GR"], spec })).message,
    /short name "GR" must be a lower-case DNS label/,
  );
  assert.match(
    refusal(() => parentSchema({ ...names, categories: ["a b"], spec })).message,
    /category "a b"/,
  );
});

Deno.test("parentSchema() refuses spec and status that are not objects", () => {
  const error = refusal(() =>
    parentSchema({ ...names, spec: Type.String(), status: Type.Array(Type.String()) })
  );
  assert.deepEqual(error.problems.map((p) => p.path), ["spec", "status"]);
});

Deno.test("printer columns: types, formats, priorities, and paths the schema declares", () => {
  const spec = Type.Object({
    replicas: Type.Integer(),
    labels: Type.Record(Type.String(), Type.String()),
  });
  const ok = parentSchema({
    ...names,
    spec,
    printerColumns: [
      { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", format: "int32" },
      { name: "App", type: "string", jsonPath: ".spec.labels.app", priority: 1 },
      { name: "Created", type: "date", jsonPath: ".metadata.creationTimestamp" },
    ],
  });
  assert.deepEqual(
    ((ok.crd() as unknown as Crd).spec.versions[0]!.additionalPrinterColumns as unknown[]).length,
    3,
  );
  const error = refusal(() =>
    parentSchema({
      ...names,
      spec,
      printerColumns: [
        { name: "A", type: "text" as "string", jsonPath: ".spec.replicas" },
        { name: "A", type: "string", jsonPath: "spec.replicas" },
        { name: "B", type: "string", jsonPath: ".status.phase" },
        { name: "C", type: "string", jsonPath: ".spec.replicas", priority: -1 },
        { name: "D", type: "string", jsonPath: ".spec.replicas", format: "iso" as "date" },
      ],
    })
  );
  assert.deepEqual(error.problems.map((p) => `${p.path}: ${p.message}`), [
    `printerColumns[A]: type "text" is not one of integer, number, string, boolean, date`,
    "printerColumns[A]: name is used twice",
    `printerColumns[A]: jsonPath "spec.replicas" must start with "." (such as .status.phase)`,
    `printerColumns[B]: jsonPath ".status.phase" names a field the schema does not declare`,
    "printerColumns[C]: priority must be an integer of 0 or more",
    `printerColumns[D]: format "iso" is not one of int32, int64, float, double, byte, date, date-time, password`,
  ]);
});

Deno.test("the scale subresource's paths must be declared fields of the right type", () => {
  const error = refusal(() =>
    parentSchema({
      ...names,
      spec: Type.Object({ replicas: Type.String() }),
      status: Type.Object({}),
      scale: {
        specReplicasPath: ".spec.replicas",
        statusReplicasPath: ".status.replicas",
        labelSelectorPath: ".selector",
      },
    })
  );
  assert.deepEqual(error.problems.map((p) => `${p.path}: ${p.message}`), [
    `scale.specReplicasPath: ".spec.replicas" must be a field of type integer`,
    `scale.statusReplicasPath: ".status.replicas" is not declared in the schema`,
    `scale.labelSelectorPath: ".selector" must be a path under .spec or .status`,
  ]);
});

Deno.test("root CEL rules go on the root of the version's schema", () => {
  const Greeting = parentSchema({
    ...names,
    spec: Type.Object({ min: Type.Integer(), max: Type.Integer() }),
    validations: [{ rule: "self.spec.min <= self.spec.max", message: "min must not exceed max" }],
  });
  assert.deepEqual(Greeting.openAPIV3Schema["x-kubernetes-validations"], [
    { rule: "self.spec.min <= self.spec.max", message: "min must not exceed max" },
  ]);
  const error = refusal(() =>
    parentSchema({
      ...names,
      spec: Type.Object({ min: Type.Integer() }),
      validations: [{ rule: "self.min > 0" }],
    })
  );
  assert.match(
    error.message,
    /\(root\): x-kubernetes-validations\[0\]: rule "self\.min > 0" refers to self\.min, but the root has no field "min"/,
  );
});
