/**
 * Errors of the HTTP client: {@linkcode ApiError} when the API server answered with an error
 * status, {@linkcode NetworkError} when it could not be reached or the connection broke, and the
 * watch errors.
 *
 * @module
 */

/** A Kubernetes `Status` object, as sent with error responses and watch ERROR events. */
export interface Status {
  /** `v1`. */
  apiVersion?: string;
  /** `Status`. */
  kind?: string;
  /** `Failure` or `Success`. */
  status?: string;
  /** A human-readable description. */
  message?: string;
  /** A machine-readable reason such as `NotFound`, `Conflict`, `Expired`, `Gone`, `Invalid`. */
  reason?: string;
  /** Extended data: the object's name, kind, and the causes of a 422. */
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: Array<{ reason?: string; message?: string; field?: string }>;
    retryAfterSeconds?: number;
  };
  /** The HTTP status code. */
  code?: number;
}

/** What the request was, for error messages. It never includes credentials. */
export interface RequestInfo {
  /** The HTTP method. */
  method: string;
  /** The path and query, for example `/api/v1/namespaces/a/pods?limit=5`. */
  path: string;
}

/**
 * The API server answered with an error status. Tell them apart with the getters
 * (`isNotFound`, `isConflict`, …) or `status`.
 */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The Status reason, for example `NotFound`, `AlreadyExists`, `Conflict`, `Expired`. */
  readonly reason: string;
  /** The Status object, when the server sent one. */
  readonly body: Status | undefined;
  /** The request's method. */
  readonly method: string;
  /** The request's path and query. */
  readonly path: string;

  /**
   * Creates an error from the API server's answer.
   *
   * @param request the method and path
   * @param status the HTTP status
   * @param body the Status object, when the server sent one
   */
  constructor(request: RequestInfo, status: number, body?: Status) {
    const reason = body?.reason ?? reasonFor(status);
    const detail = body?.message ?? reason;
    super(`Cannot ${request.method} ${request.path}: ${status} ${reason}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
    this.body = body;
    this.method = request.method;
    this.path = request.path;
  }

  /** 400 Bad Request. */
  get isBadRequest(): boolean {
    return this.status === 400;
  }
  /** 401 Unauthorized: the credentials were refused. */
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
  /** 403 Forbidden: RBAC denied the request. */
  get isForbidden(): boolean {
    return this.status === 403;
  }
  /** 404 Not Found. */
  get isNotFound(): boolean {
    return this.status === 404;
  }
  /** 409 Conflict: a stale resourceVersion, an apply conflict, or AlreadyExists. */
  get isConflict(): boolean {
    return this.status === 409;
  }
  /** 409 AlreadyExists. */
  get isAlreadyExists(): boolean {
    return this.status === 409 && this.reason === "AlreadyExists";
  }
  /** 410 Gone / Expired: the resourceVersion is too old; relist. */
  get isGone(): boolean {
    return this.status === 410;
  }
  /** 422 Unprocessable Entity: the object failed validation. */
  get isInvalid(): boolean {
    return this.status === 422;
  }
  /** 429 Too Many Requests. */
  get isTooManyRequests(): boolean {
    return this.status === 429;
  }
  /** A 5xx answer. */
  get isServerError(): boolean {
    return this.status >= 500;
  }
}

function reasonFor(status: number): string {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return status >= 500 ? "InternalError" : "Unknown";
  }
}

/** The API server could not be reached, or the connection broke before an answer. */
export class NetworkError extends Error {
  /** The request's method. */
  readonly method: string;
  /** The request's path and query. */
  readonly path: string;

  /**
   * Creates an error for a request that got no answer.
   *
   * @param request the method and path
   * @param detail what went wrong
   * @param options the underlying error
   */
  constructor(request: RequestInfo, detail: string, options?: ErrorOptions) {
    super(`Cannot ${request.method} ${request.path}: ${detail}`, options);
    this.name = "NetworkError";
    this.method = request.method;
    this.path = request.path;
  }
}

/** A watch line could not be decoded: not JSON, truncated, or an unknown event type. */
export class WatchDecodeError extends SyntaxError {
  /** The watch's path. */
  readonly path: string;
  /** The start of the bad line (at most 100 characters). */
  readonly line: string;

  /**
   * Creates an error for an undecodable watch line.
   *
   * @param path the watch path
   * @param detail what is wrong
   * @param line the offending line
   */
  constructor(path: string, detail: string, line: string) {
    super(`Cannot decode watch event from ${path}: ${detail}`);
    this.name = "WatchDecodeError";
    this.path = path;
    this.line = line.slice(0, 100);
  }
}

/** A watch received nothing, not even a bookmark, for longer than its idle deadline. */
export class WatchIdleTimeoutError extends Error {
  /** The watch's path. */
  readonly path: string;
  /** The deadline that passed, in milliseconds. */
  readonly idleTimeoutMs: number;

  /**
   * Creates an error for a watch that went silent.
   *
   * @param path the watch path
   * @param idleTimeoutMs the deadline
   */
  constructor(path: string, idleTimeoutMs: number) {
    super(
      `Cannot keep watching ${path}: no data for ${idleTimeoutMs} ms, the connection is presumed dead`,
    );
    this.name = "WatchIdleTimeoutError";
    this.path = path;
    this.idleTimeoutMs = idleTimeoutMs;
  }
}
