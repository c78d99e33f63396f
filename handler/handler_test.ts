import assert from "node:assert/strict";
import type { Deployment } from "../config/resource_types.ts";
import {
  type FinalizeResponse,
  normalizeHandler,
  syncRequest,
  type SyncResponse,
} from "./handler.ts";

Deno.test("SyncResponse accepts typed children such as a kubernetes-types Deployment", async () => {
  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, template: {} },
  };
  const handler = normalizeHandler(() => ({ children: [deployment] } satisfies SyncResponse));
  const response = await handler.sync(
    syncRequest({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p", uid: "u" } }),
  );
  assert.deepEqual(response.children, [deployment]);
});

Deno.test("normalizeHandler passes SyncResponse.failed through and rejects a non-boolean", async () => {
  const request = syncRequest({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p" } });
  const failed = normalizeHandler(() => ({ children: [], failed: true }));
  assert.equal((await failed.sync(request)).failed, true);
  const wrong = normalizeHandler(() =>
    ({ children: [], failed: "yes" }) as unknown as SyncResponse
  );
  await assert.rejects(() => wrong.sync(request), TypeError);
  const finalizeFailed = normalizeHandler({
    sync: () => ({ children: [] }),
    finalize: () => ({ retryAfterMs: 10, failed: true }),
  });
  assert.equal((await finalizeFailed.finalize(request)).failed, true);
  const finalizeWrong = normalizeHandler({
    sync: () => ({ children: [] }),
    finalize: () => ({ failed: 1 }) as unknown as FinalizeResponse,
  });
  await assert.rejects(() => finalizeWrong.finalize(request), TypeError);
});
