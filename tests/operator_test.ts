import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "TestParent",
  plural: "testparents",
  namespaced: true,
});

const ClusterParent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "TestClusterParent",
  plural: "testclusterparents",
  namespaced: false,
});

// The runtime's debug logs are kept in memory and shown when a wait times out, so a failure on CI
// explains itself.
const recentLogs: string[] = [];

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  await configure({
    sinks: {
      memory: (record: LogRecord) => {
        recentLogs.push(
          `${new Date(record.timestamp).toISOString()} ${record.level} ${
            record.category.join(".")
          } ${
            record.message.map((part) => typeof part === "string" ? part : JSON.stringify(part))
              .join("")
          }`,
        );
        if (recentLogs.length > 200) recentLogs.shift();
      },
    },
    loggers: [
      { category: ["roperator"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [
    testCustomResourceDefinition(Parent),
    testCustomResourceDefinition(ClusterParent),
  ]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
  await reset();
});

let counter = 0;
async function namespace(): Promise<string> {
  const name = `op-${Date.now().toString(36)}-${counter++}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name } });
  return name;
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `Timed out waiting for ${what}; the last runtime logs:\n${recentLogs.slice(-60).join("\n")}`,
  );
}

type ParentObject = KubernetesObject & { spec?: { value?: string; fail?: boolean } };

async function withOperator(
  ns: string,
  init: Partial<OperatorConfigInit>,
  handler: (request: SyncRequest<ParentObject>) => SyncResponse | Promise<SyncResponse>,
  body: (op: OperatorHandle) => Promise<void>,
  finalize?: (request: SyncRequest<ParentObject>) => { retryAfterMs?: number; status?: unknown },
): Promise<void> {
  const config = operatorConfig({
    name: "test-operator",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    ...init,
  });
  const op = await startOperator(config, finalize ? { sync: handler, finalize } : handler, {
    clientConfig: cp.clientConfig,
  });
  try {
    await op.ready;
    await body(op);
  } finally {
    await op.stop();
  }
}

function configMapFor(parent: ParentObject, data: Record<string, string> = {}): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${parent.metadata!.name}-child` },
    data: { value: parent.spec?.value ?? "", ...data },
  };
}

Deno.test("a child is created, updated with Replace, and garbage-collected with its parent", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(ns, {}, ({ parent }) => ({
    status: { value: parent.spec?.value },
    children: [configMapFor(parent)],
  }), async () => {
    await parents.create({ metadata: { name: "p1" }, spec: { value: "one" } });
    const child = await eventually("the child", () => cms.find("p1-child"));
    assert.equal((child.data as Record<string, string>).value, "one");
    assert.equal(child.metadata?.labels?.["app.kubernetes.io/managed-by"], "test-operator");
    assert.equal(child.metadata?.ownerReferences?.[0]?.controller, true);
    const status = await eventually("the status", async () => {
      const p = await parents.get("p1");
      return (p.status as { value?: string; observedGeneration?: number })?.value === "one"
        ? p.status
        : undefined;
    });
    assert.equal((status as { observedGeneration: number }).observedGeneration, 1);

    await parents.patch("p1", { spec: { value: "two" } });
    await eventually("the updated child", async () => {
      const c = await cms.find("p1-child");
      return (c?.data as Record<string, string>)?.value === "two" ? c : undefined;
    });

    await parents.delete("p1");
    await eventually("the parent to go", async () => (await parents.find("p1")) === undefined);
    // kube-controller-manager's garbage collector discovers a new CRD type only on its
    // periodic (30 s) discovery resync, so a parent type it has not seen yet takes that long.
    await eventually(
      "the child to be garbage-collected",
      async () => (await cms.find("p1-child")) === undefined,
      120_000,
    );
  });
});

Deno.test("a failing parent is retried without blocking the others", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  let failures = 0;
  await withOperator(ns, {}, ({ parent }) => {
    if (parent.spec?.fail) {
      failures++;
      throw new Error("this parent always fails");
    }
    return { children: [configMapFor(parent)] };
  }, async (op) => {
    await parents.create({ metadata: { name: "bad" }, spec: { fail: true } });
    await parents.create({ metadata: { name: "good" }, spec: { value: "ok" } });
    await eventually("the good child", () => cms.find("good-child"));
    await eventually(
      "two retries of the bad parent",
      () => Promise.resolve(failures >= 3 ? true : undefined),
      20_000,
    );
    assert.ok(op.metrics.syncs(`${ns}/bad`, "error") >= 3);
    assert.equal(await cms.find("bad-child"), undefined);
    // The bad parent is fixed: it converges.
    await parents.patch("bad", { spec: { fail: false, value: "fixed" } });
    await eventually("the fixed child", () => cms.find("bad-child"));
  });
});

Deno.test("a deleted child is recreated, and a resync makes zero writes", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  let calls = 0;
  await withOperator(ns, {}, ({ parent }) => {
    calls++;
    return { status: { ready: true }, children: [configMapFor(parent)], resyncAfterMs: 300 };
  }, async (op) => {
    await parents.create({ metadata: { name: "p" }, spec: { value: "v" } });
    const first = await eventually("the child", () => cms.find("p-child"));
    await cms.delete("p-child");
    const second = await eventually("the recreated child", async () => {
      const c = await cms.find("p-child");
      return c && c.metadata?.uid !== first.metadata?.uid ? c : undefined;
    });
    assert.notEqual(second.metadata?.uid, first.metadata?.uid);
    await eventually("status", async () => (await parents.get("p")).status ? true : undefined);
    // Let the resyncs run: the handler is called again, but nothing is written.
    await new Promise((r) => setTimeout(r, 500));
    const writes = ["create", "update", "apply", "delete", "status", "finalizer"] as const;
    const before = writes.map((w) => op.metrics.writes(w));
    const callsBefore = calls;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(
      calls >= callsBefore + 2,
      `resync called the handler again (${callsBefore} → ${calls})`,
    );
    assert.deepEqual(writes.map((w) => op.metrics.writes(w)), before, "zero writes on resync");
  });
});

Deno.test("finalize is retried until done, and only this operator's finalizer is removed", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  let finalizeCalls = 0;
  await withOperator(
    ns,
    {},
    ({ parent }) => ({ children: [configMapFor(parent)] }),
    async () => {
      await parents.create({
        metadata: { name: "f", finalizers: ["example.com/other"] },
        spec: { value: "x" },
      });
      await eventually("our finalizer", async () => {
        const p = await parents.get("f");
        return (p.metadata?.finalizers ?? []).length === 2 ? p : undefined;
      });
      await parents.delete("f");
      await eventually("three finalize calls and our finalizer removed", async () => {
        const p = await parents.find("f");
        return finalizeCalls >= 3 && p && p.metadata?.finalizers?.length === 1 ? p : undefined;
      });
      const p = await parents.get("f");
      assert.deepEqual(p.metadata?.finalizers, ["example.com/other"]);
      await parents.patch("f", { metadata: { finalizers: null } });
      await eventually("the parent to go", async () => (await parents.find("f")) === undefined);
    },
    () => {
      finalizeCalls++;
      return finalizeCalls < 3 ? { retryAfterMs: 100 } : {};
    },
  );
});

Deno.test("an OnDelete child is left alone until deleted", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(
    ns,
    { children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "OnDelete" }] },
    ({ parent }) => ({ children: [configMapFor(parent)] }),
    async () => {
      await parents.create({ metadata: { name: "o" }, spec: { value: "1" } });
      await eventually("the child", () => cms.find("o-child"));
      await parents.patch("o", { spec: { value: "2" } });
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(((await cms.get("o-child")).data as Record<string, string>).value, "1");
      await cms.delete("o-child");
      await eventually("the child with the new value", async () => {
        const c = await cms.find("o-child");
        return (c?.data as Record<string, string>)?.value === "2" ? c : undefined;
      });
    },
  );
});

Deno.test("Recreate deletes a changed child and creates it anew", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(
    ns,
    { children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Recreate" }] },
    ({ parent }) => ({ children: [configMapFor(parent)] }),
    async (op) => {
      await parents.create({ metadata: { name: "r" }, spec: { value: "1" } });
      const first = await eventually("the child", () => cms.find("r-child"));
      await parents.patch("r", { spec: { value: "2" } });
      const second = await eventually("the recreated child", async () => {
        const c = await cms.find("r-child");
        return (c?.data as Record<string, string>)?.value === "2" ? c : undefined;
      });
      assert.notEqual(second.metadata?.uid, first.metadata?.uid, "a new object, not an update");
      assert.equal(op.metrics.writes("update"), 0);
      assert.ok(op.metrics.writes("delete") >= 1);
    },
  );
});

Deno.test("Apply keeps children with server-side apply and leaves other managers' fields", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(
    ns,
    { children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }] },
    ({ parent }) => ({ children: [configMapFor(parent)] }),
    async (op) => {
      await parents.create({ metadata: { name: "a" }, spec: { value: "1" } });
      await eventually("the child", () => cms.find("a-child"));
      // Another manager adds a field; the operator's next apply must keep it.
      await cms.apply(
        { metadata: { name: "a-child", namespace: ns }, data: { extra: "theirs" } },
        { fieldManager: "someone-else" },
      );
      await parents.patch("a", { spec: { value: "2" } });
      const child = await eventually("the applied child", async () => {
        const c = await cms.find("a-child");
        return (c?.data as Record<string, string>)?.value === "2" ? c : undefined;
      });
      assert.equal((child.data as Record<string, string>).extra, "theirs");
      const managers = (child.metadata?.managedFields ?? []).map((f) => f.manager);
      assert.ok(managers.includes("test-operator") && managers.includes("someone-else"));
      // The operator counts the write once the API server answered; the test may see the object
      // first.
      await eventually(
        "the apply to be counted",
        () => Promise.resolve(op.metrics.writes("apply") >= 1 ? true : undefined),
      );
      assert.equal(op.metrics.writes("update"), 0);
    },
  );
});

Deno.test("a status conflict is retried against a fresh read and the final status is right", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  let bumps = 0;
  await withOperator(ns, {}, async ({ parent }) => {
    // Another writer changes the parent while the sync runs: the status write must conflict.
    if (bumps < 5) {
      bumps++;
      await parents.patch(parent.metadata!.name!, {
        metadata: { labels: { bump: String(bumps) } },
      });
    }
    return { status: { value: parent.spec?.value }, children: [] };
  }, async () => {
    await parents.create({ metadata: { name: "c" }, spec: { value: "final" } });
    const status = await eventually("the status", async () => {
      const p = await parents.get("c");
      return (p.status as { value?: string })?.value === "final" ? p.status : undefined;
    });
    assert.equal((status as { observedGeneration: number }).observedGeneration, 1);
    assert.equal(bumps, 5);
  });
});

Deno.test("a namespace-confined operator ignores parents in other namespaces", async () => {
  const mine = await namespace();
  const other = await namespace();
  const seen = new Set<string>();
  await withOperator(mine, {}, ({ parent }) => {
    seen.add(parent.metadata!.namespace!);
    return { children: [configMapFor(parent)] };
  }, async () => {
    await new ResourceClient<ParentObject>(admin, Parent, other).create({
      metadata: { name: "x" },
      spec: {},
    });
    await new ResourceClient<ParentObject>(admin, Parent, mine).create({
      metadata: { name: "y" },
      spec: {},
    });
    await eventually(
      "the child in my namespace",
      () => new ResourceClient(admin, k8s.core.v1.ConfigMap, mine).find("y-child"),
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual([...seen], [mine]);
    assert.equal(
      await new ResourceClient(admin, k8s.core.v1.ConfigMap, other).find("x-child"),
      undefined,
    );
  });
});

Deno.test("an invalid child or an unconfigured child type fails only its own parent", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  await withOperator(ns, {}, ({ parent }) => {
    const name = parent.metadata!.name!;
    if (name === "invalid") {
      return {
        children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "Not_A_Valid_Name" } }],
      };
    }
    if (name === "unconfigured") {
      return { children: [{ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }] };
    }
    return { children: [configMapFor(parent)] };
  }, async (op) => {
    await parents.create({ metadata: { name: "invalid" }, spec: {} });
    await parents.create({ metadata: { name: "unconfigured" }, spec: {} });
    await parents.create({ metadata: { name: "fine" }, spec: {} });
    await eventually("the fine child", () => cms.find("fine-child"));
    await eventually("errors for both bad parents", () =>
      Promise.resolve(
        op.metrics.syncs(`${ns}/invalid`, "error") > 0 &&
          op.metrics.syncs(`${ns}/unconfigured`, "error") > 0
          ? true
          : undefined,
      ));
  });
});

Deno.test("the HTTP server serves /health, /ready and /metrics", async () => {
  const ns = await namespace();
  await withOperator(
    ns,
    { server: { port: 0, hostname: "127.0.0.1" } },
    ({ parent }) => ({ children: [configMapFor(parent)] }),
    async (op) => {
      assert.ok(op.port && op.port > 0);
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${op.port}${path}`);
        return { status: res.status, body: await res.text() };
      };
      assert.equal((await get("/health")).status, 200);
      assert.equal((await get("/ready")).status, 200);
      await new ResourceClient<ParentObject>(admin, Parent, ns).create({
        metadata: { name: "m" },
        spec: {},
      });
      await eventually(
        "the child",
        () => new ResourceClient(admin, k8s.core.v1.ConfigMap, ns).find("m-child"),
      );
      const metrics = await get("/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /roperator_syncs_total\{result="success"\} \d+/);
      assert.doesNotMatch(metrics.body, /parent=/);
      assert.match(
        metrics.body,
        /roperator_cached_objects\{type="test.roperator.dev\/v1\/TestParent"\} 1/,
      );
      assert.match(
        metrics.body,
        /roperator_api_request_duration_seconds_count\{method="GET",code="200"\}/,
      );
      assert.equal((await get("/nope")).status, 404);
    },
  );
});

Deno.test("a handler that hangs past syncTimeoutMs fails its own parent only, and sees its signal abort", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  let aborted = 0;
  await withOperator(ns, { syncTimeoutMs: 300 }, async ({ parent, signal }) => {
    if (parent.metadata!.name === "hang") {
      await new Promise<void>((resolve) =>
        signal.addEventListener("abort", () => {
          aborted++;
          resolve();
        }, { once: true })
      );
    }
    return { children: [configMapFor(parent)] };
  }, async (op) => {
    await parents.create({ metadata: { name: "hang" }, spec: {} });
    await parents.create({ metadata: { name: "quick" }, spec: {} });
    await eventually("the quick child", () => cms.find("quick-child"));
    await eventually(
      "a timed-out sync",
      () => Promise.resolve(op.metrics.syncs(`${ns}/hang`, "error") > 0 ? true : undefined),
    );
    assert.ok(aborted > 0, "the handler's signal was aborted");
    assert.equal(await cms.find("hang-child"), undefined, "nothing written for a timed-out sync");
  });
});

Deno.test("a cluster-scoped parent owns namespaced children", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, ClusterParent);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  const name = `cluster-${ns}`;
  const config = operatorConfig({
    name: "cluster-operator",
    parent: ClusterParent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    server: false,
  });
  const op = await startOperator(config, ({ parent }) => ({
    status: { ok: true },
    children: [{
      ...configMapFor(parent),
      metadata: { name: "from-cluster-parent", namespace: ns },
    }],
  }), {
    clientConfig: cp.clientConfig,
  });
  try {
    await op.ready;
    const parent = await parents.create({ metadata: { name }, spec: { value: "c" } });
    const child = await eventually("the namespaced child", () => cms.find("from-cluster-parent"));
    assert.equal(child.metadata?.ownerReferences?.[0]?.uid, parent.metadata?.uid);
    await parents.delete(name);
    // kube-controller-manager's garbage collector discovers a new CRD type only on its
    // periodic (30 s) discovery resync, so a parent type it has not seen yet takes that long.
    await eventually(
      "the child to be garbage-collected",
      async () => (await cms.find("from-cluster-parent")) === undefined,
      120_000,
    );
  } finally {
    await op.stop();
  }
});

Deno.test("an object of the same name that is not the parent's is never taken over, by any strategy", async () => {
  for (const updateStrategy of ["Replace", "Apply"] as const) {
    const ns = await namespace();
    const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
    const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
    // One made by another tool that also uses the tracking label key (Helm sets
    // app.kubernetes.io/instance to the release name), one with no label at all.
    await cms.create({
      metadata: { name: "taken-child", labels: { "app.kubernetes.io/instance": "my-release" } },
      data: { owner: "helm" },
    });
    await cms.create({ metadata: { name: "plain-child" }, data: { owner: "someone" } });
    await withOperator(
      ns,
      { children: [{ type: k8s.core.v1.ConfigMap, updateStrategy }] },
      ({ parent }) => ({ children: [configMapFor(parent)] }),
      async (op) => {
        await parents.create({ metadata: { name: "taken" }, spec: { value: "x" } });
        await parents.create({ metadata: { name: "plain" }, spec: { value: "x" } });
        await eventually(`errors for both parents (${updateStrategy})`, () =>
          Promise.resolve(
            op.metrics.syncs(`${ns}/taken`, "error") > 0 &&
              op.metrics.syncs(`${ns}/plain`, "error") > 0
              ? true
              : undefined,
          ));
        assert.deepEqual((await cms.get("taken-child")).data, { owner: "helm" });
        assert.deepEqual((await cms.get("plain-child")).data, { owner: "someone" });
        assert.match(
          recentLogs.join("\n"),
          /cannot write ConfigMap "[^"]+\/taken-child": it exists and is not this parent's: it has no controller owner reference, and its "app.kubernetes.io\/instance" label is "my-release"/,
        );
      },
    );
  }
});

Deno.test("a cluster-scoped child of a namespaced parent is deleted when the parent is finalized", async () => {
  const ns = await namespace();
  const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
  const namespaces = new ResourceClient(admin, k8s.core.v1.Namespace);
  const childName = `${ns}-owned`;
  await withOperator(
    ns,
    { children: [{ type: k8s.core.v1.Namespace, updateStrategy: "OnDelete" }] },
    () => ({ children: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: childName } }] }),
    async () => {
      await parents.create({ metadata: { name: "ns-owner" }, spec: {} });
      const child = await eventually("the Namespace child", () => namespaces.find(childName));
      assert.equal(child.metadata?.ownerReferences, undefined, "no owner reference is possible");
      await parents.delete("ns-owner");
      await eventually(
        "the parent to go",
        async () => (await parents.find("ns-owner")) === undefined,
      );
      await eventually("the Namespace to be deleted", async () => {
        const found = await namespaces.find(childName);
        return found === undefined || found.metadata?.deletionTimestamp !== undefined;
      });
    },
  );
});
