/**
 * Running an operator: {@linkcode runOperator} for programs, {@linkcode startOperator} for
 * embedding and tests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ClientConfig } from "../client/client_config.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { loadClientConfig } from "../client/load_client_config.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfig, ServerConfig } from "../config/operator_config.ts";
import type { Handler } from "../handler/handler.ts";
import type { Controller, SyncEvent } from "./controller.ts";
import { InformerPool } from "./informer_pool.ts";
import type { Leadership } from "./leader_election.ts";
import { OperatorMetrics } from "./operator_metrics.ts";
import { serveOperators } from "./operator_server.ts";
import { TracedKubeClient } from "./tracing.ts";
import { messageOf } from "../client/_util.ts";
import type { RunningWebhooks } from "../webhook/runtime.ts";
import { OperatorFatalError } from "./operator_fatal_error.ts";
import { checkNetPermission, checkServedTypes, permissionHint } from "./start_checks.ts";
import {
  presenceNamespaceFromEnv,
  type RunningOperator,
  startRunningOperator,
} from "./running_operator.ts";

export { OperatorFatalError };

const logger = getLogger(["roperator", "runner"]);

/** Options for {@linkcode startOperator}. */
export interface StartOperatorOptions {
  /** How to reach the API server; loaded with `loadClientConfig()` when absent. */
  clientConfig?: ClientConfig;
  /** How long in-flight syncs may run on `stop()` (default 10 000 ms). */
  drainTimeoutMs?: number;
}

/** A running operator. */
export interface OperatorHandle extends AsyncDisposable {
  /**
   * Resolves when every cache has synced and syncs have begun (a follower: caches synced).
   * Rejects with `InformerSyncError` when the operator is stopped before, or when the
   * API server refuses the first list of a type with 401, 403 or 404 (the message names the
   * type and the status; the informer keeps retrying in the background, and syncs begin once
   * every list has succeeded).
   */
  readonly ready: Promise<void>;
  /** The metrics. */
  readonly metrics: OperatorMetrics;
  /** The port the HTTP server listens on, when it runs. */
  readonly port: number | undefined;
  /** The port the webhook server listens on, when the config has `webhooks`. */
  readonly webhookPort: number | undefined;
  /**
   * Calls the listener when a sync of a parent starts and when it ends (tests and tooling use it
   * to wait for syncs or count failures). A listener that throws is reported with `reportError`
   * and does not disturb the sync.
   *
   * @param listener called synchronously with each event
   * @returns a function that removes the listener
   */
  onSync(listener: (event: SyncEvent) => void): () => void;
  /** The leader election, when configured. */
  readonly leadership: Leadership | undefined;
  /**
   * Resolves (it never rejects) when the operator cannot go on after it started: it lost its
   * Lease with `onLost: "exit"`. The operator has stopped syncing by then; call `stop()` to
   * close the rest. Stays pending otherwise.
   */
  readonly failed: Promise<OperatorFatalError>;
  /**
   * Stops: takes no new work, lets in-flight syncs finish within the bound, releases the Lease,
   * closes watches, the HTTP server and the client.
   */
  stop(): Promise<void>;
}

/** Starts the HTTP server; a port it cannot listen on is a fatal error. */
function serveHttp(
  server: ServerConfig,
  operators: readonly RunningOperator[],
  name: string,
): Deno.HttpServer {
  try {
    return serveOperators(server, operators);
  } catch (error) {
    const hint = permissionHint(error);
    throw new OperatorFatalError(
      `Cannot start operator "${name}": cannot listen on ${server.hostname}:${server.port}: ${
        hint ?? messageOf(error)
      }`,
      { cause: error },
    );
  }
}

/**
 * Starts an operator and returns once the API server has confirmed that it serves every
 * configured type and the HTTP server listens; the caches sync in the background (`ready`), their
 * first lists sent at once, while the types are checked (nothing syncs or writes before the checks
 * pass). With `leaderElection` configured it campaigns for the Lease once the checks pass and
 * syncs only while it leads; a follower keeps its caches warm and is ready once they are.
 *
 * @param config the operator config (from `operatorConfig()`)
 * @param handler the sync (and finalize) handler
 * @param options client config and drain bound
 * @returns a handle to stop it
 * @throws {OperatorFatalError} when a configured type is not served, the port is taken, or a
 * Deno permission is missing (the message says which flag to add)
 */
export async function startOperator<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfig<P>,
  handler: Handler<P>,
  options: StartOperatorOptions = {},
): Promise<OperatorHandle> {
  const group = await startGroup([{ config, handler: handler as Handler<KubernetesObject> }], {
    ...options,
    server: config.server,
  });
  const operator = group.operators[0]!;
  const handle: OperatorHandle = {
    ...operator,
    port: group.port,
    stop: group.stop,
    [Symbol.asyncDispose]: group.stop,
  };
  controllers.set(handle, controllerOf(operator));
  return handle;
}

/** The controller behind each handle, for the library's own tests; not part of the public API. */
const controllers = new WeakMap<OperatorHandle, Controller>();

/**
 * The controller behind an operator handle: its informers and queue, for the library's own tests
 * and the testkit. Not exported by the package's entry points.
 *
 * @param handle a handle from `startOperator` or `startOperators`
 * @returns its controller
 */
export function controllerOf(handle: OperatorHandle): Controller {
  const controller = controllers.get(handle);
  if (controller === undefined) throw new TypeError("Cannot find the controller: not a handle");
  return controller;
}

/** One operator of {@linkcode startOperators}. */
export interface OperatorEntry<P extends KubernetesObject = KubernetesObject> {
  /** Its config (from `operatorConfig()`); its `server` is ignored (see `StartOperatorsOptions`). */
  config: OperatorConfig<P>;
  /** Its handler. */
  handler: Handler<P>;
}

/** Options for {@linkcode startOperators}. */
export interface StartOperatorsOptions extends StartOperatorOptions {
  /**
   * The one HTTP server of the process (`/health`, `/ready` while every operator's caches are
   * synced and their watches work, `/metrics` of every operator with an `operator` label). Default: the first config's
   * `server`. `false` for none.
   */
  server?: ServerConfig | false;
}

/** Several operators running in one process. */
export interface OperatorGroupHandle extends AsyncDisposable {
  /** Each operator, in the order given. */
  readonly operators: readonly OperatorHandle[];
  /**
   * Resolves when every operator's caches have synced; rejects as soon as one operator's
   * `ready` rejects (see `OperatorHandle.ready`).
   */
  readonly ready: Promise<void>;
  /** The port the HTTP server listens on, when it runs. */
  readonly port: number | undefined;
  /** Resolves with the first operator that cannot go on (see `OperatorHandle.failed`). */
  readonly failed: Promise<OperatorFatalError>;
  /** Stops every operator, then the HTTP server and the client. */
  stop(): Promise<void>;
}

/**
 * Starts several operators in one process: one API client, one HTTP server, and one informer per
 * resource type, namespace and selector shared by every operator that watches it (child types
 * are usually shared: they are watched by the tracking label). Each operator keeps its own
 * queue, backoff, metrics, leader election and events.
 *
 * Sharding: give each instance its own `parentLabelSelector` (disjoint selectors such as
 * `shard=a` and `shard=b`) and each syncs only its parents.
 *
 * @example
 * ```ts ignore
 * const group = await startOperators([
 *   { config: operatorConfig({ ...init, name: "shard-a", parentLabelSelector: "shard=a" }), handler },
 *   { config: operatorConfig({ ...init, name: "shard-b", parentLabelSelector: "shard=b" }), handler },
 * ]);
 * await group.ready;
 * ```
 *
 * @param operators each operator's config and handler
 * @param options client config, drain bound and the HTTP server
 * @returns a handle to stop them all
 * @throws {OperatorFatalError} when a configured type is not served, the port is taken, or a
 * Deno permission is missing
 */
export async function startOperators(
  operators: readonly OperatorEntry<KubernetesObject>[],
  options: StartOperatorsOptions = {},
): Promise<OperatorGroupHandle> {
  return await startGroup(checkEntries(operators), {
    ...options,
    server: options.server === undefined ? operators[0]!.config.server : options.server,
  });
}

/**
 * {@linkcode startOperators} on a client the caller made (the library's own tests give a
 * scripted client); `options.clientConfig` is ignored, and the group closes the client when it
 * stops or fails to start. Not exported by the package's entry points.
 *
 * @param client the API client the operators share
 * @param operators each operator's config and handler
 * @param options drain bound and the HTTP server
 * @returns a handle to stop them all
 * @throws {OperatorFatalError} as {@linkcode startOperators} does
 */
export async function startOperatorsWith(
  client: KubeClient,
  operators: readonly OperatorEntry<KubernetesObject>[],
  options: StartOperatorsOptions = {},
): Promise<OperatorGroupHandle> {
  return await startGroup(checkEntries(operators), {
    ...options,
    server: options.server === undefined ? operators[0]!.config.server : options.server,
    client,
  });
}

/** The entries, when there is at least one and no name appears twice. */
function checkEntries(
  operators: readonly OperatorEntry<KubernetesObject>[],
): readonly OperatorEntry<KubernetesObject>[] {
  if (operators.length === 0) {
    throw new TypeError("Cannot start operators: the list is empty");
  }
  const names = new Set<string>();
  for (const { config } of operators) {
    if (names.has(config.name)) {
      throw new TypeError(`Cannot start operators: the name "${config.name}" appears twice`);
    }
    names.add(config.name);
  }
  return operators;
}

/** The client of a group: the one given, else one made from the (loaded) client config. */
async function groupClient(
  name: string,
  options: StartOperatorOptions & { client?: KubeClient },
  metrics: OperatorMetrics,
): Promise<KubeClient> {
  if (options.client !== undefined) return options.client;
  const userAgent = `${name} (roperator)`;
  const clientConfig = options.clientConfig ?? await loadClientConfig({ userAgent });
  checkNetPermission(name, clientConfig);
  return new TracedKubeClient(
    { userAgent, ...clientConfig },
    // One client for the group: its request latency is recorded with the first operator.
    { observe: (o) => metrics.request(o) },
  );
}

/**
 * Starts a group. The served-type checks (one discovery request per type) and the informers'
 * first lists go out together: the lists read only, and the gate keeps every sync, write and
 * `ready` back until the checks have passed. The HTTP server listens from the start (`/ready`
 * answers 503 until then); the webhooks, which write their certificates' Secret and CA bundles,
 * start once the checks have passed, and before the gate opens. With webhooks, the informers
 * start only after them: a conversion webhook's CRD stanza must be in place before a list. Any failure stops what started
 * and rejects with the first of: a check's error, the server's, the webhooks'.
 */
async function startGroup(
  entries: readonly OperatorEntry<KubernetesObject>[],
  options: StartOperatorOptions & { server: ServerConfig | false | undefined; client?: KubeClient },
): Promise<OperatorGroupHandle> {
  const first = entries[0]!.config;
  const metrics = entries.map(() => new OperatorMetrics());
  const client = await groupClient(first.name, options, metrics[0]!);
  const checks = Promise.allSettled(entries.map(({ config }) => checkServedTypes(config, client)));
  const gate = Promise.withResolvers<void>();
  // Rejected when the start fails, which the caller learns from the rejection of the start.
  gate.promise.catch(() => {});
  const pool = new InformerPool();
  const running: RunningOperator[] = [];
  let server: Deno.HttpServer | undefined;
  let serverError: unknown;
  try {
    // `running` is filled in below; the handler reads it per request.
    if (options.server) server = serveHttp(options.server, running, first.name);
  } catch (error) {
    serverError = error;
  }
  const startOperators = () => {
    for (const [i, { config, handler }] of entries.entries()) {
      running.push(startRunningOperator(config, handler, {
        client,
        pool,
        metrics: metrics[i]!,
        gate: gate.promise,
      }));
    }
  };
  // The informers list while the checks run, unless there are webhooks: they write the CRDs'
  // conversion stanza and CA bundles, which a list of a multi-version CRD needs first. A port
  // that is taken: nothing else starts (the checks still decide which error is thrown).
  const webhooksFirst = entries.some(({ config }) => config.webhooks !== undefined);
  if (serverError === undefined && !webhooksFirst) startOperators();
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  let webhooks: (RunningWebhooks | undefined)[] = [];
  try {
    for (const check of await checks) if (check.status === "rejected") throw check.reason;
    if (serverError !== undefined) throw serverError;
    // Before the gate opens: certificates that cannot be read fail before anything syncs.
    webhooks = await startWebhookServers(entries, client, metrics);
    if (webhooksFirst) startOperators();
  } catch (error) {
    // The gate first: the operators' stops wait for it.
    gate.reject(error);
    await Promise.all(running.map((r) => r.stop(drainTimeoutMs)));
    await server?.shutdown();
    client.close();
    throw error;
  }
  gate.resolve();
  // One set of process metrics per process, with the first operator's.
  const processMetrics = metrics[0]!.trackProcess();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await Promise.all(running.map((r) => r.stop(drainTimeoutMs)));
      await Promise.all(webhooks.map((w) => w?.close()));
      await server?.shutdown();
      processMetrics.stop();
      client.close();
      for (const r of running) logger.info("operator {name} stopped", { name: r.config.name });
    })();
  const port = server ? (server.addr as Deno.NetAddr).port : undefined;
  const handles: OperatorHandle[] = running.map((r, i) => {
    const handle: OperatorHandle = {
      ready: r.ready,
      metrics: r.metrics,
      port,
      webhookPort: webhooks[i]?.port,
      onSync: (listener: (event: SyncEvent) => void) => r.controller.onSync(listener),
      leadership: r.elector,
      failed: r.failed,
      stop,
      [Symbol.asyncDispose]: stop,
    };
    controllers.set(handle, r.controller);
    return handle;
  });
  const ready = Promise.all(running.map((r) => r.ready)).then(() => {});
  // Rejected (a refused list, a stop before the first list) and not awaited: no crash.
  ready.catch(() => {});
  return {
    operators: handles,
    ready,
    port,
    failed: Promise.race(running.map((r) => r.failed)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Starts the webhook server of each operator whose config has `webhooks` (the webhook modules,
 * and the X.509 code, are loaded only then); a failure stops those already started.
 */
async function startWebhookServers(
  entries: readonly OperatorEntry<KubernetesObject>[],
  client: KubeClient,
  metrics: readonly OperatorMetrics[],
): Promise<(RunningWebhooks | undefined)[]> {
  const started: (RunningWebhooks | undefined)[] = [];
  try {
    for (const [i, { config }] of entries.entries()) {
      if (!config.webhooks) {
        started.push(undefined);
        continue;
      }
      const { startConfiguredWebhooks } = await import("../webhook/settings.ts");
      try {
        started.push(
          await startConfiguredWebhooks(config.webhooks, {
            client,
            operatorName: config.name,
            // Where the operator runs (its Service selects its pods): in a pod, the service
            // account's namespace.
            namespace: client.config.namespace ?? config.namespace ?? presenceNamespaceFromEnv(),
            registry: metrics[i]!.registry,
          }),
        );
      } catch (error) {
        const hint = permissionHint(error);
        throw new OperatorFatalError(
          `Cannot start operator "${config.name}": cannot serve its webhooks: ${
            hint ?? messageOf(error)
          }`,
          { cause: error },
        );
      }
    }
  } catch (error) {
    await Promise.all(started.map((w) => w?.close()));
    throw error;
  }
  return started;
}

/**
 * Runs an operator until SIGTERM or SIGINT, or until a fatal error. Without
 * `options.clientConfig` it loads the client config: in a pod the service account, elsewhere the
 * kubeconfig. On a signal it shuts down gracefully and resolves with `undefined`; on a fatal
 * error (it cannot start, or it cannot go on) it stops and resolves with the error. It never
 * exits the process: the program decides how (`operatorMain` returns the exit status).
 *
 * @example
 * ```ts ignore
 * import { runOperator } from "@roperator/core";
 * const error = await runOperator(config, handler);
 * if (error !== undefined) {
 *   console.error(error);
 *   Deno.exit(1);
 * }
 * ```
 *
 * @param config the operator config
 * @param handler the handler
 * @param options how to reach the API server (`clientConfig`) and how long in-flight syncs may
 * run on shutdown (`drainTimeoutMs`)
 * @returns `undefined` after a graceful shutdown on a signal, or the fatal error
 */
export async function runOperator<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfig<P>,
  handler: Handler<P>,
  options: StartOperatorOptions = {},
): Promise<Error | undefined> {
  let handle: OperatorHandle;
  try {
    handle = await startOperator(config, handler, options);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const { promise, resolve } = Promise.withResolvers<Error | undefined>();
  const removeListeners = () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
  const onSignal = (signal: Deno.Signal) => () => {
    logger.info("received {signal}; shutting down", { signal });
    handle.stop().then(() => resolve(undefined), (error) => resolve(error)).finally(
      removeListeners,
    );
  };
  const listeners: Array<[Deno.Signal, () => void]> = [
    ["SIGTERM", onSignal("SIGTERM")],
    ["SIGINT", onSignal("SIGINT")],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  handle.failed.then(async (error) => {
    logger.error("{message}; stopping", { message: error.message });
    await handle.stop().catch(() => {});
    removeListeners();
    resolve(error);
  });
  return await promise;
}
