// A status PATCH that RBAC refuses (RBAC generated before status writes became patches grants only
// `update` on the status subresource): the status is written with PUT, one warning says why, and
// PUT is kept. A 403 that is not RBAC's "cannot patch" (an admission webhook's denial) fails the
// sync as before.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { Handler } from "../handler/handler.ts";
import type { ScriptedRequest } from "../tests/scripted_client.ts";
import { controllerHarness, PARENTS } from "./testdata/controller_harness.ts";

const records: LogRecord[] = [];
Deno.test.beforeAll(async () => {
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator", "controller"], lowestLevel: "warning", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
});
Deno.test.afterAll(async () => {
  await reset();
});

function warningsAbout(text: string): number {
  return records.filter((r) => r.level === "warning" && r.message.join("").includes(text)).length;
}

/** The handler's status is the parent's `spec.status`. */
const statusFromSpec: Handler<KubernetesObject> = ({ parent }) => ({
  status: (parent.spec as { status: unknown }).status,
  children: [],
});

function parent(name: string, status: unknown): KubernetesObject {
  return {
    apiVersion: "test.roperator.dev/v1",
    kind: "Thing",
    metadata: { name },
    spec: { status },
  };
}

function statusWrites(requests: readonly ScriptedRequest[]): string[] {
  return requests
    .filter((r) => r.path.endsWith("/status") && r.method !== "GET")
    .map((r) => `${r.method} ${r.path.split("/").at(-2)}`);
}

function refuse(message: string) {
  return (request: ScriptedRequest) => {
    if (request.method !== "PATCH" || !request.path.endsWith("/status")) return;
    throw new ApiError({ method: "PATCH", path: request.path }, 403, {
      reason: "Forbidden",
      message,
    });
  };
}

const RBAC_REFUSAL =
  `things.test.roperator.dev "p" is forbidden: User "system:serviceaccount:ns:op" cannot patch ` +
  `resource "things/status" in API group "test.roperator.dev" in the namespace "ns"`;

Deno.test("a status PATCH refused by RBAC is written with PUT, and PUT is kept", async () => {
  records.length = 0;
  await using h = await controllerHarness(statusFromSpec);
  h.client.hook = refuse(RBAC_REFUSAL);
  h.client.store.put(PARENTS, parent("p", { phase: "Ready" }));
  await h.time.tick(0);
  assert.deepEqual(statusWrites(h.client.requests), ["PATCH p", "PUT p"]);
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    phase: "Ready",
    observedGeneration: 1,
  });
  assert.equal(h.failures("p"), 0);
  // The next status change goes straight to PUT.
  const now = h.client.store.get(PARENTS, "p")!;
  h.client.store.put(PARENTS, { ...now, spec: { status: { phase: "Done" } } });
  await h.time.tick(0);
  assert.deepEqual(statusWrites(h.client.requests), ["PATCH p", "PUT p", "PUT p"]);
  assert.equal((h.client.store.get(PARENTS, "p")!.status as { phase?: string }).phase, "Done");
  assert.equal(h.failures("p"), 0);
  assert.equal(warningsAbout("cannot patch the status"), 1);
});

Deno.test("several syncs refused at once: one warning", async () => {
  records.length = 0;
  const names = ["a", "b", "c", "d"];
  await using h = await controllerHarness(statusFromSpec, { concurrency: 8 }, (client) => {
    for (const name of names) client.store.put(PARENTS, parent(name, { phase: "Ready" }));
    client.hook = refuse(RBAC_REFUSAL);
  });
  await h.time.tick(0);
  for (const name of names) {
    assert.equal((h.client.store.get(PARENTS, name)!.status as { phase?: string }).phase, "Ready");
    assert.equal(h.failures(name), 0);
  }
  assert.equal(warningsAbout("cannot patch the status"), 1);
});

Deno.test("a 403 that is not RBAC's refusal (an admission webhook's denial) fails the sync; no PUT", async () => {
  records.length = 0;
  await using h = await controllerHarness(statusFromSpec);
  h.client.hook = refuse(`admission webhook "policy.example.com" denied the request: no`);
  h.client.store.put(PARENTS, parent("p", { phase: "Ready" }));
  await h.time.tick(0);
  assert.deepEqual(statusWrites(h.client.requests), ["PATCH p"]);
  assert.equal(h.failures("p"), 1);
  assert.equal(warningsAbout("cannot patch the status"), 0);
});
