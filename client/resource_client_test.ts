// Every ResourceClient method passes its signal to the request: an aborted signal stops the
// request, and nothing is sent again after the abort. A local server counts the requests.
import assert from "node:assert/strict";
import { KubeClient } from "./kube_client.ts";
import { ApiError, WatchDecodeError, WatchUnexpectedObjectError } from "./errors.ts";
import { ResourceClient } from "./resource_client.ts";
import { type KubernetesObject, resourceType } from "./resource_type.ts";
import { fakeServer, statusResponse } from "./testdata/fake_server.ts";

const ConfigMap = resourceType<KubernetesObject>({
  apiVersion: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
});

type Call = (cms: ResourceClient<KubernetesObject>, signal: AbortSignal) => Promise<unknown>;

const object = { metadata: { name: "a", namespace: "ns" } };
const CALLS: Record<string, Call> = {
  get: (cms, signal) => cms.get("a", { signal }),
  find: (cms, signal) => cms.find("a", { signal }),
  list: (cms, signal) => cms.list({ signal }),
  listAll: (cms, signal) => cms.listAll({ signal }),
  create: (cms, signal) => cms.create(object, { signal }),
  replace: (cms, signal) => cms.replace(object, { signal }),
  patch: (cms, signal) => cms.patch("a", { data: {} }, { signal }),
  apply: (cms, signal) => cms.apply(object, { fieldManager: "test", signal }),
  applyStatus: (cms, signal) => cms.applyStatus(object, { fieldManager: "test", signal }),
  delete: (cms, signal) => cms.delete("a", { signal }),
  getStatus: (cms, signal) => cms.getStatus("a", { signal }),
  replaceStatus: (cms, signal) => cms.replaceStatus(object, { signal }),
  patchStatus: (cms, signal) => cms.patchStatus("a", { status: {} }, { signal }),
};

Deno.test("every ResourceClient method stops when its signal aborts, and sends nothing after", async (t) => {
  let requests = 0;
  let onRequest = () => {};
  const server = fakeServer(() => {
    requests++;
    onRequest();
    // Retriable for every method: only the abort may stop the retries.
    return statusResponse(429, "slow down", { "Retry-After": "0" });
  });
  using client = new KubeClient({ server: server.url }, { retry: { initialDelayMs: 1 } });
  const cms = new ResourceClient(client, ConfigMap, "ns");
  try {
    for (const [name, call] of Object.entries(CALLS)) {
      await t.step(`${name}: an aborted signal sends nothing`, async () => {
        requests = 0;
        const reason = new Error("stopped before");
        await assert.rejects(call(cms, AbortSignal.abort(reason)), (e) => e === reason);
        assert.equal(requests, 0);
      });
      await t.step(`${name}: an abort during the request ends it`, async () => {
        requests = 0;
        const controller = new AbortController();
        const reason = new Error("stopped during");
        onRequest = () => controller.abort(reason);
        await assert.rejects(call(cms, controller.signal), (e) => e === reason);
        assert.equal(requests, 1, "no retry after the abort");
        onRequest = () => {};
      });
    }
  } finally {
    await server.close();
  }
});

Deno.test("ResourceClient.watch refuses an object without a name or of another type, without quoting it", async (t) => {
  const secret = "SECRET-VALUE-c4ca42";
  const ok = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ok", namespace: "ns" } };
  const cases: Array<{ name: string; object: unknown; problem: RegExp }> = [
    {
      name: "a Secret in a ConfigMap watch",
      object: { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { k: secret } },
      problem: /is a v1 Secret, not a v1 ConfigMap/,
    },
    {
      name: "another apiVersion",
      object: { apiVersion: "v2", metadata: { name: "s" }, data: { k: secret } },
      problem: /is a v2 ConfigMap, not a v1 ConfigMap/,
    },
    {
      name: "a kind that is not a name",
      object: { kind: `${secret} ${secret}`, metadata: { name: "s" } },
      problem: /is a v1 \?, not a v1 ConfigMap/,
    },
    { name: "no metadata", object: { data: { k: secret } }, problem: /has no metadata\.name/ },
    { name: "an empty name", object: { metadata: { name: "" } }, problem: /has no metadata\.name/ },
    { name: "a numeric name", object: { metadata: { name: 7 } }, problem: /has no metadata\.name/ },
  ];
  for (const c of cases) {
    for (const type of ["ADDED", "MODIFIED", "DELETED"]) {
      await t.step(`${c.name} (${type})`, async () => {
        const lines = [
          { type: "ADDED", object: ok },
          { type: "BOOKMARK", object: { metadata: { resourceVersion: "5" } } },
          { type, object: c.object },
          { type: "ADDED", object: ok },
        ];
        const server = fakeServer(() =>
          new Response(lines.map((line) => JSON.stringify(line) + "\n").join(""))
        );
        using client = new KubeClient({ server: server.url });
        const seen: string[] = [];
        try {
          await assert.rejects(
            (async () => {
              const cms = new ResourceClient(client, ConfigMap, "ns");
              for await (const event of cms.watch()) seen.push(event.type);
            })(),
            (e: unknown) =>
              e instanceof WatchUnexpectedObjectError && e instanceof WatchDecodeError &&
              e.path === "/api/v1/namespaces/ns/configmaps" && e.eventType === type &&
              c.problem.test(e.message) && e.message.includes(type) &&
              !e.message.includes(secret),
          );
          assert.deepEqual(seen, ["ADDED", "BOOKMARK"]);
        } finally {
          await server.close();
        }
      });
    }
  }
  await t.step("BOOKMARK and ERROR events are exempt", async () => {
    const lines = [
      { type: "BOOKMARK", object: { kind: "ConfigMap", metadata: { resourceVersion: "5" } } },
      { type: "ERROR", object: { kind: "Status", code: 410, message: "too old" } },
    ];
    const server = fakeServer(() =>
      new Response(lines.map((line) => JSON.stringify(line) + "\n").join(""))
    );
    using client = new KubeClient({ server: server.url });
    try {
      const seen: string[] = [];
      for await (const event of new ResourceClient(client, ConfigMap, "ns").watch()) {
        seen.push(event.type);
      }
      assert.deepEqual(seen, ["BOOKMARK", "ERROR"]);
    } finally {
      await server.close();
    }
  });
});

Deno.test("ResourceClient.patchStatus: a merge patch pinned to a resourceVersion is retried like a PUT; one that is not is sent once", async (t) => {
  const seen: Array<{ method: string; path: string; contentType: string | null; body: unknown }> =
    [];
  const server = fakeServer(async (request) => {
    seen.push({
      method: request.method,
      path: new URL(request.url).pathname,
      contentType: request.headers.get("content-type"),
      body: await request.json(),
    });
    return statusResponse(503);
  });
  using client = new KubeClient({ server: server.url }, { retry: { initialDelayMs: 1 } });
  const cms = new ResourceClient(client, ConfigMap, "ns");
  try {
    await t.step("pinned: a replay once applied meets a 409, so it is retried", async () => {
      seen.length = 0;
      const patch = { metadata: { resourceVersion: "7" }, status: { a: null } };
      await assert.rejects(cms.patchStatus("a", patch), (e) => e instanceof ApiError);
      assert.equal(seen.length, 6, "first attempt and 5 retries");
      assert.deepEqual(seen[0], {
        method: "PATCH",
        path: "/api/v1/namespaces/ns/configmaps/a/status",
        contentType: "application/merge-patch+json",
        body: patch,
      });
    });
    await t.step("not pinned: it may have been applied, so it is not sent again", async () => {
      seen.length = 0;
      await assert.rejects(
        cms.patchStatus("a", { status: { a: 1 } }),
        (e) => e instanceof ApiError,
      );
      assert.equal(seen.length, 1);
    });
    await t.step("a JSON patch is not sent again either", async () => {
      seen.length = 0;
      const ops = [{ op: "replace", path: "/metadata/resourceVersion", value: "7" }];
      await assert.rejects(cms.patch("a", ops, { type: "json" }), (e) => e instanceof ApiError);
      assert.equal(seen.length, 1);
    });
  } finally {
    await server.close();
  }
});
