// The controller's orderings, driven with a fake clock and a scripted client (an in-memory API
// server whose answers a test can fail, delay or gate): the start gate, identity by owner
// reference, a parent waiting for an object in its child's way, a child refused next to children
// accepted, a child created a moment ago by a twin, a handler that outlives its timeout, and the
// sync's signal.
import assert from "node:assert/strict";
import { ApiError } from "../client/errors.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import type { Handler } from "../handler/handler.ts";
import type { ScriptedClient, ScriptedRequest } from "../tests/scripted_client.ts";
import {
  controllerHarness,
  type Harness,
  NS,
  Parent,
  PARENTS,
} from "./testdata/controller_harness.ts";

const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;
const TRACKING = "app.kubernetes.io/instance";
const OWNERSHIP = "app.kubernetes.io/managed-by";
type Data = Record<string, string>;

/** The harness with a ConfigMap child type updated with Replace, unless `init` says otherwise. */
function harness(
  handler: Handler<KubernetesObject>,
  init: Partial<OperatorConfigInit> = {},
  seed?: (client: ScriptedClient) => void,
  gate?: Promise<void>,
): Promise<Harness> {
  return controllerHarness(
    handler,
    {
      children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
      ...init,
    },
    seed,
    gate,
  );
}

function parent(name: string, spec: Record<string, unknown> = {}): KubernetesObject {
  return { apiVersion: Parent.apiVersion, kind: Parent.kind, metadata: { name }, spec };
}

function configMap(name: string, data: Data): KubernetesObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data };
}

/** A ConfigMap child of `owner` as the operator would have written it. */
function childOf(owner: KubernetesObject, name: string, data: Data): KubernetesObject {
  return {
    ...configMap(name, data),
    metadata: {
      name,
      labels: { [TRACKING]: owner.metadata!.uid!, [OWNERSHIP]: "op" },
      ownerReferences: [{
        apiVersion: Parent.apiVersion,
        kind: Parent.kind,
        name: owner.metadata!.name!,
        uid: owner.metadata!.uid!,
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
  };
}

const copyValue: Handler<KubernetesObject> = ({ parent }) => ({
  status: { value: (parent.spec as Data | undefined)?.value ?? "" },
  children: [
    configMap(`${parent.metadata!.name}-child`, {
      value: (parent.spec as Data | undefined)?.value ?? "",
    }),
  ],
});

function stored(client: ScriptedClient, name: string): KubernetesObject | undefined {
  return client.store.get(CONFIGMAPS, name);
}

/** The write requests sent so far, as `METHOD path`. */
function writes(client: ScriptedClient): string[] {
  return client.requests
    .filter((r) => ["POST", "PUT", "PATCH", "DELETE"].includes(r.method))
    .map((r) => `${r.method} ${r.path}`);
}

Deno.test("start(gate) lists at once, but calls no handler, writes nothing and stays pending until the gate opens", async () => {
  const gate = Promise.withResolvers<void>();
  await using h = await harness(
    copyValue,
    {},
    (client) => client.store.put(PARENTS, parent("p", { value: "1" })),
    gate.promise,
  );
  let resolved = false;
  h.started.then(() => resolved = true, () => {});
  // Both lists answered: each informer watches now, and the caches are complete.
  const watches = h.client.requests.filter((r) => r.method === "WATCH").map((r) => r.path);
  assert.deepEqual(watches.sort(), [CONFIGMAPS, PARENTS]);
  assert.ok(h.controller.synced);
  assert.equal(h.controller.gateOpen, false);
  await h.time.tick(60_000);
  assert.deepEqual(h.takeSyncs(), {}, "no sync before the gate opens");
  assert.equal(h.requests.size, 0, "no handler call");
  assert.deepEqual(writes(h.client), []);
  assert.equal(resolved, false, "start() waits for the gate");
  gate.resolve();
  await h.time.tick(0);
  assert.equal(resolved, true);
  assert.equal(h.controller.gateOpen, true);
  // The sync that writes the child, and the one that sees it.
  assert.deepEqual(h.takeSyncs(), { p: 2 });
  assert.equal((stored(h.client, "p-child")?.data as Data).value, "1");
});

Deno.test("a gate that fails rejects start() with its reason, not with a refused list's", async () => {
  const gate = Promise.withResolvers<void>();
  let refused = 0;
  await using h = await harness(copyValue, {}, (client) => {
    client.store.put(PARENTS, parent("p", { value: "1" }));
    client.hook = (request) => {
      if (request.method !== "GET" || request.path !== PARENTS) return;
      refused++;
      throw new ApiError({ method: "GET", path: PARENTS }, 404, {
        reason: "NotFound",
        message: "the server could not find the requested resource",
      });
    };
  }, gate.promise);
  assert.equal(refused, 1, "the parents' first list was refused (its informer backs off)");
  const error = new Error("the checks failed");
  gate.reject(error);
  await assert.rejects(h.started, (e) => e === error);
  await h.time.tick(60_000);
  assert.deepEqual(h.takeSyncs(), {});
  assert.deepEqual(writes(h.client), []);
});

Deno.test("a child whose tracking label was rewritten is still its owner's child, and its label is repaired", async () => {
  await using h = await harness(copyValue);
  const p = h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  assert.equal((stored(h.client, "p-child")?.data as Data).value, "1");
  // Another tool rewrites the tracking label; then the parent changes.
  const child = stored(h.client, "p-child")!;
  child.metadata!.labels![TRACKING] = "helm-release";
  h.client.store.put(CONFIGMAPS, child);
  h.client.store.put(PARENTS, { ...h.client.store.get(PARENTS, "p")!, spec: { value: "2" } });
  await h.time.tick(0);
  const repaired = stored(h.client, "p-child")!;
  assert.equal((repaired.data as Data).value, "2");
  assert.equal(repaired.metadata?.labels?.[TRACKING], p.metadata!.uid);
  assert.equal(h.failures("p"), 0);
});

Deno.test("objects without the ownership label's value never enter the child cache", async () => {
  await using h = await harness(copyValue, {}, (client) => {
    for (let i = 0; i < 20; i++) {
      client.store.put(CONFIGMAPS, {
        ...configMap(`helm-${i}`, { secret: "x" }),
        metadata: { name: `helm-${i}`, labels: { [TRACKING]: "release", [OWNERSHIP]: "Helm" } },
      });
    }
  });
  h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  const [, children] = h.controller.informers;
  assert.deepEqual(children!.list().map((o) => o.metadata?.name), ["p-child"]);
});

Deno.test("a parent re-created while its predecessor's child lingers is synced the moment that child goes, not after its backoff", async () => {
  await using h = await harness(copyValue, { maxErrorBackoffMs: 3_600_000 });
  const old = h.client.store.put(PARENTS, parent("p", { value: "old" }));
  await h.time.tick(0);
  // The old child gets a finalizer (the garbage collector lags), the parent is re-created.
  const lingering = stored(h.client, "p-child")!;
  lingering.metadata!.finalizers = ["hold"];
  h.client.store.put(CONFIGMAPS, lingering);
  h.client.store.remove(PARENTS, "p");
  h.client.store.remove(CONFIGMAPS, "p-child");
  await h.time.flush();
  const fresh = h.client.store.put(PARENTS, parent("p", { value: "new" }));
  assert.notEqual(fresh.metadata!.uid, old.metadata!.uid);
  await h.time.tick(0);
  assert.equal(h.failures("p"), 1, "blocked by the old child");
  // Fail it a few more times so that its backoff is long.
  for (let i = 0; i < 8; i++) {
    h.client.store.put(PARENTS, {
      ...h.client.store.get(PARENTS, "p")!,
      metadata: { ...h.client.store.get(PARENTS, "p")!.metadata, annotations: { i: String(i) } },
    });
    await h.time.tick(0);
  }
  assert.equal(h.failures("p"), 9);
  const message = String(
    (h.events.findLast((e) => e.state === "failed")?.error as Error | undefined)?.message,
  );
  assert.match(message, /is still being deleted; it belonged to Thing "p" \(uid uid-\d+\)/);
  // The old child goes: the new parent syncs now, with no time passing.
  const held = stored(h.client, "p-child")!;
  held.metadata!.finalizers = [];
  h.client.store.put(CONFIGMAPS, held);
  h.client.store.remove(CONFIGMAPS, "p-child");
  await h.time.tick(0);
  const child = stored(h.client, "p-child")!;
  assert.equal(child.metadata?.ownerReferences?.[0]?.uid, fresh.metadata!.uid);
  assert.equal((child.data as Data).value, "new");
});

Deno.test("a child the API server refuses blocks neither the children after it nor the status", async () => {
  await using h = await harness(({ parent }) => ({
    status: { phase: "Running", conditions: [{ type: "Mine", status: "True" }] },
    children: ["a", "bad", "b"].map((n) => configMap(`${parent.metadata!.name}-${n}`, { n })),
  }));
  h.client.hook = (request) => {
    if (
      request.method === "POST" && (request.body as KubernetesObject).metadata?.name === "p-bad"
    ) {
      throw new ApiError({ method: "POST", path: request.path }, 422, {
        reason: "Invalid",
        message: 'ConfigMap "p-bad" is invalid: denied by policy',
      });
    }
  };
  h.client.store.put(PARENTS, parent("p"));
  await h.time.tick(0);
  assert.ok(stored(h.client, "p-a"));
  assert.ok(stored(h.client, "p-b"), "the child after the refused one is written");
  assert.equal(stored(h.client, "p-bad"), undefined);
  const status = h.client.store.get(PARENTS, "p")!.status as {
    phase: string;
    conditions: Array<Record<string, string>>;
  };
  assert.equal(status.phase, "Running");
  assert.deepEqual(status.conditions.map((c) => c.type), ["Mine", "ChildrenSynced"]);
  const condition = status.conditions[1]!;
  assert.equal(condition.status, "False");
  assert.equal(condition.reason, "ChildWriteRejected");
  assert.match(condition.message!, /cannot write ConfigMap "ns\/p-bad": .*denied by policy/);
  assert.equal(h.failures("p"), 1);
  // Retried with backoff; once accepted, the condition goes.
  h.client.hook = undefined;
  await h.time.tick(2_000);
  assert.ok(stored(h.client, "p-bad"));
  const fixed = h.client.store.get(PARENTS, "p")!.status as { conditions: Array<{ type: string }> };
  assert.deepEqual(fixed.conditions.map((c) => c.type), ["Mine"]);
});

Deno.test("a child a twin instance created a moment ago is taken as the parent's own, not refused", async () => {
  await using h = await harness(copyValue);
  let twin: KubernetesObject | undefined;
  h.client.hook = (request) => {
    if (request.method !== "POST" || twin !== undefined) return;
    // The twin's create lands just before ours; our cache has not seen it yet.
    const owner = h.client.store.get(PARENTS, "p")!;
    twin = h.client.store.put(CONFIGMAPS, childOf(owner, "p-child", { value: "stale" }));
  };
  // Deliver no watch event of the twin's child before our create: gate the child watch.
  h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  assert.ok(twin);
  assert.equal(h.failures("p"), 0, "not reported as someone else's object");
  assert.equal((stored(h.client, "p-child")?.data as Data).value, "1");
});

Deno.test("an object in the child's way that is not the parent's is refused with what it is", async () => {
  await using h = await harness(copyValue);
  h.client.store.put(CONFIGMAPS, configMap("p-child", { someone: "else" }));
  h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  assert.equal(h.failures("p"), 1);
  const error = h.events.findLast((e) => e.state === "failed")?.error as Error;
  assert.match(
    error.message,
    /cannot write ConfigMap "ns\/p-child": it exists and was not created by this operator for this parent \(it has no controller owner reference and no "app.kubernetes.io\/instance" label\)/,
  );
  assert.deepEqual(stored(h.client, "p-child")?.data as Data, { someone: "else" });
});

Deno.test("Apply refuses an object someone else made, saying what it is", async () => {
  await using h = await harness(copyValue, {
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }],
  });
  h.client.store.put(CONFIGMAPS, {
    ...configMap("p-child", {}),
    metadata: { name: "p-child", labels: { [OWNERSHIP]: "op" } },
  });
  h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  const error = h.events.findLast((e) => e.state === "failed")?.error as Error;
  assert.doesNotMatch(error.message, /null/);
  assert.match(error.message, /no controller owner reference and no "app.kubernetes.io\/instance"/);
  assert.equal(
    h.client.requests.filter((r) => r.method === "PATCH" && r.subresource !== "status").length,
    0,
    "nothing applied",
  );
});

Deno.test("a handler that outlives its timeout keeps its sync slot until it returns", async () => {
  let release: (() => void) | undefined;
  const started: string[] = [];
  await using h = await harness(({ parent }) => {
    started.push(parent.metadata!.name!);
    if (parent.metadata!.name === "slow") {
      // Ignores its signal.
      return new Promise((resolve) => release = () => resolve({ children: [] }));
    }
    return { children: [] };
  }, { concurrency: 1, syncTimeoutMs: 1_000 });
  h.client.store.put(PARENTS, parent("slow"));
  await h.time.tick(0);
  h.client.store.put(PARENTS, parent("quick"));
  await h.time.tick(1_500);
  assert.equal(h.failures("slow"), 1, "the timeout is a failure at once");
  assert.deepEqual(started, ["slow"], "no other sync took the slot of the hung handler");
  release!();
  await h.time.tick(0);
  assert.deepEqual(started, ["slow", "quick"]);
});

Deno.test("every API call of a sync gets its signal, and a stop aborts a write in flight", async () => {
  await using h = await harness(copyValue);
  let gate: PromiseWithResolvers<void> | undefined;
  const seen: ScriptedRequest[] = [];
  h.client.hook = (request) => {
    if (request.method === "WATCH" || (request.method === "GET" && request.name === undefined)) {
      return;
    }
    seen.push(request);
    if (request.method !== "POST") return;
    gate = Promise.withResolvers();
    return gate.promise;
  };
  h.client.store.put(PARENTS, parent("p", { value: "1" }));
  await h.time.tick(0);
  assert.equal(seen.length, 1);
  assert.ok(seen[0]!.signal, "the create carries the sync's signal");
  const stopped = h.controller.stop(0);
  await h.time.tick(1);
  await stopped;
  assert.ok(seen[0]!.signal!.aborted, "the stop aborted the write in flight");
  assert.equal(stored(h.client, "p-child"), undefined);
});
