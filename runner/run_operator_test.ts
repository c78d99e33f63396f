// The start of an operator group on a scripted client (an in-memory API server whose answers the
// test holds back) and a fake clock: the informers list while the served-type checks wait for
// discovery, but nothing syncs, writes or is ready before the checks pass; a failed check rejects
// with its own error and leaves nothing running: no timer (the fake clock counts them; Deno's
// sanitizers do not), no request or watch, no listener, and the client closed. And `ready` of an
// operator stopped before its first list rejects; a first list refused while the checks wait
// rejects `ready`, but syncs begin once the list succeeds; with webhooks, the informers start only
// after them.
import assert from "node:assert/strict";
import { ApiError } from "../client/errors.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import type { Handler } from "../handler/handler.ts";
import { FakeTime } from "../tests/fake_time.ts";
import { ScriptedClient, type ScriptedRequest } from "../tests/scripted_client.ts";
import { allow, validatingWebhook } from "../webhook/admission.ts";
import { InformerSyncError } from "./informer_errors.ts";
import {
  OperatorFatalError,
  type OperatorGroupHandle,
  startOperatorsWith,
} from "./run_operator.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "Thing",
  plural: "things",
  namespaced: true,
});
const NS = "ns";
const PARENTS = `/apis/test.roperator.dev/v1/namespaces/${NS}/things`;
const CONFIGMAPS = `/api/v1/namespaces/${NS}/configmaps`;
const DISCOVERY = new Set(["/apis/test.roperator.dev/v1", "/api/v1"]);
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Waits until `condition` holds, letting promises, in-memory streams and real I/O settle in
 * between (time stands still); fails after about 200 rounds of 30 event-loop turns.
 */
async function until(time: FakeTime, what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await time.flush();
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Asserts that nothing of the group runs any more. */
function assertNothingLeft(time: FakeTime, client: ScriptedClient, port: number): void {
  assert.ok(client.closed, "the client is closed");
  assert.equal(client.inFlight, 0, "no request in flight");
  assert.equal(client.store.watching, 0, "no watch open");
  assert.equal(time.pending, 0, "no timer pending");
  // The port is free again: the HTTP server was shut down.
  Deno.listen({ hostname: "127.0.0.1", port }).close();
}

/** Stops the group `starting` gives, if it started, with time moving so that the stop ends. */
async function stopGroup(time: FakeTime, starting: Promise<OperatorGroupHandle>): Promise<void> {
  const group = await starting.catch(() => undefined);
  const stopped = group?.stop();
  await time.tick(0);
  await stopped;
}

/** A port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A scripted API server serving the parent type and ConfigMaps, with one parent, whose discovery
 * answers wait until `release()`; it records every write and handler call with whether
 * discovery had been released by then.
 */
function scripted(refuse: (request: ScriptedRequest) => ApiError | undefined = () => undefined) {
  const client = new ScriptedClient();
  client.store.serve(Parent, k8s.core.v1.ConfigMap);
  client.store.put(PARENTS, {
    apiVersion: Parent.apiVersion,
    kind: Parent.kind,
    metadata: { name: "p" },
  });
  const discovery = Promise.withResolvers<void>();
  let released = false;
  const writes: { request: ScriptedRequest; released: boolean }[] = [];
  const refused: ScriptedRequest[] = [];
  client.hook = (request) => {
    if (WRITES.has(request.method)) writes.push({ request, released });
    const error = refuse(request);
    if (error !== undefined) {
      refused.push(request);
      throw error;
    }
    return request.method === "GET" && DISCOVERY.has(request.path) ? discovery.promise : undefined;
  };
  const calls: { parent: string; released: boolean }[] = [];
  const handler: Handler<KubernetesObject> = ({ parent }) => {
    calls.push({ parent: parent.metadata!.name!, released });
    return {
      status: { seen: true },
      children: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p-child" }, data: {} }],
    };
  };
  return {
    client,
    handler,
    writes,
    calls,
    refused,
    /** Lets the discovery requests (held and later ones) be answered. */
    release() {
      released = true;
      discovery.resolve();
    },
    /** The requests of a method on a path. */
    sent(method: string, path: string): ScriptedRequest[] {
      return client.requests.filter((r) => r.method === method && r.path === path);
    },
  };
}

function config(port: number, init: Partial<OperatorConfigInit> = {}) {
  return operatorConfig({
    name: "op",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: NS,
    server: { port, hostname: "127.0.0.1", health: true, metrics: false },
    finalizer: false,
    resyncPeriodMs: 0,
    ...init,
  });
}

for (
  const [what, init] of [
    ["", {}],
    [" (with leader election)", { leaderElection: { namespace: NS } }],
  ] as const
) {
  Deno.test(`the first lists go out before discovery answers; nothing syncs, writes or is ready until the checks pass${what}`, async () => {
    using time = new FakeTime();
    const api = scripted();
    const port = freePort();
    let group: OperatorGroupHandle | undefined;
    const starting = startOperatorsWith(api.client, [{
      config: config(port, init),
      handler: api.handler,
    }]).then((g) => group = g);
    try {
      // Both lists are sent and answered (each informer then watches) while discovery waits.
      await until(
        time,
        "the lists answered and the watches opened",
        () => api.sent("WATCH", PARENTS).length === 1 && api.sent("WATCH", CONFIGMAPS).length === 1,
      );
      assert.equal(api.sent("GET", PARENTS).length, 1, "the parents were listed once");
      assert.equal(api.sent("GET", CONFIGMAPS).length, 1, "the children were listed once");
      // Time passes, and a round trip through the HTTP server: whatever the synced caches would
      // set off has had its turn.
      await time.tick(60_000);
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      const body = await response.text();
      assert.equal(response.status, 503, body);
      assert.match(body, /op: start-up checks not passed yet/);
      assert.equal(group, undefined, "startOperators waits for the checks");
      assert.deepEqual(api.calls, [], "no handler call before the checks pass");
      assert.deepEqual(api.writes.map((w) => `${w.request.method} ${w.request.path}`), []);
      assert.ok(
        !api.client.requests.some((r) => r.path.includes("/leases")),
        "no Lease request (presence, leader election) before the checks pass",
      );
      api.release();
      await starting;
      await group!.ready;
      await until(
        time,
        "the child written",
        () => api.client.store.get(CONFIGMAPS, "p-child") !== undefined,
      );
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200, await ready.text());
      // The sync that wrote the child, then the one that sees it: both after the checks.
      assert.deepEqual(api.calls, [{ parent: "p", released: true }, {
        parent: "p",
        released: true,
      }]);
      assert.ok(api.writes.length > 0);
      assert.deepEqual(api.writes.filter((w) => !w.released), [], "every write after the checks");
    } finally {
      api.release();
      await stopGroup(time, starting);
    }
    assertNothingLeft(time, api.client, port);
  });
}

Deno.test("a failed check rejects with its own error, not the refused list's, and leaves nothing running", async () => {
  using time = new FakeTime();
  // The parent declared with a wrong plural: discovery says "things", the list of "thingz" is
  // refused with 404 (its informer backs off and would retry).
  const api = scripted((request) =>
    request.path.endsWith("/thingz")
      ? new ApiError({ method: request.method, path: request.path }, 404, {
        kind: "Status",
        status: "Failure",
        reason: "NotFound",
        message: "the server could not find the requested resource",
        code: 404,
      })
      : undefined
  );
  const port = freePort();
  const wrong = { ...Parent, plural: "thingz" };
  const starting = startOperatorsWith(api.client, [{
    config: config(port, { parent: wrong }),
    handler: api.handler,
  }]);
  let failed: unknown;
  starting.catch((error) => failed = error);
  try {
    await until(
      time,
      "the refused list, and the children's watch",
      () => api.refused.length > 0 && api.sent("WATCH", CONFIGMAPS).length === 1,
    );
    assert.ok(time.pending > 0, "the parents' informer waits to retry, the watch to go idle");
    assert.equal(failed, undefined, "the start waits for the checks");
    api.release();
    await assert.rejects(starting, (error: unknown) => {
      assert.ok(error instanceof OperatorFatalError, String(error));
      assert.equal(
        error.message,
        'Cannot start operator "op": test.roperator.dev/v1 Thing is served as "things" ' +
          '(namespaced), but was declared as "thingz" (namespaced)',
      );
      return true;
    });
  } finally {
    api.release();
    await starting.then((group) => group.stop(), () => {});
  }
  assert.deepEqual(api.calls, []);
  assert.deepEqual(api.writes.map((w) => `${w.request.method} ${w.request.path}`), []);
  assertNothingLeft(time, api.client, port);
});

Deno.test("an operator stopped before its first list: ready rejects", async () => {
  using time = new FakeTime();
  // The lists never answer (until their signal aborts); discovery answers at once.
  const api = scripted();
  api.release();
  api.client.hook = (request) =>
    request.method === "GET" && (request.path === PARENTS || request.path === CONFIGMAPS)
      ? new Promise<void>(() => {})
      : undefined;
  const port = freePort();
  const group = await startOperatorsWith(api.client, [{
    config: config(port),
    handler: api.handler,
  }]);
  const settled = group.ready.then(() => "resolved", (error: unknown) => error);
  await group.stop();
  const error = await settled;
  assert.ok(error instanceof InformerSyncError, String(error));
  assert.match(error.message, /stopped before its first list/);
  assertNothingLeft(time, api.client, port);
});

Deno.test("a first list refused while the checks wait (RBAC or a CRD a moment late): ready rejects, and syncs begin once the retried list succeeds", async () => {
  using time = new FakeTime();
  let refusals = 0;
  // The parents' first list is refused once, as by RBAC applied with the operator.
  const api = scripted((request) => {
    if (request.method !== "GET" || request.path !== PARENTS || refusals > 0) return undefined;
    refusals++;
    return new ApiError({ method: "GET", path: PARENTS }, 403, {
      reason: "Forbidden",
      message: `things.test.roperator.dev is forbidden`,
    });
  });
  const port = freePort();
  const starting = startOperatorsWith(api.client, [{ config: config(port), handler: api.handler }]);
  let group: OperatorGroupHandle | undefined;
  try {
    await until(time, "the refused list", () => refusals === 1);
    api.release(); // the checks pass while the informer backs off
    group = await starting;
    const error = await group.ready.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof InformerSyncError, String(error));
    assert.equal(error.status, 403);
    assert.deepEqual(api.calls, [], "nothing syncs before every cache has synced");
    // The informer retries after its backoff; the list succeeds and syncs begin.
    for (let i = 0; i < 12 && api.calls.length === 0; i++) {
      await time.tick(5_000);
      await time.flush();
    }
    await until(time, "the handler called", () => api.calls.length > 0);
    // The sync that wrote the child, then the one that sees it: both after the checks.
    assert.deepEqual(api.calls, [{ parent: "p", released: true }, { parent: "p", released: true }]);
    await until(
      time,
      "the child written",
      () => api.client.store.get(CONFIGMAPS, "p-child") !== undefined,
    );
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(ready.status, 200, await ready.text());
  } finally {
    api.release();
    await stopGroup(time, starting);
  }
  assertNothingLeft(time, api.client, port);
});

Deno.test("with webhooks, the informers start only after them: a conversion webhook's CRD stanza comes before a list", async () => {
  using time = new FakeTime();
  const api = scripted();
  api.client.store.serve(
    k8s.core.v1.Secret,
    k8s.admissionregistration.v1.ValidatingWebhookConfiguration,
  );
  api.release(); // the checks pass at once
  // The webhooks' certificate Secret is held back: the webhooks are still starting.
  const secrets = Promise.withResolvers<void>();
  let secretAsked = false;
  const scriptedHook = api.client.hook!;
  api.client.hook = (request) => {
    if (request.path.includes("/secrets")) {
      secretAsked = true;
      return secrets.promise;
    }
    return scriptedHook(request);
  };
  const port = freePort();
  const webhookPort = freePort();
  const starting = startOperatorsWith(api.client, [{
    config: config(port, {
      webhooks: {
        hooks: [validatingWebhook({ type: Parent, handler: () => allow() })],
        port: webhookPort,
        hostname: "127.0.0.1",
        url: `https://127.0.0.1:${webhookPort}`,
        certificates: { ipAddresses: ["127.0.0.1"] },
      },
    }),
    handler: api.handler,
  }]);
  let group: OperatorGroupHandle | undefined;
  try {
    await until(time, "the webhooks' Secret asked for", () => secretAsked);
    await time.tick(1_000);
    assert.deepEqual(api.sent("GET", PARENTS), [], "no list while the webhooks start");
    assert.deepEqual(api.sent("GET", CONFIGMAPS), []);
    secrets.resolve();
    group = await starting;
    await group.ready;
    assert.equal(api.sent("GET", PARENTS).length, 1, "the parents listed once the webhooks run");
  } finally {
    secrets.resolve();
    await stopGroup(time, starting);
  }
});
