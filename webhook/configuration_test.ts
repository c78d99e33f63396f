import assert from "node:assert/strict";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { allow, mutatingWebhook, validatingWebhook } from "./admission.ts";
import { conversionWebhook } from "./conversion.ts";
import { certManagerObjects, webhookConfigurations } from "./configuration.ts";

const Widget = resourceType({
  apiVersion: "example.dev/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
});
const validate = validatingWebhook({ type: Widget, handler: () => allow() });
const mutate = mutatingWebhook({
  type: Widget,
  handler: () => ({ allowed: true }),
  failurePolicy: "Ignore",
  timeoutSeconds: 3,
  sideEffects: "NoneOnDryRun",
  operations: ["CREATE"],
  matchConditions: [{
    name: "not-system",
    expression: "!request.userInfo.username.startsWith('system:')",
  }],
  namespaceSelector: { matchLabels: { webhooks: "on" } },
  objectSelector: { matchExpressions: [{ key: "skip", operator: "DoesNotExist" }] },
  subresources: ["status"],
  reinvocationPolicy: "IfNeeded",
});
const convert = conversionWebhook<{ v1alpha1: KubernetesObject; v1: KubernetesObject }>({
  type: Widget,
  converters: { v1alpha1: { v1: (o) => o }, v1: { v1alpha1: (o) => o } },
});

Deno.test("webhookConfigurations: sensible defaults, behind the Service", () => {
  const out = webhookConfigurations([validate, mutate, convert], {
    operatorName: "widgets",
    namespace: "ops",
  });
  assert.deepEqual(out.validating, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: "widgets-validating" },
    webhooks: [{
      name: "validate.widgets.example.dev",
      admissionReviewVersions: ["v1"],
      clientConfig: {
        service: {
          namespace: "ops",
          name: "widgets-webhook",
          port: 443,
          path: "/validate/validate.widgets.example.dev",
        },
      },
      rules: [{
        apiGroups: ["example.dev"],
        apiVersions: ["v1"],
        resources: ["widgets"],
        operations: ["CREATE", "UPDATE"],
        scope: "Namespaced",
      }],
      matchPolicy: "Equivalent",
      failurePolicy: "Fail",
      sideEffects: "None",
      timeoutSeconds: 10,
    }],
  });
  assert.deepEqual(out.service?.spec?.ports, [{
    name: "webhook",
    port: 443,
    targetPort: 9443,
    protocol: "TCP",
  }]);
  assert.deepEqual(out.service?.spec?.selector, { "app.kubernetes.io/name": "widgets" });
  assert.deepEqual(out.conversions["widgets.example.dev"], {
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
  });
});

Deno.test("webhookConfigurations: every setting reaches the configuration", () => {
  const out = webhookConfigurations([mutate], {
    operatorName: "widgets",
    namespace: "ops",
    url: "https://127.0.0.1:9443/",
    caBundle: "PEM",
    certManagerCertificate: "ops/widgets-webhook",
  });
  assert.equal(out.validating, undefined);
  assert.equal(out.service, undefined);
  const webhook = out.mutating!.webhooks![0]!;
  assert.deepEqual(webhook.clientConfig, {
    url: "https://127.0.0.1:9443/mutate/mutate.widgets.example.dev",
    caBundle: btoa("PEM"),
  });
  assert.equal(webhook.failurePolicy, "Ignore");
  assert.equal(webhook.timeoutSeconds, 3);
  assert.equal(webhook.sideEffects, "NoneOnDryRun");
  assert.equal(webhook.reinvocationPolicy, "IfNeeded");
  assert.deepEqual(webhook.matchConditions, mutate.matchConditions);
  assert.deepEqual(webhook.namespaceSelector, { matchLabels: { webhooks: "on" } });
  assert.deepEqual(webhook.objectSelector, mutate.objectSelector);
  assert.deepEqual(
    (webhook.rules![0] as { resources?: string[]; operations?: string[] }).resources,
    ["widgets", "widgets/status"],
  );
  assert.deepEqual(webhook.rules![0]!.operations, ["CREATE"]);
  assert.deepEqual(out.mutating!.metadata?.annotations, {
    "cert-manager.io/inject-ca-from": "ops/widgets-webhook",
  });
});

Deno.test("certManagerObjects: a self-signed Issuer and a Certificate for the Service", () => {
  const [issuer, certificate] = certManagerObjects(
    { operatorName: "widgets", namespace: "ops" },
    "widgets-webhook-tls",
  );
  assert.equal(issuer?.kind, "Issuer");
  assert.deepEqual(certificate?.spec, {
    secretName: "widgets-webhook-tls",
    dnsNames: ["widgets-webhook.ops.svc", "widgets-webhook.ops.svc.cluster.local"],
    issuerRef: { name: "widgets-webhook", kind: "Issuer" },
  });
});
