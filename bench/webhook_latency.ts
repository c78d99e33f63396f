/**
 * Admission round trip through a real API server: the time of a create (`dryRun=All`, so the
 * store is not measured) of an object that a validating and a mutating webhook of this process
 * admit, beside the same create of a type no webhook watches (the floor). Prints p50, p90 and p99
 * of each and their difference.
 *
 * ```sh
 * deno run -A tools/controlplane/build.ts
 * deno run -A bench/webhook_latency.ts --requests 2000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type ResourceType, resourceType } from "../client/resource_type.ts";
import { k8s } from "../k8s/mod.ts";
import { startControlPlane } from "../testkit/control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { allow, mutatingWebhook, validatingWebhook } from "../webhook/admission.ts";
import { webhookConfigurations } from "../webhook/configuration.ts";
import { startWebhooks } from "../webhook/runtime.ts";
import { formatMs, quantile } from "./lib/stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { requests: { type: "string", default: "1000" }, warmup: { type: "string" } },
});
const requests = Number(values.requests);
const warmup = Number(values.warmup ?? Math.max(50, requests / 10));

const Hooked = resourceType({
  apiVersion: "bench.roperator.dev/v1",
  kind: "Hooked",
  plural: "hookeds",
  namespaced: true,
});
const Plain = resourceType({
  apiVersion: "bench.roperator.dev/v1",
  kind: "Plain",
  plural: "plains",
  namespaced: true,
});

await using cp = await startControlPlane();
using admin = new KubeClient(cp.clientConfig);
await installCustomResourceDefinitions(admin, [
  testCustomResourceDefinition(Hooked),
  testCustomResourceDefinition(Plain),
]);
const ns = "bench";
await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: ns } });

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.port;
listener.close();
const webhooks = [
  validatingWebhook({ type: Hooked, handler: () => allow() }),
  mutatingWebhook({
    type: Hooked,
    handler: ({ object }) => ({
      allowed: true,
      object: { ...object, spec: { defaulted: true, ...(object?.spec as object) } },
    }),
  }),
];
await using running = await startWebhooks({
  client: admin,
  webhooks,
  port,
  hostname: "127.0.0.1",
  certificates: { namespace: ns, secretName: "bench-webhook", ipAddresses: ["127.0.0.1"] },
  caBundleTargets: { validating: ["bench-validating"], mutating: ["bench-mutating"] },
});
const generated = webhookConfigurations(webhooks, {
  operatorName: "bench",
  namespace: ns,
  url: `https://127.0.0.1:${port}`,
  caBundle: running.caBundle,
});
await new ResourceClient(admin, k8s.admissionregistration.v1.ValidatingWebhookConfiguration)
  .create(generated.validating!);
await new ResourceClient(admin, k8s.admissionregistration.v1.MutatingWebhookConfiguration)
  .create(generated.mutating!);

async function measure(type: ResourceType, count: number): Promise<number[]> {
  const client = new ResourceClient(admin, type, ns);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await client.create({ metadata: { name: `o-${i}` }, spec: { i } }, { dryRun: "All" });
    samples.push(performance.now() - started);
  }
  return samples;
}

// Until the API server has loaded the configurations, a create is not mutated.
while (true) {
  const object = await new ResourceClient(admin, Hooked, ns).create(
    { metadata: { name: "probe" }, spec: {} },
    { dryRun: "All" },
  );
  if ((object.spec as { defaulted?: boolean }).defaulted) break;
  await new Promise((r) => setTimeout(r, 100));
}
await measure(Plain, warmup);
await measure(Hooked, warmup);
// Interleaved rounds, so drift of the machine affects both alike.
const plain: number[] = [];
const hooked: number[] = [];
for (let round = 0; round < 10; round++) {
  plain.push(...await measure(Plain, Math.ceil(requests / 10)));
  hooked.push(...await measure(Hooked, Math.ceil(requests / 10)));
}
const row = (name: string, samples: number[]) =>
  `${name.padEnd(34)} p50 ${formatMs(quantile(samples, 0.5)).padStart(9)}  p90 ${
    formatMs(quantile(samples, 0.9)).padStart(9)
  }  p99 ${formatMs(quantile(samples, 0.99)).padStart(9)}`;
console.log(`${requests} dry-run creates each, one at a time`);
console.log(row("no webhook (the floor)", plain));
console.log(row("validating + mutating webhook", hooked));
console.log(
  `${"webhook cost".padEnd(34)} p50 ${
    formatMs(quantile(hooked, 0.5) - quantile(plain, 0.5)).padStart(9)
  }  p99 ${formatMs(quantile(hooked, 0.99) - quantile(plain, 0.99)).padStart(9)}`,
);
