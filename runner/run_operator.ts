/**
 * Running an operator: {@linkcode runOperator} and {@linkcode runOperatorWithClientConfig} for
 * programs, {@linkcode startOperator} for embedding and tests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ClientConfig } from "../client/client_config.ts";
import { discoverResourceType } from "../client/discovery.ts";
import { KubeClient } from "../client/kube_client.ts";
import { loadClientConfig } from "../client/load_client_config.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import { type Handler, normalizeHandler } from "../handler/handler.ts";
import { Controller } from "./controller.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import { OperatorMetrics } from "./operator_metrics.ts";

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
  /** Resolves when every cache has synced and syncs have begun. */
  readonly ready: Promise<void>;
  /** The metrics. */
  readonly metrics: OperatorMetrics;
  /** The port the HTTP server listens on, when it runs. */
  readonly port: number | undefined;
  /** The controller, for tests. */
  readonly controller: Controller;
  /**
   * Stops: takes no new work, lets in-flight syncs finish within the bound, closes watches, the
   * HTTP server and the client.
   */
  stop(): Promise<void>;
}

/** The operator cannot go on: the cluster lacks a type, or the HTTP port is taken. */
export class OperatorFatalError extends Error {
  /**
   * Creates a fatal error.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OperatorFatalError";
  }
}

/**
 * Starts an operator and returns once its HTTP server listens; the caches sync in the
 * background (`ready`).
 *
 * @param config the operator config (from `operatorConfig()`)
 * @param handler the sync (and finalize) handler
 * @param options client config and drain bound
 * @returns a handle to stop it
 * @throws {OperatorFatalError} when a configured type is not served or the port is taken
 */
export async function startOperator<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfig,
  handler: Handler<P>,
  options: StartOperatorOptions = {},
): Promise<OperatorHandle> {
  const clientConfig = options.clientConfig ??
    await loadClientConfig({ userAgent: `${config.name} (roperator)` });
  const metrics = new OperatorMetrics();
  const client = new KubeClient(
    { userAgent: `${config.name} (roperator)`, ...clientConfig },
    { observe: (o) => metrics.request(o) },
  );
  try {
    for (const type of [config.parent, ...config.children.map((c) => c.type)]) {
      let served;
      try {
        served = await discoverResourceType(client, type);
      } catch (error) {
        throw new OperatorFatalError(
          `Cannot start operator "${config.name}": ${
            error instanceof Error ? error.message : error
          }` +
            (type === config.parent ? " (is the CRD installed?)" : ""),
          { cause: error },
        );
      }
      if (served.plural !== type.plural || served.namespaced !== type.namespaced) {
        throw new OperatorFatalError(
          `Cannot start operator "${config.name}": ${type.apiVersion} ${type.kind} is served as ` +
            `"${served.plural}" (${
              served.namespaced ? "namespaced" : "cluster-scoped"
            }), but was ` +
            `declared as "${type.plural}" (${type.namespaced ? "namespaced" : "cluster-scoped"})`,
        );
      }
    }
  } catch (error) {
    client.close();
    throw error;
  }
  const controller = new Controller({
    config,
    client,
    handler: normalizeHandler(handler) as ControllerHandler,
    metrics,
  });
  metrics.trackInformers(() => controller.informers);

  let server: Deno.HttpServer | undefined;
  if (config.server) {
    const { port, hostname, health, metrics: exposeMetrics } = config.server;
    try {
      server = Deno.serve({ port, hostname, onListen: () => {} }, (request) => {
        const path = new URL(request.url).pathname;
        if (health && (path === "/health" || path === "/healthz")) return new Response("ok\n");
        if (health && (path === "/ready" || path === "/readyz")) {
          return controller.synced
            ? new Response("ok\n")
            : new Response("caches not synced\n", { status: 503 });
        }
        if (exposeMetrics && path === "/metrics") {
          return new Response(metrics.registry.render(), {
            headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE },
          });
        }
        return new Response("not found\n", { status: 404 });
      });
    } catch (error) {
      client.close();
      throw new OperatorFatalError(
        `Cannot start operator "${config.name}": cannot listen on ${hostname}:${port}: ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
  }
  const ready = controller.start();
  ready.then(
    () => logger.info("operator {name} ready: caches synced", { name: config.name }),
    () => {},
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      const drained = await controller.stop(options.drainTimeoutMs ?? 10_000);
      if (!drained) logger.warn("some syncs did not finish before shutdown");
      await server?.shutdown();
      client.close();
      logger.info("operator {name} stopped", { name: config.name });
    })();
  return {
    ready,
    metrics,
    port: server ? (server.addr as Deno.NetAddr).port : undefined,
    controller,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

type ControllerHandler = ConstructorParameters<typeof Controller>[0]["handler"];

/**
 * Runs an operator with an explicit client config until SIGTERM or SIGINT (then it shuts down
 * gracefully and exits 0), or until a fatal error, which the promise resolves with.
 *
 * @param config the operator config
 * @param clientConfig how to reach the API server
 * @param handler the handler
 * @returns a promise that settles only with a fatal error
 */
export async function runOperatorWithClientConfig<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfig,
  clientConfig: ClientConfig,
  handler: Handler<P>,
): Promise<Error> {
  return await run(config, handler, { clientConfig });
}

/**
 * Runs an operator: in a pod it uses the service account, elsewhere the kubeconfig. It runs
 * until SIGTERM or SIGINT (then it shuts down gracefully and exits 0), or until a fatal error,
 * which the promise resolves with.
 *
 * @example
 * ```ts ignore
 * import { runOperator } from "@roperator/core";
 * const error = await runOperator(config, handler);
 * console.error(error);
 * Deno.exit(1);
 * ```
 *
 * @param config the operator config
 * @param handler the handler
 * @returns a promise that settles only with a fatal error
 */
export async function runOperator<P extends KubernetesObject = KubernetesObject>(
  config: OperatorConfig,
  handler: Handler<P>,
): Promise<Error> {
  return await run(config, handler, {});
}

async function run<P extends KubernetesObject>(
  config: OperatorConfig,
  handler: Handler<P>,
  options: StartOperatorOptions,
): Promise<Error> {
  let handle: OperatorHandle;
  try {
    handle = await startOperator(config, handler, options);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const { promise, resolve } = Promise.withResolvers<Error>();
  const onSignal = (signal: Deno.Signal) => () => {
    logger.info("received {signal}; shutting down", { signal });
    handle.stop().then(() => Deno.exit(0), (error) => resolve(error));
  };
  const listeners: Array<[Deno.Signal, () => void]> = [
    ["SIGTERM", onSignal("SIGTERM")],
    ["SIGINT", onSignal("SIGINT")],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  return await promise;
}
