/**
 * The set-up and tear-down of a test kit: the options of `TestKit.create`, the cluster it runs
 * against (a given or shared control plane, or any cluster), the CRDs it installs, the namespace
 * of its own ({@linkcode TEST_NAMESPACE_LABEL}), the operator under test started confined to it
 * ({@linkcode startKitOperator}, {@linkcode waitUntilReady}), and the clean-up in order on
 * dispose ({@linkcode tearDownKit}).
 *
 * @module
 */
import type { ClientConfig } from "../client/client_config.ts";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import {
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
} from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { isParentSchema } from "../schema/is_parent_schema.ts";
import type { Handler } from "../handler/handler.ts";
import { controllerOf, type OperatorHandle, startOperator } from "../runner/run_operator.ts";
import type { ControlPlane } from "./control_plane.ts";
import { testControlPlane } from "./shared_control_plane.ts";
import { installCustomResourceDefinitions } from "./crds.ts";
import type { KitParents } from "./kit_parents.ts";
import { messageOf } from "../client/_util.ts";
import { poll } from "./poll.ts";

/** The label set on the namespaces a `TestKit` creates; its value is `"true"`. */
export const TEST_NAMESPACE_LABEL = "roperator.dev/test-namespace";

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_QUIET_MS = 200;

/** Options for `TestKit.create`. */
export interface TestKitOptions {
  /**
   * The control plane to run against; it is not stopped on dispose. Without it (and without
   * `clientConfig`), the kit calls `testControlPlane()`: it attaches to the control plane shared
   * by the test run when there is one, else starts a new one, and stops it on dispose.
   */
  controlPlane?: ControlPlane;
  /**
   * Run against any cluster, for example one loaded from a kubeconfig with `loadClientConfig()`;
   * then no control plane is started. Give `controlPlane` or `clientConfig`, not both.
   */
  clientConfig?: ClientConfig;
  /**
   * The namespace to work in. It must exist and is left alone on dispose. Default: a fresh
   * namespace `<namespacePrefix>-<random>`, labelled {@linkcode TEST_NAMESPACE_LABEL}`=true`,
   * created for the kit and deleted on dispose.
   */
  namespace?: string;
  /** The prefix of the fresh namespace. Default: the operator name. */
  namespacePrefix?: string;
  /**
   * CustomResourceDefinitions (or other cluster-scoped objects) to create before the operator
   * starts, each skipped when an object of that name exists; CRDs are waited on until they are
   * established. They are left in the cluster on dispose. A parent declared with `parentSchema()`
   * needs none: its generated CRD is installed unless one of the same name is given here.
   */
  crds?: readonly KubernetesObject[];
  /**
   * The default timeout of the waits (`*Eventually`, `createParent`, `deleteParent`,
   * `reconcile`, readiness), in ms. Default 30 000.
   */
  timeoutMs?: number;
  /**
   * How long the operator must stay idle (nothing queued, nothing running, no sync started) for
   * `TestKit.reconcile` to return, in ms. Default 200.
   */
  quietPeriodMs?: number;
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
}

function namespaceName(prefix: string): string {
  let clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 55)
    .replace(/^-+|-+$/g, "");
  if (clean === "") clean = "kit";
  return `${clean}-${randomSuffix()}`;
}

function isResolvedConfig(config: OperatorConfigInit | OperatorConfig): config is OperatorConfig {
  return Object.isFrozen(config) && "trackingLabel" in config && "relistPeriodMs" in config &&
    "finalizer" in config && "server" in config && Array.isArray(config.children);
}

/** The init form of a config, so that it can be resolved again with the kit's overrides. */
function toInit<P extends KubernetesObject>(
  config: OperatorConfigInit<P> | OperatorConfig<P>,
): OperatorConfigInit<P> {
  if (!isResolvedConfig(config)) return { ...config };
  const init: OperatorConfigInit<P> = {
    name: config.name,
    parent: config.parent,
    children: config.children,
    trackingLabel: config.trackingLabel,
    ownershipLabel: config.ownershipLabel,
    finalizer: config.finalizer ?? false,
    maxErrorBackoffMs: config.maxErrorBackoffMs,
    resyncPeriodMs: config.resyncPeriodMs,
    concurrency: config.concurrency,
    syncTimeoutMs: config.syncTimeoutMs,
    watchIdleTimeoutMs: config.watchIdleTimeoutMs,
    relistPeriodMs: config.relistPeriodMs,
    related: config.related,
  };
  if (config.parentLabelSelector !== undefined) {
    init.parentLabelSelector = config.parentLabelSelector;
  }
  return init;
}

/** What a started kit is made of. */
export interface KitParts {
  /** The namespace the kit works in. */
  namespace: string;
  /** A client of the cluster, with the kit's credentials. */
  client: KubeClient;
  /** The running operator. */
  operator: OperatorHandle;
  /** The operator's effective configuration. */
  config: OperatorConfig;
  /** The control plane the kit runs against, when it was given or started one. */
  controlPlane: ControlPlane | undefined;
  /** Whether the kit created the namespace (and deletes it on dispose). */
  ownsNamespace: boolean;
  /** Whether the kit started the control plane (and stops it on dispose). */
  ownsControlPlane: boolean;
  /** The default timeout of the waits, in ms. */
  timeoutMs: number;
  /** The quiet period of `TestKit.reconcile`, in ms. */
  quietMs: number;
}

/** A started kit, and how to undo the start when what follows fails. */
export interface StartedKit {
  /** What the kit is made of. */
  parts: KitParts;
  /** Stops the operator, deletes the namespace, closes the client, stops the control plane. */
  cleanup: () => Promise<void>;
}

/**
 * Connects to the cluster (starting or attaching to a control plane when neither
 * `controlPlane` nor `clientConfig` is given), installs the CRDs, creates the namespace and
 * starts the operator confined to it with its HTTP server off. It does not wait until the
 * operator is ready ({@linkcode waitUntilReady}). What it started is cleaned up when it fails.
 *
 * @param config the operator config, as written (`OperatorConfigInit`) or resolved
 * @param handler the handler under test
 * @param options the cluster, the namespace, CRDs to install and timeouts
 * @returns the parts of the kit, and their clean-up
 * @throws {OperatorConfigError} when the config is invalid
 */
export async function startKitOperator<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfigInit<P> | OperatorConfig<P>,
  handler: Handler<P>,
  options: TestKitOptions = {},
): Promise<StartedKit> {
  if (options.controlPlane && options.clientConfig) {
    throw new TypeError(
      "Cannot create test kit: give options.controlPlane or options.clientConfig, not both",
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const quietMs = options.quietPeriodMs ?? DEFAULT_QUIET_MS;
  const init = toInit(config);
  // Validate before anything is started.
  operatorConfig(init);

  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch { /* best effort */ }
    }
  };
  try {
    let controlPlane = options.controlPlane;
    let ownsControlPlane = false;
    if (!options.clientConfig && !controlPlane) {
      controlPlane = await testControlPlane();
      ownsControlPlane = true;
      const started = controlPlane;
      cleanups.push(() => started.stop());
    }
    const clientConfig: ClientConfig = options.clientConfig ?? {
      server: controlPlane!.server,
      caCertificates: [controlPlane!.caCertificate],
      credentials: { kind: "token", token: controlPlane!.adminToken },
    };
    const client = new KubeClient({
      userAgent: `${init.name} (roperator testkit)`,
      ...clientConfig,
    });
    cleanups.push(() => client.close());

    const crds = [...options.crds ?? []];
    if (isParentSchema(init.parent)) {
      const generated = init.parent.crd();
      if (!crds.some((crd) => crd.metadata?.name === generated.metadata?.name)) {
        crds.push(generated);
      }
    }
    if (crds.length > 0) {
      await installCustomResourceDefinitions(client, crds, { timeoutMs });
    }

    let namespace = options.namespace;
    const ownsNamespace = namespace === undefined;
    if (namespace === undefined) {
      const name = namespaceName(options.namespacePrefix ?? init.name);
      await new ResourceClient(client, k8s.core.v1.Namespace).create({
        metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: "true" } },
      });
      namespace = name;
      cleanups.push(async () => {
        await new ResourceClient(client, k8s.core.v1.Namespace).delete(name).catch(() => {});
      });
    }

    const { namespace: _ignored, ...rest } = init;
    const resolved = operatorConfig({
      ...rest,
      ...(init.parent.namespaced ? { namespace } : {}),
      server: false,
    });
    const operator = await startOperator(resolved, handler, { clientConfig });
    cleanups.push(() => operator.stop());
    return {
      parts: {
        namespace,
        client,
        operator,
        config: resolved,
        controlPlane,
        ownsNamespace,
        ownsControlPlane,
        timeoutMs,
        quietMs,
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Waits until the operator is ready: its caches have synced.
 *
 * @param operator the operator
 * @param options its name (for the message) and how long to wait, in ms
 * @throws {OperatorFatalError} when the cluster does not serve a configured type
 * @throws {Error} when it is not ready in time, naming the caches not synced
 */
export async function waitUntilReady(
  operator: OperatorHandle,
  options: { name: string; timeoutMs: number },
): Promise<void> {
  let ready = false;
  let failure: { error: unknown } | undefined;
  operator.ready.then(() => {
    ready = true;
  }, (error) => {
    failure = { error };
  });
  await poll(options.timeoutMs, () => (ready || failure) ? true : undefined);
  if (failure) throw failure.error;
  if (!ready) {
    const unsynced = controllerOf(operator).informers.filter((i) => !i.synced)
      .map((i) => i.typeName);
    throw new Error(
      `Cannot create test kit: operator "${options.name}" not ready after ${options.timeoutMs} ms ` +
        `(caches not synced: ${unsynced.join(", ") || "none"})`,
    );
  }
}

/**
 * Cleans up a kit in order: deletes the parents it created while the operator still runs, so
 * that it finalizes them; stops listening to its syncs; stops the operator; releases the parents left behind; deletes the
 * namespace if the kit created it; closes the client; and stops the control plane if the kit
 * started it. Every step runs even when one fails, and the first failure is thrown at the end.
 *
 * @param parts what the kit is made of
 * @param options the parents it created, and how to stop listening to the operator's syncs
 */
export async function tearDownKit(
  parts: KitParts,
  options: { parents: KitParents; unsubscribe: () => void },
): Promise<void> {
  const { parents } = options;
  const errors: unknown[] = [];
  const step = async (fn: () => Promise<void> | void) => {
    try {
      await fn();
    } catch (error) {
      errors.push(error);
    }
  };
  const tracked = parents.tracked();
  await step(() => parents.deleteAll(tracked));
  options.unsubscribe();
  await step(() => parts.operator.stop());
  await step(() => parents.releaseFinalizers(tracked, { wholeNamespace: parts.ownsNamespace }));
  if (parts.ownsNamespace) {
    await step(async () => {
      try {
        await new ResourceClient(parts.client, k8s.core.v1.Namespace).delete(parts.namespace);
      } catch (error) {
        if (!(error instanceof ApiError && error.isNotFound)) throw error;
      }
    });
  }
  await step(() => parts.client.close());
  if (parts.ownsControlPlane) await step(() => parts.controlPlane?.stop());
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    throw new AggregateError(
      errors,
      `Cannot dispose test kit: ${errors.length} clean-up steps failed: ${
        errors.map(messageOf).join("; ")
      }`,
    );
  }
}
