/**
 * {@linkcode createAuthenticator}: turns the {@linkcode Credentials} of a
 * {@linkcode ClientConfig} into what each request needs (an `Authorization` header value and a
 * client certificate), re-reading rotated token files and re-running exec plugins as needed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  ClientConfig,
  ExecCredentials,
  TokenFileCredentials,
  TokenProviderCredentials,
} from "./client_config.ts";
import { ClientConfigError, describeFileError, readPermissionProblem } from "./config_error.ts";
import { type ExecPluginResult, runExecPlugin } from "./exec_plugin.ts";
import { messageOf } from "./_util.ts";

const logger = getLogger(["roperator", "client"]);

/** A client certificate and its private key, both PEM. */
export interface AuthCertificate {
  /** The certificate chain, PEM. */
  certificate: string;
  /** The private key, PEM. */
  key: string;
}

/** What a request must carry to authenticate. */
export interface AuthState {
  /** The `Authorization` header value, for example `Bearer abc`; none when absent. */
  authorization?: string;
  /**
   * The TLS client certificate. The same object is returned for as long as the certificate does
   * not change, so a client can compare by identity to decide whether to build a new HTTP client.
   */
  clientCertificate?: AuthCertificate;
}

/** Produces the authentication of each request. */
export interface Authenticator {
  /**
   * Returns the authentication for the next request; called before every request.
   *
   * @returns the `Authorization` value and client certificate to use
   * @throws {ClientConfigError} when the credentials cannot be obtained (unreadable token file,
   * failing exec plugin, failing token provider)
   */
  current(): Promise<AuthState>;
  /**
   * Marks the credentials as rejected (the server answered 401): the next {@linkcode current}
   * re-reads the token file, re-runs the exec plugin or asks the token provider for a fresh token.
   */
  invalidate(): void;
}

/** Options for {@linkcode createAuthenticator}. */
export interface CreateAuthenticatorOptions {
  /** Kill an exec plugin after this many milliseconds; default 30 000. */
  execTimeoutMs?: number;
  /** The current time in milliseconds; default `Date.now`. For tests. */
  now?: () => number;
}

/** A token file is checked for changes at most this often, except after `invalidate()`. */
const TOKEN_FILE_CHECK_INTERVAL_MS = 1_000;
/** An exec credential is refreshed this long before it expires (at most half its lifetime). */
const EXEC_REFRESH_MARGIN_MS = 10_000;

interface Source {
  current(): Promise<AuthState>;
  invalidate(): void;
}

function toBase64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function tokenFileError(path: string, detail: string, cause?: unknown): ClientConfigError {
  return new ClientConfigError(`Cannot read token file "${path}": ${detail}`, {
    file: path,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A token file, re-read when its inode, size or modification time changes. */
class TokenFileSource implements Source {
  #token: string | undefined;
  #fingerprint = "";
  #checkedAt = -Infinity;
  #stale = false;
  #pending: Promise<AuthState> | undefined;

  constructor(readonly credentials: TokenFileCredentials, readonly now: () => number) {}

  current(): Promise<AuthState> {
    if (
      this.#token !== undefined && !this.#stale &&
      this.now() - this.#checkedAt < TOKEN_FILE_CHECK_INTERVAL_MS
    ) {
      return Promise.resolve({ authorization: `Bearer ${this.#token}` });
    }
    this.#pending ??= this.#refresh().finally(() => this.#pending = undefined);
    return this.#pending;
  }

  invalidate(): void {
    this.#stale = true;
  }

  async #refresh(): Promise<AuthState> {
    const { path } = this.credentials;
    const forced = this.#stale || this.#token === undefined;
    try {
      const problem = readPermissionProblem(path);
      if (problem !== undefined) throw tokenFileError(path, problem);
      const info = await Deno.stat(path);
      const fingerprint = `${info.ino}:${info.size}:${info.mtime?.getTime()}`;
      if (forced || fingerprint !== this.#fingerprint) {
        const token = (await Deno.readTextFile(path)).trim();
        if (token === "") throw tokenFileError(path, "the file is empty");
        if (this.#token !== undefined && token !== this.#token) {
          logger.debug("Token file {path} changed: using the new token.", { path });
        }
        this.#token = token;
        this.#fingerprint = fingerprint;
      }
      this.#stale = false;
      this.#checkedAt = this.now();
      return { authorization: `Bearer ${this.#token}` };
    } catch (error) {
      const wrapped = error instanceof ClientConfigError
        ? error
        : tokenFileError(path, describeFileError(error), error);
      if (forced || this.#token === undefined) throw wrapped;
      // The last token has not been rejected: keep using it rather than fail every request.
      logger.warn("Keeping the last token: {message}", { message: wrapped.message });
      this.#checkedAt = this.now();
      return { authorization: `Bearer ${this.#token}` };
    }
  }
}

/** A user-supplied token function; `forceRefresh` is set once after `invalidate()`. */
class TokenProviderSource implements Source {
  #forceRefresh = false;

  constructor(readonly credentials: TokenProviderCredentials) {}

  async current(): Promise<AuthState> {
    const forceRefresh = this.#forceRefresh;
    this.#forceRefresh = false;
    let token: string;
    try {
      token = await this.credentials.getToken({ forceRefresh });
    } catch (error) {
      if (forceRefresh) this.#forceRefresh = true;
      throw new ClientConfigError(
        `Cannot get a token from the token provider: ${messageOf(error)}`,
        { cause: error },
      );
    }
    if (typeof token !== "string" || token === "") {
      if (forceRefresh) this.#forceRefresh = true;
      throw new ClientConfigError(
        "Cannot get a token from the token provider: it returned an empty token",
      );
    }
    return { authorization: `Bearer ${token}` };
  }

  invalidate(): void {
    this.#forceRefresh = true;
  }
}

/** An exec plugin, run once for all concurrent callers and cached until shortly before expiry. */
class ExecSource implements Source {
  #state: AuthState | undefined;
  #refreshAt = Infinity;
  #stale = false;
  #running: Promise<AuthState> | undefined;

  constructor(
    readonly credentials: ExecCredentials,
    readonly config: ClientConfig,
    readonly options: { now: () => number; timeoutMs: number | undefined },
  ) {}

  current(): Promise<AuthState> {
    if (this.#state !== undefined && !this.#stale && this.options.now() < this.#refreshAt) {
      return Promise.resolve(this.#state);
    }
    this.#running ??= this.#run().finally(() => this.#running = undefined);
    return this.#running;
  }

  invalidate(): void {
    // A run in progress produces a fresh credential: only the cached one is rejected.
    if (this.#running === undefined) this.#stale = true;
  }

  async #run(): Promise<AuthState> {
    const { now, timeoutMs } = this.options;
    const result: ExecPluginResult = await runExecPlugin(this.credentials, {
      cluster: this.config,
      now,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    const state: AuthState = {};
    if (result.token !== undefined) state.authorization = `Bearer ${result.token}`;
    if (result.clientCertificate !== undefined) {
      state.clientCertificate = {
        certificate: result.clientCertificate.certificate,
        key: result.clientCertificate.key,
      };
    }
    const fetchedAt = now();
    if (result.expiresAt === undefined) {
      this.#refreshAt = Infinity;
    } else {
      const expiresAt = result.expiresAt.getTime();
      this.#refreshAt = expiresAt - Math.min(EXEC_REFRESH_MARGIN_MS, (expiresAt - fetchedAt) / 2);
    }
    this.#state = state;
    this.#stale = false;
    return state;
  }
}

function staticSource(state: AuthState): Source {
  return { current: () => Promise.resolve({ ...state }), invalidate: () => {} };
}

/**
 * Creates the {@linkcode Authenticator} for a {@linkcode ClientConfig}:
 *
 * - `token`: `Bearer <token>`;
 * - `tokenFile`: `Bearer <file content, trimmed>`, re-read when the file's inode, size or
 *   modification time changes (checked at most once a second) and after `invalidate()`;
 * - `tokenProvider`: `Bearer <getToken()>`, with `forceRefresh` after `invalidate()`;
 * - `basic`: `Basic base64(user:password)`;
 * - `header`: the value verbatim;
 * - `clientCertificate`: the certificate only;
 * - `exec`: the plugin's token and/or certificate, cached until 10 s before it expires (or until
 *   `invalidate()`); concurrent callers share one run of the plugin.
 *
 * `config.clientCertificate` is returned as `clientCertificate`, unless the credentials bring
 * their own certificate (an exec plugin's certificate overrides it).
 *
 * @example
 * ```ts ignore
 * const auth = createAuthenticator(config);
 * const { authorization } = await auth.current();
 * // after a 401: auth.invalidate(), then retry once with await auth.current()
 * ```
 *
 * @param config the client configuration
 * @param options the exec plugin timeout, and a clock for tests
 * @returns the authenticator
 */
export function createAuthenticator(
  config: ClientConfig,
  options?: CreateAuthenticatorOptions,
): Authenticator {
  const now = options?.now ?? Date.now;
  const credentials = config.credentials;
  let source: Source;
  switch (credentials?.kind) {
    case undefined:
      source = staticSource({});
      break;
    case "token":
      source = staticSource({ authorization: `Bearer ${credentials.token}` });
      break;
    case "tokenFile":
      source = new TokenFileSource(credentials, now);
      break;
    case "tokenProvider":
      source = new TokenProviderSource(credentials);
      break;
    case "basic":
      source = staticSource({
        authorization: `Basic ${toBase64(`${credentials.username}:${credentials.password}`)}`,
      });
      break;
    case "header":
      source = staticSource({ authorization: credentials.authorization });
      break;
    case "clientCertificate":
      source = staticSource({
        clientCertificate: { certificate: credentials.certificate, key: credentials.key },
      });
      break;
    case "exec":
      source = new ExecSource(credentials, config, { now, timeoutMs: options?.execTimeoutMs });
      break;
    default: {
      const unknown: { kind?: unknown } = credentials;
      throw new ClientConfigError(
        `Cannot authenticate: unknown credentials kind ${JSON.stringify(unknown.kind)}`,
        { field: "credentials.kind" },
      );
    }
  }

  const fallbackCertificate: AuthCertificate | undefined = config.clientCertificate === undefined
    ? undefined
    : { certificate: config.clientCertificate.certificate, key: config.clientCertificate.key };
  if (fallbackCertificate === undefined) return source;
  return {
    async current(): Promise<AuthState> {
      const state = await source.current();
      return state.clientCertificate === undefined
        ? { ...state, clientCertificate: fallbackCertificate }
        : state;
    },
    invalidate(): void {
      source.invalidate();
    },
  };
}
