// Decoding and connection-handling tests of the watch client. A small local HTTP server stands in
// for the API server only for what a real one cannot produce on demand: truncated or malformed
// lines and a connection that goes silent. The real-server tests are in kube_client_test.ts.
import assert from "node:assert/strict";
import { decodeWatchLine, decodeWatchStream, watchPath } from "./watch.ts";
import { ApiError, WatchDecodeError, WatchIdleTimeoutError } from "./errors.ts";
import { KubeClient } from "./kube_client.ts";
import { fakeServer, streamOf } from "./testdata/fake_server.ts";

async function* chunks(...parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const added = (name: string) =>
  JSON.stringify({ type: "ADDED", object: { metadata: { name, resourceVersion: "1" } } });

Deno.test("decodeWatchStream() splits lines across chunk boundaries", async () => {
  const text = `${added("a")}\n${added("b")}\n\n${added("c")}\n`;
  const parts = [text.slice(0, 7), text.slice(7, 50), text.slice(50, 51), text.slice(51)];
  const events = await collect(decodeWatchStream("/x", chunks(...parts)));
  assert.deepEqual(events.map((e) => (e.object as { metadata: { name: string } }).metadata.name), [
    "a",
    "b",
    "c",
  ]);
});

Deno.test("decodeWatchStream() rejects a stream that ends inside a line", async () => {
  await assert.rejects(
    collect(decodeWatchStream("/x", chunks(`${added("a")}\n{"type":"ADDED","obj`))),
    (e: unknown) => e instanceof WatchDecodeError && /ended inside a line/.test(e.message),
  );
});

Deno.test("decodeWatchLine() rejects non-JSON, unknown types and missing objects", () => {
  const cases: Array<[string, RegExp]> = [
    ["not json", /not JSON/],
    ["[1,2]", /unknown event type/],
    ['"text"', /not an object/],
    ['{"type":"EXPLODED","object":{}}', /unknown event type "EXPLODED"/],
    ['{"type":"ADDED"}', /no object/],
    ['{"type":"ADDED","object":null}', /no object/],
  ];
  for (const [line, pattern] of cases) {
    assert.throws(
      () => decodeWatchLine("/api/v1/pods", line),
      (e: unknown) =>
        e instanceof WatchDecodeError && pattern.test(e.message) && e.path === "/api/v1/pods",
      line,
    );
  }
});

Deno.test("watchPath() reports a malformed line from the server as a WatchDecodeError", async () => {
  const server = fakeServer(() => new Response(streamOf([`${added("a")}\n`, "garbage\n"])));
  using client = new KubeClient({ server: server.url });
  try {
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of watchPath(client, "/api/v1/configmaps")) seen.push(e.type);
      })(),
      WatchDecodeError,
    );
    assert.deepEqual(seen, ["ADDED"]);
  } finally {
    await server.close();
  }
});

Deno.test("watchPath() ends a silent connection at the idle deadline", async () => {
  const stop = new AbortController();
  const server = fakeServer(() =>
    new Response(streamOf([`${added("a")}\n`], { hang: true, signal: stop.signal }))
  );
  using client = new KubeClient({ server: server.url });
  try {
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for await (const _ of watchPath(client, "/api/v1/configmaps", { idleTimeoutMs: 300 })) {
          // the first event arrives, then nothing
        }
      })(),
      (e: unknown) => e instanceof WatchIdleTimeoutError && e.idleTimeoutMs === 300,
    );
    assert.ok(performance.now() - started >= 290);
  } finally {
    stop.abort();
    await server.close();
  }
});

Deno.test("watchPath() stops without error when its signal aborts, leaving nothing open", async () => {
  const stop = new AbortController();
  const server = fakeServer(() =>
    new Response(streamOf([`${added("a")}\n`], { hang: true, signal: stop.signal }))
  );
  using client = new KubeClient({ server: server.url });
  const controller = new AbortController();
  try {
    const events: string[] = [];
    for await (const e of watchPath(client, "/api/v1/configmaps", { signal: controller.signal })) {
      events.push(e.type);
      controller.abort();
    }
    assert.deepEqual(events, ["ADDED"]);
  } finally {
    stop.abort();
    await server.close();
  }
});

Deno.test("watchPath() sends the resume point, selectors and bookmark flag", async () => {
  let query: URLSearchParams | undefined;
  const server = fakeServer((request) => {
    query = new URL(request.url).searchParams;
    return new Response(streamOf([]));
  });
  using client = new KubeClient({ server: server.url });
  try {
    await collect(watchPath(client, "/api/v1/pods", {
      resourceVersion: "42",
      labelSelector: "a=b",
      timeoutSeconds: 30,
    }));
    assert.equal(query?.get("watch"), "true");
    assert.equal(query?.get("resourceVersion"), "42");
    assert.equal(query?.get("labelSelector"), "a=b");
    assert.equal(query?.get("allowWatchBookmarks"), "true");
    assert.equal(query?.get("timeoutSeconds"), "30");
  } finally {
    await server.close();
  }
});

Deno.test("KubeClient retries 429 and 503 honouring Retry-After, and not a POST after a 503", async () => {
  let calls = 0;
  const server = fakeServer((request) => {
    calls++;
    if (request.method === "POST") {
      return Response.json({ kind: "Status", code: 503, reason: "ServiceUnavailable" }, {
        status: 503,
      });
    }
    if (calls === 1) {
      return Response.json({ kind: "Status", code: 429, reason: "TooManyRequests" }, {
        status: 429,
        headers: { "Retry-After": "0" },
      });
    }
    if (calls === 2) return new Response("oops", { status: 503, headers: { "Retry-After": "0" } });
    return Response.json({ kind: "ConfigMap", metadata: { name: "x" } });
  });
  using client = new KubeClient({ server: server.url }, { retry: { initialDelayMs: 1 } });
  try {
    const object = await client.request<{ metadata: { name: string } }>("GET", "/api/v1/x");
    assert.equal(object.metadata.name, "x");
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      client.request("POST", "/api/v1/x", { body: {} }),
      (e: unknown) => e instanceof ApiError && e.status === 503 && e.isServerError,
    );
    assert.equal(calls, 1, "a POST is not retried after a 5xx");
  } finally {
    await server.close();
  }
});

Deno.test("KubeClient gives up after maxRetries and reports the last error", async () => {
  let calls = 0;
  const server = fakeServer(() => {
    calls++;
    return Response.json({ kind: "Status", code: 500, reason: "InternalError", message: "boom" }, {
      status: 500,
    });
  });
  using client = new KubeClient({ server: server.url }, {
    retry: { maxRetries: 2, initialDelayMs: 1 },
  });
  try {
    await assert.rejects(
      client.request("GET", "/api/v1/x"),
      (e: unknown) => e instanceof ApiError && e.status === 500 && /boom/.test(e.message),
    );
    assert.equal(calls, 3);
  } finally {
    await server.close();
  }
});
