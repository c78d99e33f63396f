// A status that depends on the children: the handler's status is computed from the snapshot taken
// before the sync's own writes, so a sync that creates, replaces or deletes a child is followed by
// another, which sees the children as they are now. Without it the status stays stale: the echo of
// the operator's own write is not a change of the cache, so nothing else queues the parent.
import assert from "node:assert/strict";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import type { Handler } from "../handler/handler.ts";
import { controllerHarness, NS, PARENTS } from "./testdata/controller_harness.ts";

const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;

/** Wants `spec.children` ConfigMaps; its status counts the ConfigMaps it was given. */
const counting: Handler<KubernetesObject> = ({ parent, children }) => {
  const want = (parent.spec as { children: number }).children;
  return {
    status: { seen: children.ofType(k8s.core.v1.ConfigMap).list().length },
    children: Array.from({ length: want }, (_, i) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `c${i}` },
      data: { i: String(i) },
    })),
  };
};

function parent(children: number): KubernetesObject {
  return {
    apiVersion: "test.roperator.dev/v1",
    kind: "Thing",
    metadata: { name: "p" },
    spec: { children },
  };
}

const config = { children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" as const }] };

Deno.test("a sync that creates children is followed by one that sees them: the status counts them", async () => {
  await using h = await controllerHarness(counting, config, (client) => {
    client.store.serve(k8s.core.v1.ConfigMap);
    client.store.put(PARENTS, parent(2));
  });
  await h.time.tick(0);
  await h.time.flush();
  assert.ok(h.client.store.get(CONFIGMAPS, "c1"), "the children were created");
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    seen: 2,
    observedGeneration: 1,
  });
  assert.equal(h.failures("p"), 0);
});

Deno.test("a sync that deletes a child is followed by one that sees it gone", async () => {
  await using h = await controllerHarness(counting, config, (client) => {
    client.store.serve(k8s.core.v1.ConfigMap);
    client.store.put(PARENTS, parent(2));
  });
  await h.time.tick(0);
  await h.time.flush();
  const now = h.client.store.get(PARENTS, "p")!;
  h.client.store.put(PARENTS, {
    ...now,
    spec: { children: 1 },
    metadata: { ...now.metadata, generation: 2 },
  });
  await h.time.tick(0);
  await h.time.flush();
  assert.equal(h.client.store.get(CONFIGMAPS, "c1"), undefined, "the child was deleted");
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    seen: 1,
    observedGeneration: 2,
  });
});

Deno.test("a sync that writes nothing is not followed by another", async () => {
  await using h = await controllerHarness(counting, config, (client) => {
    client.store.serve(k8s.core.v1.ConfigMap);
    client.store.put(PARENTS, parent(0));
  });
  await h.time.tick(0);
  await h.time.flush();
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    seen: 0,
    observedGeneration: 1,
  });
  h.takeSyncs();
  await h.time.tick(60_000);
  assert.deepEqual(h.takeSyncs(), {}, "no sync without a change");
});

Deno.test("follow-ups stop after three syncs in a row that wrote children (a child changed back after every write)", async () => {
  let calls = 0;
  // Every call wants something new, as when another writer changes the child back each time.
  const restless: Handler<KubernetesObject> = () => ({
    children: [{
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { n: String(calls++) },
    }],
  });
  await using h = await controllerHarness(restless, config, (client) => {
    client.store.serve(k8s.core.v1.ConfigMap);
    client.store.put(PARENTS, parent(0));
  });
  for (let i = 0; i < 10; i++) {
    await h.time.tick(0);
    await h.time.flush();
  }
  assert.equal(calls, 4, "the first sync and three follow-ups");
  await h.time.tick(600_000);
  assert.equal(calls, 4, "then it waits for a change");
  // A change of the parent starts over.
  const now = h.client.store.get(PARENTS, "p")!;
  h.client.store.put(PARENTS, { ...now, metadata: { ...now.metadata, labels: { touched: "1" } } });
  for (let i = 0; i < 10; i++) {
    await h.time.tick(0);
    await h.time.flush();
  }
  assert.equal(calls, 5, "one sync; the count of syncs in a row is not reset by it");
});
