/**
 * The webhook server's certificates, kept in a Secret so every replica serves the same ones: a
 * certificate authority and a serving certificate made in-process (`tls/certificates.ts`, loaded
 * lazily), created once (the replica that loses the race reads the winner's), renewed before
 * they expire, and the CA bundle written into the `caBundle` of the webhook configurations and
 * of the CRDs' conversion section. Or, with cert-manager, only read from the Secret it keeps.
 *
 * The Secret (type `kubernetes.io/tls`) holds `tls.crt` and `tls.key` (the serving
 * certificate), `ca.crt` (the CA bundle: the CA that signs, first, then older ones still valid)
 * and `ca.key` (the signing CA's key). A new CA is added to the bundle first and signs serving
 * certificates only {@linkcode CertificateStoreOptions.caPropagationMs} later, so that API
 * servers know it before they meet it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { k8s } from "../k8s/mod.ts";
import type { CertifiedKey } from "../tls/certificates.ts";

const logger = getLogger(["roperator", "webhook"]);

/** The annotation that records when the CA bundle last changed (ISO 8601). */
export const CA_BUNDLE_SINCE_ANNOTATION = "roperator.dev/ca-bundle-since";

const DAY_MS = 86_400_000;

/** The certificates the webhook server needs. */
export interface WebhookCertificates {
  /** The serving certificate and key, PEM. */
  serving: CertifiedKey;
  /** The CA bundle API servers must trust, PEM (one or more certificates). */
  caBundle: string;
}

/** What the Secret holds: the certificates and the signing CA's key. */
type Stored = WebhookCertificates & { ca?: CertifiedKey };

/** The Secret, as far as the store reads it. */
type Secret = KubernetesObject & { type?: string; data?: Record<string, string> };

type Tls = typeof import("../tls/certificates.ts");

/** Options of {@linkcode CertificateStore}. */
export interface CertificateStoreOptions {
  /** The client (it needs get, create and update on the Secret). */
  client: KubeClient;
  /** The namespace of the Secret and of the Service. */
  namespace: string;
  /** The Secret's name. */
  secretName: string;
  /**
   * The DNS names the serving certificate is valid for; default those of the Service
   * `serviceName` (`<svc>`, `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.cluster.local`).
   */
  dnsNames?: string[];
  /** The Service's name, for the default DNS names. */
  serviceName?: string;
  /** IP addresses the serving certificate is valid for, such as `127.0.0.1`. */
  ipAddresses?: string[];
  /**
   * `"self-signed"` (default): the store makes and renews the certificates. `"cert-manager"`:
   * cert-manager keeps the Secret; the store only reads it.
   */
  source?: "self-signed" | "cert-manager";
  /** The CA's validity; default ten years. */
  caValidityMs?: number;
  /** The serving certificate's validity; default 90 days. */
  servingValidityMs?: number;
  /** How long before expiry a certificate is renewed; default a third of its validity. */
  renewBeforeMs?: number;
  /** How long a new CA is in the bundle before it signs; default two minutes. */
  caPropagationMs?: number;
  /**
   * The clock that decides when a certificate is due for renewal (tests move it forward);
   * default `() => new Date()`. Certificates' own dates and the CA propagation delay follow the
   * real clock.
   */
  now?: () => Date;
}

/** Thrown when the certificates cannot be read or made. */
export class CertificateStoreError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, as "Cannot …: detail"
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateStoreError";
  }
}

function b64(text: string): string {
  return btoa(text);
}

function unb64(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return atob(text);
  } catch {
    return undefined;
  }
}

/**
 * Splits a PEM bundle into its certificates, each ending in a newline.
 *
 * @param bundle certificates, PEM, one after another
 * @returns the certificates
 */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((
    pem,
  ) => `${pem}\n`) ?? [];
}

/** The certificates of a webhook server, read from (and kept in) a Secret. */
export class CertificateStore {
  readonly #options: CertificateStoreOptions;
  readonly #secrets: ResourceClient<Secret>;
  readonly #dnsNames: string[];
  readonly #ipAddresses: string[];

  /**
   * Creates the store; nothing is read before {@linkcode CertificateStore.ensure}.
   *
   * @param options the client, the Secret and the names to certify
   * @throws {CertificateStoreError} when the store makes certificates and has no name to certify
   */
  constructor(options: CertificateStoreOptions) {
    this.#options = options;
    this.#secrets = new ResourceClient(
      options.client,
      k8s.core.v1.Secret as unknown as ResourceType<Secret>,
      options.namespace,
    );
    const svc = options.serviceName;
    this.#dnsNames = options.dnsNames ?? (svc
      ? [
        svc,
        `${svc}.${options.namespace}`,
        `${svc}.${options.namespace}.svc`,
        `${svc}.${options.namespace}.svc.cluster.local`,
      ]
      : []);
    this.#ipAddresses = options.ipAddresses ?? [];
    if (
      options.source !== "cert-manager" && !this.#dnsNames.length && !this.#ipAddresses.length
    ) {
      throw new CertificateStoreError(
        `Cannot keep webhook certificates in Secret ${options.namespace}/${options.secretName}: ` +
          `no serviceName, dnsNames or ipAddresses to certify`,
      );
    }
  }

  get #what(): string {
    return `Secret ${this.#options.namespace}/${this.#options.secretName}`;
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date();
  }

  /**
   * Reads the certificates from the Secret, making them when there are none and renewing those
   * due (for a self-signed store); concurrent replicas end up with the same certificates.
   *
   * @returns the serving certificate and the CA bundle
   * @throws {CertificateStoreError} when the Secret cannot be read or written, or (with
   * cert-manager) holds no certificate yet
   */
  async ensure(): Promise<WebhookCertificates> {
    for (let attempt = 0; attempt < 8; attempt++) {
      let secret: Secret | undefined;
      try {
        secret = await this.#secrets.find(this.#options.secretName);
      } catch (error) {
        throw this.#error("read", error);
      }
      if (this.#options.source === "cert-manager") return this.#fromCertManager(secret);
      const tls = await import("../tls/certificates.ts");
      if (secret === undefined) {
        const made = await this.#make(tls);
        try {
          await this.#secrets.create(this.#toSecret(made, undefined));
          logger.info("Created webhook certificates in {secret}", { secret: this.#what });
          return { serving: made.serving, caBundle: made.caBundle };
        } catch (error) {
          if (error instanceof ApiError && error.isAlreadyExists) continue; // another replica won
          throw this.#error("create", error);
        }
      }
      const current = this.#read(secret);
      const next = await this.#renew(tls, secret, current);
      if (next === undefined) {
        return { serving: current.certificates.serving, caBundle: current.certificates.caBundle };
      }
      try {
        await this.#secrets.replace(this.#toSecret(next.certificates, secret, next.since));
        logger.info("Renewed webhook certificates in {secret}: {what}", {
          secret: this.#what,
          what: next.what,
        });
        return { serving: next.certificates.serving, caBundle: next.certificates.caBundle };
      } catch (error) {
        if (error instanceof ApiError && error.isConflict) continue; // another replica wrote first
        throw this.#error("update", error);
      }
    }
    throw new CertificateStoreError(
      `Cannot keep webhook certificates in ${this.#what}: it kept changing under us`,
    );
  }

  #error(verb: string, error: unknown): CertificateStoreError {
    const detail = error instanceof Error ? error.message : String(error);
    return new CertificateStoreError(
      `Cannot ${verb} webhook certificates in ${this.#what}: ${detail}`,
      { cause: error },
    );
  }

  #fromCertManager(secret: Secret | undefined): WebhookCertificates {
    const data = secret?.data ?? {};
    const certificate = unb64(data["tls.crt"]);
    const key = unb64(data["tls.key"]);
    const caBundle = unb64(data["ca.crt"]) ?? "";
    if (!certificate || !key) {
      throw new CertificateStoreError(
        `Cannot read webhook certificates in ${this.#what}: cert-manager has not written ` +
          `tls.crt and tls.key yet`,
      );
    }
    return { serving: { certificate, key }, caBundle };
  }

  async #make(tls: Tls): Promise<Stored> {
    const ca = await this.#newCa(tls);
    return {
      serving: await this.#issue(tls, ca),
      caBundle: splitPemBundle(ca.certificate)[0]!,
      ca,
    };
  }

  async #newCa(tls: Tls): Promise<CertifiedKey> {
    const now = new Date();
    return await tls.createCertificateAuthority({
      commonName: `${this.#options.secretName}-ca-${now.getTime().toString(36)}`,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + (this.#options.caValidityMs ?? 3650 * DAY_MS)),
    });
  }

  async #issue(
    tls: Tls,
    ca: CertifiedKey,
  ): Promise<CertifiedKey> {
    const now = new Date();
    const caExpiry = tls.certificateExpiry(ca.certificate).getTime();
    const wanted = now.getTime() + (this.#options.servingValidityMs ?? 90 * DAY_MS);
    return await tls.issueServingCertificate(ca, {
      dnsNames: this.#dnsNames,
      ipAddresses: this.#ipAddresses,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(Math.min(wanted, caExpiry)),
    });
  }

  #read(secret: Secret): { certificates: Stored; complete: boolean } {
    const data = secret.data ?? {};
    const certificate = unb64(data["tls.crt"]) ?? "";
    const key = unb64(data["tls.key"]) ?? "";
    const caBundle = unb64(data["ca.crt"]) ?? "";
    const caKey = unb64(data["ca.key"]) ?? "";
    const caCert = splitPemBundle(caBundle)[0];
    return {
      certificates: {
        serving: { certificate, key },
        caBundle,
        ...(caCert && caKey ? { ca: { certificate: caCert, key: caKey } } : {}),
      },
      complete: Boolean(certificate && key && caCert && caKey),
    };
  }

  /** What to write, or `undefined` when the Secret's certificates are good. */
  async #renew(
    tls: Tls,
    secret: Secret,
    current: { certificates: Stored; complete: boolean },
  ): Promise<{ certificates: Stored; since?: Date; what: string } | undefined> {
    const now = this.#now();
    const rotation = {
      now,
      ...(this.#options.renewBeforeMs === undefined
        ? {}
        : { renewBeforeMs: this.#options.renewBeforeMs }),
    };
    const { ca } = current.certificates;
    let caInfo;
    try {
      caInfo = ca && tls.readCertificate(ca.certificate);
    } catch {
      caInfo = undefined;
    }
    if (!current.complete || !ca || !caInfo || now >= caInfo.notAfter) {
      return {
        certificates: await this.#make(tls),
        since: new Date(),
        what: "new CA and certificate",
      };
    }
    // The bundle keeps only CAs still valid.
    const bundle = splitPemBundle(current.certificates.caBundle).filter((pem) => {
      try {
        return tls.certificateExpiry(pem) > new Date();
      } catch {
        return false;
      }
    });
    if (tls.needsRotation(ca.certificate, rotation)) {
      const next = await this.#newCa(tls);
      return {
        certificates: {
          serving: current.certificates.serving,
          caBundle: [...splitPemBundle(next.certificate), ...bundle].join(""),
          ca: next,
        },
        since: new Date(),
        what: "new CA added to the bundle",
      };
    }
    const since = new Date(secret.metadata?.annotations?.[CA_BUNDLE_SINCE_ANNOTATION] ?? 0);
    const propagated = Date.now() - since.getTime() >= (this.#options.caPropagationMs ?? 120_000);
    let serving;
    try {
      serving = tls.readCertificate(current.certificates.serving.certificate);
    } catch {
      serving = undefined;
    }
    const namesDiffer = !serving ||
      !this.#dnsNames.every((n) => serving.dnsNames.includes(n)) ||
      !this.#ipAddresses.every((ip) => serving.ipAddresses.includes(ip));
    const signedByOld = serving !== undefined && serving.issuer !== caInfo.subject;
    const due = serving === undefined ||
      tls.needsRotation(current.certificates.serving.certificate, rotation);
    if (
      (due || namesDiffer || signedByOld) && (propagated || !serving || now >= serving.notAfter)
    ) {
      return {
        certificates: {
          serving: await this.#issue(tls, ca),
          caBundle: bundle.join(""),
          ca,
        },
        what: signedByOld
          ? "serving certificate signed by the new CA"
          : namesDiffer
          ? "serving certificate for new names"
          : "serving certificate renewed",
      };
    }
    if (bundle.join("") !== current.certificates.caBundle) {
      return {
        certificates: { ...current.certificates, caBundle: bundle.join("") },
        since: new Date(),
        what: "expired CAs dropped from the bundle",
      };
    }
    return undefined;
  }

  #toSecret(
    certificates: Stored,
    previous: Secret | undefined,
    since?: Date,
  ): Secret {
    const annotations = { ...previous?.metadata?.annotations };
    if (since !== undefined || !annotations[CA_BUNDLE_SINCE_ANNOTATION]) {
      annotations[CA_BUNDLE_SINCE_ANNOTATION] = (since ?? new Date()).toISOString();
    }
    return {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        ...previous?.metadata,
        name: this.#options.secretName,
        namespace: this.#options.namespace,
        annotations,
      },
      type: "kubernetes.io/tls",
      data: {
        "tls.crt": b64(certificates.serving.certificate),
        "tls.key": b64(certificates.serving.key),
        "ca.crt": b64(certificates.caBundle),
        "ca.key": b64(certificates.ca?.key ?? ""),
      },
    };
  }
}
