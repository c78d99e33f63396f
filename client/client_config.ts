/**
 * {@linkcode ClientConfig}: everything needed to reach and authenticate to a Kubernetes API
 * server, as a plain object that can be written by hand or produced by a loader
 * (`fromKubeconfig`, `fromServiceAccount`, `loadClientConfig`).
 *
 * @module
 */

/** A static bearer token, sent as `Authorization: Bearer <token>`. */
export interface TokenCredentials {
  /** Discriminant. */
  kind: "token";
  /** The token, as is (not base64-encoded). */
  token: string;
}

/**
 * A bearer token read from a file. The file is re-read when it changes (bound service-account
 * tokens rotate) and after a 401, so a rotated token never causes an outage.
 */
export interface TokenFileCredentials {
  /** Discriminant. */
  kind: "tokenFile";
  /** Path of the token file. */
  path: string;
}

/** Options passed to a {@linkcode TokenProviderCredentials.getToken} call. */
export interface GetTokenOptions {
  /** True after the API server answered 401: a cached token must not be returned again. */
  forceRefresh: boolean;
}

/**
 * A bearer token from a function, for authentication schemes no loader covers (OAuth, a cloud
 * SDK). The function is called before each request and should cache on its own;
 * `forceRefresh` is set after a 401.
 */
export interface TokenProviderCredentials {
  /** Discriminant. */
  kind: "tokenProvider";
  /** Returns the current token. */
  getToken(options: GetTokenOptions): string | Promise<string>;
}

/** A TLS client certificate and its private key, both PEM. */
export interface ClientCertificateCredentials {
  /** Discriminant. */
  kind: "clientCertificate";
  /** The certificate chain, PEM. */
  certificate: string;
  /** The private key, PEM (PKCS#8, PKCS#1 or SEC1). */
  key: string;
}

/** HTTP basic authentication. */
export interface BasicCredentials {
  /** Discriminant. */
  kind: "basic";
  /** User name. */
  username: string;
  /** Password. */
  password: string;
}

/** A raw `Authorization` header value, sent verbatim. */
export interface HeaderCredentials {
  /** Discriminant. */
  kind: "header";
  /** The whole header value, for example `"Bearer abc"`. */
  authorization: string;
}

/**
 * A client.authentication.k8s.io exec credential plugin (kubeconfig `users[].user.exec`). Its
 * result is cached until `expirationTimestamp` and refreshed on expiry and after a 401.
 */
export interface ExecCredentials {
  /** Discriminant. */
  kind: "exec";
  /** `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`. */
  apiVersion: string;
  /** The command to run; resolved like a shell would, or relative to the kubeconfig. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Shown when the command is missing. */
  installHint?: string;
  /** Whether to pass the cluster in `KUBERNETES_EXEC_INFO`. */
  provideClusterInfo?: boolean;
  /** Where the plugin is defined, for error messages (kubeconfig path and user name). */
  source?: string;
}

/** How the client proves who it is. */
export type Credentials =
  | TokenCredentials
  | TokenFileCredentials
  | TokenProviderCredentials
  | ClientCertificateCredentials
  | BasicCredentials
  | HeaderCredentials
  | ExecCredentials;

/** Who the client acts as, sent as `Impersonate-*` headers. */
export interface Impersonation {
  /** `Impersonate-User`. */
  user: string;
  /** `Impersonate-Uid`. */
  uid?: string;
  /** `Impersonate-Group`, one header each. */
  groups?: string[];
  /** `Impersonate-Extra-<key>`. */
  extra?: Record<string, string[]>;
}

/** How to reach and authenticate to a Kubernetes API server. */
export interface ClientConfig {
  /** The API server's base URL, for example `https://10.0.0.1:443`. */
  server: string;
  /** CA certificates (PEM) that the server's certificate must chain to; the system roots when absent. */
  caCertificates?: string[];
  /** The credentials; anonymous when absent. */
  credentials?: Credentials;
  /**
   * Extra credentials combined with `credentials`: a client certificate beside a token, as a
   * kubeconfig user may have both.
   */
  clientCertificate?: ClientCertificateCredentials;
  /**
   * The name the server's certificate must carry, when it differs from the host in `server`
   * (kubeconfig `tls-server-name`). Deno's `fetch` has no per-client SNI override: the client
   * refuses this setting unless it equals the host in `server`, rather than silently ignore it.
   */
  tlsServerName?: string;
  /**
   * Skip TLS verification (kubeconfig `insecure-skip-tls-verify`). Deno cannot turn off
   * verification for one client: this only works when the process runs with
   * `--unsafely-ignore-certificate-errors`; otherwise the client refuses to start.
   */
  insecureSkipTlsVerify?: boolean;
  /** Act as another user. */
  impersonate?: Impersonation;
  /** The `User-Agent` header. */
  userAgent?: string;
  /** The default namespace (from the kubeconfig context or the service-account namespace file). */
  namespace?: string;
  /** A proxy URL (kubeconfig `proxy-url`), passed to `Deno.createHttpClient`. */
  proxyUrl?: string;
}
