import assert from "node:assert/strict";
import { relatedResource } from "./related.ts";
import { type ResourceType, resourceType } from "../client/resource_type.ts";
import {
  type ChildConfig,
  childConfigFor,
  DEFAULT_OWNERSHIP_LABEL,
  DEFAULT_TRACKING_LABEL,
  operatorConfig,
  OperatorConfigError,
  type OperatorConfigInit,
  type UpdateStrategy,
} from "./operator_config.ts";
import { k8s } from "./resource_types.ts";
import { allow, validatingWebhook } from "../webhook/admission.ts";

const EchoServer = resourceType({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
});

const base: OperatorConfigInit = {
  name: "echo",
  parent: EchoServer,
  children: [
    { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
    { type: k8s.core.v1.Service, updateStrategy: "Replace" },
  ],
};

Deno.test("operatorConfig: fills every default", () => {
  const config = operatorConfig({ name: "echo", parent: EchoServer });
  assert.deepEqual({ ...config }, {
    name: "echo",
    parent: EchoServer,
    children: [],
    namespace: undefined,
    trackingLabel: "app.kubernetes.io/instance",
    ownershipLabel: "app.kubernetes.io/managed-by",
    finalizer: "roperator.dev/echo",
    server: { port: 8080, hostname: "0.0.0.0", health: true, metrics: true },
    maxErrorBackoffMs: 600_000,
    resyncPeriodMs: 36_000_000,
    concurrency: 8,
    syncTimeoutMs: 60_000,
    watchIdleTimeoutMs: 70_000,
    relistPeriodMs: 1_800_000,
    readinessGraceMs: 60_000,
    parentLabelSelector: undefined,
    leaderElection: undefined,
    events: true,
    transform: undefined,
    webhooks: undefined,
    related: [],
  });
  assert.equal(DEFAULT_TRACKING_LABEL, "app.kubernetes.io/instance");
  assert.equal(DEFAULT_OWNERSHIP_LABEL, "app.kubernetes.io/managed-by");
});

Deno.test("operatorConfig: keeps given values", () => {
  const config = operatorConfig({
    ...base,
    namespace: "team-a",
    trackingLabel: "example.dev/parent",
    ownershipLabel: "owner",
    finalizer: "example.dev/cleanup",
    server: { port: 0, hostname: "127.0.0.1", metrics: false },
    maxErrorBackoffMs: 30_000,
    resyncPeriodMs: 0,
    concurrency: 1,
    syncTimeoutMs: 5_000,
    watchIdleTimeoutMs: 10_000,
    relistPeriodMs: 0,
    readinessGraceMs: 5_000,
    parentLabelSelector: " shard in (a, b),!legacy ",
  });
  assert.equal(config.namespace, "team-a");
  assert.equal(config.trackingLabel, "example.dev/parent");
  assert.equal(config.ownershipLabel, "owner");
  assert.equal(config.finalizer, "example.dev/cleanup");
  assert.deepEqual(config.server, {
    port: 0,
    hostname: "127.0.0.1",
    health: true,
    metrics: false,
  });
  assert.equal(config.maxErrorBackoffMs, 30_000);
  assert.equal(config.resyncPeriodMs, 0);
  assert.equal(config.concurrency, 1);
  assert.equal(config.syncTimeoutMs, 5_000);
  assert.equal(config.watchIdleTimeoutMs, 10_000);
  assert.equal(config.relistPeriodMs, 0);
  assert.equal(config.readinessGraceMs, 5_000);
  assert.equal(config.parentLabelSelector, "shard in (a, b),!legacy");
  assert.deepEqual(config.children.map((c) => [c.type.kind, c.updateStrategy]), [
    ["Pod", "Recreate"],
    ["Service", "Replace"],
  ]);
});

Deno.test("operatorConfig: finalizer options", () => {
  assert.equal(operatorConfig({ ...base, finalizer: true }).finalizer, "roperator.dev/echo");
  assert.equal(operatorConfig({ ...base, finalizer: false }).finalizer, undefined);
  assert.equal(operatorConfig({ ...base, finalizer: "cleanup" }).finalizer, "cleanup");
});

Deno.test("operatorConfig: server off", () => {
  assert.equal(operatorConfig({ ...base, server: false }).server, undefined);
  assert.equal(
    operatorConfig({ ...base, server: { health: false, metrics: false } }).server,
    undefined,
  );
});

Deno.test("operatorConfig: children as a Map", () => {
  const config = operatorConfig({
    name: "echo",
    parent: EchoServer,
    children: new Map<ResourceType, UpdateStrategy>([[k8s.core.v1.ConfigMap, "Apply"], [
      k8s.core.v1.Secret,
      "OnDelete",
    ]]),
  });
  assert.deepEqual(config.children, [
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" },
    { type: k8s.core.v1.Secret, updateStrategy: "OnDelete" },
  ]);
});

Deno.test("operatorConfig: any scope mix and any strategy for any type", () => {
  const config = operatorConfig({
    name: "mixed",
    parent: EchoServer, // namespaced
    children: [
      { type: k8s.rbac.v1.ClusterRole, updateStrategy: "Apply" },
      { type: k8s.core.v1.Namespace, updateStrategy: "OnDelete" },
      { type: k8s.apps.v1.Deployment, updateStrategy: "Apply" },
    ],
  });
  assert.equal(config.children.length, 3);
  const clusterParent = operatorConfig({
    name: "cluster",
    parent: k8s.core.v1.Namespace,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
  });
  assert.equal(clusterParent.children.length, 1);
});

Deno.test("operatorConfig: result is frozen and detached from the input", () => {
  const children: ChildConfig[] = [{ type: k8s.core.v1.Pod, updateStrategy: "Recreate" }];
  const config = operatorConfig({ name: "echo", parent: EchoServer, children });
  children.push({ type: k8s.core.v1.Secret, updateStrategy: "Recreate" });
  assert.equal(config.children.length, 1);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.children));
  assert.ok(Object.isFrozen(config.children[0]));
  assert.ok(Object.isFrozen(config.server));
  assert.throws(() => {
    (config as { concurrency: number }).concurrency = 2;
  }, TypeError);
});

Deno.test("operatorConfig: rejects invalid configurations, naming the field", async (t) => {
  const cases: [string, unknown, string, RegExp?][] = [
    // description, init, field, message pattern
    ["upper-case name", { ...base, name: "Echo" }, "name", /DNS-1123 label/],
    ["empty name", { ...base, name: "" }, "name"],
    ["name too long", { ...base, name: "a".repeat(64) }, "name"],
    ["name with a slash", { ...base, name: "example.dev/echo" }, "name"],
    ["name not a string", { ...base, name: 42 }, "name", /must be a string, got 42/],
    ["missing parent", { name: "echo" }, "parent", /must be a ResourceType/],
    [
      "parent without plural",
      { name: "echo", parent: { apiVersion: "v1", kind: "Pod", namespaced: true } },
      "parent.plural",
    ],
    [
      "unknown strategy",
      { ...base, children: [{ type: k8s.core.v1.Pod, updateStrategy: "Patch" }] },
      "children[0].updateStrategy",
      /"Replace", "Recreate", "OnDelete" or "Apply", got "Patch"/,
    ],
    [
      "duplicate child type",
      {
        ...base,
        children: [
          { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
          { type: k8s.core.v1.Service, updateStrategy: "Replace" },
          { type: k8s.core.v1.Pod, updateStrategy: "Replace" },
        ],
      },
      "children[2].type",
      /v1\/Pod is already configured by children\[0\]/,
    ],
    [
      "parent also a child",
      { ...base, children: [{ type: EchoServer, updateStrategy: "Replace" }] },
      "children[0].type",
      /is the parent type/,
    ],
    [
      "child type not a type",
      { ...base, children: [{ updateStrategy: "Replace" }] },
      "children[0].type",
    ],
    ["children not a list", { ...base, children: "pods" }, "children"],
    ["bad namespace", { ...base, namespace: "Team_A" }, "namespace", /not a valid namespace/],
    ["bad tracking label", { ...base, trackingLabel: "a/b/c" }, "trackingLabel"],
    [
      "bad ownership label prefix",
      { ...base, ownershipLabel: "Example.dev/owner" },
      "ownershipLabel",
      /prefix/,
    ],
    ["label name too long", { ...base, trackingLabel: "x".repeat(64) }, "trackingLabel"],
    [
      "same tracking and ownership label",
      { ...base, trackingLabel: "a", ownershipLabel: "a" },
      "ownershipLabel",
    ],
    ["bad finalizer", { ...base, finalizer: "bad finalizer" }, "finalizer"],
    ["finalizer of wrong type", { ...base, finalizer: 1 }, "finalizer"],
    ["port too high", { ...base, server: { port: 65536 } }, "server.port"],
    ["fractional port", { ...base, server: { port: 80.5 } }, "server.port"],
    ["negative port", { ...base, server: { port: -1 } }, "server.port"],
    ["empty hostname", { ...base, server: { hostname: "" } }, "server.hostname"],
    ["unknown server option", { ...base, server: { prot: 80 } }, "server.prot"],
    ["server true", { ...base, server: true }, "server"],
    ["zero backoff", { ...base, maxErrorBackoffMs: 0 }, "maxErrorBackoffMs", /positive/],
    ["infinite timeout", { ...base, syncTimeoutMs: Infinity }, "syncTimeoutMs", /finite/],
    ["NaN idle timeout", { ...base, watchIdleTimeoutMs: NaN }, "watchIdleTimeoutMs"],
    ["negative resync", { ...base, resyncPeriodMs: -1 }, "resyncPeriodMs", /or 0 to turn/],
    ["timer overflow", { ...base, relistPeriodMs: 2 ** 31 }, "relistPeriodMs", /24\.8 days/],
    ["zero readiness grace", { ...base, readinessGraceMs: 0 }, "readinessGraceMs", /positive/],
    ["duration as string", { ...base, resyncPeriodMs: "10m" }, "resyncPeriodMs"],
    ["zero concurrency", { ...base, concurrency: 0 }, "concurrency", /at least 1/],
    ["fractional concurrency", { ...base, concurrency: 1.5 }, "concurrency"],
    ["empty selector", { ...base, parentLabelSelector: " " }, "parentLabelSelector"],
    ["bad selector", { ...base, parentLabelSelector: "a=b,,c" }, "parentLabelSelector"],
    ["bad selector value", { ...base, parentLabelSelector: "a in ()" }, "parentLabelSelector"],
    ["unbalanced selector", { ...base, parentLabelSelector: "a in (b" }, "parentLabelSelector"],
    ["unknown option", { ...base, concurency: 4 }, "concurency", /is not an option/],
  ];
  for (const [description, init, field, pattern] of cases) {
    await t.step(description, () => {
      const error = assert.throws(
        () => operatorConfig(init as OperatorConfigInit),
        (error: unknown) => {
          assert.ok(error instanceof OperatorConfigError, String(error));
          assert.ok(error instanceof TypeError);
          assert.equal(error.name, "OperatorConfigError");
          assert.equal(error.field, field);
          assert.match(error.message, /^Cannot configure operator (".*"|\(unnamed\)): /);
          assert.ok(
            error.message.includes(`: ${field}: `),
            `message ${JSON.stringify(error.message)} names ${field}`,
          );
          if (pattern) assert.match(error.message, pattern);
          return true;
        },
      );
      return error;
    });
  }
});

Deno.test("operatorConfig: the message quotes the operator name and the child index", () => {
  assert.throws(
    () =>
      operatorConfig({
        ...base,
        children: [
          { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
          { type: { apiVersion: "v1" } as never, updateStrategy: "Replace" },
        ],
      }),
    {
      name: "OperatorConfigError",
      message:
        'Cannot configure operator "echo": children[1].type.kind: must be a non-empty string, got undefined',
    },
  );
});

Deno.test("operatorConfig: valid label selectors", () => {
  for (
    const selector of [
      "shard=a",
      "shard==a",
      "shard!=a",
      "shard",
      "!shard",
      "example.dev/shard in (a,b, c)",
      "tier notin (gold)",
      "size>3,size<10",
      "a=,b=c",
    ]
  ) {
    assert.equal(
      operatorConfig({ ...base, parentLabelSelector: selector }).parentLabelSelector,
      selector,
    );
  }
});

Deno.test("childConfigFor: finds a child by key, type or object", () => {
  const config = operatorConfig(base);
  assert.equal(childConfigFor(config, "v1/Pod")?.updateStrategy, "Recreate");
  assert.equal(childConfigFor(config, k8s.core.v1.Service)?.updateStrategy, "Replace");
  assert.equal(
    childConfigFor(config, { apiVersion: "v1", kind: "Service", metadata: { name: "x" } })
      ?.type,
    k8s.core.v1.Service,
  );
  assert.equal(childConfigFor(config, "v1/Secret"), undefined);
  assert.equal(childConfigFor(config, { kind: "Pod" }), undefined);
  assert.equal(childConfigFor(config, typeKeyOf(EchoServer)), undefined);
});

function typeKeyOf(type: { apiVersion: string; kind: string }): string {
  return `${type.apiVersion}/${type.kind}`;
}

Deno.test("operatorConfig: the webhooks section is validated, and its errors name the field", () => {
  const validate = validatingWebhook({ type: EchoServer, handler: () => allow() });
  assert.equal(operatorConfig(base).webhooks, undefined);
  const config = operatorConfig({ ...base, webhooks: { hooks: [validate] } });
  assert.equal(config.webhooks?.port, 9443);
  assert.equal(config.webhooks?.certificates.secretName, "echo-webhook-tls");
  assert.throws(
    () => operatorConfig({ ...base, webhooks: { hooks: [validate], port: -1 } }),
    (error: unknown) =>
      error instanceof OperatorConfigError && error.field === "webhooks.port" &&
      error.message ===
        'Cannot configure operator "echo": webhooks.port: must be an integer from 0 to 65535, got -1',
  );
  assert.throws(
    () => operatorConfig({ ...base, webhooks: { hooks: [] } }),
    (error: unknown) => error instanceof OperatorConfigError && error.field === "webhooks.hooks",
  );
});

Deno.test("operatorConfig: related must be relatedResource() declarations, each listed once", () => {
  const secret = relatedResource({ type: k8s.core.v1.Secret, refs: () => null });
  const base = { name: "op", parent: k8s.apps.v1.Deployment };
  assert.deepEqual(operatorConfig({ ...base, related: [secret] }).related, [secret]);
  assert.throws(
    () =>
      operatorConfig({
        ...base,
        related: [{ type: k8s.core.v1.Secret, refs: () => null }] as never,
      }),
    /related\[0\]: must be made by relatedResource\(\)/,
  );
  assert.throws(
    () => operatorConfig({ ...base, related: [secret, secret] }),
    /related\[1\]: is listed twice/,
  );
});
