// Every ResourceClient method passes its signal to the request: an aborted signal stops the
// request, and nothing is sent again after the abort. A local server counts the requests.
import assert from "node:assert/strict";
import { KubeClient } from "./kube_client.ts";
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
