// Admission and conversion webhooks against a real kube-apiserver, which calls back to the
// webhook server on 127.0.0.1.
import assert from "node:assert/strict";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, type ResourceType, resourceType } from "../client/resource_type.ts";
import { k8s } from "../k8s/mod.ts";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions } from "../testkit/crds.ts";
import {
  createCertificateAuthority,
  issueServingCertificate,
  readCertificate,
} from "../tls/certificates.ts";
import {
  type AdmissionRequest,
  allow,
  deny,
  mutatingWebhook,
  validatingWebhook,
} from "../webhook/admission.ts";
import { CertificateStore } from "../webhook/certificate_store.ts";
import { conversionWebhook, LOST_FIELDS_ANNOTATION } from "../webhook/conversion.ts";
import { webhookConfigurations } from "../webhook/configuration.ts";
import { type RunningWebhooks, startWebhooks } from "../webhook/runtime.ts";
import { WebhookServer } from "../webhook/server.ts";
import { webhookManifests } from "../webhook/settings.ts";
import { manifestsFor, toYaml } from "../deploy/manifests.ts";
import { loadAll } from "js-yaml";
import { operatorConfig } from "../config/operator_config.ts";
import { startOperator } from "../runner/run_operator.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import type { KubernetesObjectOf, ValidatingWebhookConfiguration } from "../k8s/mod.ts";

const GROUP = "webhook.test.roperator.dev";
type GadgetV1 = KubernetesObject & {
  spec?: { replicas?: number | undefined; colour?: string | undefined };
};
type GadgetV1alpha1 = KubernetesObject & {
  spec?: { size?: number | undefined; colour?: string | undefined; note?: string | undefined };
};
const Gadget = resourceType<GadgetV1>({
  apiVersion: `${GROUP}/v1`,
  kind: "Gadget",
  plural: "gadgets",
  namespaced: true,
});
const GadgetAlpha = resourceType<GadgetV1alpha1>({
  apiVersion: `${GROUP}/v1alpha1`,
  kind: "Gadget",
  plural: "gadgets",
  namespaced: true,
});
// A type of its own for the "server down" test, so its failing webhooks touch nothing else.
const Doohickey = resourceType({
  apiVersion: `${GROUP}/v1`,
  kind: "Doohickey",
  plural: "doohickeys",
  namespaced: true,
});

function crd(kind: string, plural: string, versions: string[]): KubernetesObject {
  const preserve = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: { plural, singular: kind.toLowerCase(), kind },
      versions: versions.map((name, i) => ({
        name,
        served: true,
        storage: i === versions.length - 1,
        schema: { openAPIV3Schema: { type: "object", properties: { spec: preserve } } },
      })),
    },
  };
}

const seen: AdmissionRequest[] = [];
const validate = validatingWebhook({
  type: Gadget,
  handler: (request) => {
    const replicas = request.object?.spec?.replicas ?? 0;
    return replicas > 10
      ? deny(`spec.replicas must be at most 10, not ${replicas}`)
      : allow(replicas > 5 ? ["more than 5 replicas is a lot"] : undefined);
  },
});
const mutate = mutatingWebhook({
  type: Gadget,
  handler: (request) => {
    seen.push(request as AdmissionRequest);
    const object = request.object!;
    return { allowed: true, object: { ...object, spec: { colour: "blue", ...object.spec } } };
  },
});
const convert = conversionWebhook<{ v1alpha1: GadgetV1alpha1; v1: GadgetV1 }>({
  type: Gadget,
  converters: {
    // v1 has no `note`: the library keeps it for the way back.
    v1alpha1: {
      v1: ({ spec, ...rest }) => ({
        ...rest,
        spec: { replicas: spec?.size, colour: spec?.colour },
      }),
    },
    v1: {
      v1alpha1: ({ spec, ...rest }) => ({
        ...rest,
        spec: { size: spec?.replicas, colour: spec?.colour },
      }),
    },
  },
});

let cp: ControlPlane;
let admin: KubeClient;
let ns: string;
let running: RunningWebhooks;
let clockOffsetMs = 0;

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}; last error: ${String(last)}`);
}

/** A port nothing listens on (for a moment). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [
    crd("Gadget", "gadgets", ["v1alpha1", "v1"]),
    crd("Doohickey", "doohickeys", ["v1"]),
  ]);
  ns = `webhook-${Date.now().toString(36)}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: ns } });
  const webhooks = [validate, mutate, convert];
  const port = freePort();
  running = await startWebhooks({
    client: admin,
    webhooks,
    port,
    hostname: "127.0.0.1",
    certificates: {
      namespace: ns,
      secretName: "gadget-webhook-certs",
      ipAddresses: ["127.0.0.1"],
      now: () => new Date(Date.now() + clockOffsetMs),
      caPropagationMs: 1500,
    },
    caBundleTargets: {
      validating: ["gadgets-validating"],
      mutating: ["gadgets-mutating"],
      conversions: webhookConfigurations([convert], {
        operatorName: "gadgets",
        namespace: ns,
        url: `https://127.0.0.1:${port}`,
      }).conversions,
    },
    checkIntervalMs: 3_600_000,
  });
  // The configurations are installed without a caBundle, as the printed manifests are; the
  // operator fills it in.
  const generated = webhookConfigurations(webhooks, {
    operatorName: "gadgets",
    namespace: ns,
    url: `https://127.0.0.1:${port}`,
  });
  await new ResourceClient(admin, k8s.admissionregistration.v1.ValidatingWebhookConfiguration)
    .create(generated.validating!);
  await new ResourceClient(admin, k8s.admissionregistration.v1.MutatingWebhookConfiguration)
    .create(generated.mutating!);
  // The operator wrote the CRD's conversion stanza at start; now it fills in the configurations.
  const installed = await new ResourceClient(
    admin,
    k8s.apiextensions.v1.CustomResourceDefinition as ResourceType,
  ).get(convert.name);
  assert.equal(
    (installed.spec as { conversion?: { strategy?: string } }).conversion?.strategy,
    "Webhook",
  );
  // Installed after the operator started: it tries again within seconds.
  for (
    const type of [
      k8s.admissionregistration.v1.ValidatingWebhookConfiguration,
      k8s.admissionregistration.v1.MutatingWebhookConfiguration,
    ]
  ) {
    await eventually("the caBundle written into the configuration", async () => {
      const configuration = await new ResourceClient(admin, type as ResourceType).get(
        type === k8s.admissionregistration.v1.ValidatingWebhookConfiguration
          ? "gadgets-validating"
          : "gadgets-mutating",
      ) as { webhooks?: { clientConfig: { caBundle?: string } }[] };
      return configuration.webhooks?.[0]?.clientConfig.caBundle === btoa(running.caBundle);
    });
  }
  const gadgets = new ResourceClient(admin, Gadget, ns);
  // Wait until the API server calls the webhooks (its configuration informer has caught up).
  await eventually("the webhooks to be called", async () => {
    try {
      await gadgets.create({ metadata: { name: "probe" }, spec: { replicas: 11 } }, {
        dryRun: "All",
      });
      return false;
    } catch (error) {
      return error instanceof ApiError && error.status === 403;
    }
  });
  await eventually("the conversion webhook to be called", async () => {
    await new ResourceClient(admin, GadgetAlpha, ns).create({
      metadata: { name: "probe" },
      spec: { size: 1 },
    }, { dryRun: "All" });
    return true;
  });
});

Deno.test.afterAll(async () => {
  await running?.close();
  for (
    const [type, name] of [
      [k8s.admissionregistration.v1.ValidatingWebhookConfiguration, "gadgets-validating"],
      [k8s.admissionregistration.v1.MutatingWebhookConfiguration, "gadgets-mutating"],
    ] as const
  ) {
    await new ResourceClient(admin, type as ResourceType).delete(name).catch(() => {});
  }
  admin?.close();
  await cp?.stop();
});

Deno.test("a create or update the validating webhook denies fails with the handler's message", async () => {
  const gadgets = new ResourceClient(admin, Gadget, ns);
  await assert.rejects(
    () => gadgets.create({ metadata: { name: "too-big" }, spec: { replicas: 20 } }),
    (error: unknown) =>
      error instanceof ApiError && error.status === 403 &&
      error.message.includes("spec.replicas must be at most 10, not 20"),
  );
  assert.equal(await gadgets.find("too-big"), undefined);
  const created = await gadgets.create({ metadata: { name: "ok" }, spec: { replicas: 2 } });
  await assert.rejects(
    () => gadgets.replace({ ...created, spec: { ...created.spec, replicas: 12 } }),
    (error: unknown) =>
      error instanceof ApiError &&
      error.message.includes("spec.replicas must be at most 10, not 12"),
  );
  assert.equal((await gadgets.get("ok")).spec?.replicas, 2);
});

Deno.test("a mutating webhook's default is on the stored object", async () => {
  const gadgets = new ResourceClient(admin, Gadget, ns);
  await gadgets.create({ metadata: { name: "defaulted" }, spec: { replicas: 1 } });
  assert.deepEqual((await gadgets.get("defaulted")).spec, { replicas: 1, colour: "blue" });
  await gadgets.create({ metadata: { name: "chosen" }, spec: { replicas: 1, colour: "red" } });
  assert.deepEqual((await gadgets.get("chosen")).spec, { replicas: 1, colour: "red" });
});

Deno.test("a dry run is admitted and mutated like a real request, the handler is told, and nothing is stored", async () => {
  const gadgets = new ResourceClient(admin, Gadget, ns);
  const before = seen.length;
  const answer = await gadgets.create({ metadata: { name: "dry" }, spec: { replicas: 3 } }, {
    dryRun: "All",
  });
  assert.equal(answer.spec?.colour, "blue");
  assert.equal(await gadgets.find("dry"), undefined);
  const call = seen.slice(before).find((r) => r.name === "dry");
  assert.equal(call?.dryRun, true);
  await assert.rejects(
    () =>
      gadgets.create({ metadata: { name: "dry-big" }, spec: { replicas: 30 } }, { dryRun: "All" }),
    (error: unknown) => error instanceof ApiError && error.message.includes("not 30"),
  );
  await gadgets.create({ metadata: { name: "wet" }, spec: { replicas: 3 } });
  assert.equal(seen.slice(before).find((r) => r.name === "wet")?.dryRun, false);
});

Deno.test("a v1alpha1 object reads as v1 and back through the conversion webhook, one by one and in a list", async () => {
  const alpha = new ResourceClient(admin, GadgetAlpha, ns);
  const v1 = new ResourceClient(admin, Gadget, ns);
  await alpha.create({ metadata: { name: "old-a" }, spec: { size: 4, note: "keep me" } });
  await alpha.create({ metadata: { name: "old-b" }, spec: { size: 5, colour: "green" } });

  const a = await v1.get("old-a");
  assert.equal(a.apiVersion, `${GROUP}/v1`);
  assert.deepEqual(a.spec, { replicas: 4, colour: "blue" });
  assert.ok(a.metadata?.annotations?.[LOST_FIELDS_ANNOTATION], "the note is kept for v1alpha1");
  const back = await alpha.get("old-a");
  assert.deepEqual(back.spec, { size: 4, colour: "blue", note: "keep me" });
  assert.equal(back.metadata?.annotations?.[LOST_FIELDS_ANNOTATION], undefined);

  const list = await v1.list();
  const byName = new Map(list.items.map((o) => [o.metadata?.name, o]));
  assert.deepEqual(byName.get("old-a")?.spec, { replicas: 4, colour: "blue" });
  assert.deepEqual(byName.get("old-b")?.spec, { replicas: 5, colour: "green" });
  const alphaList = await alpha.list();
  const ok = alphaList.items.find((o) => o.metadata?.name === "ok");
  assert.deepEqual(ok?.spec, { size: 2, colour: "blue" });

  // An update through v1 keeps the v1alpha1-only field.
  await v1.replace({ ...a, spec: { ...a.spec, replicas: 6 } });
  assert.deepEqual((await alpha.get("old-a")).spec, { size: 6, colour: "blue", note: "keep me" });
});

Deno.test("replicas that race to create the certificate Secret end up with the same certificates", async () => {
  const stores = [0, 1, 2].map(() =>
    new CertificateStore({
      client: admin,
      namespace: ns,
      secretName: "race-certs",
      serviceName: "race",
    })
  );
  const results = await Promise.all(stores.map((s) => s.ensure()));
  for (const r of results) {
    assert.equal(r.serving.certificate, results[0]!.serving.certificate);
    assert.equal(r.caBundle, results[0]!.caBundle);
  }
  const info = readCertificate(results[0]!.serving.certificate);
  assert.ok(info.dnsNames.includes(`race.${ns}.svc`));
  const secret = await new ResourceClient(admin, k8s.core.v1.Secret, ns).get("race-certs");
  assert.equal(secret.type, "kubernetes.io/tls");
});

Deno.test("the server down: failurePolicy Fail refuses, Ignore admits", async () => {
  const ca = await createCertificateAuthority({ commonName: "down-ca" });
  const serving = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
  const refuseAll = (name: string, failurePolicy: "Fail" | "Ignore") =>
    validatingWebhook({
      type: Doohickey,
      name,
      failurePolicy,
      timeoutSeconds: 2,
      objectSelector: { matchLabels: { policy: failurePolicy } },
      handler: () => deny("the webhook is up"),
    });
  const webhooks = [
    refuseAll("fail.doohickeys.test.dev", "Fail"),
    refuseAll("ignore.doohickeys.test.dev", "Ignore"),
  ];
  const server = await WebhookServer.start({
    webhooks,
    certificate: serving,
    port: 0,
    hostname: "127.0.0.1",
  });
  const configs = new ResourceClient(
    admin,
    k8s.admissionregistration.v1.ValidatingWebhookConfiguration,
  );
  const config = webhookConfigurations(webhooks, {
    operatorName: "doohickeys",
    namespace: ns,
    url: `https://127.0.0.1:${server.port}`,
    caBundle: ca.certificate,
  }).validating!;
  await configs.create(config);
  try {
    const doohickeys = new ResourceClient(admin, Doohickey, ns);
    const create = (name: string, policy: string) =>
      doohickeys.create({ metadata: { name, labels: { policy } } }, { dryRun: "All" });
    for (const policy of ["Fail", "Ignore"]) {
      await eventually(`the ${policy} webhook to answer`, async () => {
        try {
          await create("probe", policy);
          return false;
        } catch (error) {
          return error instanceof ApiError && error.message.includes("the webhook is up");
        }
      });
    }
    await server.close();
    await assert.rejects(
      () => create("refused", "Fail"),
      (error: unknown) =>
        error instanceof ApiError && error.status === 500 &&
        error.message.includes("failed calling webhook"),
    );
    const admitted = await create("admitted", "Ignore");
    assert.equal(admitted.metadata?.name, "admitted");
  } finally {
    await server.close();
    await configs.delete(config.metadata!.name!);
  }
});

Deno.test("certificates are renewed, and the CA rolled over, without a failed admission request", async () => {
  const gadgets = new ResourceClient(admin, Gadget, ns);
  const failures: unknown[] = [];
  let requests = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) {
      try {
        await gadgets.create({ metadata: { name: `load-${requests}` }, spec: { replicas: 1 } }, {
          dryRun: "All",
        });
      } catch (error) {
        failures.push(error);
      }
      requests++;
    }
  })();
  const waitRequests = async (n: number) => {
    const target = requests + n;
    await eventually(`${n} more admission requests`, () => Promise.resolve(requests >= target));
  };
  try {
    await waitRequests(10);
    const first = running.server.certificate.certificate;
    const firstCa = running.caBundle;

    // 61 days on, the 90-day serving certificate is due: a new one, from the same CA.
    clockOffsetMs = 61 * 86_400_000;
    await running.refresh();
    clockOffsetMs = 0;
    const renewed = running.server.certificate.certificate;
    assert.notEqual(renewed, first);
    assert.equal(running.caBundle, firstCa);
    await waitRequests(10);

    // Seven years on, the ten-year CA is due: a new CA joins the bundle, and signs the serving
    // certificate once the bundle has been out for caPropagationMs.
    clockOffsetMs = 7 * 365 * 86_400_000;
    await running.refresh();
    clockOffsetMs = 0;
    assert.equal(running.server.certificate.certificate, renewed, "not signed by the new CA yet");
    assert.ok(running.caBundle.startsWith(firstCa) === false && running.caBundle.endsWith(firstCa));
    await waitRequests(10);
    await eventually("the serving certificate signed by the new CA", async () => {
      await running.refresh();
      return running.server.certificate.certificate !== renewed;
    });
    const issuer = readCertificate(running.server.certificate.certificate).issuer;
    assert.notEqual(issuer, readCertificate(firstCa).subject);
    await waitRequests(20);
  } finally {
    stop = true;
    await load;
  }
  assert.deepEqual(failures, []);
  assert.ok(requests >= 50);
});

Deno.test("startOperator serves the config's webhooks (the operator writes their CA), and stop closes them", async () => {
  const Gizmo = resourceType({
    apiVersion: `${GROUP}/v1`,
    kind: "Gizmo",
    plural: "gizmos",
    namespaced: true,
  });
  await installCustomResourceDefinitions(admin, [crd("Gizmo", "gizmos", ["v1"])]);
  const port = freePort();
  const config = operatorConfig({
    name: "gizmo-operator",
    parent: Gizmo,
    namespace: ns,
    server: false,
    webhooks: {
      hooks: [validatingWebhook({ type: Gizmo, handler: () => deny("no gizmos today") })],
      port,
      hostname: "127.0.0.1",
      url: `https://127.0.0.1:${port}`,
      certificates: { ipAddresses: ["127.0.0.1"] },
    },
  });
  const op = await startOperator(config, () => ({ children: [] }), {
    clientConfig: cp.clientConfig,
  });
  const configs = new ResourceClient(
    admin,
    k8s.admissionregistration.v1.ValidatingWebhookConfiguration,
  );
  // What --print-manifests prints for the section, installed as is (no caBundle).
  const manifests = webhookManifests(config.webhooks!, {
    operatorName: config.name,
    namespace: ns,
  });
  const validating = manifests.find((o) => o.kind === "ValidatingWebhookConfiguration")!;
  await configs.create(validating as KubernetesObjectOf<ValidatingWebhookConfiguration>);
  try {
    assert.equal(op.webhookPort, port);
    const gizmos = new ResourceClient(admin, Gizmo, ns);
    await eventually("the operator's webhook to deny", async () => {
      try {
        await gizmos.create({ metadata: { name: "g" } }, { dryRun: "All" });
        return false;
      } catch (error) {
        return error instanceof ApiError && error.message.includes("no gizmos today");
      }
    });
    const secret = await new ResourceClient(admin, k8s.core.v1.Secret, ns).get(
      "gizmo-operator-webhook-tls",
    );
    assert.equal(secret.type, "kubernetes.io/tls");
    const denied = parsePrometheusText(op.metrics.registry.render()).find((s) =>
      s.name === "roperator_webhook_requests_total" && s.labels.result === "denied"
    );
    assert.ok((denied?.value ?? 0) >= 1);
  } finally {
    await op.stop();
    await configs.delete(validating.metadata!.name!);
  }
  await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test("--print-manifests' objects, webhooks included, are accepted by the API server", async () => {
  const Thing = resourceType({
    apiVersion: `${GROUP}/v1`,
    kind: "Thingamajig",
    plural: "thingamajigs",
    namespaced: true,
  });
  await installCustomResourceDefinitions(admin, [crd("Thingamajig", "thingamajigs", [
    "v1alpha1",
    "v1",
  ])]);
  const config = operatorConfig({
    name: "thing-operator",
    parent: Thing,
    namespace: ns,
    webhooks: {
      hooks: [
        // Selects nothing: no request of another test meets a webhook nobody serves.
        validatingWebhook({
          type: Thing,
          objectSelector: { matchLabels: { "never-set": "x" } },
          handler: () => allow(),
        }),
        mutatingWebhook({
          type: Thing,
          objectSelector: { matchLabels: { "never-set": "x" } },
          handler: () => ({ allowed: true }),
        }),
        conversionWebhook<{ v1alpha1: KubernetesObject; v1: KubernetesObject }>({
          type: Thing,
          converters: { v1alpha1: { v1: (o) => o }, v1: { v1alpha1: (o) => o } },
        }),
      ],
    },
  });
  const objects = loadAll(toYaml(manifestsFor(config, { image: "example/thing:1", namespace: ns })))
    .slice(-4) as KubernetesObject[];
  assert.deepEqual(objects.map((o) => o.kind), [
    "Service",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "CustomResourceDefinition",
  ]);
  const [service, validating, mutating, crdStanza] = objects as [
    KubernetesObject,
    KubernetesObject,
    KubernetesObject,
    KubernetesObject,
  ];
  const validatingConfigs = new ResourceClient(
    admin,
    k8s.admissionregistration.v1.ValidatingWebhookConfiguration as ResourceType,
  );
  const mutatingConfigs = new ResourceClient(
    admin,
    k8s.admissionregistration.v1.MutatingWebhookConfiguration as ResourceType,
  );
  try {
    await new ResourceClient(admin, k8s.core.v1.Service as ResourceType, ns).create(service);
    await validatingConfigs.create(validating);
    await mutatingConfigs.create(mutating);
    // Applied over the installed CRD (kubectl apply merges it).
    const patched = await new ResourceClient(
      admin,
      k8s.apiextensions.v1.CustomResourceDefinition as ResourceType,
    ).patch(crdStanza.metadata!.name!, { spec: crdStanza.spec });
    assert.equal(
      (patched.spec as { conversion: { strategy: string } }).conversion.strategy,
      "Webhook",
    );
  } finally {
    await validatingConfigs.delete("thing-operator-validating").catch(() => {});
    await mutatingConfigs.delete("thing-operator-mutating").catch(() => {});
  }
});

Deno.test("with cert-manager, the operator serves the Secret cert-manager keeps, and picks up its renewal", async () => {
  const secrets = new ResourceClient(admin, k8s.core.v1.Secret, ns);
  const issue = async () => {
    const ca = await createCertificateAuthority({ commonName: "cert-manager-ca" });
    const serving = await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] });
    return { ca, serving };
  };
  const asSecret = ({ ca, serving }: Awaited<ReturnType<typeof issue>>) => ({
    "tls.crt": btoa(serving.certificate),
    "tls.key": btoa(serving.key),
    "ca.crt": btoa(ca.certificate),
  });
  const first = await issue();
  await secrets.create({
    metadata: { name: "cm-tls" },
    type: "kubernetes.io/tls",
    data: asSecret(first),
  });
  await using webhooks = await startWebhooks({
    client: admin,
    webhooks: [validate],
    port: 0,
    hostname: "127.0.0.1",
    certificates: { namespace: ns, secretName: "cm-tls", source: "cert-manager" },
    checkIntervalMs: 3_600_000,
  });
  const post = async (ca: string) => {
    using client = Deno.createHttpClient({ caCerts: [ca] });
    const res = await fetch(`https://127.0.0.1:${webhooks.port}${validate.path}`, {
      method: "POST",
      body: JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { uid: "u", operation: "CREATE", userInfo: {}, object: { spec: {} } },
      }),
      client,
    });
    return (await res.json()).response.allowed as boolean;
  };
  assert.equal(await post(first.ca.certificate), true);
  assert.equal(webhooks.caBundle, first.ca.certificate);

  const second = await issue();
  const current = await secrets.get("cm-tls");
  await secrets.replace({ ...current, data: asSecret(second) });
  await webhooks.refresh();
  assert.equal(await post(second.ca.certificate), true);
  await assert.rejects(() => post(first.ca.certificate));
  // The store never wrote the Secret: cert-manager owns it.
  assert.equal((await secrets.get("cm-tls")).data?.["tls.crt"], btoa(second.serving.certificate));
});

Deno.test("an admission round trip through the API server costs milliseconds, not a delayed ACK", async () => {
  const gadgets = new ResourceClient(admin, Gadget, ns);
  const configMaps = new ResourceClient(admin, k8s.core.v1.ConfigMap, ns);
  const median = async (create: (i: number) => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      await create(i);
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[7]!;
  };
  const floor = await median((i) =>
    configMaps.create({ metadata: { name: `floor-${i}` } }, { dryRun: "All" })
  );
  // A create that goes through the mutating and the validating webhook.
  const hooked = await median((i) =>
    gadgets.create({ metadata: { name: `rt-${i}` }, spec: { replicas: 1 } }, { dryRun: "All" })
  );
  // Nagle's algorithm on the server's forwarded connections held each exchange for the API
  // server's delayed ACK: about 40 ms per webhook call.
  assert.ok(
    hooked - floor < 25,
    `median ${hooked.toFixed(1)} ms with the webhooks, ${floor.toFixed(1)} ms without`,
  );
});
