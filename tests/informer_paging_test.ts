// The informer's first list, in pages of the real API server (continue tokens): each page is
// stored before the next is asked for, and the watch starts where the last page left off.
import assert from "node:assert/strict";
import { createNamespace, eventually } from "./helpers.ts";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { KubeClient } from "../client/kube_client.ts";
import { type ListAllOptions, type ObjectList, ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { Informer } from "../runner/informer.ts";

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

/** A ConfigMap client that records, for every page, how many objects the informer held then. */
class RecordingClient extends ResourceClient<KubernetesObject> {
  readonly pages: Array<{ items: number; cachedBefore: number; continued: boolean }> = [];
  informer: Informer<KubernetesObject> | undefined;

  override async *listPages(
    options: ListAllOptions = {},
  ): AsyncGenerator<ObjectList<KubernetesObject>, void, undefined> {
    for await (const page of super.listPages(options)) {
      this.pages.push({
        items: page.items.length,
        cachedBefore: this.informer?.size ?? 0,
        continued: Boolean(page.metadata.continue),
      });
      yield page;
    }
  }
}

Deno.test("Informer: a first list in pages of 5 stores each page before it asks for the next", async () => {
  const namespace = await createNamespace(admin, "paging");
  const configMaps = new ResourceClient(admin, k8s.core.v1.ConfigMap, namespace);
  for (let i = 0; i < 23; i++) {
    await configMaps.create({
      metadata: { name: `cm-${String(i).padStart(2, "0")}`, labels: { paged: "yes" } },
      data: { i: String(i) },
    });
  }
  const client = new RecordingClient(admin, k8s.core.v1.ConfigMap, namespace);
  const informer = new Informer(client, { labelSelector: "paged=yes", pageSize: 5 });
  client.informer = informer;
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await informer.waitForSync();
    assert.equal(informer.size, 23);
    assert.deepEqual(
      client.pages,
      [0, 5, 10, 15, 20].map((cachedBefore, i) => ({
        items: i < 4 ? 5 : 3,
        cachedBefore,
        continued: i < 4,
      })),
    );
    // The watch starts from the last page's resourceVersion: nothing missed, nothing replayed.
    await configMaps.create({ metadata: { name: "late", labels: { paged: "yes" } } });
    await eventually(
      "the watch delivers a later object",
      () => Promise.resolve(informer.get("late", namespace) !== undefined),
    );
    assert.equal(informer.size, 24);
  } finally {
    abort.abort();
    await running;
  }
});
