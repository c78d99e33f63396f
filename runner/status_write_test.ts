// What the controller sends to write a status, on a scripted client: a JSON merge patch of the
// status subresource, pinned to the resourceVersion the handler saw and holding only what
// changed; a fresh one after a conflict; the whole parent (PUT) when the status holds a null.
// The real API server's answers to the same writes are tested in tests/status_patch_test.ts.
import assert from "node:assert/strict";
import { ApiError } from "../client/errors.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { Handler } from "../handler/handler.ts";
import type { ScriptedRequest } from "../tests/scripted_client.ts";
import { controllerHarness, PARENTS } from "./testdata/controller_harness.ts";

const STATUS = `${PARENTS}/p/status`;

/** The handler's status is the parent's `spec.status`. */
const statusFromSpec: Handler<KubernetesObject> = ({ parent }) => ({
  status: (parent.spec as { status: unknown }).status,
  children: [],
});

function parent(status: unknown, current?: unknown): KubernetesObject {
  return {
    apiVersion: "test.roperator.dev/v1",
    kind: "Thing",
    metadata: { name: "p" },
    spec: { status },
    ...(current === undefined ? {} : { status: current }),
  };
}

function statusWrites(requests: readonly ScriptedRequest[]): ScriptedRequest[] {
  return requests.filter((r) => r.path === STATUS && r.method !== "GET");
}

Deno.test("a status write is a merge patch of the status subresource: pinned to the resourceVersion, only what changed", async () => {
  await using h = await controllerHarness(statusFromSpec, {}, (client) => {
    client.store.put(
      PARENTS,
      parent(
        { phase: "Ready", nested: { keep: 1 }, list: [1] },
        { phase: "Ready", message: "old", nested: { keep: 1, drop: 2 }, list: [1, 2, 3] },
      ),
    );
  });
  await h.time.tick(0);
  const seen = h.requests.get("p")![0]!.parent;
  const writes = statusWrites(h.client.requests);
  assert.equal(writes.length, 1);
  const write = writes[0]!;
  assert.equal(write.method, "PATCH");
  assert.equal(write.query?.$contentType, "application/merge-patch+json");
  assert.deepStrictEqual(write.body, {
    metadata: { resourceVersion: seen.metadata!.resourceVersion },
    status: { message: null, nested: { drop: null }, list: [1], observedGeneration: 1 },
  });
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    phase: "Ready",
    nested: { keep: 1 },
    list: [1],
    observedGeneration: 1,
  });
  assert.equal(h.failures("p"), 0);
});

Deno.test("after a conflict the patch is computed again from the status read fresh, with its resourceVersion", async () => {
  await using h = await controllerHarness(statusFromSpec);
  let conflicted = false;
  h.client.hook = (request) => {
    if (request.path !== STATUS || request.method !== "PATCH" || conflicted) return;
    conflicted = true;
    // Someone else wrote the status just before: this write is stale.
    const now = h.client.store.get(PARENTS, "p")!;
    h.client.store.put(PARENTS, { ...now, status: { phase: "Stale", foreign: "x" } });
    throw new ApiError({ method: "PATCH", path: request.path }, 409, {
      reason: "Conflict",
      message: "the object has been modified",
    });
  };
  h.client.store.put(PARENTS, parent({ phase: "Ready" }));
  await h.time.tick(0);
  assert.ok(conflicted);
  const writes = statusWrites(h.client.requests);
  assert.equal(writes.length, 2);
  const [stale, fresh] = writes as [ScriptedRequest, ScriptedRequest];
  assert.deepStrictEqual((stale.body as KubernetesObject).status, {
    phase: "Ready",
    observedGeneration: 1,
  });
  const rv = (body: unknown) => (body as KubernetesObject).metadata?.resourceVersion;
  assert.notEqual(rv(fresh.body), rv(stale.body));
  assert.deepStrictEqual(fresh.body, {
    metadata: { resourceVersion: rv(fresh.body) },
    status: { phase: "Ready", foreign: null, observedGeneration: 1 },
  });
  assert.deepStrictEqual(h.client.store.get(PARENTS, "p")!.status, {
    phase: "Ready",
    observedGeneration: 1,
  });
  assert.equal(h.failures("p"), 0);
});

Deno.test("a status holding a null is written whole with a PUT, as a merge patch would delete the key", async () => {
  await using h = await controllerHarness(statusFromSpec, {}, (client) => {
    client.store.put(PARENTS, parent({ phase: "Ready", note: null }, { phase: "Old" }));
  });
  await h.time.tick(0);
  const writes = statusWrites(h.client.requests);
  assert.deepEqual(writes.map((w) => w.method), ["PUT"]);
  const body = writes[0]!.body as KubernetesObject;
  assert.deepStrictEqual(body.status, { phase: "Ready", note: null, observedGeneration: 1 });
  assert.deepStrictEqual(body.spec, { status: { phase: "Ready", note: null } });
  assert.equal(h.failures("p"), 0);
});

Deno.test("an unchanged status is not written", async () => {
  await using h = await controllerHarness(statusFromSpec, {}, (client) => {
    client.store.put(
      PARENTS,
      parent({ phase: "Ready" }, { observedGeneration: 1, phase: "Ready" }),
    );
  });
  await h.time.tick(0);
  assert.equal(h.successes("p"), 1);
  assert.deepEqual(statusWrites(h.client.requests), []);
});
