// Type tests: the object type a parentSchema() declaration gives the handler. `deno test` type
// checks this file; each `@ts-expect-error` fails the check if the line below it compiles.
import assert from "node:assert/strict";
import Type from "typebox";
import type { SyncRequest } from "../handler/handler.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { runOperator, startOperator } from "../runner/run_operator.ts";
import { operatorMain } from "../runner/cli.ts";
import { TestKit } from "../testkit/test_kit.ts";
import { type ObjectOf, parentSchema, type SpecOf, type StatusOf } from "./parent_schema.ts";

const Greeting = parentSchema({
  apiVersion: "example.roperator.dev/v1",
  kind: "Greeting",
  plural: "greetings",
  namespaced: true,
  spec: Type.Object({
    message: Type.String(),
    replicas: Type.Integer({ default: 1 }),
    mode: Type.Union([Type.Literal("polite"), Type.Literal("loud")]),
    port: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    targets: Type.Optional(Type.Array(Type.Object({ name: Type.String() }))),
    note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  }),
  status: Type.Object({ phase: Type.Optional(Type.String()) }),
});

type Greeting = ObjectOf<typeof Greeting>;

function handler(request: SyncRequest<Greeting>): string[] {
  const { parent } = request;
  const message: string = parent.spec.message;
  const replicas: number = parent.spec.replicas;
  const mode: "polite" | "loud" = parent.spec.mode;
  const port: number | string | undefined = parent.spec.port;
  const app: string | undefined = parent.spec.labels?.["app"];
  const first: string | undefined = parent.spec.targets?.[0]?.name;
  const note: string | null | undefined = parent.spec.note;
  const phase: string | undefined = parent.status?.phase;
  const observed: number | undefined = parent.status?.observedGeneration;

  // @ts-expect-error: the schema declares no `image`
  parent.spec.image;
  // @ts-expect-error: replicas is a number
  const wrong: string = parent.spec.replicas;
  // @ts-expect-error: mode is one of two literals
  const other: "rude" = parent.spec.mode;
  // @ts-expect-error: port may be absent
  const sure: number | string = parent.spec.port;
  // @ts-expect-error: the status is absent until the operator first writes it
  parent.status.phase;
  // @ts-expect-error: the status schema declares no `message`
  parent.status?.message;
  return [
    message,
    String(replicas),
    mode,
    String(port),
    String(app),
    String(first),
    String(note),
    String(phase),
    String(observed),
    wrong,
    other,
    String(sure),
  ];
}

// The spec and status types on their own.
const spec: SpecOf<typeof Greeting> = { message: "hi", replicas: 1, mode: "loud" };
const status: StatusOf<typeof Greeting> = { phase: "Ready" };
// @ts-expect-error: `message` is required
const partial: SpecOf<typeof Greeting> = { replicas: 1, mode: "loud" };
// @ts-expect-error: the status schema declares no `ready`
const extra: StatusOf<typeof Greeting> = { ready: true };

Deno.test("a parentSchema() declaration types the handler's parent (see the @ts-expect-error lines)", () => {
  const children = undefined as unknown as SyncRequest<Greeting>["children"];
  const parent: Greeting = {
    metadata: { name: "g" },
    spec: { message: "hi", replicas: 2, mode: "polite", port: "http" },
    status: { phase: "Ready", observedGeneration: 3 },
  };
  const out = handler({
    parent,
    children,
    signal: new AbortController().signal,
    related: undefined as unknown as SyncRequest<Greeting>["related"],
    cache: undefined as unknown as SyncRequest<Greeting>["cache"],
  });
  assert.deepEqual(out.slice(0, 9), [
    "hi",
    "2",
    "polite",
    "http",
    "undefined",
    "undefined",
    "undefined",
    "Ready",
    "3",
  ]);
  assert.deepEqual([spec.message, status.phase, partial.replicas, extra], ["hi", "Ready", 1, {
    ready: true,
  }]);
});

// The operator config carries the parent type: the handler's parent is the config's.
const Other = parentSchema({
  apiVersion: "example.roperator.dev/v1",
  kind: "Other",
  plural: "others",
  namespaced: true,
  spec: Type.Object({ replicas: Type.String() }),
});
type Other = ObjectOf<typeof Other>;

const config = operatorConfig({ name: "greeting", parent: Greeting, children: [] });
const init: OperatorConfigInit<Greeting> = {
  name: "greeting",
  parent: Greeting,
  children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
};

/** Never called: these calls are for the type checker. */
async function typeChecksOnly(): Promise<void> {
  await runOperator(config, ({ parent }) => {
    const replicas: number = parent.spec.replicas; // no annotation, no cast
    // @ts-expect-error: the schema declares no `image`
    parent.spec.image;
    return { status: { phase: String(replicas) }, children: [] };
  });
  await startOperator(config, { sync: ({ parent }) => ({ status: parent.status, children: [] }) });
  await operatorMain(init, ({ parent }) => ({ status: { phase: parent.spec.mode }, children: [] }));
  await TestKit.create(
    init,
    ({ parent }) => ({ status: { phase: parent.spec.message }, children: [] }),
  );
  // A handler written for the parent type itself is fine, and so is one for any object.
  await runOperator(config, (request: SyncRequest<Greeting>) => ({ children: [request.parent] }));
  // @ts-expect-error: a handler written for another parent type
  await runOperator(config, (request: SyncRequest<Other>) => ({ children: [request.parent] }));
  // @ts-expect-error: a config whose parent is Other cannot be written as a Greeting config
  const wrong: OperatorConfigInit<Greeting> = { name: "x", parent: Other, children: [] };
  void wrong;
}

Deno.test("the operator config carries the parent type to the handler (see the @ts-expect-error lines)", () => {
  assert.equal(config.parent, Greeting, "the config keeps the declaration itself");
  assert.equal(typeof typeChecksOnly, "function");
});
