// A local HTTP server standing in for the API server in unit tests, only for what a real one
// cannot produce on demand: scripted statuses, slow answers, cut-off bodies and silent watches.

/** A running fake server. */
export interface FakeServer {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Starts a local server whose handler writes each response by hand; with `tls`, it serves HTTPS
 * (and HTTP/2, which clients pick when they can).
 *
 * @param handler answers one request
 * @param tls the serving certificate and key, PEM
 * @returns the server
 */
export function fakeServer(
  handler: (request: Request) => Response | Promise<Response>,
  tls?: { certificate: string; key: string },
): FakeServer {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    ...(tls ? { cert: tls.certificate, key: tls.key } : {}),
  }, handler);
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/**
 * A response body of the given lines; with `hang`, it stays open until `signal` aborts.
 *
 * @param lines the chunks to send
 * @param options whether to keep the body open, and what ends it
 * @returns the body
 */
export function streamOf(
  lines: string[],
  options: { hang?: boolean; signal?: AbortSignal } = {},
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const line of lines) controller.enqueue(new TextEncoder().encode(line));
      if (!options.hang) controller.close();
      options.signal?.addEventListener("abort", () => {
        try {
          controller.close();
        } catch { /* closed */ }
      });
    },
  });
}

/**
 * A JSON Status response.
 *
 * @param code the HTTP status
 * @param message the Status message
 * @param headers extra headers, such as `Retry-After`
 * @returns the response
 */
export function statusResponse(
  code: number,
  message = "scripted",
  headers: Record<string, string> = {},
): Response {
  return Response.json(
    { kind: "Status", apiVersion: "v1", status: "Failure", code, message },
    { status: code, headers },
  );
}
