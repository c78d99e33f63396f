import assert from "node:assert/strict";
import type { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { Informer, objectKey, pruneManagedFields } from "./informer.ts";

// observe() only touches the cache; the client is never called.
const client = {
  type: { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
} as unknown as ResourceClient;

const cm = (rv: string, extra: Record<string, unknown> = {}): KubernetesObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "a", namespace: "ns", resourceVersion: rv, ...extra },
});

Deno.test("Informer.observe() stores the result of our own write", () => {
  const informer = new Informer(client);
  informer.observe(cm("5"));
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "5");
  informer.observe(cm("7"));
  assert.equal(informer.getByKey("ns/a")?.metadata?.resourceVersion, "7");
});

Deno.test("Informer.observe() never replaces a newer state with an older write result", () => {
  const informer = new Informer(client);
  // The watch delivered the deletion (rv 9) before the response of our status write (rv 8).
  informer.observe(cm("9", { deletionTimestamp: "2026-01-01T00:00:00Z" }));
  informer.observe(cm("8"));
  const cached = informer.get("a", "ns");
  assert.equal(cached?.metadata?.resourceVersion, "9");
  assert.ok(cached?.metadata?.deletionTimestamp, "the deletion is not lost");
  // Not comparable (not integers): keep what the cache has.
  informer.observe(cm("x1"));
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "9");
});

Deno.test("objectKey() and pruneManagedFields()", () => {
  assert.equal(objectKey(cm("1")), "ns/a");
  assert.equal(objectKey({ metadata: { name: "n" } }), "n");
  const pruned = pruneManagedFields(cm("1", { managedFields: [{ manager: "x" }] }));
  assert.equal(pruned.metadata?.managedFields, undefined);
  assert.equal(pruned.metadata?.name, "a");
});
