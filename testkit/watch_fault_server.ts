/**
 * {@linkcode startWatchFaultServer}: an HTTPS server with a certificate of its own between an
 * operator and kube-apiserver. It forwards every request to the API server with a bearer token,
 * and on demand writes malformed lines (truncated JSON, an unknown event type, text that is not
 * JSON) into the watch responses it is relaying, or holds their events back and releases them
 * later (a watch lagging behind the writes). A TCP proxy (`startFaultProxy`) cannot do that,
 * since it never sees the plaintext.
 *
 * ```ts ignore
 * import { startWatchFaultServer, testControlPlane } from "@roperator/core/testkit";
 * await using cp = await testControlPlane();
 * await using relay = await startWatchFaultServer({
 *   upstream: cp.server,
 *   caCertificates: [cp.caCertificate],
 *   token: cp.adminToken,
 * });
 * const clientConfig = relay.clientConfig;
 * relay.inject("notJson"); // every relayed watch gets a line that is not JSON
 * ```
 *
 * @module
 */
import type { ClientConfig } from "../client/client_config.ts";
import { createCertificateAuthority, issueCertificate } from "./certs.ts";
import { FaultProxyError } from "./fault_proxy.ts";

/**
 * A malformed watch output {@linkcode WatchFaultServer.inject} can write:
 *
 * - `"truncated"`: the first half of a real-looking event, then the response ends (the stream
 *   ends inside a line);
 * - `"unknownType"`: a complete JSON line whose `type` is not a watch event type;
 * - `"notJson"`: a line that is not JSON at all (an HTML error page from a proxy).
 */
export type WatchFault = "truncated" | "unknownType" | "notJson";

/** Options for {@linkcode startWatchFaultServer}. */
export interface WatchFaultServerOptions {
  /** The API server's URL. */
  upstream: string;
  /** The CA certificates (PEM) the API server's certificate chains to. */
  caCertificates: string[];
  /** The bearer token sent upstream with every request, replacing the client's credentials. */
  token: string;
}

interface RelayedWatch {
  path: string;
  inject(fault: WatchFault): void;
  hold(): void;
  release(lines: number, keepHolding: boolean): number;
  readonly held: number;
  end(): void;
}

/** Which relayed watches a {@linkcode WatchFaultServer} control applies to. */
export interface WatchFilter {
  /** Only watches whose path contains this string, such as `/configmaps` (default: all). */
  pathIncludes?: string;
}

/** Options for {@linkcode WatchFaultServer.release}. */
export interface ReleaseOptions extends WatchFilter {
  /**
   * Deliver this many held lines of each watch and keep holding the rest (default: deliver every
   * held line and stop holding).
   */
  lines?: number;
}

function matches(path: string, options: WatchFilter): boolean {
  return options.pathIncludes === undefined || path.includes(options.pathIncludes);
}

const FAULT_LINES: Record<Exclude<WatchFault, "truncated">, string> = {
  unknownType: JSON.stringify({
    type: "SURPRISE",
    object: { apiVersion: "v1", kind: "Status", metadata: {} },
  }),
  notJson: "<html><body><h1>502 Bad Gateway</h1></body></html>",
};
const TRUNCATED =
  '{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"trunc';

/**
 * An HTTPS server between a client and the API server that relays every request (with its own
 * bearer token) and can corrupt the watch responses it relays. Made by
 * {@linkcode startWatchFaultServer}.
 */
export class WatchFaultServer implements AsyncDisposable {
  /** The URL clients connect to, `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** The CA certificate (PEM) of this server's certificate. */
  readonly caCertificate: string;
  /** How many faults were injected, by kind. */
  readonly injected: Record<WatchFault, number> = { truncated: 0, unknownType: 0, notJson: 0 };
  readonly #server: Deno.HttpServer;
  readonly #httpClient: Deno.HttpClient;
  readonly #watches = new Set<RelayedWatch>();
  readonly #dir: string;
  #holding: WatchFilter | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Use {@linkcode startWatchFaultServer}.
   *
   * @param options upstream, its CA and the token
   * @param tls this server's certificate, its key and its CA, and the directory they are in
   */
  constructor(
    options: WatchFaultServerOptions,
    tls: { certificate: string; key: string; caCertificate: string; dir: string },
  ) {
    const upstream = options.upstream.replace(/\/+$/, "");
    this.caCertificate = tls.caCertificate;
    this.#dir = tls.dir;
    this.#httpClient = Deno.createHttpClient({ caCerts: options.caCertificates });
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: tls.certificate,
      key: tls.key,
      onListen: () => {},
    }, (request) => this.#relay(upstream, options.token, request));
    this.url = `https://127.0.0.1:${(this.#server.addr as Deno.NetAddr).port}`;
  }

  /** Watch responses being relayed now. */
  get activeWatches(): number {
    return this.#watches.size;
  }

  /**
   * A client config for this server: its URL and CA, no credentials (the server adds its own).
   */
  get clientConfig(): ClientConfig {
    return { server: this.url, caCertificates: [this.caCertificate] };
  }

  async #relay(upstream: string, token: string, request: Request): Promise<Response> {
    if (this.#closing) return new Response("fault server: closing\n", { status: 503 });
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const name of ["host", "authorization", "content-length", "connection"]) {
      headers.delete(name);
    }
    headers.set("Authorization", `Bearer ${token}`);
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const body = hasBody ? await request.arrayBuffer() : undefined;
    let response: Response;
    try {
      response = await fetch(`${upstream}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        client: this.#httpClient,
        redirect: "manual",
      });
    } catch (error) {
      return new Response(`fault server: upstream failed: ${error}\n`, { status: 502 });
    }
    const responseHeaders = new Headers(response.headers);
    // fetch decoded the body already; its length changes with the injected lines.
    for (const name of ["content-encoding", "content-length", "transfer-encoding", "connection"]) {
      responseHeaders.delete(name);
    }
    const isWatch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
    if (!isWatch || !response.ok || !response.body || this.#closing) {
      return new Response(response.body, { status: response.status, headers: responseHeaders });
    }
    return new Response(this.#relayWatch(url.pathname, response.body), {
      status: response.status,
      headers: responseHeaders,
    });
  }

  /** Relays a watch body line by line, so that injected lines land between whole lines. */
  #relayWatch(path: string, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const watches = this.#watches;
    const injected = this.injected;
    const holding = this.#holding;
    let watch: RelayedWatch | undefined;
    let finished = false;
    let held: string[] | undefined = holding !== undefined && matches(path, holding)
      ? []
      : undefined;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (watch) watches.delete(watch);
      reader.cancel().catch(() => {});
    };
    return new ReadableStream<Uint8Array>({
      start(controller) {
        watch = {
          path,
          inject(fault) {
            if (finished) return;
            injected[fault]++;
            if (fault === "truncated") {
              controller.enqueue(encoder.encode(TRUNCATED));
              finish();
              controller.close();
              return;
            }
            controller.enqueue(encoder.encode(`${FAULT_LINES[fault]}\n`));
          },
          hold() {
            held ??= [];
          },
          release(lines, keepHolding) {
            if (held === undefined) return 0;
            const out = held.splice(0, lines);
            if (!finished && out.length) controller.enqueue(encoder.encode(out.join("")));
            if (!keepHolding && held.length === 0) held = undefined;
            return out.length;
          },
          get held() {
            return held?.length ?? 0;
          },
          end() {
            if (finished) return;
            finish();
            try {
              controller.close();
            } catch { /* closed */ }
          },
        };
        watches.add(watch);
        let partial = "";
        (async () => {
          try {
            while (!finished) {
              const { value, done } = await reader.read();
              if (done) break;
              if (finished) break;
              partial += value;
              const cut = partial.lastIndexOf("\n");
              if (cut < 0) continue;
              const whole = partial.slice(0, cut + 1);
              partial = partial.slice(cut + 1);
              if (held !== undefined) {
                held.push(...whole.split(/(?<=\n)/));
              } else {
                controller.enqueue(encoder.encode(whole));
              }
            }
            if (!finished) {
              if (partial) controller.enqueue(encoder.encode(partial));
              finish();
              controller.close();
            }
          } catch (error) {
            if (!finished) {
              finish();
              controller.error(error);
            }
          }
        })();
      },
      cancel() {
        finish();
      },
    });
  }

  /**
   * Writes a malformed line into every watch response being relayed now (between two whole
   * lines), optionally only into watches of paths containing `pathIncludes`.
   *
   * @param fault what to write
   * @param options only watches whose path contains this string
   * @returns how many watches got it
   */
  inject(fault: WatchFault, options: WatchFilter = {}): number {
    let count = 0;
    for (const watch of [...this.#watches]) {
      if (!matches(watch.path, options)) continue;
      watch.inject(fault);
      count++;
    }
    return count;
  }

  /**
   * Holds back the events of watches: whole lines are kept, in order, and not delivered until
   * {@linkcode WatchFaultServer.release}, as a watch that lags far behind the writes. Applies to
   * the watches relayed now and to those started until the release.
   *
   * @param options only watches whose path contains this string
   * @returns how many watches relayed now are held
   */
  hold(options: WatchFilter = {}): number {
    this.#holding = { ...options };
    let count = 0;
    for (const watch of this.#watches) {
      if (!matches(watch.path, options)) continue;
      watch.hold();
      count++;
    }
    return count;
  }

  /**
   * Delivers held lines: all of them, after which the watches flow again, or `lines` of each
   * watch, after which they stay held.
   *
   * @param options which watches, and how many lines of each
   * @returns how many lines were delivered
   */
  release(options: ReleaseOptions = {}): number {
    const keepHolding = options.lines !== undefined;
    if (!keepHolding) this.#holding = undefined;
    let count = 0;
    for (const watch of this.#watches) {
      if (!matches(watch.path, options)) continue;
      count += watch.release(options.lines ?? Infinity, keepHolding);
    }
    return count;
  }

  /** Lines held back now, over every watch. */
  get heldLines(): number {
    let count = 0;
    for (const watch of this.#watches) count += watch.held;
    return count;
  }

  /**
   * Ends every relayed watch and stops the server. Safe to call twice.
   *
   * @returns a promise that resolves when the server is closed
   */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      for (const watch of [...this.#watches]) watch.end();
      await this.#server.shutdown();
      this.#httpClient.close();
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    })();
  }

  /** Same as {@linkcode WatchFaultServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts an HTTPS relay to the API server that can corrupt watch responses. Its certificate
 * (for `127.0.0.1` and `localhost`) comes from a CA made for it, so clients must trust
 * {@linkcode WatchFaultServer.caCertificate}; the API server's certificate is verified upstream.
 *
 * @example
 * ```ts ignore
 * import { startWatchFaultServer, testControlPlane } from "@roperator/core/testkit";
 * await using cp = await testControlPlane();
 * await using relay = await startWatchFaultServer({
 *   upstream: cp.server,
 *   caCertificates: [cp.caCertificate],
 *   token: cp.adminToken,
 * });
 * // run the operator with relay.clientConfig, then:
 * relay.inject("notJson");
 * ```
 *
 * @param options the API server, its CA and the token to send
 * @returns the running server; `close()` it, or use `await using`
 * @throws {FaultProxyError} when the certificates cannot be made or the server cannot listen
 */
export async function startWatchFaultServer(
  options: WatchFaultServerOptions,
): Promise<WatchFaultServer> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-watch-fault-" });
  try {
    const ca = await createCertificateAuthority(dir, "watch-fault-ca");
    const serving = await issueCertificate(ca, "watch-fault", {
      commonName: "watch-fault-server",
      usage: "serverAuth",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    return new WatchFaultServer(options, {
      certificate: serving.certificate,
      key: serving.key,
      caCertificate: ca.certificate,
      dir,
    });
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new FaultProxyError(
      `Cannot start watch fault server: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}
