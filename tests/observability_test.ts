// What an operator tells its operators: failed syncs logged once per run of identical failures
// (transient ones as warnings), the handler's file:line in logs and Events, failableHandler
// failures counted as errors without a per-parent label, and a warning when a second instance of
// the same operator runs without leader election.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { createNamespace, eventually } from "./helpers.ts";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { NetworkError } from "../client/errors.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import type { Handler } from "../handler/handler.ts";
import { failableHandler } from "../handler/failable.ts";
import { rbacFor } from "../deploy/rbac.ts";
import { deployServiceAccount } from "../testkit/service_account.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "ObsParent",
  plural: "obsparents",
  namespaced: true,
});

const records: LogRecord[] = [];
let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
  await reset();
});

function text(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : String(part)).join("");
}

function logs(category: string, level?: string): LogRecord[] {
  return records.filter((r) =>
    r.category.join(".") === category && (level === undefined || r.level === level)
  );
}

async function withOperator(
  ns: string,
  init: Partial<OperatorConfigInit>,
  handler: Handler,
  body: (op: OperatorHandle) => Promise<void>,
): Promise<void> {
  const config = operatorConfig({
    name: "obs-test",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    ...init,
  });
  const op = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  try {
    await op.ready;
    await body(op);
  } finally {
    await op.stop();
  }
}

Deno.test("20 parents failing alike: one ERROR line, the rest counted as suppressed", async () => {
  const ns = await createNamespace(admin, "obs");
  const parents = new ResourceClient(admin, Parent, ns);
  records.length = 0;
  await withOperator(ns, {}, () => {
    throw new Error("the quota service refused: 403 over quota");
  }, async (op) => {
    const names = Array.from({ length: 20 }, (_, i) => `p${i}`);
    for (const name of names) await parents.create({ metadata: { name } });
    await eventually(
      "every parent to fail twice",
      () => Promise.resolve(names.every((n) => op.metrics.syncs(`${ns}/${n}`, "error") >= 2)),
    );
    const errors = logs("roperator.controller", "error");
    assert.equal(errors.length, 1, errors.map(text).join("\n"));
    assert.match(text(errors[0]!), /sync of .* failed: .*the quota service refused/);
    assert.ok(op.metrics.suppressed("error") >= 20, String(op.metrics.suppressed("error")));
    assert.match(
      op.metrics.registry.render(),
      /roperator_log_suppressed_total\{level="error"\} [1-9]\d*/,
    );
  });
});

Deno.test("20 parents refused alike by the API server (403 on create): one ERROR line", async () => {
  const ns = await createNamespace(admin, "obs");
  const config = operatorConfig({
    name: "obs-403",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    events: false,
  });
  // The generated RBAC without `create` on ConfigMaps: every child create is refused.
  const objects = rbacFor(config).map((object) =>
    object.kind !== "Role" ? object : {
      ...object,
      rules: (object.rules as Array<{ resources: string[]; verbs: string[] }>).map((rule) =>
        rule.resources.includes("configmaps")
          ? { ...rule, verbs: rule.verbs.filter((verb) => verb !== "create") }
          : rule
      ),
    }
  );
  const { clientConfig } = await deployServiceAccount(cp, objects);
  const parents = new ResourceClient(admin, Parent, ns);
  records.length = 0;
  const op = await startOperator(config, ({ parent }) => ({
    children: [{
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${parent.metadata!.name}-child` },
      data: {},
    }],
  }), { clientConfig });
  try {
    await op.ready;
    const names = Array.from({ length: 20 }, (_, i) => `web-${i}`);
    for (const name of names) await parents.create({ metadata: { name } });
    await eventually(
      "every parent to be refused twice",
      () => Promise.resolve(names.every((n) => op.metrics.syncs(`${ns}/${n}`, "error") >= 2)),
    );
    const errors = logs("roperator.controller", "error");
    assert.equal(errors.length, 1, errors.map(text).join("\n"));
    assert.match(text(errors[0]!), /403 Forbidden/);
    assert.ok(op.metrics.suppressed("error") >= 20, String(op.metrics.suppressed("error")));
  } finally {
    await op.stop();
  }
});

Deno.test("a transient failure (a network error) is a warning, not an error", async () => {
  const ns = await createNamespace(admin, "obs");
  records.length = 0;
  await withOperator(ns, {}, () => {
    throw new NetworkError({ method: "GET", path: "/backend" }, "connection refused");
  }, async (op) => {
    await new ResourceClient(admin, Parent, ns).create({ metadata: { name: "flaky" } });
    await eventually(
      "two failures",
      () => Promise.resolve(op.metrics.syncs(`${ns}/flaky`, "error") >= 2),
    );
    assert.equal(logs("roperator.controller", "error").length, 0);
    assert.equal(logs("roperator.controller", "warning").length, 1);
  });
});

Deno.test("a handler error carries its file:line in the log record and the Event note", async () => {
  const ns = await createNamespace(admin, "obs");
  records.length = 0;
  let thrown: Error | undefined;
  await withOperator(ns, {}, () => {
    thrown = new Error("the handler broke");
    throw thrown;
  }, async () => {
    await new ResourceClient(admin, Parent, ns).create({ metadata: { name: "broken" } });
    const [record] = await eventually(
      "the failure logged",
      () => {
        const errors = logs("roperator.controller", "error");
        return Promise.resolve(errors.length > 0 && errors);
      },
    );
    const where = /(observability_test\.ts:\d+:\d+)/.exec(thrown!.stack ?? "")![1]!;
    assert.ok(text(record!).includes(where), text(record!));
    assert.ok(JSON.stringify(record!.properties.stack).includes(where));
    const events = await eventually("the SyncFailed Event", async () => {
      const { items } = await new ResourceClient<KubernetesObject & { note?: string }>(
        admin,
        k8s.events.v1.Event,
        ns,
      ).list();
      const found = items.filter((e) => (e.note ?? "").includes("the handler broke"));
      return found.length > 0 && found;
    });
    assert.ok(events[0]!.note!.includes(where), events[0]!.note);
    assert.ok(new TextEncoder().encode(events[0]!.note).length <= 1024);
  });
});

Deno.test("a failableHandler failure counts as an error, and its status is still written", async () => {
  const ns = await createNamespace(admin, "obs");
  const parents = new ResourceClient(admin, Parent, ns);
  const handler = failableHandler({
    validate: () => {
      throw new Error("spec.size must be a number");
    },
    syncChildren: () => [],
    status: (_request, result) => ({ kind: result.kind }),
  });
  await withOperator(ns, {}, handler, async (op) => {
    await parents.create({ metadata: { name: "invalid" } });
    await eventually("the failure status", async () => {
      const parent = await parents.get("invalid");
      return (parent.status as { kind?: string } | undefined)?.kind === "validationFailed";
    });
    await eventually(
      "the error counted",
      () => Promise.resolve(op.metrics.syncs(`${ns}/invalid`, "error") >= 1),
    );
    assert.equal(op.metrics.syncs(`${ns}/invalid`, "success"), 0);
    assert.ok(op.metrics.syncsTotal("error") >= 1);
    assert.doesNotMatch(op.metrics.registry.render(), /parent=/);
  });
});

function presenceWarnings(name: string): LogRecord[] {
  return logs("roperator.presence", "warning").filter((r) => r.properties.name === name);
}

Deno.test("two instances without leader election: each warns, naming the other, within 30 s", async () => {
  const ns = await createNamespace(admin, "obs");
  records.length = 0;
  const config = operatorConfig({
    name: "twin",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
  });
  const handler = () => ({ children: [] });
  const first = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  const second = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  try {
    await Promise.all([first.ready, second.ready]);
    const started = performance.now();
    const warned = await eventually(
      "both instances to warn",
      () => Promise.resolve(presenceWarnings("twin").length >= 2 && presenceWarnings("twin")),
      30_000,
    );
    assert.ok(performance.now() - started < 30_000);
    const [a, b] = warned;
    assert.notEqual(a!.properties.identity, b!.properties.identity);
    assert.equal(a!.properties.other, b!.properties.identity);
    assert.equal(b!.properties.other, a!.properties.identity);
    assert.match(text(a!), /another instance of operator twin is running/);
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
});

Deno.test("two instances with leader election: no presence Lease, no warning", async () => {
  const ns = await createNamespace(admin, "obs");
  records.length = 0;
  const config = operatorConfig({
    name: "elected",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    leaderElection: { namespace: ns, retryPeriodMs: 500 },
  });
  const handler = () => ({ children: [] });
  const first = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  const second = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  try {
    await Promise.all([first.ready, second.ready]);
    await eventually(
      "a leader",
      () => Promise.resolve(first.leadership!.isLeader() || second.leadership!.isLeader()),
    );
    const leases = new ResourceClient(admin, k8s.coordination.v1.Lease, ns);
    assert.equal(await leases.find("elected-presence"), undefined);
    assert.ok(await leases.find("elected-leader"), "the leader-election Lease exists");
    assert.deepEqual(presenceWarnings("elected"), []);
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
});
