/**
 * The webhook server: one HTTPS server (`Deno.serve`) on its own port, serving every webhook at
 * its path, with metrics (`roperator_webhook_requests_total{webhook,result}`,
 * `roperator_webhook_request_duration_seconds{webhook}`), logs (category
 * `["roperator", "webhook"]`) and a `roperator.webhook` span per request.
 *
 * A new certificate is taken without refusing a connection: the port is held by a TCP listener
 * of the server's own that hands each connection to the TLS server of the moment (on a loopback
 * port); a new certificate starts a second TLS server, new connections go to it, and the first
 * finishes the requests it has (over HTTP/2 it tells the client to go elsewhere, with GOAWAY).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import type { KubernetesObject } from "../client/resource_type.ts";
import { Registry } from "../metrics/mod.ts";
import { TRACER_NAME } from "../runner/tracing.ts";
import type { CertifiedKey } from "../tls/certificates.ts";
import {
  type AdmissionReviewError,
  type MutatingWebhook,
  reviewAdmission,
  type ValidatingWebhook,
} from "./admission.ts";
import { type ConversionWebhook, reviewConversion } from "./conversion.ts";

const logger = getLogger(["roperator", "webhook"]);

const HEADERS_GETTER: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Any webhook the server can serve. */
export type Webhook =
  // deno-lint-ignore no-explicit-any
  | ValidatingWebhook<any>
  // deno-lint-ignore no-explicit-any
  | MutatingWebhook<any>
  // deno-lint-ignore no-explicit-any
  | ConversionWebhook<any>;

/** Options of {@linkcode WebhookServer.start}. */
export interface WebhookServerOptions {
  /** The webhooks; their paths must differ. */
  webhooks: readonly Webhook[];
  /** The serving certificate and key, PEM. */
  certificate: CertifiedKey;
  /** The port; default 9443. 0 picks a free one (see {@linkcode WebhookServer.port}). */
  port?: number;
  /** The address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** Where the metrics go; default a registry of the server's own. */
  registry?: Registry;
  /** The largest request body accepted, in bytes; default 16 MiB. */
  maxBodyBytes?: number;
}

/** Thrown when the server cannot start, such as when two webhooks share a path. */
export class WebhookServerError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, as "Cannot …: detail"
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookServerError";
  }
}

/** The HTTPS server of an operator's webhooks. */
export class WebhookServer implements AsyncDisposable {
  /** The metrics the server records. */
  readonly registry: Registry;
  readonly #routes: Map<string, Webhook>;
  readonly #hostname: string;
  readonly #maxBodyBytes: number;
  readonly #requests;
  readonly #seconds;
  #port: number;
  #listener: Deno.TcpListener | undefined;
  #accepting: Promise<void> = Promise.resolve();
  readonly #connections = new Set<Deno.TcpConn>();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #certificate: CertifiedKey;
  #swap: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: WebhookServerOptions) {
    this.registry = options.registry ?? new Registry();
    this.#routes = new Map();
    for (const webhook of options.webhooks) {
      const other = this.#routes.get(webhook.path);
      if (other) {
        throw new WebhookServerError(
          `Cannot start the webhook server: "${webhook.name}" and "${other.name}" share the path ` +
            webhook.path,
        );
      }
      this.#routes.set(webhook.path, webhook);
    }
    this.#hostname = options.hostname ?? "0.0.0.0";
    this.#port = options.port ?? 9443;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.#certificate = options.certificate;
    this.#requests = this.registry.counter(
      "roperator_webhook_requests_total",
      "Webhook requests, by webhook and result (allowed, denied, success, failure, error).",
      ["webhook", "result"],
    );
    this.#seconds = this.registry.histogram(
      "roperator_webhook_request_duration_seconds",
      "Time to answer a webhook request.",
      {
        labelNames: ["webhook"],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      },
    );
  }

  /**
   * Starts serving.
   *
   * @param options the webhooks, the certificate, the port and the metrics registry
   * @returns the running server
   * @throws {WebhookServerError} when two webhooks share a path or the port cannot be bound
   */
  static start(options: WebhookServerOptions): Promise<WebhookServer> {
    try {
      return Promise.resolve(WebhookServer.#start(options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  static #start(options: WebhookServerOptions): WebhookServer {
    const server = new WebhookServer(options);
    try {
      server.#listener = Deno.listen({ hostname: server.#hostname, port: server.#port });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new WebhookServerError(
        `Cannot start the webhook server on ${server.#hostname}:${server.#port}: ${detail}`,
        { cause: error },
      );
    }
    server.#port = server.#listener.addr.port;
    try {
      server.#server = server.#listen(server.#certificate);
    } catch (error) {
      server.#listener.close();
      throw error;
    }
    server.#accepting = server.#accept(server.#listener);
    logger.info("Webhook server listening on {hostname}:{port} for {paths}", {
      hostname: server.#hostname,
      port: server.#port,
      paths: [...server.#routes.keys()],
    });
    return server;
  }

  /** The port the server listens on. */
  get port(): number {
    return this.#port;
  }

  /** The certificate being served. */
  get certificate(): CertifiedKey {
    return this.#certificate;
  }

  #listen(certificate: CertifiedKey): Deno.HttpServer<Deno.NetAddr> {
    try {
      return Deno.serve({
        port: 0,
        hostname: "127.0.0.1",
        cert: certificate.certificate,
        key: certificate.key,
        onListen: () => {},
        onError: (error) => {
          logger.error("Webhook server error: {error}", { error });
          return new Response("internal error", { status: 500 });
        },
      }, (request) => this.#handle(request));
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new WebhookServerError(`Cannot start the webhook server's TLS listener: ${detail}`, {
        cause: error,
      });
    }
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    try {
      for await (const connection of listener) this.#forward(connection);
    } catch (error) {
      if (!this.#closed) logger.error("Webhook server stopped accepting: {error}", { error });
    }
  }

  /** Pipes a connection to the TLS server of the moment, both ways, until both sides end. */
  async #forward(connection: Deno.TcpConn): Promise<void> {
    this.#connections.add(connection);
    let upstream: Deno.TcpConn | undefined;
    try {
      // No Nagle delay on either leg: small writes (a TLS record, an HTTP/2 frame) would wait for
      // the peer's delayed ACK, some 40 ms per exchange.
      connection.setNoDelay(true);
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#server!.addr.port });
      upstream.setNoDelay(true);
      this.#connections.add(upstream);
      await Promise.allSettled([
        connection.readable.pipeTo(upstream.writable),
        upstream.readable.pipeTo(connection.writable),
      ]);
    } catch (error) {
      if (!this.#closed) logger.debug("Webhook connection failed: {error}", { error });
    } finally {
      for (const conn of [connection, upstream]) {
        if (!conn) continue;
        this.#connections.delete(conn);
        try {
          conn.close();
        } catch { /* closed by its stream */ }
      }
    }
  }

  /**
   * Serves a new certificate: a second TLS server starts with it and takes the new connections,
   * then the old one finishes the requests it has, so no request is refused.
   *
   * @param certificate the new certificate and key, PEM
   * @returns when the old server has stopped
   */
  setCertificate(certificate: CertifiedKey): Promise<void> {
    this.#swap = this.#swap.then(async () => {
      if (this.#closed || certificate.certificate === this.#certificate.certificate) return;
      const next = this.#listen(certificate);
      const previous = this.#server;
      this.#server = next;
      this.#certificate = certificate;
      await previous?.shutdown();
      logger.info("Webhook server now serves a new certificate");
    });
    return this.#swap;
  }

  /**
   * Stops accepting requests and waits for those in progress.
   *
   * @returns when the server has stopped
   */
  async close(): Promise<void> {
    if (this.#closed) return await this.#swap;
    this.#closed = true;
    await this.#swap.catch(() => {});
    this.#listener?.close();
    await this.#accepting;
    await this.#server?.shutdown();
    for (const connection of this.#connections) {
      try {
        connection.close();
      } catch { /* closed */ }
    }
  }

  /** Same as {@linkcode WebhookServer.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const webhook = this.#routes.get(path);
    if (!webhook) return new Response("no webhook at this path\n", { status: 404 });
    if (request.method !== "POST") {
      return new Response("webhooks take POST\n", { status: 405, headers: { Allow: "POST" } });
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > this.#maxBodyBytes) {
      this.#requests.inc({ webhook: webhook.name, result: "error" });
      return new Response("request body too large\n", { status: 413 });
    }
    const started = performance.now();
    // The API server's trace context (traceparent), when a propagator is registered.
    const remote = propagation.extract(ROOT_CONTEXT, request.headers, HEADERS_GETTER);
    const span = trace.getTracer(TRACER_NAME).startSpan("roperator.webhook", {
      kind: SpanKind.SERVER,
      attributes: {
        "roperator.webhook.name": webhook.name,
        "roperator.webhook.kind": webhook.kind,
        "url.path": path,
      },
    }, remote);
    // The handler runs in the span's context: its own spans nest under it.
    const ctx = trace.setSpan(remote, span);
    let result = "error";
    try {
      const body = await request.json();
      if (webhook.kind === "conversion") {
        const outcome = await context.with(ctx, () => reviewConversion(webhook, body));
        result = outcome.result;
        span.setAttribute("roperator.webhook.objects", outcome.objects);
        const message = outcome.review.response?.result.message;
        if (message) {
          logger.warn("Conversion failed: {message}", { message, webhook: webhook.name });
        } else {
          logger.debug("Converted {objects} object(s) for {webhook}", {
            objects: outcome.objects,
            webhook: webhook.name,
          });
        }
        return Response.json(outcome.review);
      }
      const outcome = await context.with(ctx, () =>
        reviewAdmission(
          webhook as ValidatingWebhook<KubernetesObject> | MutatingWebhook<KubernetesObject>,
          body,
        ));
      result = outcome.result;
      const req = outcome.request;
      span.setAttributes({
        "roperator.webhook.operation": req.operation,
        "roperator.webhook.dry_run": req.dryRun,
        ...(req.namespace ? { "k8s.namespace.name": req.namespace } : {}),
        ...(req.name ? { "roperator.parent.name": req.name } : {}),
      });
      logger.debug("{webhook} {result} {operation} of {kind} {namespace}/{name}{dryRun}", {
        webhook: webhook.name,
        result,
        operation: req.operation,
        kind: req.kind?.kind,
        namespace: req.namespace ?? "",
        name: req.name ?? "",
        dryRun: req.dryRun ? " (dry run)" : "",
        message: outcome.review.response?.status?.message,
      });
      return Response.json(outcome.review);
    } catch (error) {
      result = "error";
      const message = error instanceof Error ? error.message : String(error);
      span.recordException(error instanceof Error ? error : message);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      const malformed = error instanceof SyntaxError ||
        (error as AdmissionReviewError)?.name === "AdmissionReviewError" ||
        (error as Error)?.name === "ConversionError";
      logger.error("Webhook {webhook} failed: {message}", {
        webhook: webhook.name,
        message,
        error,
      });
      // An error answer: the API server applies the webhook's failurePolicy.
      return new Response(`${message}\n`, { status: malformed ? 400 : 500 });
    } finally {
      this.#requests.inc({ webhook: webhook.name, result });
      this.#seconds.observe({ webhook: webhook.name }, (performance.now() - started) / 1000);
      span.setAttribute("roperator.webhook.result", result);
      span.end();
    }
  }
}
