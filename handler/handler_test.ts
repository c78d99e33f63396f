import assert from "node:assert/strict";
import type { Deployment } from "../config/resource_types.ts";
import { normalizeHandler, syncRequest, type SyncResponse } from "./handler.ts";

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
