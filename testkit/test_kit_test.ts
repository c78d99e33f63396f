import assert from "node:assert/strict";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "./crds.ts";
import type { ControlPlane } from "./control_plane.ts";
import { testControlPlane } from "./shared_control_plane.ts";
import { ResourceAssertionError } from "./assertions.ts";
import { TEST_NAMESPACE_LABEL } from "./kit_lifecycle.ts";
import { ReconcileFailedError, ReconcileTimeoutError } from "./sync_tracker.ts";
import { TestKit } from "./test_kit.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { controllerOf } from "../runner/run_operator.ts";

const KitParent = resourceType({
  apiVersion: "kit.roperator.dev/v1",
  kind: "KitParent",
  plural: "kitparents",
  namespaced: true,
});

const CRD: KubernetesObject = testCustomResourceDefinition(KitParent);

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [CRD]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

type KitParentObject = KubernetesObject & { spec?: { value?: string; fail?: boolean } };

const CONFIG: OperatorConfigInit = {
  name: "kit-test",
  parent: KitParent,
  children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
};

function configMapFor(parent: KitParentObject): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${parent.metadata!.name}-child` },
    data: { value: parent.spec?.value ?? "" },
  };
}

function goodHandler({ parent }: SyncRequest<KitParentObject>): SyncResponse {
  return { status: { value: parent.spec?.value }, children: [configMapFor(parent)] };
}

function parent(name: string, spec: KitParentObject["spec"] = {}): KitParentObject {
  return { apiVersion: KitParent.apiVersion, kind: KitParent.kind, metadata: { name }, spec };
}

Deno.test("a parent's child appears, matches, and goes with its parent", async () => {
  await using kit = await TestKit.create(CONFIG, goodHandler, { controlPlane: cp });
  assert.equal(kit.config.namespace, kit.namespace, "confined to the kit's namespace");
  assert.equal(kit.config.server, undefined, "no HTTP server");
  assert.match(kit.namespace, /^kit-test-[a-z0-9]{6}$/);
  const ns = await kit.getResource(k8s.core.v1.Namespace, kit.namespace);
  assert.equal(ns?.metadata?.labels?.[TEST_NAMESPACE_LABEL], "true");

  const created = await kit.createParent(parent("p1", { value: "one" }));
  assert.equal(created.metadata?.namespace, kit.namespace);
  const child = await kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "p1-child");
  assert.equal(child.data?.value, "one");
  assert.equal(child.metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid);
  await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "p1-child", {
    data: { value: "one" },
  });
  await kit.assertResourceEqEventually(KitParent, "p1", { status: { value: "one" } });

  await assert.rejects(
    kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "p1-child", {
      data: { value: "two" },
      metadata: { labels: { "app.kubernetes.io/managed-by": "kit-test" } },
    }, { timeoutMs: 300 }),
    (error: unknown) => {
      assert.ok(error instanceof ResourceAssertionError);
      assert.deepEqual(error.paths, ["data.value"]);
      assert.match(
        error.message,
        new RegExp(
          `^Cannot assert that v1 ConfigMap "${kit.namespace}/p1-child" matches: after 300 ms ` +
            `these paths still differ:\n  data\\.value: expected "two", actual "one"$`,
        ),
      );
      assert.deepEqual(error.resource, {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: kit.namespace,
        name: "p1-child",
      });
      return true;
    },
  );
  await assert.rejects(
    kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "nope", { timeoutMs: 200 }),
    new RegExp(`Cannot find v1 ConfigMap "${kit.namespace}/nope": it does not exist after 200 ms`),
  );
  await assert.rejects(
    kit.assertResourceDeletedEventually(k8s.core.v1.ConfigMap, "p1-child", { timeoutMs: 200 }),
    /is deleted: it still exists after 200 ms/,
  );

  // A child deleted by hand is created anew, with another uid.
  await new ResourceClient(admin, k8s.core.v1.ConfigMap, kit.namespace).delete("p1-child");
  const recreated = await kit.assertResourceRecreatedEventually(
    k8s.core.v1.ConfigMap,
    "p1-child",
    child,
  );
  assert.notEqual(recreated.metadata?.uid, child.metadata?.uid);
  await assert.rejects(
    kit.assertResourceRecreatedEventually(k8s.core.v1.ConfigMap, "p1-child", recreated, {
      timeoutMs: 200,
    }),
    new RegExp(
      `Cannot assert that v1 ConfigMap "${kit.namespace}/p1-child" was created anew: after ` +
        `200 ms it still has the uid ${recreated.metadata!.uid}$`,
    ),
  );

  const state = kit.getParentState("p1");
  assert.equal(state.parent.metadata?.uid, created.metadata?.uid);
  assert.deepEqual(state.children.all().map((c) => c.metadata?.name), ["p1-child"]);
  assert.deepEqual(goodHandler(state as SyncRequest<KitParentObject>).children.length, 1);
  assert.throws(() => kit.getParentState("absent"), /not in the operator's cache/);

  await kit.reconcileAndAssertSuccess();
  assert.equal(kit.syncErrorCount("p1"), 0);

  await kit.deleteParent("p1");
  assert.equal(await kit.getResource(KitParent, "p1"), undefined);
  // The garbage collector deletes the child. It rescans API discovery every 30 s, so on a
  // control plane shared by the test run (started before the CRD was installed) it can take
  // 30-60 s before it knows the parent type; on a fresh one it is quick.
  await kit.assertResourceDeletedEventually(k8s.core.v1.ConfigMap, "p1-child", {
    timeoutMs: 120_000,
  });
  assert.equal(kit.finalizeErrorCount("p1"), 0);
});

Deno.test("reconcileAndAssertSuccess names a failing parent, and errors are counted", async () => {
  await using kit = await TestKit.create(CONFIG, ({ parent }: SyncRequest<KitParentObject>) => {
    if (parent.spec?.fail) throw new Error(`boom for ${parent.metadata!.name}`);
    return goodHandler({ parent } as SyncRequest<KitParentObject>);
  }, { controlPlane: cp });
  await kit.createParent(parent("good", { value: "g" }));
  await kit.createParent(parent("bad", { fail: true }));
  await kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "good-child");

  await assert.rejects(kit.reconcileAndAssertSuccess(), (error: unknown) => {
    assert.ok(error instanceof ReconcileFailedError);
    assert.deepEqual(error.failures.map((f) => f.parent), [`${kit.namespace}/bad`]);
    assert.ok(error.failures[0]!.syncErrors >= 1);
    assert.equal(error.failures[0]!.finalizeErrors, 0);
    assert.match(error.message, new RegExp(`"${kit.namespace}/bad" \\(\\d+ sync errors?; last: `));
    assert.match(error.message, /the sync handler failed: boom for bad/);
    return true;
  });
  // A wait that times out says the operator's last failed sync.
  await assert.rejects(
    kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "bad-child", { timeoutMs: 200 }),
    new RegExp(
      `does not exist after 200 ms\nThe operator's last failed sync was of ` +
        `"${kit.namespace}/bad": .*boom for bad`,
    ),
  );
  assert.ok(kit.syncErrorCount("bad") >= 1);
  assert.equal(kit.syncErrorCount("bad", "some-other-namespace"), 0);
  assert.equal(kit.syncErrorCount("good"), 0);
  assert.equal(kit.finalizeErrorCount("bad"), 0);
  assert.equal(await kit.getResource(k8s.core.v1.ConfigMap, "bad-child"), undefined);

  // Fixed, the parent converges; failures are reported once per call, so after one more call
  // (which may still see retries from before the fix) the next one passes.
  await kit.resources(KitParent).patch("bad", { spec: { fail: false, value: "fixed" } });
  await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "bad-child", {
    data: { value: "fixed" },
  });
  await kit.reconcileAndAssertSuccess().catch((error) => {
    if (!(error instanceof ReconcileFailedError)) throw error;
  });
  const errors = kit.syncErrorCount("bad");
  await kit.reconcileAndAssertSuccess();
  assert.equal(kit.syncErrorCount("bad"), errors, "counts are cumulative and stopped growing");
});

Deno.test("finalize errors are counted apart, and deleteParent waits for the finalizer", async () => {
  let finalizeCalls = 0;
  let finish = false;
  await using kit = await TestKit.create(CONFIG, {
    sync: goodHandler,
    finalize: ({ parent }: SyncRequest<KitParentObject>) => {
      finalizeCalls++;
      if (parent.metadata!.name === "slow") return finish ? {} : { retryAfterMs: 50 };
      if (finalizeCalls <= 2) throw new Error(`finalize failure ${finalizeCalls}`);
      return {};
    },
  }, { controlPlane: cp });
  await kit.createParent(parent("f", { value: "x" }));
  await kit.assertResourceEqEventually(KitParent, "f", {
    metadata: { finalizers: ["roperator.dev/kit-test"] },
  });
  await kit.deleteParent("f");
  assert.equal(kit.finalizeErrorCount("f"), 2);
  assert.equal(kit.syncErrorCount("f"), 0);
  await assert.rejects(
    kit.reconcileAndAssertSuccess(),
    new RegExp(`"${kit.namespace}/f" \\(2 finalize errors; last: .*finalize failure 2`),
  );

  await kit.createParent(parent("slow", { value: "y" }));
  await kit.assertResourceEqEventually(KitParent, "slow", {
    metadata: { finalizers: ["roperator.dev/kit-test"] },
  });
  await assert.rejects(
    kit.deleteParent("slow", { timeoutMs: 400 }),
    (error: unknown) => {
      assert.ok(error instanceof ResourceAssertionError);
      assert.match(
        error.message,
        new RegExp(
          `^Cannot delete parent kit.roperator.dev/v1 KitParent "${kit.namespace}/slow": it ` +
            `still exists after 400 ms \\(finalizers: roperator.dev/kit-test\\)$`,
        ),
      );
      return true;
    },
  );
  finish = true;
  await kit.deleteParent("slow");
  await kit.reconcileAndAssertSuccess();
});

Deno.test("reconcile times out naming a parent that keeps syncing", async () => {
  await using kit = await TestKit.create(CONFIG, ({ parent }: SyncRequest<KitParentObject>) => ({
    children: [configMapFor(parent)],
    ...(parent.metadata!.name === "hot" ? { resyncAfterMs: 10 } : {}),
  }), { controlPlane: cp });
  await kit.createParent(parent("calm"));
  await kit.createParent(parent("hot"));
  await assert.rejects(kit.reconcile(600), (error: unknown) => {
    assert.ok(error instanceof ReconcileTimeoutError);
    assert.deepEqual(error.busy.map((b) => b.parent), [`${kit.namespace}/hot`]);
    assert.ok(error.busy[0]!.syncsStarted > 5);
    assert.match(
      error.message,
      new RegExp(
        `^Cannot reconcile: the operator was still busy after 600 ms; parents still busy: ` +
          `"${kit.namespace}/hot" \\(`,
      ),
    );
    return true;
  });
});

Deno.test("dispose removes the namespace, the parents and the finalizers, and stops everything", async () => {
  const kit = await TestKit.create(CONFIG, goodHandler, {
    controlPlane: cp,
    namespacePrefix: "Kit_Dispose",
  });
  const namespace = kit.namespace;
  assert.match(namespace, /^kit-dispose-[a-z0-9]{6}$/);
  const tracked = await kit.createParent(parent("tracked", { value: "t" }));
  // Created raw: not deleted by the kit, but released from the operator's finalizer.
  await kit.createResource(KitParent, parent("untracked", { value: "u" }));
  await kit.assertResourceEqEventually(KitParent, "untracked", {
    metadata: { finalizers: ["roperator.dev/kit-test"] },
  });
  await kit.assertResourceExistsEventually(k8s.core.v1.ConfigMap, "tracked-child");

  await kit.dispose();
  await kit.dispose(); // twice is fine
  assert.ok(controllerOf(kit.operator).queue.isShuttingDown);
  await assert.rejects(kit.reconcile(), /Cannot reconcile: the test kit is disposed/);

  const ns = await new ResourceClient(admin, k8s.core.v1.Namespace).find(namespace);
  assert.ok(
    ns === undefined || (ns.status as { phase?: string })?.phase === "Terminating",
    `namespace ${namespace} is gone or terminating`,
  );
  const parents = new ResourceClient<KitParentObject>(admin, KitParent, namespace);
  const left = await parents.find("tracked");
  assert.ok(left === undefined || left.metadata?.uid !== tracked.metadata?.uid);
  const untracked = await parents.find("untracked");
  assert.ok(
    !(untracked?.metadata?.finalizers ?? []).includes("roperator.dev/kit-test"),
    "the stopped operator's finalizer is removed",
  );
});

Deno.test("a kit can be built from a resolved config and a cluster-scoped parent is not confined", async () => {
  const selector = `kit-test-${Math.random().toString(36).slice(2, 8)}`;
  const config = operatorConfig({
    name: "kit-cluster",
    parent: k8s.core.v1.Namespace,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    finalizer: false,
    parentLabelSelector: `kit.roperator.dev/selector=${selector}`,
    namespace: "ignored",
  });
  await using kit = await TestKit.create(config, ({ parent }) => ({
    children: [{
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "info", namespace: parent.metadata!.name! },
      data: { phase: "seen" },
    }],
  }), { controlPlane: cp });
  assert.equal(kit.config.namespace, undefined, "not confined");
  assert.equal(kit.config.finalizer, undefined, "still no finalizer");
  assert.equal(kit.config.parentLabelSelector, `kit.roperator.dev/selector=${selector}`);

  const name = `${selector}-parent`;
  await kit.createParent({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "kit.roperator.dev/selector": selector } },
  });
  await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "info", { data: { phase: "seen" } }, {
    namespace: name,
  });
  await kit.reconcileAndAssertSuccess();
  assert.equal(kit.getParentState(name).children.size, 1);
  assert.equal(kit.syncErrorCount(name), 0);
  await kit.deleteParent(name, { timeoutMs: 60_000 });
});

Deno.test("without a control plane the kit brings its own (or the shared one) and installs CRDs", async () => {
  const kit = await TestKit.create(CONFIG, goodHandler, { crds: [CRD] });
  const controlPlane = kit.controlPlane;
  assert.ok(controlPlane);
  await kit.createParent(parent("own", { value: "o" }));
  await kit.assertResourceEqEventually(k8s.core.v1.ConfigMap, "own-child", {
    data: { value: "o" },
  });
  await kit.reconcileAndAssertSuccess();
  await kit.dispose();
  // A control plane the kit started is stopped (an attached shared one has no processes here).
  for (const pid of Object.values(controlPlane.pids)) {
    let alive = true;
    try {
      await Deno.stat(`/proc/${pid}`);
    } catch {
      alive = false;
    }
    assert.equal(alive, false, `process ${pid} has ended`);
  }
});

Deno.test("create rejects conflicting options and a parent type the cluster does not serve", async () => {
  await assert.rejects(
    TestKit.create(CONFIG, goodHandler, {
      controlPlane: cp,
      clientConfig: { server: cp.server },
    }),
    /Cannot create test kit: give options.controlPlane or options.clientConfig, not both/,
  );
  const Missing = resourceType({
    apiVersion: "kit.roperator.dev/v1",
    kind: "NotInstalled",
    plural: "notinstalleds",
    namespaced: true,
  });
  const namespaces = new ResourceClient(admin, k8s.core.v1.Namespace);
  const before = (await namespaces.list({ labelSelector: `${TEST_NAMESPACE_LABEL}=true` })).items
    .filter((n) => n.metadata?.name?.startsWith("kit-missing-") && !n.metadata.deletionTimestamp);
  await assert.rejects(
    TestKit.create({ ...CONFIG, name: "kit-missing", parent: Missing }, goodHandler, {
      controlPlane: cp,
    }),
    /Cannot start operator "kit-missing"/,
  );
  const after = (await namespaces.list({ labelSelector: `${TEST_NAMESPACE_LABEL}=true` })).items
    .filter((n) => n.metadata?.name?.startsWith("kit-missing-") && !n.metadata.deletionTimestamp);
  assert.equal(after.length, before.length, "the namespace made for the failed kit is deleted");
});
