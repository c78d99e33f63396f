/**
 * {@linkcode KubeClient}: a small HTTP client for the Kubernetes API on Deno's `fetch` and
 * `Deno.createHttpClient` (custom CA, client certificates), with credential refresh on 401 and
 * retries with backoff for idempotent requests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ClientConfig } from "./client_config.ts";
import { type Authenticator, createAuthenticator } from "./authenticator.ts";
import { ApiError, NetworkError, type Status } from "./errors.ts";

const logger = getLogger(["roperator", "client"]);

/** How failed requests are retried. */
export interface RetryOptions {
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First delay in milliseconds (default 200), doubled each retry, with jitter. */
  initialDelayMs?: number;
  /** Largest delay in milliseconds (default 10 000). */
  maxDelayMs?: number;
}

/** One finished API request, for metrics. */
export interface RequestObservation {
  /** The HTTP method. */
  method: string;
  /** The HTTP status, or 0 for a network failure. */
  status: number;
  /** Milliseconds until the response headers arrived. */
  durationMs: number;
}

/** Options for {@linkcode KubeClient}. */
export interface KubeClientOptions {
  /** Retry policy for idempotent requests, 429 and 5xx. */
  retry?: RetryOptions;
  /** Called after every request; used for the API request latency metric. */
  observe?: (observation: RequestObservation) => void;
  /** Timeout of a non-watch request in milliseconds (default 30 000). */
  requestTimeoutMs?: number;
}

/** Options of one request. */
export interface RequestOptions {
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body. */
  body?: unknown;
  /** The body's content type (default `application/json`). */
  contentType?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
  /**
   * Whether the request may be retried after a connection error (default: true for GET, HEAD,
   * PUT, DELETE and apply patches; false for POST and other patches).
   */
  idempotent?: boolean;
  /** Return the response without reading its body and without a timeout (for watches). */
  stream?: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

function queryString(query: RequestOptions["query"]): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

function retryAfterMs(response: Response, body: Status | undefined): number | undefined {
  const header = response.headers.get("Retry-After");
  if (header !== null) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return seconds * 1000;
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const seconds = body?.details?.retryAfterSeconds;
  return typeof seconds === "number" ? seconds * 1000 : undefined;
}

async function readStatus(response: Response): Promise<Status | undefined> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === "object" ? parsed as Status : undefined;
  } catch {
    return text.trim() ? { message: text.trim().slice(0, 500) } : undefined;
  }
}

/** A client for one API server. Create it once and share it; `close()` it when done. */
export class KubeClient implements Disposable {
  /** The configuration it was made from. */
  readonly config: ClientConfig;
  readonly #auth: Authenticator;
  readonly #options: KubeClientOptions;
  readonly #server: string;
  #httpClient: Deno.HttpClient | undefined;
  #httpClientCertificate: string | undefined;
  readonly #retired: Deno.HttpClient[] = [];
  #closed = false;

  /**
   * Creates a client; no request is sent until the first call.
   *
   * @param config where the server is and how to authenticate
   * @param options retries, timeouts and a metrics hook
   * @throws {TypeError} when the configuration asks for what Deno cannot do
   */
  constructor(config: ClientConfig, options: KubeClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(config.server);
    } catch {
      throw new TypeError(`Cannot create client: server "${config.server}" is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new TypeError(`Cannot create client: server "${config.server}" is not http(s)`);
    }
    if (config.tlsServerName !== undefined) {
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (config.tlsServerName !== host) {
        throw new TypeError(
          `Cannot create client: tls-server-name "${config.tlsServerName}" differs from the ` +
            `server's host "${host}", and Deno's fetch cannot override the TLS server name; ` +
            `point the server URL at a name the certificate carries`,
        );
      }
    }
    if (config.insecureSkipTlsVerify) {
      logger.warn(
        "insecure-skip-tls-verify is set for {server}: Deno cannot skip verification for one " +
          "client; requests fail unless the process runs with " +
          "--unsafely-ignore-certificate-errors={host}",
        { server: config.server, host: url.hostname },
      );
    }
    this.config = config;
    this.#options = options;
    this.#server = config.server.replace(/\/+$/, "");
    this.#auth = createAuthenticator(config);
  }

  #clientFor(certificate: { certificate: string; key: string } | undefined): Deno.HttpClient {
    const identity = certificate?.certificate;
    if (this.#httpClient === undefined || this.#httpClientCertificate !== identity) {
      // The previous client may still carry a long-running watch; it is closed with the
      // KubeClient. Certificates change rarely (exec plugins), so this does not accumulate.
      if (this.#httpClient !== undefined) this.#retired.push(this.#httpClient);
      this.#httpClient = Deno.createHttpClient({
        ...(this.config.caCertificates?.length ? { caCerts: this.config.caCertificates } : {}),
        ...(certificate ? { cert: certificate.certificate, key: certificate.key } : {}),
        ...(this.config.proxyUrl ? { proxy: { url: this.config.proxyUrl } } : {}),
      });
      this.#httpClientCertificate = identity;
    }
    return this.#httpClient;
  }

  /**
   * Sends a request and returns the parsed JSON body.
   *
   * @param method the HTTP method
   * @param path the path, starting with `/`
   * @param options query, body, cancellation
   * @returns the decoded JSON body
   * @throws {ApiError} on an error status
   * @throws {NetworkError} when the server cannot be reached
   */
  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const idempotent = options.idempotent ??
      (["GET", "HEAD", "PUT", "DELETE"].includes(method) ||
        options.contentType === "application/apply-patch+yaml");
    const maxRetries = this.#options.retry?.maxRetries ?? 5;
    for (let attempt = 0;; attempt++) {
      const response = await this.send(method, path, options);
      if (response.status === 204) return undefined as T;
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        // The connection broke after the headers: the body is lost, not the request.
        const broken = new NetworkError(
          { method, path },
          `the response body was cut off: ${describeCause(error)}`,
          { cause: error },
        );
        if (!idempotent || attempt >= maxRetries || options.signal?.aborted) throw broken;
        await sleep(this.#backoff(attempt, this.#options.retry ?? {}), options.signal);
        continue;
      }
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  /**
   * Sends a request and returns the response, whose status is 2xx. With `stream`, the body is
   * left unread and no timeout applies.
   *
   * @param method the HTTP method
   * @param path the path, starting with `/`
   * @param options query, body, cancellation
   * @returns the successful response
   * @throws {ApiError} on an error status
   * @throws {NetworkError} when the server cannot be reached
   */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    if (this.#closed) throw new TypeError(`Cannot ${method} ${path}: the client is closed`);
    const fullPath = path + queryString(options.query);
    const info = { method, path: fullPath };
    const retry = this.#options.retry ?? {};
    const maxRetries = retry.maxRetries ?? 5;
    const contentType = options.contentType ?? "application/json";
    const idempotent = options.idempotent ??
      (["GET", "HEAD", "PUT", "DELETE"].includes(method) ||
        contentType === "application/apply-patch+yaml");
    const body = options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body);
    let refreshedAuth = false;
    for (let attempt = 0;; attempt++) {
      const auth = await this.#auth.current();
      const headers = new Headers({ Accept: "application/json" });
      if (body !== undefined) headers.set("Content-Type", contentType);
      if (auth.authorization) headers.set("Authorization", auth.authorization);
      headers.set("User-Agent", this.config.userAgent ?? "roperator");
      const imp = this.config.impersonate;
      if (imp) {
        headers.set("Impersonate-User", imp.user);
        if (imp.uid) headers.set("Impersonate-Uid", imp.uid);
        for (const group of imp.groups ?? []) headers.append("Impersonate-Group", group);
        for (const [key, values] of Object.entries(imp.extra ?? {})) {
          for (const value of values) {
            headers.append(`Impersonate-Extra-${encodeURIComponent(key)}`, value);
          }
        }
      }
      const signals: AbortSignal[] = [];
      if (options.signal) signals.push(options.signal);
      if (!options.stream) {
        signals.push(AbortSignal.timeout(this.#options.requestTimeoutMs ?? 30_000));
      }
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(`${this.#server}${fullPath}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body }),
          signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals),
          client: this.#clientFor(auth.clientCertificate),
        });
      } catch (error) {
        this.#options.observe?.({ method, status: 0, durationMs: performance.now() - started });
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        const detail = describeCause(error);
        const hint = /certificate|UnknownIssuer|InvalidCertificate/i.test(detail)
          ? " (TLS verification failed: check the CA certificate the client trusts)"
          : "";
        const networkError = new NetworkError(info, `${detail}${hint}`, { cause: error });
        if (idempotent && attempt < maxRetries) {
          const delay = this.#backoff(attempt, retry);
          logger.debug("{method} {path} failed ({error}); retry in {delay} ms", {
            method,
            path: fullPath,
            error: detail,
            delay,
          });
          await sleep(delay, options.signal);
          continue;
        }
        throw networkError;
      }
      this.#options.observe?.({
        method,
        status: response.status,
        durationMs: performance.now() - started,
      });
      if (response.ok) {
        logger.trace("{method} {path} {status}", {
          method,
          path: fullPath,
          status: response.status,
        });
        return response;
      }
      const status = await readStatus(response);
      if (response.status === 401 && !refreshedAuth) {
        refreshedAuth = true;
        this.#auth.invalidate();
        logger.debug("{method} {path} was refused (401); refreshing credentials", {
          method,
          path: fullPath,
        });
        attempt--;
        continue;
      }
      const retriable = response.status === 429 ||
        (response.status >= 500 && response.status !== 501 && idempotent);
      if (retriable && attempt < maxRetries) {
        const delay = retryAfterMs(response, status) ?? this.#backoff(attempt, retry);
        logger.debug("{method} {path} answered {status}; retry in {delay} ms", {
          method,
          path: fullPath,
          status: response.status,
          delay,
        });
        await sleep(delay, options.signal);
        continue;
      }
      throw new ApiError(info, response.status, status);
    }
  }

  #backoff(attempt: number, retry: RetryOptions): number {
    const initial = retry.initialDelayMs ?? 200;
    const max = retry.maxDelayMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** attempt);
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  /**
   * Drops the pooled connections: the next request opens a new one. Called when a watch found
   * its connection silent, since with HTTP/2 every request shares that one dead connection.
   */
  resetConnections(): void {
    if (this.#httpClient === undefined) return;
    const old = this.#httpClient;
    this.#httpClient = undefined;
    this.#httpClientCertificate = undefined;
    try {
      old.close();
    } catch { /* already closed */ }
  }

  /** Closes the underlying HTTP client and its connections. */
  close(): void {
    this.#closed = true;
    for (const client of [...this.#retired, this.#httpClient]) {
      try {
        client?.close();
      } catch { /* already closed */ }
    }
    this.#retired.length = 0;
    this.#httpClient = undefined;
  }

  /** Same as {@linkcode KubeClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
