/**
 * {@linkcode startFaultProxy}: a loopback TCP proxy between an operator and kube-apiserver, for
 * tests that prove the operator loses nothing when the network misbehaves. It forwards raw bytes,
 * so TLS passes through untouched and the client still verifies the API server's own certificate.
 * Its controls cut every connection, make connections silent, add latency or refuse new
 * connections. (To corrupt the watch responses themselves, which a TCP proxy never sees in
 * plaintext, use `startWatchFaultServer` from `watch_fault_server.ts`.)
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
