/**
 * The objects that make the API server call the webhooks: the
 * `ValidatingWebhookConfiguration` and `MutatingWebhookConfiguration`, the Service in front of
 * the operator's webhook port, the `spec.conversion` stanza of each CRD with a conversion
 * webhook, and, with cert-manager, its Issuer and Certificate.
 *
 * @module
 */
import { groupOf, type KubernetesObject } from "../client/resource_type.ts";
import type {
  MutatingWebhook as MutatingWebhookObject,
  ValidatingWebhook as ValidatingWebhookObject,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import type {
  MutatingWebhookConfiguration,
  Service,
  ValidatingWebhookConfiguration,
} from "../k8s/mod.ts";
import type { MutatingWebhook, ValidatingWebhook } from "./admission.ts";
import type { ConversionWebhook } from "./conversion.ts";
import type { Webhook } from "./server.ts";

/** Where the API server reaches the webhook server, and how it trusts it. */
export interface WebhookEndpointOptions {
  /** The operator's name: the configurations are named `<name>-validating` and `<name>-mutating`. */
  operatorName: string;
  /** The namespace of the Service (and of the operator). */
  namespace: string;
  /** The Service's name; default `<operatorName>-webhook`. */
  serviceName?: string;
  /** The Service's port; default 443. */
  servicePort?: number;
  /** The operator's webhook port (the Service's target port); default 9443. */
  port?: number;
  /**
   * The base URL the API server calls instead of the Service, such as `https://127.0.0.1:9443`
   * (a webhook served outside the cluster, or in tests); each webhook's path is appended.
   */
  url?: string;
  /** The CA bundle, PEM; default none (the operator, or cert-manager, fills it in). */
  caBundle?: string;
  /**
   * The cert-manager Certificate (`<namespace>/<name>`) whose CA cert-manager's cainjector
   * writes into the `caBundle`s.
   */
  certManagerCertificate?: string;
  /** Labels for every generated object. */
  labels?: Record<string, string>;
  /** The labels of the operator's pods, for the Service; default `app.kubernetes.io/name`. */
  selector?: Record<string, string>;
}

/** How the API server reaches a webhook: a URL, or a Service; and the CA it trusts. */
export interface WebhookClientConfig {
  /** The URL (a webhook outside the cluster). */
  url?: string;
  /** The Service in front of the operator. */
  service?: { namespace: string; name: string; port: number; path: string };
  /** The CA bundle, PEM, base64. */
  caBundle?: string;
}

/** A CRD's `spec.conversion` for a conversion webhook. */
export interface CrdConversion {
  /** `Webhook`. */
  strategy: "Webhook";
  /** The webhook. */
  webhook: {
    /** `["v1"]`. */
    conversionReviewVersions: string[];
    /** How the API server reaches it. */
    clientConfig: WebhookClientConfig;
  };
}

/** The generated configuration. */
export interface WebhookConfigurations {
  /** The validating configuration, when there is a validating webhook. */
  validating?: ValidatingWebhookConfiguration & KubernetesObject;
  /** The mutating configuration, when there is a mutating webhook. */
  mutating?: MutatingWebhookConfiguration & KubernetesObject;
  /** The Service (absent when a `url` is given). */
  service?: Service & KubernetesObject;
  /** Per CRD name (`<plural>.<group>`), the `spec.conversion` stanza. */
  conversions: Record<string, CrdConversion>;
}

function b64(text: string): string {
  return btoa(text);
}

function clientConfig(path: string, options: WebhookEndpointOptions): WebhookClientConfig {
  const caBundle = options.caBundle ? { caBundle: b64(options.caBundle) } : {};
  if (options.url) return { url: `${options.url.replace(/\/$/, "")}${path}`, ...caBundle };
  return {
    service: {
      namespace: options.namespace,
      name: webhookServiceName(options),
      port: options.servicePort ?? 443,
      path,
    },
    ...caBundle,
  };
}

/**
 * The Service's name for these options.
 *
 * @param options the operator name and the service name, if given
 * @returns the name
 */
export function webhookServiceName(
  options: Pick<WebhookEndpointOptions, "operatorName" | "serviceName">,
): string {
  return options.serviceName ?? `${options.operatorName}-webhook`;
}

function metadata(name: string, options: WebhookEndpointOptions) {
  return {
    name,
    ...(options.labels ? { labels: { ...options.labels } } : {}),
    ...(options.certManagerCertificate
      ? { annotations: { "cert-manager.io/inject-ca-from": options.certManagerCertificate } }
      : {}),
  };
}

function admissionEntry(
  webhook: ValidatingWebhook | MutatingWebhook,
  options: WebhookEndpointOptions,
): ValidatingWebhookObject {
  const type = webhook.type;
  const version = type.apiVersion.slice(type.apiVersion.lastIndexOf("/") + 1);
  const resources = [
    type.plural,
    ...(webhook.subresources ?? []).map((s) => `${type.plural}/${s}`),
  ];
  return {
    name: webhook.name,
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(webhook.path, options),
    // kubernetes-types 1.30 lacks RuleWithOperations' `resources` and `scope` (an inlined Rule).
    rules: [
      {
        apiGroups: [groupOf(type)],
        apiVersions: [version],
        resources,
        operations: [...(webhook.operations ?? ["CREATE", "UPDATE"])],
        scope: type.namespaced ? "Namespaced" : "Cluster",
      } as NonNullable<ValidatingWebhookObject["rules"]>[number],
    ],
    matchPolicy: "Equivalent",
    failurePolicy: webhook.failurePolicy ?? "Fail",
    sideEffects: webhook.sideEffects ?? "None",
    timeoutSeconds: webhook.timeoutSeconds ?? 10,
    ...(webhook.matchConditions?.length
      ? { matchConditions: webhook.matchConditions.map((c) => ({ ...c })) }
      : {}),
    ...(webhook.namespaceSelector
      ? { namespaceSelector: structuredClone(webhook.namespaceSelector) }
      : {}),
    ...(webhook.objectSelector ? { objectSelector: structuredClone(webhook.objectSelector) } : {}),
  };
}

/**
 * The `spec.conversion` stanza of a CRD with a conversion webhook.
 *
 * @param webhook the conversion webhook
 * @param options where the API server reaches it
 * @returns the stanza
 */
export function conversionStanza(
  webhook: ConversionWebhook,
  options: WebhookEndpointOptions,
): CrdConversion {
  return {
    strategy: "Webhook",
    webhook: {
      conversionReviewVersions: ["v1"],
      clientConfig: clientConfig(webhook.path, options),
    },
  };
}

/**
 * The objects that make the API server call the webhooks.
 *
 * @param webhooks the webhooks
 * @param options where the API server reaches them, and how it trusts them
 * @returns the configurations, the Service and the CRD conversion stanzas
 */
export function webhookConfigurations(
  webhooks: readonly Webhook[],
  options: WebhookEndpointOptions,
): WebhookConfigurations {
  const validating = webhooks.filter((w): w is ValidatingWebhook => w.kind === "validating");
  const mutating = webhooks.filter((w): w is MutatingWebhook => w.kind === "mutating");
  const conversion = webhooks.filter((w): w is ConversionWebhook => w.kind === "conversion");
  const out: WebhookConfigurations = { conversions: {} };
  if (validating.length) {
    out.validating = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: metadata(`${options.operatorName}-validating`, options),
      webhooks: validating.map((w) => admissionEntry(w, options)),
    };
  }
  if (mutating.length) {
    out.mutating = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: metadata(`${options.operatorName}-mutating`, options),
      webhooks: mutating.map((w): MutatingWebhookObject => ({
        ...admissionEntry(w, options),
        reinvocationPolicy: w.reinvocationPolicy ?? "Never",
      })),
    };
  }
  for (const w of conversion) out.conversions[w.name] = conversionStanza(w, options);
  if (!options.url && webhooks.length) {
    out.service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: webhookServiceName(options),
        namespace: options.namespace,
        ...(options.labels ? { labels: { ...options.labels } } : {}),
      },
      spec: {
        selector: { ...(options.selector ?? { "app.kubernetes.io/name": options.operatorName }) },
        ports: [{
          name: "webhook",
          port: options.servicePort ?? 443,
          targetPort: options.port ?? 9443,
          protocol: "TCP",
        }],
      },
    };
  }
  return out;
}

/**
 * cert-manager's self-signed Issuer and the Certificate of the webhook Service, stored in
 * `secretName`; set {@linkcode WebhookEndpointOptions.certManagerCertificate} to
 * `<namespace>/<operatorName>-webhook` so its CA is injected.
 *
 * @param options the operator name, namespace and Service
 * @param secretName the Secret cert-manager writes
 * @returns the Issuer and the Certificate
 */
export function certManagerObjects(
  options: WebhookEndpointOptions,
  secretName: string,
): KubernetesObject[] {
  const svc = webhookServiceName(options);
  const ns = options.namespace;
  const name = `${options.operatorName}-webhook`;
  return [
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Issuer",
      metadata: { name, namespace: ns },
      spec: { selfSigned: {} },
    },
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name, namespace: ns },
      spec: {
        secretName,
        dnsNames: [`${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`],
        issuerRef: { name, kind: "Issuer" },
      },
    },
  ];
}
