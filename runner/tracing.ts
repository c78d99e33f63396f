/**
 * OpenTelemetry tracing: a span per sync (`roperator.sync`) carrying the parent's identity, and a
 * client span per API request (named after the HTTP method), a child of the sync that sent it.
 *
 * Spans go to whatever `TracerProvider` is registered with `@opentelemetry/api`: the one Deno
 * registers itself when run with `OTEL_DENO=true` (exported over OTLP), or one the program
 * registers with `trace.setGlobalTracerProvider()`. With none registered, the API hands out
 * non-recording spans and tracing costs next to nothing.
 *
 * Requests are tied to their sync through an `AsyncLocalStorage` of the library's own, so the
 * nesting holds even when no OpenTelemetry context manager is registered. The handler runs in the
 * sync span's context (`context.with`), so spans the handler starts nest under the sync when a
 * context manager is registered (Deno registers one with `OTEL_DENO=true`).
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { ApiError } from "../client/errors.ts";
import { KubeClient, type KubeClientOptions, type RequestOptions } from "../client/kube_client.ts";
import type { ClientConfig } from "../client/client_config.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { messageOf } from "../client/_util.ts";

/** The instrumentation scope name of the library's spans. */
export const TRACER_NAME = "@roperator/core";

const activeContext = new AsyncLocalStorage<Context>();

function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * The attributes that identify a parent on a span: `k8s.namespace.name`,
 * `roperator.parent.kind`, `roperator.parent.name` and `roperator.parent.uid`.
 *
 * @param parent the parent object
 * @returns the attributes
 */
export function parentAttributes(parent: KubernetesObject): Attributes {
  const meta = parent.metadata ?? {};
  const attributes: Attributes = {};
  if (meta.namespace) attributes["k8s.namespace.name"] = meta.namespace;
  if (parent.kind) attributes["roperator.parent.kind"] = parent.kind;
  if (meta.name) attributes["roperator.parent.name"] = meta.name;
  if (meta.uid) attributes["roperator.parent.uid"] = meta.uid;
  return attributes;
}

/** Options for {@linkcode traceSync}. */
export interface TraceSyncOptions {
  /** The operator name (`roperator.operator`). */
  operator: string;
  /** `"sync"` or `"finalize"` (`roperator.sync.phase`). */
  phase: "sync" | "finalize";
}

/**
 * Runs one sync inside a `roperator.sync` span: its API requests become child spans, and the
 * span ends with an error status when `run` rejects.
 *
 * @param parent the parent being synced
 * @param options the operator name and the phase
 * @param run the sync
 * @returns what `run` returns
 */
export async function traceSync<T>(
  parent: KubernetesObject,
  options: TraceSyncOptions,
  run: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan("roperator.sync", {
    kind: SpanKind.INTERNAL,
    attributes: {
      "roperator.operator": options.operator,
      "roperator.sync.phase": options.phase,
      ...parentAttributes(parent),
    },
  }, activeContext.getStore() ?? context.active());
  const ctx = trace.setSpan(activeContext.getStore() ?? context.active(), span);
  try {
    return await activeContext.run(ctx, () => context.with(ctx, () => run(span)));
  } catch (error) {
    recordError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Marks a span as failed with the error's message and records the exception.
 *
 * @param span the span
 * @param error the error
 */
export function recordError(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const message = messageOf(error);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * A {@linkcode KubeClient} that wraps every request in a client span (`GET`, `PUT`, …) with
 * `http.request.method`, `url.path`, `server.address` and `http.response.status_code`, a child
 * of the current sync's span when there is one. For a watch the span ends when the response
 * headers arrive.
 */
export class TracedKubeClient extends KubeClient {
  readonly #server: URL;

  /**
   * Creates the client.
   *
   * @param config where the server is and how to authenticate
   * @param options retries, timeouts and a metrics hook
   */
  constructor(config: ClientConfig, options: KubeClientOptions = {}) {
    super(config, options);
    this.#server = new URL(config.server);
  }

  /**
   * Sends a request inside a client span.
   *
   * @param method the HTTP method
   * @param path the path, starting with `/`
   * @param options query, body, cancellation
   * @returns the successful response
   */
  override async send(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Response> {
    const span = tracer().startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: {
        "http.request.method": method,
        "url.path": path,
        "server.address": this.#server.hostname,
        ...(this.#server.port ? { "server.port": Number(this.#server.port) } : {}),
      },
    }, activeContext.getStore() ?? context.active());
    try {
      const response = await super.send(method, path, options);
      span.setAttribute("http.response.status_code", response.status);
      return response;
    } catch (error) {
      if (error instanceof ApiError) span.setAttribute("http.response.status_code", error.status);
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  }
}
