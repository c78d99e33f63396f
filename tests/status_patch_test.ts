// The status is written as a JSON merge patch of the status subresource, against the real API
// server: a status that loses a key, a nested key and list items reaches the cluster exactly; a
// write against a stale resourceVersion gets a 409 and ends right; a status holding a null is
// written whole (PUT), as a merge patch cannot store one. The requests are counted by
// kube-apiserver itself (`apiserver_request_total` of the status subresource of a type only this
// file uses).
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { operatorConfig } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";
import { createNamespace, eventually } from "./helpers.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "StatusPatchParent",
  plural: "statuspatchparents",
  namespaced: true,
});

type Shape = "full" | "reduced" | "null";
type ParentObject = KubernetesObject & { spec?: { shape?: Shape } };

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

/** The status the handler returns for a shape (`observedGeneration` is the runner's). */
function statusFor(shape: Shape): Record<string, unknown> {
  switch (shape) {
    case "full":
      return {
        phase: "Ready",
        message: "all good",
        nested: { keep: 1, drop: 2, deeper: { keep: true, drop: "x" } },
        list: [1, 2, 3],
        conditions: [{ type: "Ready", status: "True" }, { type: "Extra", status: "True" }],
      };
    case "reduced":
      return {
        phase: "Ready",
        nested: { keep: 1, deeper: { keep: true } },
        list: [1],
        conditions: [{ type: "Ready", status: "True" }],
      };
    case "null":
      return { phase: "Ready", note: null };
  }
}

/**
 * Requests on `statuspatchparents/status` counted by kube-apiserver, by `"<verb> <code>"` (for
 * example `"PATCH 200"`). Only this file uses the type, so nothing else adds to them.
 */
async function statusRequests(): Promise<Record<string, number>> {
  const response = await cp.adminFetch("/metrics", { headers: { Accept: "text/plain" } });
  assert.equal(response.status, 200, "kube-apiserver /metrics");
  const counts: Record<string, number> = {};
  for (const sample of parsePrometheusText(await response.text())) {
    const { verb, resource, subresource, code } = sample.labels;
    if (
      sample.name !== "apiserver_request_total" || resource !== Parent.plural ||
      subresource !== "status"
    ) continue;
    const key = `${verb} ${code}`;
    counts[key] = (counts[key] ?? 0) + sample.value;
  }
  return counts;
}

/** The counts that changed between two scrapes. */
function delta(before: Record<string, number>, after: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value !== (before[key] ?? 0)) out[key] = value - (before[key] ?? 0);
  }
  return out;
}

async function withOperator(
  ns: string,
  handler: (request: SyncRequest<ParentObject>) => Promise<SyncResponse> | SyncResponse,
  body: (op: OperatorHandle) => Promise<void>,
): Promise<void> {
  const config = operatorConfig({
    name: "status-patch-operator",
    parent: Parent,
    children: [],
    namespace: ns,
    server: false,
    finalizer: false,
  });
  const op = await startOperator(config, handler, { clientConfig: cp.clientConfig });
  try {
    await op.ready;
    await body(op);
  } finally {
    await op.stop();
  }
}

/** Waits until the parent's status is exactly `expected`, and says what it was when it is not. */
async function waitForStatus(
  parents: ResourceClient<ParentObject>,
  name: string,
  expected: unknown,
): Promise<void> {
  let last: unknown;
  try {
    await eventually(`the status ${JSON.stringify(expected)}`, async () => {
      last = (await parents.get(name)).status;
      try {
        assert.deepStrictEqual(last, expected);
        return true;
      } catch {
        return false;
      }
    });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : error}; the cluster holds ${
        JSON.stringify(last)
      }`,
    );
  }
}

/**
 * Waits until kube-apiserver counted as many successful status writes as the operator made, plus
 * `others` of the test's own (a request is counted as it completes), then returns the requests
 * since `before`.
 */
async function requestsSince(
  before: Record<string, number>,
  op: OperatorHandle,
  others = 0,
): Promise<Record<string, number>> {
  let last: Record<string, number> = {};
  try {
    await eventually("kube-apiserver to count the operator's status writes", async () => {
      last = delta(before, await statusRequests());
      const succeeded = (last["PATCH 200"] ?? 0) + (last["PUT 200"] ?? 0);
      return succeeded === op.metrics.writes("status") + others;
    });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : error}: the operator made ${
        op.metrics.writes("status")
      }, kube-apiserver counted ${JSON.stringify(last)}`,
    );
  }
  return last;
}

const byShape = ({ parent }: SyncRequest<ParentObject>): SyncResponse => ({
  status: statusFor(parent.spec?.shape ?? "full"),
  children: [],
});

Deno.test("a status that loses a key, a nested key and list items reaches the cluster exactly, written with PATCH and never PUT", async () => {
  const ns = await createNamespace(admin, "status-patch");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  await withOperator(ns, byShape, async (op) => {
    const before = await statusRequests();
    await parents.create({ metadata: { name: "p" }, spec: { shape: "full" } });
    await waitForStatus(parents, "p", { ...statusFor("full"), observedGeneration: 1 });
    await parents.patch("p", { spec: { shape: "reduced" } });
    await waitForStatus(parents, "p", { ...statusFor("reduced"), observedGeneration: 2 });
    const requests = await requestsSince(before, op);
    assert.ok(op.metrics.writes("status") >= 2, `status writes: ${op.metrics.writes("status")}`);
    assert.deepEqual(requests, { "PATCH 200": op.metrics.writes("status") }, "PATCH only");
  });
});

Deno.test("a status write against a stale resourceVersion gets a 409, then the status ends exactly as desired", async () => {
  const ns = await createNamespace(admin, "status-stale");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  let interfered = false;
  // On its first call, before the handler returns, someone else writes the status: the parent the
  // handler saw, and its resourceVersion, are stale when the operator writes.
  const handler = async (request: SyncRequest<ParentObject>): Promise<SyncResponse> => {
    if (!interfered) {
      interfered = true;
      await parents.patchStatus("p", { status: { phase: "Stale", foreign: "someone else" } });
    }
    return byShape(request);
  };
  await withOperator(ns, handler, async (op) => {
    const before = await statusRequests();
    await parents.create({ metadata: { name: "p" }, spec: { shape: "reduced" } });
    // The other writer's `foreign` key is gone: the write after the conflict was computed from
    // the status read fresh, not from the stale one.
    await waitForStatus(parents, "p", { ...statusFor("reduced"), observedGeneration: 1 });
    const requests = await requestsSince(before, op, 1);
    assert.ok(interfered);
    // The other writer's own merge patch (200) and the operator's: its stale one (409), then one
    // that succeeds.
    assert.ok((requests["PATCH 409"] ?? 0) >= 1, `a conflict: ${JSON.stringify(requests)}`);
    assert.equal(requests["PATCH 200"], op.metrics.writes("status") + 1, JSON.stringify(requests));
    assert.equal(op.metrics.syncs(`${ns}/p`, "error"), 0, "no failed sync");
  });
});

Deno.test("a status holding a null is written whole (PUT), and reaches the cluster exactly", async () => {
  const ns = await createNamespace(admin, "status-null");
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  await withOperator(ns, byShape, async (op) => {
    await parents.create({ metadata: { name: "p" }, spec: { shape: "full" } });
    await waitForStatus(parents, "p", { ...statusFor("full"), observedGeneration: 1 });
    const before = await statusRequests();
    const writesBefore = op.metrics.writes("status");
    await parents.patch("p", { spec: { shape: "null" } });
    await waitForStatus(parents, "p", { ...statusFor("null"), observedGeneration: 2 });
    let requests: Record<string, number> = {};
    await eventually("kube-apiserver to count the PUT", async () => {
      requests = delta(before, await statusRequests());
      return (requests["PUT 200"] ?? 0) === op.metrics.writes("status") - writesBefore;
    });
    assert.deepEqual(requests, { "PUT 200": 1 });
  });
});
