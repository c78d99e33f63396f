import assert from "node:assert/strict";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { LAST_APPLIED_ANNOTATION, pruneCachedObject } from "./cache_object.ts";
import { InformerPool } from "./informer_pool.ts";

// Nothing here starts an informer, so no request is ever sent.
const kube = new KubeClient({ server: "https://127.0.0.1:1" });
const configMaps = new ResourceClient(kube, k8s.core.v1.ConfigMap, "ns");

Deno.test("InformerPool: users with the same client, type, selector and transform share one informer", async () => {
  const pool = new InformerPool();
  const seen: string[] = [];
  const a = pool.acquire(configMaps, { labelSelector: "x", indexLabel: "x" }, {
    onChange: (c) => seen.push(`a:${c.type}`),
  });
  const b = pool.acquire(new ResourceClient(kube, k8s.core.v1.ConfigMap, "ns"), {
    labelSelector: "x",
    indexLabel: "x",
  }, { onChange: (c) => seen.push(`b:${c.type}`) });
  assert.equal(a.informer, b.informer);
  assert.equal(pool.size, 1);

  const other = [
    pool.acquire(configMaps, { labelSelector: "y", indexLabel: "x" }, {}),
    pool.acquire(new ResourceClient(kube, k8s.core.v1.ConfigMap, "other"), {
      labelSelector: "x",
      indexLabel: "x",
    }, {}),
    pool.acquire(configMaps, { labelSelector: "x", indexLabel: "x", transform: (o) => o }, {}),
    pool.acquire(new ResourceClient(kube, k8s.core.v1.Secret, "ns"), {
      labelSelector: "x",
      indexLabel: "x",
    }, {}),
  ];
  for (const handle of other) assert.notEqual(handle.informer, a.informer);
  assert.equal(pool.size, 5);

  // The informer indexes by the label and feeds every user.
  a.informer.observe({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "ns", resourceVersion: "1", labels: { x: "uid-1" } },
  });
  assert.equal(b.informer.byIndex("uid-1").length, 1);

  await a.release();
  assert.equal(pool.size, 5, "still held by b");
  await b.release();
  await b.release();
  assert.equal(pool.size, 4, "gone with its last user");
  for (const handle of other) await handle.release();
  assert.equal(pool.size, 0);
  assert.deepEqual(seen, [], "observe() emits no change");
});

Deno.test("Informer: cached bytes follow stores and replacements (removals: tests/shared_informers_test.ts)", () => {
  const pool = new InformerPool();
  const { informer, release } = pool.acquire(configMaps, {}, {});
  const object = (rv: string, data: Record<string, string>): KubernetesObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "c",
      namespace: "ns",
      resourceVersion: rv,
      managedFields: [{ manager: "kubectl", operation: "Apply" }],
      annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify({ data }) },
    },
    data,
  } as KubernetesObject);
  assert.equal(informer.bytes, 0);
  informer.observe(object("1", { a: "x".repeat(1000) }));
  const first = informer.bytes;
  assert.equal(first, JSON.stringify(informer.get("c", "ns")).length);
  assert.ok(first > 1000 && first < 1200, "the annotation's copy is not cached");
  informer.observe(object("2", { a: "y" }));
  assert.equal(informer.bytes, JSON.stringify(informer.get("c", "ns")).length);
  assert.ok(informer.bytes < 200);
  void release();
});

Deno.test("pruneCachedObject: drops managedFields and the last-applied annotation only", () => {
  const original = {
    metadata: {
      name: "a",
      managedFields: [{ manager: "m" }],
      annotations: { [LAST_APPLIED_ANNOTATION]: "{}", keep: "1" },
    },
    data: { k: "v" },
  };
  const pruned = pruneCachedObject(original);
  assert.deepEqual(pruned, {
    metadata: { name: "a", annotations: { keep: "1" } },
    data: { k: "v" },
  });
  assert.ok(original.metadata.managedFields, "the input is not modified");
  assert.deepEqual(
    pruneCachedObject({
      metadata: { name: "b", annotations: { [LAST_APPLIED_ANNOTATION]: "{}" } },
    }),
    { metadata: { name: "b" } },
  );
  const plain = { metadata: { name: "c" } };
  assert.equal(pruneCachedObject(plain), plain, "nothing to prune: the same object");
});

Deno.test.afterAll(() => kube.close());
