// Kubernetes Events on parents (events.k8s.io/v1): a failing parent gets one Warning Event whose
// series count grows; rejected child writes and finalizer outcomes are reported; repeats are
// rate-limited per object; and an Event that cannot be written never fails a sync.
import { createNamespace, eventually } from "./helpers.ts";
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { deployServiceAccount } from "../testkit/service_account.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { rbacFor } from "../deploy/rbac.ts";
import type { Handler } from "../handler/handler.ts";
import type { ClientConfig } from "../client/client_config.ts";
import { EventRecorder } from "../runner/events.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "EventParent",
  plural: "eventparents",
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
  return createNamespace(admin, "ev");
}

type Event = KubernetesObject & {
  type?: string;
  reason?: string;
  action?: string;
  note?: string;
  reportingController?: string;
  reportingInstance?: string;
  regarding?: { kind?: string; name?: string; uid?: string };
  series?: { count: number; lastObservedTime: string };
};

async function eventsAbout(ns: string, name: string, reason?: string): Promise<Event[]> {
  const { items } = await new ResourceClient<Event>(admin, k8s.events.v1.Event, ns).list();
  return items.filter((e) =>
    e.regarding?.name === name && (reason === undefined || e.reason === reason)
  );
}

async function withOperator(
  ns: string,
  init: Partial<OperatorConfigInit>,
  handler: Handler,
  body: (op: OperatorHandle) => Promise<void>,
  clientConfig: ClientConfig = cp.clientConfig,
): Promise<void> {
  const config = operatorConfig({
    name: "event-test",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
    ...init,
  });
  const op = await startOperator(config, handler, { clientConfig });
  try {
    await op.ready;
    await body(op);
  } finally {
    await op.stop();
  }
}

Deno.test("a failing parent gets one Warning Event whose series count grows", async () => {
  const ns = await namespace();
  const parents = new ResourceClient(admin, Parent, ns);
  await withOperator(ns, {}, () => {
    throw new Error("the database is unreachable");
  }, async (op) => {
    const parent = await parents.create({ metadata: { name: "broken" } });
    const event = await eventually("a series of at least 3", async () => {
      const events = await eventsAbout(ns, "broken", "SyncFailed");
      return (events[0]?.series?.count ?? 0) >= 3 ? events : undefined;
    });
    assert.equal(event.length, 1, "one Event object for the whole series");
    const [e] = event;
    assert.equal(e!.type, "Warning");
    assert.equal(e!.action, "Sync");
    assert.equal(e!.reportingController, "event-test");
    assert.ok(e!.reportingInstance, "reportingInstance is set");
    assert.equal(e!.regarding?.kind, "EventParent");
    assert.equal(e!.regarding?.uid, parent.metadata?.uid);
    assert.match(e!.note ?? "", /the sync handler failed: the database is unreachable/);
    assert.ok(op.metrics.syncs(`${ns}/broken`, "error") >= 3);
  });
});

Deno.test("a rejected child write is a ChildWriteRejected Warning; finalizing reports Finalized", async () => {
  const ns = await namespace();
  const parents = new ResourceClient(admin, Parent, ns);
  const cms = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  // A ConfigMap of that name exists and is not the operator's: the create is refused.
  await cms.create({ metadata: { name: "taken" }, data: {} });
  let finalizeFails = true;
  await withOperator(ns, {}, {
    sync: ({ parent }) => ({
      children: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: parent.metadata?.name === "clash" ? "taken" : "fine" },
        data: {},
      }],
    }),
    finalize: () => {
      if (finalizeFails) throw new Error("cannot deprovision yet");
      return {};
    },
  }, async () => {
    await parents.create({ metadata: { name: "clash" } });
    const [rejected] = await eventually(
      "ChildWriteRejected",
      async () => {
        const events = await eventsAbout(ns, "clash", "ChildWriteRejected");
        return events.length ? events : undefined;
      },
    );
    assert.equal(rejected!.type, "Warning");
    assert.match(
      rejected!.note ?? "",
      /cannot write ConfigMap ".+\/taken": it exists and was not created by this operator/,
    );

    await parents.create({ metadata: { name: "ok" } });
    await eventually("the child", () => cms.find("fine"));
    await parents.delete("ok");
    const [failed] = await eventually("FinalizeFailed", async () => {
      const events = await eventsAbout(ns, "ok", "FinalizeFailed");
      return events.length ? events : undefined;
    });
    assert.equal(failed!.type, "Warning");
    assert.equal(failed!.action, "Finalize");
    assert.match(failed!.note ?? "", /cannot deprovision yet/);
    finalizeFails = false;
    await parents.patch("ok", { metadata: { annotations: { retry: "now" } } });
    const [finalized] = await eventually("Finalized", async () => {
      const events = await eventsAbout(ns, "ok", "Finalized");
      return events.length ? events : undefined;
    });
    assert.equal(finalized!.type, "Normal");
    await eventually("the parent to go", async () => (await parents.find("ok")) === undefined);
  });
});

Deno.test("EventRecorder: repeats are rate-limited per object and folded into the series", async () => {
  const ns = await namespace();
  const regarding = await new ResourceClient(admin, k8s.core.v1.ConfigMap, ns).create({
    metadata: { name: "hot" },
  });
  const recorder = new EventRecorder(admin, {
    reportingController: "event-test",
    reportingInstance: "unit",
    burst: 2,
    refillMs: 1500,
  });
  try {
    // Twenty occurrences, each after the previous one was handled: without a limit, each would
    // be a write. Two tokens allow the create and one series patch; the rest wait for a token.
    for (let i = 0; i < 20; i++) {
      recorder.record({ regarding, type: "Warning", reason: "HotLoop", action: "Sync", note: "x" });
      await new Promise((r) => setTimeout(r, 40));
    }
    assert.ok(recorder.written <= 3, `${recorder.written} writes for 20 occurrences`);
    const [during] = await eventsAbout(ns, "hot", "HotLoop");
    assert.ok((during?.series?.count ?? 1) < 20, "not every occurrence is written at once");
    // When a token is back, one patch carries every occurrence counted meanwhile.
    const events = await eventually("the whole count", async () => {
      const found = await eventsAbout(ns, "hot", "HotLoop");
      return found[0]?.series?.count === 20 ? found : undefined;
    }, 10_000);
    assert.equal(events.length, 1, "one Event object");
    assert.ok(recorder.written <= 4, `${recorder.written} writes in all`);
  } finally {
    await recorder.close();
  }
});

Deno.test("an Event that cannot be written never fails a sync", async () => {
  const ns = await namespace();
  const config = operatorConfig({
    name: "event-test",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
  });
  // The generated RBAC without the Event permission: every Event write is refused (403).
  const { token } = await deployServiceAccount(
    cp,
    rbacFor(config, { namespace: ns, events: false }),
  );
  const parents = new ResourceClient(admin, Parent, ns);
  let calls = 0;
  await withOperator(ns, {}, () => {
    calls++;
    // Fails once (an Event is attempted and refused), then succeeds.
    if (calls === 1) throw new Error("first attempt fails");
    return { status: { done: true }, children: [] };
  }, async (op) => {
    await parents.create({ metadata: { name: "quiet" } });
    await eventually("the status", async () => {
      const p = await parents.get("quiet");
      return (p.status as { done?: boolean } | undefined)?.done === true;
    });
    assert.equal(op.metrics.syncs(`${ns}/quiet`, "error"), 1);
    assert.ok(op.metrics.syncs(`${ns}/quiet`, "success") >= 1);
    assert.deepEqual(await eventsAbout(ns, "quiet"), [], "the Event was refused, and dropped");
  }, {
    server: cp.server,
    caCertificates: [cp.caCertificate],
    credentials: { kind: "token", token },
  });
});
