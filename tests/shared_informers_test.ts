// Several operators in one process sharing one informer per type, sharded by disjoint
// parentLabelSelectors; and lean caches (the built-in pruning, a user transform and the
// roperator_cached_bytes gauge).
import { createNamespace, eventually } from "./helpers.ts";
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { LAST_APPLIED_ANNOTATION } from "../runner/cache_object.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { controllerOf, startOperator, startOperators } from "../runner/run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "ShardParent",
  plural: "shardparents",
  namespaced: true,
});

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

function namespace(): Promise<string> {
  return createNamespace(admin, "sh");
}

type ParentObject = KubernetesObject & {
  spec?: { blob?: string };
  status?: { syncedBy?: string };
};

function shard(ns: string, name: string, selector: string): OperatorConfigInit {
  return {
    name,
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    parentLabelSelector: selector,
    // Shards of one operator share the finalizer: a parent that moves to another shard is
    // finalized by the shard that has it then.
    finalizer: "test.roperator.dev/sharded",
    server: false,
  };
}

function handlerOf(name: string, seen: Set<string>) {
  return ({ parent }: SyncRequest<ParentObject>): SyncResponse => {
    seen.add(parent.metadata!.name!);
    return {
      status: { syncedBy: name },
      children: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${parent.metadata!.name}-child` },
        data: { shard: name },
      }],
    };
  };
}

Deno.test("two operators in one process share one client and server, and split parents by selector", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  const seenA = new Set<string>();
  const seenB = new Set<string>();
  const group = await startOperators([
    {
      config: operatorConfig(shard(ns, "shard-a", "shard=a")),
      handler: handlerOf("shard-a", seenA),
    },
    {
      config: operatorConfig(shard(ns, "shard-b", "shard=b")),
      handler: handlerOf("shard-b", seenB),
    },
  ], {
    clientConfig: cp.clientConfig,
    server: { port: 0, hostname: "127.0.0.1", health: true, metrics: true },
  });
  try {
    await group.ready;
    const [a, b] = group.operators;
    // One parent informer each (different selectors), and one ConfigMap informer each: a child
    // informer caches only its operator's own children (selected by the operator's name).
    assert.notEqual(controllerOf(a!).informers[0], controllerOf(b!).informers[0]);
    assert.notEqual(controllerOf(a!).informers[1], controllerOf(b!).informers[1]);

    const labelled: Array<[string, string]> = [["a1", "a"], ["a2", "a"], ["b1", "b"], ["c1", "c"]];
    for (const [name, label] of labelled) {
      await parents.create({ metadata: { name, labels: { shard: label } } });
    }
    const expected: Array<[string, string]> = [["a1", "shard-a"], ["a2", "shard-a"], [
      "b1",
      "shard-b",
    ]];
    for (const [name, by] of expected) {
      await eventually(
        `${name} synced by ${by}`,
        async () => (await parents.get(name)).status?.syncedBy === by,
      );
      await eventually(`${name}'s child`, () => cms.find(`${name}-child`));
    }
    assert.deepEqual([...seenA].sort(), ["a1", "a2"]);
    assert.deepEqual([...seenB].sort(), ["b1"]);
    assert.equal((await parents.get("c1")).status, undefined, "no shard selects c1");
    assert.equal(await cms.find("c1-child"), undefined);

    // A parent relabelled to the other shard moves to it.
    await parents.patch("a2", { metadata: { labels: { shard: "b" } } });
    await eventually(
      "a2 synced by shard-b",
      async () => (await parents.get("a2")).status?.syncedBy === "shard-b",
    );
    assert.ok(seenB.has("a2"));
    // Its child is now shard-b's: found by its owner reference, rewritten with shard-b's label.
    await eventually("a2's child taken over by shard-b", async () => {
      const child = await cms.get("a2-child");
      return child.metadata?.labels?.["app.kubernetes.io/managed-by"] === "shard-b" &&
        (child.data as Record<string, string>).shard === "shard-b";
    });

    // One /metrics for the process, every sample labelled with its operator.
    const res = await fetch(`http://127.0.0.1:${group.port}/metrics`);
    const samples = parsePrometheusText(await res.text());
    const synced = (operator: string) =>
      samples.find((s) =>
        s.name === "roperator_syncs_total" && s.labels.operator === operator &&
        s.labels.result === "success"
      )?.value ?? 0;
    assert.ok(synced("shard-a") >= 2, String(synced("shard-a")));
    assert.ok(synced("shard-b") >= 2, String(synced("shard-b")));
    assert.ok(!samples.some((s) => "parent" in s.labels), "no per-parent label");
    // a2 left shard-a's selector, which forgot its per-parent tally.
    assert.equal(a!.metrics.syncs(`${ns}/a2`, "success"), 0);
    assert.ok(a!.metrics.syncs(`${ns}/a1`, "success") >= 1);
    assert.ok(b!.metrics.syncs(`${ns}/a2`, "success") >= 1);
    assert.ok(b!.metrics.syncs(`${ns}/b1`, "success") >= 1);
    const ready = await fetch(`http://127.0.0.1:${group.port}/ready`);
    await ready.body?.cancel();
    assert.equal(ready.status, 200);

    // Deleting a parent that moved shards: the shard that has it now finalizes it.
    await parents.delete("a2");
    await eventually("a2 to be finalized", async () => (await parents.find("a2")) === undefined);
  } finally {
    await group.stop();
  }
});

Deno.test("caches drop managedFields and last-applied, apply a user transform and report their size", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const blob = "x".repeat(40_000);
  await parents.create({
    metadata: {
      name: "big",
      labels: { shard: "lean" },
      annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ spec: { blob } }), kept: "yes" },
    },
    spec: { blob },
  });
  const transformed: string[] = [];
  const config = operatorConfig({
    ...shard(ns, "lean", "shard=lean"),
    server: { port: 0, hostname: "127.0.0.1" },
    // The handler never reads spec.blob: keep it out of the cache.
    transform: (object, type) => {
      transformed.push(type.kind);
      if (type.kind !== "ShardParent") return object;
      const { blob: _blob, ...spec } = (object as ParentObject).spec ?? {};
      return { ...object, spec };
    },
  });
  const op = await startOperator(config, handlerOf("lean", new Set()), {
    clientConfig: cp.clientConfig,
  });
  try {
    await op.ready;
    await eventually("the sync", async () => (await parents.get("big")).status?.syncedBy);
    const informer = controllerOf(op).informers[0]!;
    await eventually("the status in the cache", () =>
      Promise.resolve(
        (informer.get("big", ns) as ParentObject | undefined)?.status?.syncedBy === "lean",
      ));
    const cached = informer.get("big", ns) as ParentObject;
    assert.equal(cached.metadata?.managedFields, undefined);
    assert.deepEqual(cached.metadata?.annotations, { kept: "yes" });
    assert.equal(cached.spec?.blob, undefined);
    assert.ok(transformed.includes("ShardParent") && transformed.includes("ConfigMap"));

    const res = await fetch(`http://127.0.0.1:${op.port}/metrics`);
    const samples = parsePrometheusText(await res.text());
    const bytes = (type: string) =>
      samples.find((s) => s.name === "roperator_cached_bytes" && s.labels.type === type)?.value;
    const parentBytes = bytes("test.roperator.dev/v1/ShardParent")!;
    // Kept incrementally, it equals the JSON length of what is cached: no blob, no copy of it.
    const expected = informer.list().reduce((sum, o) => sum + JSON.stringify(o).length, 0);
    assert.equal(parentBytes, expected);
    assert.ok(parentBytes > 100 && parentBytes < 5_000, `${parentBytes} bytes cached`);
    const childInformer = controllerOf(op).informers[1]!;
    assert.equal(
      bytes("v1/ConfigMap"),
      childInformer.list().reduce((sum, o) => sum + JSON.stringify(o).length, 0),
    );

    await parents.delete("big");
    await eventually(
      "the parent to leave the cache",
      () => Promise.resolve(informer.size === 0 || undefined),
    );
    assert.equal(informer.bytes, 0);
  } finally {
    await op.stop();
  }
});
