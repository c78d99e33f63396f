// One schema for the parent, against the real kube-apiserver: every CRD parentSchema() makes is
// accepted; objects breaking each kind of rule are refused with the API server's message;
// defaults, printer columns, several versions, the status and scale subresources and pruning
// behave as declared; and each declaration parentSchema() refuses is refused by the API server
// too (so the checks are neither missing nor invented).
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import Type from "typebox";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ApiError } from "../client/errors.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import {
  type ObjectOf,
  parentSchema,
  ParentSchemaError,
  type ParentSchemaInit,
  prunedFields,
  structuralProblems,
  type StructuralSchema,
} from "../schema/mod.ts";
import { operatorConfig } from "../config/operator_config.ts";
import type { SyncRequest } from "../handler/handler.ts";
import { startOperator } from "../runner/run_operator.ts";
import { TestKit } from "../testkit/test_kit.ts";
import { createNamespace, eventually } from "./helpers.ts";

const records: LogRecord[] = [];
let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator"], lowestLevel: "warning", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
  await reset();
});

const GROUP = "schema.roperator.dev";

const Greeting = parentSchema({
  apiVersion: `${GROUP}/v1`,
  kind: "Greeting",
  plural: "greetings",
  namespaced: true,
  shortNames: ["gr"],
  categories: ["roperator-tests"],
  spec: Type.Object({
    message: Type.String({ minLength: 1, pattern: "^[A-Za-z ,!]+$", description: "What to say." }),
    replicas: Type.Integer({ minimum: 0, maximum: 10, default: 1 }),
    maxReplicas: Type.Integer({ minimum: 0, default: 5 }),
    mode: Type.Union([Type.Literal("polite"), Type.Literal("loud")], { default: "polite" }),
    port: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    extra: Type.Optional(Type.Unknown()),
    note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    targets: Type.Optional(Type.Array(
      Type.Object({ name: Type.String(), weight: Type.Integer({ default: 1 }) }),
      { "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], maxItems: 5 },
    )),
    tags: Type.Optional(Type.Array(Type.String(), { "x-kubernetes-list-type": "set" })),
    since: Type.Optional(Type.String({ format: "date-time" })),
  }, {
    "x-kubernetes-validations": [{
      rule: "self.replicas <= self.maxReplicas",
      message: "replicas must not exceed maxReplicas",
    }],
  }),
  status: Type.Object({
    phase: Type.Optional(Type.String()),
    replicas: Type.Optional(Type.Integer()),
    selector: Type.Optional(Type.String()),
  }),
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
    { name: "Mode", type: "string", jsonPath: ".spec.mode", priority: 1 },
  ],
  scale: {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  },
  validations: [{
    rule: "self.metadata.name.startsWith('g')",
    message: "the name must start with g",
  }],
  otherVersions: [{
    name: "v1beta1",
    spec: Type.Object({
      message: Type.String(),
      replicas: Type.Optional(Type.Integer({ default: 1 })),
    }, { additionalProperties: true }),
    status: Type.Object({ phase: Type.Optional(Type.String()) }, { additionalProperties: true }),
    deprecated: true,
    deprecationWarning: "schema.roperator.dev/v1beta1 Greeting is deprecated; use v1",
  }],
});
type GreetingObject = ObjectOf<typeof Greeting>;

let installed: Promise<void> | undefined;
function install(): Promise<void> {
  installed ??= installCustomResourceDefinitions(admin, [Greeting.crd()]);
  return installed;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  assert.fail("the API server accepted what it should refuse");
}

Deno.test("the generated CRD is accepted and established, with names and versions as declared", async () => {
  await install();
  const crds = new ResourceClient(admin, k8s.apiextensions.v1.CustomResourceDefinition);
  const crd = await crds.get(`greetings.${GROUP}`);
  assert.deepEqual(crd.spec.names.shortNames, ["gr"]);
  assert.deepEqual(crd.spec.names.categories, ["roperator-tests"]);
  assert.deepEqual(crd.status?.storedVersions, ["v1"]);
  assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [
    ["v1", true, true],
    ["v1beta1", true, false],
  ]);
});

Deno.test("objects breaking each kind of rule are refused with the API server's message", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-rules");
  const api = new ResourceClient(admin, Greeting, namespace);
  const object = (name: string, spec: Record<string, unknown>): GreetingObject => ({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name },
    spec: { message: "Hello", ...spec } as GreetingObject["spec"],
  });
  const cases: Array<[string, GreetingObject, RegExp]> = [
    ["type", object("g-type", { replicas: "two" }), /spec\.replicas.*must be of type integer/],
    ["enum", object("g-enum", { mode: "rude" }), /spec\.mode: Unsupported value: "rude"/],
    ["pattern", object("g-pattern", { message: "Hi 123" }), /spec\.message.*should match/],
    ["minimum", object("g-min", { replicas: -1 }), /spec\.replicas.*greater than or equal to 0/],
    ["maximum", object("g-max", { replicas: 11 }), /spec\.replicas.*less than or equal to 10/],
    [
      "exclusive minimum",
      object("g-ratio", { ratio: 0 }),
      /spec\.ratio.*should be greater than 0/,
    ],
    ["minLength", object("g-len", { message: "" }), /spec\.message.*at least 1 chars long/],
    [
      "maxItems",
      object("g-items", {
        targets: [1, 2, 3, 4, 5, 6].map((n) => ({ name: `t${n}` })),
      }),
      /spec\.targets.*must have at most 5 items/,
    ],
    [
      "required",
      { ...object("g-req", {}), spec: {} as GreetingObject["spec"] },
      /spec\.message: Required value/,
    ],
    [
      "CEL on spec",
      object("g-cel", { replicas: 4, maxReplicas: 3 }),
      /spec: Invalid value: replicas must not exceed maxReplicas/,
    ],
    ["CEL on the root", object("x-name", {}), /the name must start with g/],
    [
      "set list",
      object("g-set", { tags: ["a", "a"] }),
      /spec\.tags\[1\]: Duplicate value: "a"/,
    ],
    [
      "map list",
      object("g-map", { targets: [{ name: "a" }, { name: "a" }] }),
      /spec\.targets\[1\]: Duplicate value/,
    ],
  ];
  for (const [rule, obj, message] of cases) {
    const error = await refusal(api.create(obj));
    assert.equal(error.status, 422, `${rule}: ${error.message}`);
    assert.match(error.body?.message ?? "", message, `${rule}: ${error.body?.message}`);
  }
});

Deno.test("defaults are applied, and the object reads back as the handler's type", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-defaults");
  const api = new ResourceClient(admin, Greeting, namespace);
  const created = await api.create({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name: "greeting" },
    spec: {
      message: "Hello",
      targets: [{ name: "a" }],
      port: "http",
      labels: { a: "b" },
      extra: { anything: [1, { goes: true }] },
      note: null,
      since: "2026-12-01T10:00:00Z",
    } as unknown as GreetingObject["spec"],
  });
  const spec: GreetingObject["spec"] = created.spec;
  assert.equal(spec.replicas, 1);
  assert.equal(spec.maxReplicas, 5);
  assert.equal(spec.mode, "polite");
  assert.deepEqual(spec.targets, [{ name: "a", weight: 1 }]);
  assert.equal(spec.port, "http");
  assert.deepEqual(spec.labels, { a: "b" });
  assert.deepEqual(spec.extra, { anything: [1, { goes: true }] });
  assert.equal(spec.note, null);
  const again = await api.create({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name: "greeting-port" },
    spec: { message: "Hello", port: 8080 } as GreetingObject["spec"],
  });
  assert.equal(again.spec.port, 8080);
});

Deno.test("printer columns show in a Table request", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-table");
  const api = new ResourceClient(admin, Greeting, namespace);
  await api.create({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name: "greeting" },
    spec: { message: "Hello", replicas: 3 } as GreetingObject["spec"],
  });
  await api.patchStatus("greeting", { status: { phase: "Ready" } }, { type: "merge" });
  const response = await cp.adminFetch(
    `/apis/${GROUP}/v1/namespaces/${namespace}/greetings`,
    { headers: { Accept: "application/json;as=Table;g=meta.k8s.io;v=v1" } },
  );
  assert.equal(response.status, 200);
  const table = await response.json() as {
    kind: string;
    columnDefinitions: Array<{ name: string; type: string; priority: number }>;
    rows: Array<{ cells: unknown[] }>;
  };
  assert.equal(table.kind, "Table");
  const names = table.columnDefinitions.map((c) => c.name);
  assert.deepEqual(names, ["Name", "Phase", "Replicas", "Mode"]);
  assert.equal(table.columnDefinitions[3]?.priority, 1);
  const cells = table.rows[0]?.cells ?? [];
  assert.deepEqual(cells.slice(0, 4), ["greeting", "Ready", 3, "polite"]);
});

Deno.test("several versions: an object written as v1beta1 is stored as v1 and read back as v1", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-versions");
  const beta = { ...Greeting, apiVersion: `${GROUP}/v1beta1` };
  const betaApi = new ResourceClient<KubernetesObject>(admin, beta, namespace);
  await betaApi.create({
    apiVersion: `${GROUP}/v1beta1`,
    kind: "Greeting",
    metadata: { name: "greeting-beta" },
    spec: { message: "Hello" },
  });
  const v1 = await new ResourceClient(admin, Greeting, namespace).get("greeting-beta");
  assert.equal(v1.apiVersion, `${GROUP}/v1`);
  assert.equal(v1.spec.message, "Hello");
  assert.equal(v1.spec.replicas, 1);
});

Deno.test("status and scale subresources", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-subresources");
  const api = new ResourceClient(admin, Greeting, namespace);
  const created = await api.create({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name: "greeting" },
    spec: { message: "Hello", replicas: 2 } as GreetingObject["spec"],
    status: { phase: "ignored on create" },
  });
  assert.equal(created.status, undefined, "status is written only through /status");
  await api.patchStatus("greeting", {
    status: { phase: "Ready", replicas: 2, selector: "app=greeting" },
  }, { type: "merge" });
  const scalePath = `/apis/${GROUP}/v1/namespaces/${namespace}/greetings/greeting/scale`;
  const scale = await admin.request<
    { kind: string; spec: { replicas: number }; status: { replicas: number; selector: string } }
  >("GET", scalePath);
  assert.equal(scale.kind, "Scale");
  assert.equal(scale.spec.replicas, 2);
  assert.deepEqual(scale.status, { replicas: 2, selector: "app=greeting" });
  await admin.request("PATCH", scalePath, {
    body: { spec: { replicas: 4 } },
    contentType: "application/merge-patch+json",
  });
  assert.equal((await api.get("greeting")).spec.replicas, 4);
});

Deno.test("a status field the schema lacks is pruned by the API server, as prunedFields predicts", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-prune");
  const api = new ResourceClient(admin, Greeting, namespace);
  await api.create({
    apiVersion: Greeting.apiVersion,
    kind: Greeting.kind,
    metadata: { name: "greeting" },
    spec: { message: "Hello" } as GreetingObject["spec"],
  });
  const status = { phase: "Ready", observedGeneration: 1, mesage: "typo", detail: { a: 1 } };
  const statusSchema = Greeting.openAPIV3Schema.properties!.status!;
  assert.deepEqual(prunedFields(statusSchema, status, "status"), [
    "status.mesage",
    "status.detail",
  ]);
  const written = await api.patchStatus("greeting", { status }, { type: "merge" });
  assert.deepEqual(written.status, { phase: "Ready", observedGeneration: 1 });
});

Deno.test("round trip: schema → CRD → API server → object → the handler's typed parent", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-operator");
  const api = new ResourceClient(admin, Greeting, namespace);
  const config = operatorConfig({
    name: "greeting-operator",
    parent: Greeting,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace,
    server: false,
  });
  const seen: Array<GreetingObject["spec"]> = [];
  const operator = await startOperator(config, ({ parent }: SyncRequest<GreetingObject>) => {
    seen.push(parent.spec);
    const { message, replicas, mode } = parent.spec;
    return {
      status: { phase: `${mode} x${replicas}`, replicas },
      children: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: parent.metadata!.name! },
        data: { message, targets: (parent.spec.targets ?? []).map((t) => t.name).join(",") },
      }],
    };
  }, { clientConfig: cp.clientConfig });
  try {
    await operator.ready;
    await api.create({
      apiVersion: Greeting.apiVersion,
      kind: Greeting.kind,
      metadata: { name: "greeting" },
      spec: { message: "Hello", targets: [{ name: "a" }] } as GreetingObject["spec"],
    });
    const status = await eventually("the status", async () => {
      const object = await api.get("greeting");
      return object.status?.phase ? object.status : undefined;
    });
    assert.deepEqual(status, { phase: "polite x1", replicas: 1, observedGeneration: 1 });
    assert.deepEqual(seen[0], {
      message: "Hello",
      replicas: 1,
      maxReplicas: 5,
      mode: "polite",
      targets: [{ name: "a", weight: 1 }],
    });
    const map = await new ResourceClient(admin, k8s.core.v1.ConfigMap, namespace).get("greeting");
    assert.deepEqual(map.data, { message: "Hello", targets: "a" });
  } finally {
    await operator.stop();
  }
});

Deno.test("the TestKit installs the generated CRD of a parent declared with parentSchema()", async () => {
  const Kitten = parentSchema({
    apiVersion: `${GROUP}/v1`,
    kind: "Kitten",
    plural: "kittens",
    namespaced: true,
    spec: Type.Object({ name: Type.String(), lives: Type.Integer({ default: 9 }) }),
    status: Type.Object({ lives: Type.Optional(Type.Integer()) }),
  });
  await using kit = await TestKit.create(
    { name: "kitten-operator", parent: Kitten, children: [] },
    ({ parent }) => ({ status: { lives: parent.spec.lives }, children: [] }),
    { controlPlane: cp },
  );
  await kit.createParent({
    apiVersion: Kitten.apiVersion,
    kind: Kitten.kind,
    metadata: { name: "tom" },
    spec: { name: "Tom" } as ObjectOf<typeof Kitten>["spec"],
  });
  await kit.assertResourceEqEventually(Kitten, "tom", {
    status: { lives: 9, observedGeneration: 1 },
  });
});

Deno.test("a status field the schema would prune is logged once per field, and not rewritten at every sync", async () => {
  await install();
  const namespace = await createNamespace(admin, "schema-prune-warning");
  const api = new ResourceClient(admin, Greeting, namespace);
  const config = operatorConfig({
    name: "greeting-operator",
    parent: Greeting,
    children: [],
    namespace,
    server: false,
  });
  let syncs = 0;
  const operator = await startOperator(config, ({ parent }) => {
    syncs++;
    return {
      status: {
        phase: "Ready",
        mesage: `typo ${parent.metadata?.name}`,
        conditions: [{ type: "Ready", extra: syncs > 0 }],
      },
      children: [],
      resyncAfterMs: 50,
    };
  }, { clientConfig: cp.clientConfig });
  const before = records.length;
  try {
    await operator.ready;
    for (const name of ["greeting-a", "greeting-b"]) {
      await api.create({
        apiVersion: Greeting.apiVersion,
        kind: Greeting.kind,
        metadata: { name },
        spec: { message: "Hello" } as GreetingObject["spec"],
      });
    }
    await eventually("ten syncs", () => Promise.resolve(syncs >= 10));
  } finally {
    await operator.stop();
  }
  const warnings = records.slice(before).filter((r) => r.level === "warning").map((r) =>
    r.message.map((part) => typeof part === "string" ? part : JSON.stringify(part)).join("")
  );
  assert.deepEqual(warnings, [
    `status field status.mesage of Greeting is not in its CRD schema: the API server drops it (declare it in the status schema)`,
    `status field status.conditions of Greeting is not in its CRD schema: the API server drops it (declare it in the status schema)`,
  ]);
  assert.equal(operator.metrics.writes("status"), 2, "one status write per parent");
  const stored = await api.get("greeting-a");
  assert.deepEqual(stored.status, { phase: "Ready", observedGeneration: 1 });
});

// Each declaration parentSchema() refuses, and the same schema sent to the API server anyway.
const base: ParentSchemaInit<ReturnType<typeof Type.Object>, ReturnType<typeof Type.Object>> = {
  apiVersion: `${GROUP}/v1`,
  kind: "Refused",
  plural: "refuseds",
  namespaced: true,
  spec: Type.Object({ replicas: Type.Integer() }),
};

/** The CRD of `base` with its spec schema (or whole version) replaced, bypassing the checks. */
function rawCrd(
  plural: string,
  edit: RefusedCase["edit"],
): KubernetesObject {
  const crd = parentSchema({ ...base, plural, kind: plural[0]!.toUpperCase() + plural.slice(1) })
    .crd() as KubernetesObject & {
      spec: {
        versions: Array<
          Record<string, unknown> & { schema: { openAPIV3Schema: StructuralSchema } }
        >;
      };
    };
  const version = crd.spec.versions[0]!;
  edit(version, version.schema.openAPIV3Schema, crd.spec.versions);
  return crd;
}

interface RefusedCase {
  what: string;
  init: Partial<ParentSchemaInit<ReturnType<typeof Type.Object>, ReturnType<typeof Type.Object>>>;
  field: string;
  edit: (
    version: Record<string, unknown>,
    root: StructuralSchema,
    versions: Array<Record<string, unknown>>,
  ) => void;
  apiMessage: RegExp;
  /** Whether structuralProblems() sees it (columns, scale and versions are parentSchema()'s). */
  schemaProblem: boolean;
}

const spec = (root: StructuralSchema): StructuralSchema => root.properties!.spec!;

const refusedCases: RefusedCase[] = [
  {
    what: "a field with no type (non-structural)",
    init: { spec: Type.Object({ any: Type.Union([Type.String(), Type.Boolean()]) }) },
    field: "spec.any",
    edit: (_v, root) => {
      spec(root).properties = { any: { anyOf: [{ type: "string" }, { type: "boolean" }] } };
    },
    apiMessage: /properties\[any\]\.type: Required value/,
    schemaProblem: true,
  },
  {
    what: "a CEL rule on the wrong level",
    init: {
      spec: Type.Object({ replicas: Type.Integer() }, {
        "x-kubernetes-validations": [{ rule: "self.spec.replicas > 0" }],
      }),
    },
    field: "spec",
    edit: (_v, root) => {
      spec(root)["x-kubernetes-validations"] = [{ rule: "self.spec.replicas > 0" }];
    },
    apiMessage: /undefined field 'spec'/,
    schemaProblem: true,
  },
  {
    what: "a CEL rule naming a field the node lacks",
    init: {
      validations: [{ rule: "self.replicas > 0" }],
    },
    field: "(root)",
    edit: (_v, root) => {
      root["x-kubernetes-validations"] = [{ rule: "self.replicas > 0" }];
    },
    apiMessage: /undefined field 'replicas'/,
    schemaProblem: true,
  },
  {
    what: "a transition rule under a list whose items cannot be correlated",
    init: {
      spec: Type.Object({
        items: Type.Array(
          Type.Object({ name: Type.String() }, {
            "x-kubernetes-validations": [{ rule: "self.name == oldSelf.name" }],
          }),
        ),
      }),
    },
    field: "spec.items[*]",
    edit: (_v, root) => {
      spec(root).properties = {
        items: {
          type: "array",
          items: {
            type: "object",
            properties: { name: { type: "string" } },
            "x-kubernetes-validations": [{ rule: "self.name == oldSelf.name" }],
          },
        },
      };
    },
    apiMessage: /oldSelf cannot be used on the uncorrelatable portion of the schema/,
    schemaProblem: true,
  },
  {
    what: "a rule's fieldPath naming an undeclared field",
    init: {
      spec: Type.Object({ replicas: Type.Integer() }, {
        "x-kubernetes-validations": [{ rule: "self.replicas > 0", fieldPath: ".replica" }],
      }),
    },
    field: "spec",
    edit: (_v, root) => {
      spec(root)["x-kubernetes-validations"] = [{
        rule: "self.replicas > 0",
        fieldPath: ".replica",
      }];
    },
    apiMessage: /fieldPath/,
    schemaProblem: true,
  },
  {
    what: "uniqueItems",
    init: { spec: Type.Object({ tags: Type.Array(Type.String(), { uniqueItems: true }) }) },
    field: "spec.tags",
    edit: (_v, root) => {
      spec(root).properties = {
        tags: { type: "array", items: { type: "string" }, uniqueItems: true },
      };
    },
    apiMessage: /uniqueItems/,
    schemaProblem: true,
  },
  {
    what: "a map list without keys",
    init: {
      spec: Type.Object({
        ports: Type.Array(Type.Object({ name: Type.String() }), {
          "x-kubernetes-list-type": "map",
        }),
      }),
    },
    field: "spec.ports",
    edit: (_v, root) => {
      spec(root).properties = {
        ports: {
          type: "array",
          "x-kubernetes-list-type": "map",
          items: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
        },
      };
    },
    apiMessage: /x-kubernetes-list-map-keys/,
    schemaProblem: true,
  },
  {
    what: "a default its own schema refuses",
    init: { spec: Type.Object({ replicas: Type.Integer({ minimum: 1, default: 0 }) }) },
    field: "spec.replicas",
    edit: (_v, root) => {
      spec(root).properties = { replicas: { type: "integer", minimum: 1, default: 0 } };
    },
    apiMessage: /default.*should be greater than or equal to 1/,
    schemaProblem: false,
  },
  {
    what: "a record with a key pattern (patternProperties)",
    init: {
      spec: Type.Object({ env: Type.Record(Type.String({ pattern: "^[A-Z]+$" }), Type.String()) }),
    },
    field: "spec.env",
    edit: (_v, root) => {
      spec(root).properties = {
        env: { type: "object", patternProperties: { "^[A-Z]+$": { type: "string" } } },
      };
    },
    apiMessage: /patternProperties/,
    schemaProblem: true,
  },
  {
    what: "a printer column of an unknown type",
    init: {
      printerColumns: [{ name: "R", type: "int" as "integer", jsonPath: ".spec.replicas" }],
    },
    field: "printerColumns[R]",
    edit: (version) => {
      version.additionalPrinterColumns = [{ name: "R", type: "int", jsonPath: ".spec.replicas" }];
    },
    apiMessage: /additionalPrinterColumns\[0\]\.type: Invalid value: "int"/,
    schemaProblem: false,
  },
  {
    what: "a scale path outside .spec",
    init: { scale: { specReplicasPath: ".replicas", statusReplicasPath: ".status.replicas" } },
    field: "scale.specReplicasPath",
    edit: (version) => {
      version.subresources = {
        status: {},
        scale: { specReplicasPath: ".replicas", statusReplicasPath: ".status.replicas" },
      };
    },
    apiMessage: /specReplicasPath.*should be a json path under \.spec/,
    schemaProblem: false,
  },
  {
    what: "two storage versions",
    init: {
      storage: true,
      otherVersions: [{ name: "v2", spec: Type.Object({}), storage: true }],
    },
    field: "(root)",
    edit: (version, _root, versions) => {
      versions.push({ ...structuredClone(version), name: "v2" });
    },
    apiMessage: /must have exactly one version marked as storage version/,
    schemaProblem: false,
  },
];

Deno.test("each declaration parentSchema() refuses is refused by the API server too", async (t) => {
  const crds = new ResourceClient(admin, k8s.apiextensions.v1.CustomResourceDefinition);
  let count = 0;
  for (const c of refusedCases) {
    const n = ++count;
    const plural = `refused${n}s`;
    await t.step(c.what, async () => {
      assert.throws(
        () => parentSchema({ ...base, ...c.init, plural, kind: `Refused${n}` }),
        (error: unknown) => {
          assert.ok(error instanceof ParentSchemaError, `${c.what}: ${error}`);
          assert.match(error.message, new RegExp(`^Cannot declare parent Refused${n}: `));
          assert.ok(
            error.message.includes(`${c.field}: `),
            `${c.what}: "${c.field}" not named in: ${error.message}`,
          );
          return true;
        },
        c.what,
      );
      const crd = rawCrd(plural, c.edit);
      const [version] = (crd.spec as { versions: Array<Record<string, unknown>> }).versions;
      const root = (version!.schema as { openAPIV3Schema: StructuralSchema }).openAPIV3Schema;
      if (c.schemaProblem) {
        assert.ok(
          structuralProblems(root).length > 0,
          `${c.what}: structuralProblems() found nothing`,
        );
      }
      const error = await refusal(crds.create(crd as never));
      assert.equal(error.status, 422, `${c.what}: ${error.message}`);
      assert.match(error.body?.message ?? "", c.apiMessage, `${c.what}: ${error.body?.message}`);
    });
  }
});
