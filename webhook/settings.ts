/**
 * The `webhooks` section of an operator config: {@linkcode webhooksConfig} validates it (errors
 * name the field, such as `webhooks.port`), and from the result come the objects to install
 * ({@linkcode webhookManifests}), the permissions the operator needs
 * ({@linkcode webhookPermissions}) and the running webhooks ({@linkcode startConfiguredWebhooks}).
 *
 * @module
 */
import type { KubeClient } from "../client/kube_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { Registry } from "../metrics/mod.ts";
import { WebhookConfigError } from "./admission.ts";
import {
  certManagerObjects,
  type WebhookConfigurations,
  webhookConfigurations,
  type WebhookEndpointOptions,
  webhookServiceName,
} from "./configuration.ts";
import type { RunningWebhooks } from "./runtime.ts";
import type { Webhook } from "./server.ts";

/** Where the webhook certificates come from, as written in the config. */
export interface WebhookCertificatesInit {
  /**
   * `"self-signed"` (default): the operator makes a CA and a serving certificate, keeps them in
   * a Secret, renews them and writes the CA into the configurations. `"cert-manager"`:
   * cert-manager issues them into the Secret and its cainjector writes the CA.
   */
  source?: "self-signed" | "cert-manager";
  /** The Secret; default `<operator name>-webhook-tls`. */
  secretName?: string;
  /** DNS names to certify besides the Service's. */
  dnsNames?: string[];
  /** IP addresses to certify, such as `127.0.0.1` for a webhook reached by `url`. */
  ipAddresses?: string[];
  /** How long before expiry a certificate is renewed; default a third of its validity. */
  renewBeforeMs?: number;
  /** How long a new CA is in the bundle before it signs; default two minutes. */
  caPropagationMs?: number;
  /** How often the certificates are checked; default ten minutes. */
  checkIntervalMs?: number;
}

/** The `webhooks` section of an operator config, as written. */
export interface WebhooksConfigInit {
  /** The webhooks: validating, mutating and conversion, made by their functions. */
  hooks: readonly Webhook[];
  /** The port of the webhook server; default 9443. */
  port?: number;
  /** The address it listens on; default `0.0.0.0`. */
  hostname?: string;
  /**
   * The namespace of the Service and the certificate Secret; default the namespace the
   * operator runs in.
   */
  namespace?: string;
  /** The Service's name; default `<operator name>-webhook`. */
  serviceName?: string;
  /** The Service's port; default 443. */
  servicePort?: number;
  /**
   * A base URL the API server calls instead of the Service (a webhook outside the cluster, or
   * in tests), such as `https://127.0.0.1:9443`.
   */
  url?: string;
  /** Where the certificates come from. */
  certificates?: WebhookCertificatesInit;
}

/** The validated `webhooks` section. */
export interface WebhooksConfig {
  /** The webhooks. */
  readonly hooks: readonly Webhook[];
  /** The port. */
  readonly port: number;
  /** The address. */
  readonly hostname: string;
  /** The namespace of the Service and Secret, when the config names one. */
  readonly namespace: string | undefined;
  /** The Service's name. */
  readonly serviceName: string;
  /** The Service's port. */
  readonly servicePort: number;
  /** The base URL, when the API server calls a URL. */
  readonly url: string | undefined;
  /** Where the certificates come from. */
  readonly certificates: Readonly<
    Required<Pick<WebhookCertificatesInit, "source" | "secretName" | "caPropagationMs">> & {
      dnsNames: readonly string[];
      ipAddresses: readonly string[];
      renewBeforeMs: number | undefined;
      checkIntervalMs: number;
    }
  >;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KINDS = new Set(["validating", "mutating", "conversion"]);
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "hooks",
  "port",
  "hostname",
  "namespace",
  "serviceName",
  "servicePort",
  "url",
  "certificates",
]);
const KNOWN_CERTIFICATE_FIELDS: ReadonlySet<string> = new Set([
  "source",
  "secretName",
  "dnsNames",
  "ipAddresses",
  "renewBeforeMs",
  "caPropagationMs",
  "checkIntervalMs",
]);

/**
 * Validates the `webhooks` section of an operator config.
 *
 * @param init the section as written
 * @param operatorName the operator's name, for the default names
 * @returns the validated section
 * @throws {WebhookConfigError} naming the field at fault (`webhooks.<field>`), with the message
 * `Cannot configure operator "<name>": webhooks.<field>: <detail>`
 */
export function webhooksConfig(init: WebhooksConfigInit, operatorName: string): WebhooksConfig {
  const fail = (field: string, detail: string): never => {
    const path = field ? `webhooks.${field}` : "webhooks";
    throw new WebhookConfigError(
      path,
      `Cannot configure operator "${operatorName}": ${path}: ${detail}`,
      detail,
    );
  };
  if (typeof init !== "object" || init === null) fail("", "must be an object");
  for (const key of Object.keys(init)) {
    if (!KNOWN_FIELDS.has(key)) fail(key, "is not an option");
  }
  for (const key of Object.keys(init.certificates ?? {})) {
    if (!KNOWN_CERTIFICATE_FIELDS.has(key)) fail(`certificates.${key}`, "is not an option");
  }
  if (!Array.isArray(init.hooks) || init.hooks.length === 0) {
    fail("hooks", "must list at least one webhook");
  }
  const paths = new Map<string, number>();
  const names = new Map<string, number>();
  init.hooks.forEach((hook, i) => {
    if (typeof hook !== "object" || hook === null || !KINDS.has(hook.kind)) {
      fail(
        `hooks[${i}]`,
        "must be a webhook made by validatingWebhook, mutatingWebhook or conversionWebhook",
      );
    }
    const samePath = paths.get(hook.path);
    if (samePath !== undefined) {
      fail(`hooks[${i}].path`, `"${hook.path}" is already the path of hooks[${samePath}]`);
    }
    const key = `${hook.kind}/${hook.name}`;
    const sameName = names.get(key);
    if (sameName !== undefined) {
      fail(`hooks[${i}].name`, `"${hook.name}" is already the name of hooks[${sameName}]`);
    }
    paths.set(hook.path, i);
    names.set(key, i);
  });
  const port = init.port ?? 9443;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail("port", `must be an integer from 0 to 65535, got ${port}`);
  }
  const servicePort = init.servicePort ?? 443;
  if (!Number.isInteger(servicePort) || servicePort < 1 || servicePort > 65535) {
    fail("servicePort", `must be an integer from 1 to 65535, got ${servicePort}`);
  }
  if (init.hostname !== undefined && !init.hostname) fail("hostname", "must not be empty");
  if (init.namespace !== undefined && !DNS_LABEL.test(init.namespace)) {
    fail("namespace", `must be a namespace name (a DNS-1123 label), got "${init.namespace}"`);
  }
  const serviceName = webhookServiceName({
    operatorName,
    ...(init.serviceName === undefined ? {} : { serviceName: init.serviceName }),
  });
  if (!DNS_LABEL.test(serviceName) || serviceName.length > 63) {
    fail("serviceName", `must be a Service name (a DNS-1123 label), got "${serviceName}"`);
  }
  if (init.url !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(init.url);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== "https:" || url.search || url.hash || url.username) {
      fail("url", `must be an https URL without query, fragment or user, got "${init.url}"`);
    }
  }
  const certs = init.certificates ?? {};
  const source = certs.source ?? "self-signed";
  if (source !== "self-signed" && source !== "cert-manager") {
    fail("certificates.source", `must be "self-signed" or "cert-manager", got "${source}"`);
  }
  const secretName = certs.secretName ?? `${operatorName}-webhook-tls`;
  if (!DNS_SUBDOMAIN.test(secretName) || secretName.length > 253) {
    fail("certificates.secretName", `must be a Secret name (a DNS subdomain), got "${secretName}"`);
  }
  for (const [i, name] of (certs.dnsNames ?? []).entries()) {
    if (!/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(name)) {
      fail(`certificates.dnsNames[${i}]`, `must be a DNS name, got "${name}"`);
    }
  }
  for (const [i, ip] of (certs.ipAddresses ?? []).entries()) {
    let ok = /^(\d{1,3})(\.\d{1,3}){3}$/.test(ip) && ip.split(".").every((n) => Number(n) < 256);
    if (!ok && ip.includes(":")) {
      try {
        ok = new URL(`https://[${ip}]/`).hostname !== "";
      } catch {
        ok = false;
      }
    }
    if (!ok) fail(`certificates.ipAddresses[${i}]`, `must be an IP address, got "${ip}"`);
  }
  const positive = (field: string, value: number | undefined, min: number) => {
    if (value !== undefined && !(Number.isFinite(value) && value >= min)) {
      fail(
        `certificates.${field}`,
        `must be a number of milliseconds of at least ${min}, got ${value}`,
      );
    }
  };
  positive("renewBeforeMs", certs.renewBeforeMs, 1);
  positive("caPropagationMs", certs.caPropagationMs, 0);
  positive("checkIntervalMs", certs.checkIntervalMs, 1000);
  return Object.freeze({
    hooks: Object.freeze([...init.hooks]),
    port,
    hostname: init.hostname ?? "0.0.0.0",
    namespace: init.namespace,
    serviceName,
    servicePort,
    url: init.url,
    certificates: Object.freeze({
      source,
      secretName,
      dnsNames: Object.freeze([...(certs.dnsNames ?? [])]),
      ipAddresses: Object.freeze([...(certs.ipAddresses ?? [])]),
      renewBeforeMs: certs.renewBeforeMs,
      caPropagationMs: certs.caPropagationMs ?? 120_000,
      checkIntervalMs: certs.checkIntervalMs ?? 600_000,
    }),
  });
}

/** Who the webhooks belong to, for the generated objects. */
export interface WebhookOwner {
  /** The operator's name. */
  operatorName: string;
  /** The namespace the operator runs in (used when the section names none). */
  namespace: string;
  /** Labels for the generated objects. */
  labels?: Record<string, string>;
  /** The labels of the operator's pods, for the Service; default `app.kubernetes.io/name`. */
  selector?: Record<string, string>;
}

function endpoint(config: WebhooksConfig, owner: WebhookOwner): WebhookEndpointOptions {
  const namespace = config.namespace ?? owner.namespace;
  return {
    operatorName: owner.operatorName,
    namespace,
    serviceName: config.serviceName,
    servicePort: config.servicePort,
    port: config.port,
    ...(config.url === undefined ? {} : { url: config.url }),
    ...(config.certificates.source === "cert-manager"
      ? { certManagerCertificate: `${namespace}/${owner.operatorName}-webhook` }
      : {}),
    ...(owner.labels ? { labels: owner.labels } : {}),
    ...(owner.selector ? { selector: owner.selector } : {}),
  };
}

/**
 * The generated configurations of a `webhooks` section.
 *
 * @param config the validated section
 * @param owner the operator's name and namespace
 * @returns the configurations, the Service and the CRD conversion stanzas
 */
export function configuredWebhookObjects(
  config: WebhooksConfig,
  owner: WebhookOwner,
): WebhookConfigurations {
  return webhookConfigurations(config.hooks, endpoint(config, owner));
}

/**
 * The objects to install for a `webhooks` section, for `--print-manifests`: the Service, the
 * webhook configurations (their `caBundle` empty: the operator, or cert-manager, fills it in),
 * each CRD's `spec.conversion` as a partial CRD to apply over the full one, and with cert-manager
 * its Issuer and Certificate.
 *
 * @param config the validated section
 * @param owner the operator's name and namespace
 * @returns the objects, in a stable order
 */
export function webhookManifests(config: WebhooksConfig, owner: WebhookOwner): KubernetesObject[] {
  const generated = configuredWebhookObjects(config, owner);
  const objects: KubernetesObject[] = [];
  if (generated.service) objects.push(generated.service);
  if (config.certificates.source === "cert-manager") {
    objects.push(...certManagerObjects(endpoint(config, owner), config.certificates.secretName));
  }
  if (generated.validating) objects.push(generated.validating);
  if (generated.mutating) objects.push(generated.mutating);
  for (const [name, conversion] of Object.entries(generated.conversions)) {
    objects.push({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: {
        name,
        ...(config.certificates.source === "cert-manager"
          ? {
            annotations: {
              "cert-manager.io/inject-ca-from": `${
                config.namespace ?? owner.namespace
              }/${owner.operatorName}-webhook`,
            },
          }
          : {}),
      },
      spec: { conversion },
    });
  }
  return objects;
}

/** One permission the webhooks need. */
export interface WebhookPermission {
  /** The namespace of a Role, or `undefined` for a ClusterRole. */
  namespace: string | undefined;
  /** The API group. */
  group: string;
  /** The resource (plural). */
  resource: string;
  /** The verbs. */
  verbs: ("get" | "create" | "update" | "patch")[];
  /** Why. */
  reason: string;
}

/**
 * The permissions a `webhooks` section needs: the certificate Secret (read; and, self-signed,
 * create and update), and, self-signed, reading and patching the webhook configurations and the
 * CRDs with a conversion webhook (their `caBundle`).
 *
 * @param config the validated section
 * @param owner the operator's name and namespace
 * @returns the permissions
 */
export function webhookPermissions(
  config: WebhooksConfig,
  owner: WebhookOwner,
): WebhookPermission[] {
  const namespace = config.namespace ?? owner.namespace;
  const selfSigned = config.certificates.source === "self-signed";
  const out: WebhookPermission[] = [{
    namespace,
    group: "",
    resource: "secrets",
    verbs: selfSigned ? ["get", "create", "update"] : ["get"],
    reason: selfSigned
      ? `webhook certificates kept in Secret "${config.certificates.secretName}"`
      : `webhook certificates read from cert-manager's Secret "${config.certificates.secretName}"`,
  }];
  if (!selfSigned) return out;
  const kinds = new Set(config.hooks.map((h) => h.kind));
  if (kinds.has("validating")) {
    out.push({
      namespace: undefined,
      group: "admissionregistration.k8s.io",
      resource: "validatingwebhookconfigurations",
      verbs: ["get", "patch"],
      reason: "the caBundle of the validating webhook configuration",
    });
  }
  if (kinds.has("mutating")) {
    out.push({
      namespace: undefined,
      group: "admissionregistration.k8s.io",
      resource: "mutatingwebhookconfigurations",
      verbs: ["get", "patch"],
      reason: "the caBundle of the mutating webhook configuration",
    });
  }
  if (kinds.has("conversion")) {
    out.push({
      namespace: undefined,
      group: "apiextensions.k8s.io",
      resource: "customresourcedefinitions",
      verbs: ["get", "patch"],
      reason: "the conversion webhook and caBundle of the CRDs",
    });
  }
  return out;
}

/** Options of {@linkcode startConfiguredWebhooks}. */
export interface StartConfiguredWebhooksOptions extends WebhookOwner {
  /** The client. */
  client: KubeClient;
  /** Where the metrics go. */
  registry?: Registry;
}

/**
 * Starts the webhooks of a `webhooks` section (the webhook modules and the X.509 code are loaded
 * only now).
 *
 * @param config the validated section
 * @param options the client, the operator's name and namespace, and the metrics registry
 * @returns the running webhooks
 */
export async function startConfiguredWebhooks(
  config: WebhooksConfig,
  options: StartConfiguredWebhooksOptions,
): Promise<RunningWebhooks> {
  const { startWebhooks } = await import("./runtime.ts");
  const namespace = config.namespace ?? options.namespace;
  const generated = configuredWebhookObjects(config, options);
  const selfSigned = config.certificates.source === "self-signed";
  return await startWebhooks({
    client: options.client,
    webhooks: config.hooks,
    port: config.port,
    hostname: config.hostname,
    ...(options.registry ? { registry: options.registry } : {}),
    checkIntervalMs: config.certificates.checkIntervalMs,
    certificates: {
      namespace,
      secretName: config.certificates.secretName,
      source: config.certificates.source,
      serviceName: config.serviceName,
      ...(config.certificates.dnsNames.length
        ? {
          dnsNames: [
            config.serviceName,
            `${config.serviceName}.${namespace}`,
            `${config.serviceName}.${namespace}.svc`,
            `${config.serviceName}.${namespace}.svc.cluster.local`,
            ...config.certificates.dnsNames,
          ],
        }
        : {}),
      ipAddresses: [...config.certificates.ipAddresses],
      caPropagationMs: config.certificates.caPropagationMs,
      ...(config.certificates.renewBeforeMs === undefined
        ? {}
        : { renewBeforeMs: config.certificates.renewBeforeMs }),
    },
    ...(selfSigned
      ? {
        caBundleTargets: {
          ...(generated.validating ? { validating: [generated.validating.metadata!.name!] } : {}),
          ...(generated.mutating ? { mutating: [generated.mutating.metadata!.name!] } : {}),
          conversions: generated.conversions,
        },
      }
      : {}),
  });
}
