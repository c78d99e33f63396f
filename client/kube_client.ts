/**
 * {@linkcode KubeClient}: a small HTTP client for the Kubernetes API on Deno's `fetch` and
 * `Deno.createHttpClient` (custom CA, client certificates), with credential refresh on 401 and
 * retries with backoff for idempotent requests.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ClientConfig } from "./client_config.ts";
import { type AuthCertificate, type Authenticator, createAuthenticator } from "./authenticator.ts";
import { ApiError, NetworkError, type Status } from "./errors.ts";
import { describeCause, sleep } from "./_util.ts";

const logger = getLogger(["roperator", "client"]);

/**
 * How failed requests are retried. One policy covers every attempt of a request: connection
 * errors, error statuses and a response body cut off mid-way all draw on the same budget of
 * `maxRetries` retries and `maxElapsedMs` milliseconds.
 *
 * What is retried:
 *
 * - a connection error or a cut-off body, for idempotent requests only (GET, HEAD, PUT, DELETE,
 *   server-side apply, or `idempotent: true`, which `ResourceClient.patch` sets for a merge patch
 *   pinned to a resourceVersion): a POST or another patch may have been applied;
 * - 429 Too Many Requests, for every request (the server did not process it), after the
 *   `Retry-After` the server asks for;
 * - 408 Request Timeout and 5xx (except 501), for idempotent requests only.
 *
 * What is never retried, since replaying it cannot succeed:
 *
 * - every other 4xx: a 409 Conflict in particular means a stale `resourceVersion` or an existing
 *   object, which the same request meets again; the caller re-reads and decides;
 * - a 500 whose message says etcd's "request is too large": the object is over etcd's
 *   `--max-request-bytes` (1.5 MiB by default), and sending it again only loads the server;
 * - anything after the request's `signal` aborted: its reason is thrown instead, so a write
 *   started before, say, leadership was lost is never sent again.
 *
 * A 401 re-sends the request once with refreshed credentials, outside this budget.
 */
export interface RetryOptions {
  /** Retries after the first attempt (default 5: at most 6 attempts in all). */
  maxRetries?: number;
  /** First delay in milliseconds (default 200), doubled each retry, with jitter. */
  initialDelayMs?: number;
  /** Largest delay in milliseconds (default 10 000). */
  maxDelayMs?: number;
  /**
   * No retry starts when it would begin more than this many milliseconds after the first attempt
   * (default 30 000); the last error is thrown instead.
   */
  maxElapsedMs?: number;
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
  /**
   * Return the response without reading its body and without a timeout, on a connection of its
   * own that is closed when the body ends or is cancelled (for watches).
   */
  stream?: boolean;
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

/** One `Deno.HttpClient` (a connection pool) and the requests using it. */
interface Connection {
  readonly client: Deno.HttpClient;
  /** The client certificate it presents, compared by value. */
  readonly certificate: string | undefined;
  /** Requests between their `fetch` and the end of their response body. */
  inFlight: number;
  /** No new request may use it; it is closed when `inFlight` drops to zero. */
  retired: boolean;
}

/** The outcome of one attempt: a response, or an error and whether it may be retried. */
type Attempt =
  | { response: Response; text?: string }
  | { error: Error; retriable: boolean; retryAfterMs?: number; unauthorized?: boolean };

/** Statuses whose response has no body (a `Response` with one cannot be constructed). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The body text of responses `send()` has already read, for `request()` to parse. */
const bodyTexts = new WeakMap<Response, string>();

/** etcd refused the object: it is over `--max-request-bytes`, and will be on every replay. */
const ETCD_TOO_LARGE = /request is too large/i;

/** A client for one API server. Create it once and share it; `close()` it when done. */
export class KubeClient implements Disposable {
  /** The configuration it was made from. */
  readonly config: ClientConfig;
  readonly #auth: Authenticator;
  readonly #options: KubeClientOptions;
  readonly #server: string;
  /** The connection of normal requests; streams each get their own. */
  #shared: Connection | undefined;
  /** Every connection not closed yet: the shared one, retired ones in use, streams. */
  readonly #open = new Set<Connection>();
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

  #connect(certificate: AuthCertificate | undefined): Connection {
    const connection: Connection = {
      client: Deno.createHttpClient({
        ...(this.config.caCertificates?.length ? { caCerts: this.config.caCertificates } : {}),
        ...(certificate ? { cert: certificate.certificate, key: certificate.key } : {}),
        ...(this.config.proxyUrl ? { proxy: { url: this.config.proxyUrl } } : {}),
      }),
      certificate: certificate?.certificate,
      inFlight: 0,
      retired: false,
    };
    this.#open.add(connection);
    return connection;
  }

  /** The shared connection for `certificate`, counted in flight until `#release`. */
  #acquire(certificate: AuthCertificate | undefined): Connection {
    if (this.#shared !== undefined && this.#shared.certificate !== certificate?.certificate) {
      // The certificate changed (an exec plugin rotated it): requests still using the old one
      // finish on it, then it is closed.
      this.#retire(this.#shared);
    }
    this.#shared ??= this.#connect(certificate);
    this.#shared.inFlight++;
    return this.#shared;
  }

  #release(connection: Connection): void {
    connection.inFlight--;
    if (connection.retired && connection.inFlight <= 0) this.#close(connection);
  }

  #retire(connection: Connection): void {
    connection.retired = true;
    if (this.#shared === connection) this.#shared = undefined;
    if (connection.inFlight <= 0) this.#close(connection);
  }

  #close(connection: Connection): void {
    if (!this.#open.delete(connection)) return;
    try {
      connection.client.close();
    } catch { /* already closed */ }
  }

  /**
   * A response whose body closes `connection` when it ends, fails or is cancelled: a stream's
   * connection is its own, and dropping it drops only that stream.
   */
  #closingWith(response: Response, connection: Connection): Response {
    const source = response.body;
    if (source === null) {
      this.#close(connection);
      return response;
    }
    const reader = source.getReader();
    const close = () => this.#close(connection);
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          close();
          controller.error(error);
          return;
        }
        try {
          if (result.done) {
            close();
            controller.close();
          } else {
            controller.enqueue(result.value);
          }
        } catch { /* cancelled meanwhile */ }
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(() => {});
        close();
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
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
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    const text = bodyTexts.get(response) ?? await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Sends a request and returns the response, whose status is 2xx, retried as
   * {@linkcode RetryOptions} describes. Without `stream`, the body has been read (a body cut off
   * is retried like a connection error) and the request has a timeout. With `stream`, the body is
   * left unread, no timeout applies, and the request gets a connection of its own, closed when
   * the body ends or is cancelled.
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
    const retry = this.#options.retry ?? {};
    const maxRetries = retry.maxRetries ?? 5;
    const maxElapsedMs = retry.maxElapsedMs ?? 30_000;
    const contentType = options.contentType ?? "application/json";
    const idempotent = options.idempotent ??
      (["GET", "HEAD", "PUT", "DELETE"].includes(method) ||
        contentType === "application/apply-patch+yaml");
    const body = options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body);
    const started = performance.now();
    let refreshedAuth = false;
    for (let retries = 0;; retries++) {
      // Checked before every attempt: nothing is sent again once the caller gave up.
      if (options.signal?.aborted) throw options.signal.reason;
      const attempt = await this.#attempt(method, fullPath, options, {
        body,
        contentType,
        idempotent,
      });
      if ("response" in attempt) {
        if (attempt.text !== undefined) bodyTexts.set(attempt.response, attempt.text);
        return attempt.response;
      }
      if (attempt.unauthorized && !refreshedAuth) {
        refreshedAuth = true;
        this.#auth.invalidate();
        logger.debug("{method} {path} was refused (401); refreshing credentials", {
          method,
          path: fullPath,
        });
        retries--;
        continue;
      }
      if (!attempt.retriable || retries >= maxRetries) throw attempt.error;
      const delay = attempt.retryAfterMs ?? this.#backoff(retries, retry);
      if (performance.now() - started + delay > maxElapsedMs) throw attempt.error;
      logger.debug("{method} {path} failed ({error}); retry in {delay} ms", {
        method,
        path: fullPath,
        error: attempt.error.message,
        delay,
      });
      await sleep(delay, options.signal);
    }
  }

  /**
   * One attempt of a request. It never retries, and throws only for the caller's abort or
   * credentials it cannot get; every other failure is returned.
   */
  async #attempt(
    method: string,
    fullPath: string,
    options: RequestOptions,
    request: { body: string | undefined; contentType: string; idempotent: boolean },
  ): Promise<Attempt> {
    const info = { method, path: fullPath };
    const { body, idempotent } = request;
    const auth = await this.#auth.current();
    const headers = new Headers({ Accept: "application/json" });
    if (body !== undefined) headers.set("Content-Type", request.contentType);
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
    const timeout = options.stream
      ? undefined
      : AbortSignal.timeout(this.#options.requestTimeoutMs ?? 30_000);
    if (timeout) signals.push(timeout);
    const connection = options.stream
      ? this.#connect(auth.clientCertificate)
      : this.#acquire(auth.clientCertificate);
    const done = () => options.stream ? this.#close(connection) : this.#release(connection);
    // A request that timed out may sit on a dead connection (with HTTP/2 every request shares
    // it): the next requests open a new one, this one is closed once no request uses it.
    const retireIfTimedOut = () => {
      if (timeout?.aborted && !options.stream) this.#retire(connection);
    };
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.#server}${fullPath}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(signals.length === 0
          ? {}
          : { signal: signals.length === 1 ? signals[0]! : AbortSignal.any(signals) }),
        client: connection.client,
      });
    } catch (error) {
      this.#options.observe?.({ method, status: 0, durationMs: performance.now() - started });
      done();
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      retireIfTimedOut();
      const detail = describeCause(error);
      const hint = /certificate|UnknownIssuer|InvalidCertificate/i.test(detail)
        ? " (TLS verification failed: check the CA certificate the client trusts)"
        : "";
      return {
        error: new NetworkError(info, `${detail}${hint}`, { cause: error }),
        retriable: idempotent,
      };
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
      if (options.stream) return { response: this.#closingWith(response, connection) };
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        retireIfTimedOut();
        // The connection broke after the headers: the body is lost, not the request.
        return {
          error: new NetworkError(
            info,
            `the response body was cut off: ${describeCause(error)}`,
            { cause: error },
          ),
          retriable: idempotent,
        };
      } finally {
        done();
      }
      const init = {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      };
      return {
        response: new Response(NULL_BODY_STATUSES.has(response.status) ? null : text, init),
        text,
      };
    }
    let status: Status | undefined;
    try {
      status = await readStatus(response);
    } finally {
      done();
    }
    const after = retryAfterMs(response, status);
    return {
      error: new ApiError(info, response.status, status),
      retriable: retriableStatus(response.status, status, idempotent),
      unauthorized: response.status === 401,
      ...(after === undefined ? {} : { retryAfterMs: after }),
    };
  }

  #backoff(attempt: number, retry: RetryOptions): number {
    const initial = retry.initialDelayMs ?? 200;
    const max = retry.maxDelayMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** attempt);
    return Math.round(base * (0.5 + Math.random() * 0.5));
  }

  /**
   * Retires the shared connection: the next request opens a new one, and the old one is closed as
   * soon as no request uses it, so no request in flight is cut off. Called when a watch found its
   * connection silent, since the shared one may be dead too. Watches are not affected: each has a
   * connection of its own.
   */
  resetConnections(): void {
    if (this.#shared !== undefined) this.#retire(this.#shared);
  }

  /** Closes every connection, including those of running watches. */
  close(): void {
    this.#closed = true;
    this.#shared = undefined;
    for (const connection of [...this.#open]) this.#close(connection);
  }

  /** Same as {@linkcode KubeClient.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Whether an error status may succeed when the request is sent again. */
function retriableStatus(code: number, status: Status | undefined, idempotent: boolean): boolean {
  if (code === 429) return true;
  if (code === 408) return idempotent;
  if (code < 500 || code === 501) return false;
  if (ETCD_TOO_LARGE.test(status?.message ?? "")) return false;
  return idempotent;
}
