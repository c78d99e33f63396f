import assert from "node:assert/strict";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { allow, mutatingWebhook, validatingWebhook, WebhookConfigError } from "./admission.ts";
import { conversionWebhook } from "./conversion.ts";
import {
  webhookManifests,
  webhookPermissions,
  webhooksConfig,
  type WebhooksConfigInit,
} from "./settings.ts";

const Widget = resourceType({
  apiVersion: "example.dev/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
});
const validate = validatingWebhook({ type: Widget, handler: () => allow() });
const mutate = mutatingWebhook({ type: Widget, handler: () => ({ allowed: true }) });
const convert = conversionWebhook<{ v1alpha1: KubernetesObject; v1: KubernetesObject }>({
  type: Widget,
  converters: { v1alpha1: { v1: (o) => o }, v1: { v1alpha1: (o) => o } },
});
const hooks = [validate, mutate, convert];

function field(init: WebhooksConfigInit): string | undefined {
  try {
    webhooksConfig(init, "widgets");
  } catch (error) {
    if (error instanceof WebhookConfigError) return error.field;
    throw error;
  }
  return undefined;
}

Deno.test("webhooksConfig: defaults", () => {
  const config = webhooksConfig({ hooks }, "widgets");
  assert.equal(config.port, 9443);
  assert.equal(config.hostname, "0.0.0.0");
  assert.equal(config.serviceName, "widgets-webhook");
  assert.equal(config.servicePort, 443);
  assert.equal(config.certificates.source, "self-signed");
  assert.equal(config.certificates.secretName, "widgets-webhook-tls");
  assert.equal(config.certificates.checkIntervalMs, 600_000);
});

Deno.test("webhooksConfig: the message names the operator, the field and what is wrong", () => {
  assert.throws(
    () => webhooksConfig({ hooks, port: 70000 }, "widgets"),
    {
      name: "WebhookConfigError",
      message:
        'Cannot configure operator "widgets": webhooks.port: must be an integer from 0 to 65535, got 70000',
    },
  );
});

Deno.test("webhooksConfig: each invalid field is named", () => {
  assert.equal(field({ hooks: [] }), "webhooks.hooks");
  // deno-lint-ignore no-explicit-any
  assert.equal(field({ hooks, prot: 9443 } as any), "webhooks.prot");
  // deno-lint-ignore no-explicit-any
  assert.equal(field({ hooks: [validate, {} as any] }), "webhooks.hooks[1]");
  assert.equal(field({ hooks: [validate, validate] }), "webhooks.hooks[1].path");
  assert.equal(field({ hooks, port: 70000 }), "webhooks.port");
  assert.equal(field({ hooks, servicePort: 0 }), "webhooks.servicePort");
  assert.equal(field({ hooks, namespace: "Bad" }), "webhooks.namespace");
  assert.equal(field({ hooks, serviceName: "no_underscores" }), "webhooks.serviceName");
  assert.equal(field({ hooks, url: "http://127.0.0.1:9443" }), "webhooks.url");
  assert.equal(
    // deno-lint-ignore no-explicit-any
    field({ hooks, certificates: { source: "vault" as any } }),
    "webhooks.certificates.source",
  );
  assert.equal(
    field({ hooks, certificates: { ipAddresses: ["127.0.0.1", "300.1.1.1"] } }),
    "webhooks.certificates.ipAddresses[1]",
  );
  assert.equal(
    field({ hooks, certificates: { checkIntervalMs: 10 } }),
    "webhooks.certificates.checkIntervalMs",
  );
});

Deno.test("webhookManifests: Service, configurations and the CRD conversion stanza", () => {
  const objects = webhookManifests(webhooksConfig({ hooks }, "widgets"), {
    operatorName: "widgets",
    namespace: "ops",
  });
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata?.name}`), [
    "Service/widgets-webhook",
    "ValidatingWebhookConfiguration/widgets-validating",
    "MutatingWebhookConfiguration/widgets-mutating",
    "CustomResourceDefinition/widgets.example.dev",
  ]);
  assert.deepEqual(objects[3]?.spec, {
    conversion: {
      strategy: "Webhook",
      webhook: {
        conversionReviewVersions: ["v1"],
        clientConfig: {
          service: {
            namespace: "ops",
            name: "widgets-webhook",
            port: 443,
            path: "/convert/widgets.example.dev",
          },
        },
      },
    },
  });
  const withCertManager = webhookManifests(
    webhooksConfig({ hooks: [validate], certificates: { source: "cert-manager" } }, "widgets"),
    { operatorName: "widgets", namespace: "ops" },
  );
  assert.deepEqual(withCertManager.map((o) => o.kind), [
    "Service",
    "Issuer",
    "Certificate",
    "ValidatingWebhookConfiguration",
  ]);
  assert.equal(
    withCertManager[3]?.metadata?.annotations?.["cert-manager.io/inject-ca-from"],
    "ops/widgets-webhook",
  );
});

Deno.test("webhookPermissions: the Secret, and the objects whose caBundle the operator writes", () => {
  const owner = { operatorName: "widgets", namespace: "ops" };
  assert.deepEqual(
    webhookPermissions(webhooksConfig({ hooks }, "widgets"), owner).map((p) =>
      `${p.namespace ?? "*"} ${p.group}/${p.resource} ${p.verbs.join(",")}`
    ),
    [
      "ops /secrets get,create,update",
      "* admissionregistration.k8s.io/validatingwebhookconfigurations get,patch",
      "* admissionregistration.k8s.io/mutatingwebhookconfigurations get,patch",
      "* apiextensions.k8s.io/customresourcedefinitions get,patch",
    ],
  );
  assert.deepEqual(
    webhookPermissions(
      webhooksConfig({ hooks, certificates: { source: "cert-manager" } }, "widgets"),
      owner,
    ).map((p) => `${p.resource} ${p.verbs.join(",")}`),
    ["secrets get"],
  );
});
