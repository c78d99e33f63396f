import assert from "node:assert/strict";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { resourceType } from "../client/resource_type.ts";
import { operatorConfig } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { checkServedTypes } from "./start_checks.ts";

const Parent = resourceType({
  apiVersion: "example.com/v1",
  kind: "Thing",
  plural: "things",
  namespaced: true,
});

const config = operatorConfig({
  name: "things",
  parent: Parent,
  children: [
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
    { type: k8s.apps.v1.Deployment, updateStrategy: "Replace" },
  ],
});

const served: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  "/apis/example.com/v1": [{ name: "things", kind: "Thing", namespaced: true }],
  "/api/v1": [{ name: "configmaps", kind: "ConfigMap", namespaced: true }],
  "/apis/apps/v1": [{ name: "deployments", kind: "Deployment", namespaced: true }],
};

/** A client that answers discovery when the test says so, and counts requests in flight. */
function fakeClient(failing: Set<string> = new Set()) {
  const pending: Array<{ path: string; answer: () => void }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const waiters: Array<() => void> = [];
  const client = {
    config: { server: "https://k8s.test" },
    request(method: string, path: string): Promise<unknown> {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      pending.push({
        path,
        answer: () => {
          inFlight--;
          if (failing.has(path)) reject(new ApiError({ method, path }, 404));
          else resolve({ resources: served[path] ?? [] });
        },
      });
      for (const wake of waiters.splice(0)) wake();
      return promise;
    },
  };
  return {
    client: client as unknown as KubeClient,
    pending,
    get maxInFlight() {
      return maxInFlight;
    },
    /** Resolves once `n` requests are waiting, or the check stopped asking. */
    async waitFor(n: number, done: Promise<unknown>): Promise<void> {
      let finished = false;
      done.then(() => finished = true, () => finished = true);
      while (pending.length < n && !finished) {
        await Promise.race([new Promise<void>((r) => waiters.push(r)), done.catch(() => {})]);
      }
    },
  };
}

Deno.test("checkServedTypes asks about every type at once", async () => {
  const fake = fakeClient();
  const check = checkServedTypes(config, fake.client);
  await fake.waitFor(3, check);
  assert.equal(fake.pending.length, 3, "three discovery requests in flight together");
  // Answered in reverse order: it does not matter.
  for (const request of fake.pending.reverse()) request.answer();
  await check;
  assert.equal(fake.maxInFlight, 3);
});

Deno.test("checkServedTypes reports the first declared type that is not served", async () => {
  const fake = fakeClient(new Set(["/apis/example.com/v1", "/apis/apps/v1"]));
  const check = checkServedTypes(config, fake.client);
  await fake.waitFor(3, check);
  for (const request of fake.pending.reverse()) request.answer();
  await assert.rejects(
    check,
    /Cannot start operator "things": .*Thing.*\(is the CRD installed\?\)/,
  );
});
