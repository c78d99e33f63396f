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

/**
 * A watch line could not be decoded: not JSON, truncated, an unknown event type, too long, or
 * not an object of the watched type. A `SyntaxError`, so that an informer relists on it.
 *
 * The message never quotes the line: it may hold a Secret's data.
 */
export class WatchDecodeError extends SyntaxError {
  /** The watch's path. */
  readonly path: string;

  /**
   * Creates an error for an undecodable watch line.
   *
   * @param path the watch path
   * @param detail what is wrong, without the line's content
   */
  constructor(path: string, detail: string) {
    super(`Cannot decode watch event from ${path}: ${detail}`);
    this.name = "WatchDecodeError";
    this.path = path;
  }
}

/** A watch line grew past the `maxLineBytes` watch option before its newline arrived. */
export class WatchLineTooLongError extends WatchDecodeError {
  /** The limit that was passed, in bytes (UTF-16 code units for text chunks). */
  readonly maxLineBytes: number;

  /**
   * Creates an error for a line over the limit.
   *
   * @param path the watch path
   * @param maxLineBytes the limit
   */
  constructor(path: string, maxLineBytes: number) {
    super(path, `a line is longer than ${maxLineBytes} bytes (maxLineBytes)`);
    this.name = "WatchLineTooLongError";
    this.maxLineBytes = maxLineBytes;
  }
}

/**
 * A watch event's object is not one the watch can hold: it has no name, or it is of another
 * type than the one watched (a Secret in a ConfigMap watch).
 */
export class WatchUnexpectedObjectError extends WatchDecodeError {
  /** The event type, such as `ADDED`. */
  readonly eventType: string;
  /** What is wrong with the object, for example `has no metadata.name`. */
  readonly problem: string;

  /**
   * Creates an error for an event whose object does not belong to the watch.
   *
   * @param path the watch path
   * @param eventType the event type
   * @param problem what is wrong, without the object's content
   */
  constructor(path: string, eventType: string, problem: string) {
    super(path, `the ${eventType} event's object ${problem}`);
    this.name = "WatchUnexpectedObjectError";
    this.eventType = eventType;
    this.problem = problem;
  }
}

/** A watch received no complete event, not even a bookmark, for longer than its idle deadline. */
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
      `Cannot keep watching ${path}: no complete event for ${idleTimeoutMs} ms, the connection is presumed dead`,
    );
    this.name = "WatchIdleTimeoutError";
    this.path = path;
    this.idleTimeoutMs = idleTimeoutMs;
  }
}
