/**
 * Fault injection between an operator and kube-apiserver, for tests that prove the operator loses
 * nothing when the network or the API server misbehaves.
 *
 * - {@linkcode startFaultProxy}: a loopback TCP proxy. It forwards raw bytes, so TLS passes through
 *   untouched and the client still verifies the API server's own certificate. Its controls cut
 *   every connection, make connections silent, add latency or refuse new connections.
 * - {@linkcode startWatchFaultServer}: an HTTPS server with a certificate of its own that forwards
 *   every request to the API server with a bearer token, and on demand writes malformed lines
 *   (truncated JSON, an unknown event type, text that is not JSON) into the watch responses it is
 *   relaying, or holds their events back and releases them later (a watch lagging behind the
 *   writes). A TCP proxy cannot do that, since it never sees the plaintext.
 *
 * ```ts ignore
 * import { startFaultProxy, testControlPlane } from "@roperator/core/testkit";
 * await using cp = await testControlPlane();
 * await using proxy = startFaultProxy({ target: cp.server });
 * const clientConfig = { ...cp.clientConfig, server: proxy.url };
 * proxy.stall(); // every open connection goes silent
 * ```
 *
 * @module
 */
import type { ClientConfig } from "../client/client_config.ts";
import { createCertificateAuthority, issueCertificate } from "./certs.ts";

/** Options for {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /**
   * Where to forward to: a URL (its host and port are used, the scheme's default port when it has
   * none) or a host and port.
   */
  target: string | { hostname: string; port: number };
  /** The loopback port to listen on (default 0: a free port). */
  port?: number;
}

/** Options for {@linkcode FaultProxy.stall}. */
export interface StallOptions {
  /**
   * Also accept new connections and leave them silent (default `false`: new connections are
   * forwarded normally, as after a load balancer silently dropped its old connections).
   */
  newConnections?: boolean;
}

/** Connection counters of a {@linkcode FaultProxy}. */
export interface ProxyConnectionCounts {
  /** Connections accepted and forwarded (or stalled). */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Connections closed at once because new connections were refused. */
  refused: number;
  /** Connections closed by {@linkcode FaultProxy.cut}. */
  cut: number;
  /** Connections closed because the target could not be reached. */
  failed: number;
}

/** Thrown when a fault proxy or fault server cannot be started. */
export class FaultProxyError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FaultProxyError";
  }
}

function parseTarget(target: FaultProxyOptions["target"]): { hostname: string; port: number } {
  if (typeof target !== "string") return target;
  let url: URL;
  try {
    url = new URL(target);
  } catch (error) {
    throw new FaultProxyError(`Cannot start fault proxy: target "${target}" is not a URL`, {
      cause: error,
    });
  }
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** A condition that async loops can wait on, woken by every state change. */
class Wake {
  #waiters: Array<() => void> = [];

  /** Resolves at the next {@linkcode Wake.notify}. */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves after `ms` or at the next {@linkcode Wake.notify}, whichever comes first. */
  nextOrAfter(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.push(done);
    });
  }

  /** Wakes every waiter. */
  notify(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

interface Chunk {
  data: Uint8Array;
  due: number;
}

/** One client connection and its upstream connection. */
class Link {
  stalled: boolean;
  readonly #wake = new Wake();
  readonly #client: Deno.TcpConn;
  readonly #upstream: Deno.TcpConn;
  readonly #delay: () => number;
  readonly done: Promise<void>;
  #closed = false;

  constructor(
    client: Deno.TcpConn,
    upstream: Deno.TcpConn,
    options: { stalled: boolean; delay: () => number },
  ) {
    this.#client = client;
    this.#upstream = upstream;
    this.stalled = options.stalled;
    this.#delay = options.delay;
    this.done = Promise.all([
      this.#direction(client, upstream),
      this.#direction(upstream, client),
    ]).then(() => this.close());
  }

  /** Wakes the writers after a change of `stalled` or of the delay. */
  poke(): void {
    this.#wake.notify();
  }

  /** Closes both sockets now; pending reads and writes end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake.notify();
    for (const conn of [this.#client, this.#upstream]) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Forwards one direction: a reader queues each chunk with the time it may be written (now plus
   * the delay, so latency adds up per chunk but throughput is not limited), a writer writes it
   * once due and while the link is not stalled. End of input is passed on as a half-close.
   */
  async #direction(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const queue: Chunk[] = [];
    let ended = false;
    const reader = (async () => {
      try {
        while (!this.#closed) {
          const buffer = new Uint8Array(64 * 1024);
          const n = await from.read(buffer);
          if (n === null) break;
          queue.push({ data: buffer.subarray(0, n), due: performance.now() + this.#delay() });
          this.#wake.notify();
        }
      } catch {
        // The socket was closed (by close() or by the peer): the link ends.
        this.close();
      } finally {
        ended = true;
        this.#wake.notify();
      }
    })();
    try {
      while (!this.#closed) {
        const chunk = queue[0];
        if (chunk === undefined) {
          if (ended) {
            try {
              await to.closeWrite();
            } catch { /* already closed */ }
            break;
          }
          await this.#wake.next();
          continue;
        }
        if (this.stalled) {
          await this.#wake.next();
          continue;
        }
        const now = performance.now();
        if (chunk.due > now) {
          await this.#wake.nextOrAfter(chunk.due - now);
          continue;
        }
        queue.shift();
        let written = 0;
        while (written < chunk.data.length) {
          written += await to.write(chunk.data.subarray(written));
        }
      }
    } catch {
      this.close();
    }
    await reader;
  }
}

/**
 * A loopback TCP proxy with controls for network faults. Made by {@linkcode startFaultProxy}.
 * TLS passes through untouched: clients connect to {@linkcode FaultProxy.url} with the target's
 * CA, and the target's certificate must name `127.0.0.1`.
 */
export class FaultProxy implements AsyncDisposable {
  /** The address it listens on, always `127.0.0.1`. */
  readonly hostname: string = "127.0.0.1";
  /** The port it listens on. */
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #links = new Set<Link>();
  readonly #pending = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #delayMs = 0;
  #refusing = false;
  #stallNew = false;
  #closing: Promise<void> | undefined;
  readonly #counts: ProxyConnectionCounts = { accepted: 0, open: 0, refused: 0, cut: 0, failed: 0 };

  /**
   * Listens at once; use {@linkcode startFaultProxy}.
   *
   * @param options the target and the port
   * @throws {FaultProxyError} when the port cannot be bound
   */
  constructor(options: FaultProxyOptions) {
    this.#target = parseTarget(options.target);
    try {
      this.#listener = Deno.listen({ hostname: this.hostname, port: options.port ?? 0 });
    } catch (error) {
      throw new FaultProxyError(
        `Cannot start fault proxy: cannot listen on ${this.hostname}:${options.port ?? 0}: ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept();
  }

  /** `https://127.0.0.1:<port>`: the server URL for a client of a TLS target. */
  get url(): string {
    return `https://${this.hostname}:${this.port}`;
  }

  /** A snapshot of the connection counters. */
  get connections(): ProxyConnectionCounts {
    return { ...this.#counts, open: this.#links.size };
  }

  /** The latency added per chunk and direction, in milliseconds. */
  get delayMs(): number {
    return this.#delayMs;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#closing) {
          conn.close();
          break;
        }
        if (this.#refusing) {
          this.#counts.refused++;
          conn.close();
          continue;
        }
        const connecting = this.#connect(conn);
        this.#pending.add(connecting);
        connecting.finally(() => this.#pending.delete(connecting));
      }
    } catch {
      // The listener was closed.
    }
  }

  async #connect(conn: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ ...this.#target, transport: "tcp" });
    } catch {
      this.#counts.failed++;
      conn.close();
      return;
    }
    if (this.#closing || this.#refusing) {
      if (this.#refusing) this.#counts.refused++;
      conn.close();
      upstream.close();
      return;
    }
    this.#counts.accepted++;
    const link = new Link(conn, upstream, { stalled: this.#stallNew, delay: () => this.#delayMs });
    this.#links.add(link);
    link.done.finally(() => this.#links.delete(link));
  }

  /**
   * Closes every open connection now (a FIN to both sides, as when a load balancer or the API
   * server goes away). New connections are still accepted.
   *
   * @returns how many connections were closed
   */
  cut(): number {
    const links = [...this.#links];
    for (const link of links) {
      if (!link.closed) this.#counts.cut++;
      link.close();
    }
    return links.length;
  }

  /**
   * Stops forwarding on every open connection without closing it: both ends see a silent
   * connection, as when a middlebox dropped it without telling anyone. Bytes that arrive are held
   * and forwarded after {@linkcode FaultProxy.resume}, or dropped by {@linkcode FaultProxy.cut}.
   *
   * @param options whether new connections are stalled too
   */
  stall(options: StallOptions = {}): void {
    this.#stallNew = options.newConnections ?? false;
    for (const link of this.#links) {
      link.stalled = true;
      link.poke();
    }
  }

  /** Forwards again on every stalled connection, held bytes first, and on new connections. */
  resume(): void {
    this.#stallNew = false;
    for (const link of this.#links) {
      link.stalled = false;
      link.poke();
    }
  }

  /**
   * Adds latency: every chunk read from either side is written to the other `ms` later. Chunks
   * keep their order; throughput is not limited. 0 turns it off.
   *
   * @param ms the added latency per chunk and direction, in milliseconds
   * @throws {RangeError} when `ms` is negative or not finite
   */
  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`Cannot set proxy delay: ${ms} is not a non-negative number`);
    }
    this.#delayMs = ms;
    for (const link of this.#links) link.poke();
  }

  /**
   * Refuses new connections (each is accepted and closed at once, before any byte is
   * exchanged, so a TLS client sees its handshake fail), or stops refusing. Open connections are
   * left alone; combine with {@linkcode FaultProxy.cut} for an outage.
   *
   * @param on whether to refuse (default `true`)
   */
  refuse(on = true): void {
    this.#refusing = on;
  }

  /**
   * Stops listening and closes every connection. Safe to call twice.
   *
   * @returns a promise that resolves when every socket is closed and every loop has ended
   */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        this.#listener.close();
      } catch { /* closed */ }
      await this.#accepting;
      await Promise.all(this.#pending);
      const links = [...this.#links];
      for (const link of links) link.close();
      await Promise.all(links.map((link) => link.done));
    })();
  }

  /** Same as {@linkcode FaultProxy.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a loopback TCP proxy to `target`. Controls: {@linkcode FaultProxy.cut},
 * {@linkcode FaultProxy.stall} / {@linkcode FaultProxy.resume}, {@linkcode FaultProxy.delay},
 * {@linkcode FaultProxy.refuse}; counters in {@linkcode FaultProxy.connections}.
 *
 * @example
 * ```ts ignore
 * import { startFaultProxy } from "@roperator/core/testkit";
 * await using proxy = startFaultProxy({ target: "https://127.0.0.1:6443" });
 * proxy.delay(500);
 * console.log(proxy.url, proxy.connections.open);
 * ```
 *
 * @param options the target and the local port
 * @returns the running proxy; `close()` it, or use `await using`
 * @throws {FaultProxyError} when the target is not a URL or the port cannot be bound
 */
export function startFaultProxy(options: FaultProxyOptions): FaultProxy {
  return new FaultProxy(options);
}

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
