/**
 * Running the webhooks: {@linkcode startWebhooks} reads (or makes) the certificates, starts the
 * HTTPS server, writes the CA bundle into the webhook configurations and CRDs, and checks again
 * at an interval, so a renewed certificate (by this replica, another one, or cert-manager) is
 * served and trusted without a refused request.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { k8s } from "../k8s/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { CertificateStore, type CertificateStoreOptions } from "./certificate_store.ts";
import type { CrdConversion } from "./configuration.ts";
import { jsonEqual } from "../client/_util.ts";
import { type Webhook, WebhookServer } from "./server.ts";

const logger = getLogger(["roperator", "webhook"]);

/** How soon a failed refresh, or a missing configuration, is tried again. */
const RETRY_MS = 10_000;

/** Which objects' `caBundle` the operator keeps current. */
export interface CaBundleTargets {
  /** ValidatingWebhookConfiguration names. */
  validating?: string[];
  /** MutatingWebhookConfiguration names. */
  mutating?: string[];
  /**
   * Per CRD name (`<plural>.<group>`), its `spec.conversion` (see `conversionStanza`): the
   * operator writes it, with the CA bundle, where the CRD's differs.
   */
  conversions?: Record<string, CrdConversion>;
}

type WithWebhooks = KubernetesObject & {
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
};
type Crd = KubernetesObject & { spec?: { conversion?: unknown } };

/**
 * Writes a CA bundle into the `caBundle` of every webhook of the named configurations, and each
 * CRD's `spec.conversion` (with the bundle), where they differ. Objects that do not exist (yet)
 * are skipped.
 *
 * @param client the client (it needs get and patch on those objects)
 * @param targets the objects
 * @param caBundle the bundle, PEM
 * @returns how many objects were patched, and how many were missing (or, for a CRD, had no
 * conversion webhook)
 * @throws {ApiError} when an object cannot be read or patched
 */
export async function injectCaBundle(
  client: KubeClient,
  targets: CaBundleTargets,
  caBundle: string,
): Promise<{ patched: number; missing: number }> {
  const encoded = btoa(caBundle);
  let patched = 0;
  let missing = 0;
  const admission: [ResourceType, string[]][] = [
    [k8s.admissionregistration.v1.ValidatingWebhookConfiguration, targets.validating ?? []],
    [k8s.admissionregistration.v1.MutatingWebhookConfiguration, targets.mutating ?? []],
  ];
  for (const [type, names] of admission) {
    const configurations = new ResourceClient<WithWebhooks>(
      client,
      type as ResourceType<WithWebhooks>,
    );
    for (const name of names) {
      const configuration = await configurations.find(name);
      if (!configuration) {
        logger.warn("Cannot set the caBundle of {kind} {name}: it does not exist", {
          kind: type.kind,
          name,
        });
        missing++;
        continue;
      }
      // A test of each webhook's name first: a list edited meanwhile fails the patch, not a
      // stranger's entry.
      const operations = (configuration.webhooks ?? []).flatMap((webhook, i) =>
        webhook.clientConfig?.caBundle === encoded ? [] : [
          { op: "test", path: `/webhooks/${i}/name`, value: webhook.name },
          { op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: encoded },
        ]
      );
      if (!operations.length) continue;
      await configurations.patch(name, operations, { type: "json" });
      patched++;
    }
  }
  const crds = new ResourceClient<Crd>(
    client,
    k8s.apiextensions.v1.CustomResourceDefinition as unknown as ResourceType<Crd>,
  );
  for (const [name, stanza] of Object.entries(targets.conversions ?? {})) {
    const crd = await crds.find(name);
    if (!crd) {
      logger.warn("Cannot set the conversion webhook of CRD {name}: it does not exist", { name });
      missing++;
      continue;
    }
    const conversion: CrdConversion = {
      ...stanza,
      webhook: {
        ...stanza.webhook,
        clientConfig: { ...stanza.webhook.clientConfig, caBundle: encoded },
      },
    };
    if (jsonEqual(crd.spec?.conversion, conversion)) continue;
    await crds.patch(name, { spec: { conversion } });
    patched++;
  }
  return { patched, missing };
}

/** Options of {@linkcode startWebhooks}. */
export interface StartWebhooksOptions {
  /** The client, for the certificate Secret and the caBundles. */
  client: KubeClient;
  /** The webhooks. */
  webhooks: readonly Webhook[];
  /** The port; default 9443. */
  port?: number;
  /** The address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** Where the certificates are kept (the client is taken from above). */
  certificates: Omit<CertificateStoreOptions, "client">;
  /**
   * The objects whose `caBundle` the operator keeps current; default none. Leave it out when
   * cert-manager's cainjector fills them in.
   */
  caBundleTargets?: CaBundleTargets;
  /**
   * How often the certificates are checked and the CA bundle written where it differs; default
   * ten minutes (ten seconds while an object is missing or a check failed).
   */
  checkIntervalMs?: number;
  /** Where the metrics go. */
  registry?: Registry;
}

/** Running webhooks, returned by {@linkcode startWebhooks}. */
export interface RunningWebhooks extends AsyncDisposable {
  /** The HTTPS server. */
  readonly server: WebhookServer;
  /** The port it listens on. */
  readonly port: number;
  /** The CA bundle API servers trust, PEM. */
  readonly caBundle: string;
  /**
   * Reads the certificates again (renewing those due), serves a new serving certificate and
   * writes a new CA bundle where needed; what the timer does.
   */
  refresh(): Promise<void>;
  /** Stops the timer and the server. */
  close(): Promise<void>;
}

/**
 * Starts the webhooks: certificates (made, or read from the Secret), the HTTPS server, the CA
 * bundle written where it belongs, and a timer that renews and reloads.
 *
 * @param options the client, the webhooks, the port and where the certificates are kept
 * @returns the running webhooks
 * @throws {CertificateStoreError} when the certificates cannot be read or made
 * @throws {WebhookServerError} when the server cannot start
 */
export async function startWebhooks(options: StartWebhooksOptions): Promise<RunningWebhooks> {
  const store = new CertificateStore({ ...options.certificates, client: options.client });
  let certificates = await store.ensure();
  const server = await WebhookServer.start({
    webhooks: options.webhooks,
    certificate: certificates.serving,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  /** Writes the bundle where it differs; false when an object is missing or the write failed. */
  const inject = async (): Promise<boolean> => {
    if (!options.caBundleTargets) return true;
    try {
      const { missing } = await injectCaBundle(
        options.client,
        options.caBundleTargets,
        certificates.caBundle,
      );
      return missing === 0;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      logger.error("Cannot write the webhook CA bundle: {detail}", { detail, error });
      return false;
    }
  };
  const checkIntervalMs = options.checkIntervalMs ?? 600_000;
  // Objects not there yet (installed after the operator), or a failed write: try again soon.
  const retryMs = Math.min(RETRY_MS, checkIntervalMs);
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const schedule = (ok: boolean) => {
    clearTimeout(timer);
    if (!closed) timer = setTimeout(() => void refresh(), ok ? checkIntervalMs : retryMs);
  };
  let running: Promise<void> = Promise.resolve();
  const refresh = (): Promise<void> => {
    running = running.then(async () => {
      if (closed) return;
      let ok = false;
      try {
        certificates = await store.ensure();
        // The bundle first: API servers must trust a new CA before they meet it.
        ok = await inject();
        await server.setCertificate(certificates.serving);
      } catch (error) {
        ok = false;
        const detail = error instanceof Error ? error.message : String(error);
        logger.error("Cannot refresh the webhook certificates: {detail}", { detail, error });
      }
      schedule(ok);
    });
    return running;
  };
  schedule(await inject());
  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    await running;
    await server.close();
  };
  return {
    server,
    get port() {
      return server.port;
    },
    get caBundle() {
      return certificates.caBundle;
    },
    refresh,
    close,
    [Symbol.asyncDispose]: close,
  };
}
