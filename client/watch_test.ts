// Decoding and connection-handling tests of the watch client. A small local HTTP server stands in
// for the API server only for what a real one cannot produce on demand: truncated or malformed
// lines and a connection that goes silent. The real-server tests are in kube_client_test.ts.
import assert from "node:assert/strict";
import { decodeWatchLine, decodeWatchStream, watchPath } from "./watch.ts";
import fc from "fast-check";
import {
  ApiError,
  WatchDecodeError,
  WatchIdleTimeoutError,
  WatchLineTooLongError,
} from "./errors.ts";
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

const encoder = new TextEncoder();

/** The chunks of `bytes`, `size` bytes each, as a socket delivers them. */
function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield item;
}

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("decodeWatchStream() decodes a 20 MB line in 64 KiB or 4 KiB chunks in linear time", async () => {
  const value = "v".repeat(20 * 1024 * 1024);
  const line = `${
    JSON.stringify({ type: "ADDED", object: { metadata: { name: "big" }, value } })
  }\n`;
  const bytes = encoder.encode(line);
  for (const size of [65_536, 4_096]) {
    for (const kind of ["bytes", "text"] as const) {
      const chunks = kind === "bytes"
        ? [...chunked(bytes, size)]
        : Array.from({ length: Math.ceil(line.length / size) }, (_, i) =>
          line.slice(i * size, (i + 1) * size));
      const started = performance.now();
      const events = await collect(decodeWatchStream("/x", asAsync<Uint8Array | string>(chunks)));
      const ms = performance.now() - started;
      assert.equal(events.length, 1);
      assert.equal((events[0]!.object as { value: string }).value.length, value.length);
      // Linear decoding takes under 0.2 s; rescanning the growing line took 2 s in 64 KiB
      // chunks and 30 s in 4 KiB chunks.
      assert.ok(ms < 5_000, `${kind} in ${size}-byte chunks: ${Math.round(ms)} ms`);
    }
  }
});

Deno.test("decodeWatchStream() ends a line over maxLineBytes before its newline arrives", async () => {
  const secret = "SECRET-VALUE-d41d8c";
  async function* endless(): AsyncGenerator<Uint8Array> {
    yield encoder.encode(`${added("a")}\n{"type":"ADDED","object":{"data":"`);
    while (true) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      yield encoder.encode(secret.repeat(100));
    }
  }
  const seen: string[] = [];
  await assert.rejects(
    within(
      10_000,
      (async () => {
        for await (
          const event of decodeWatchStream("/api/v1/secrets", endless(), { maxLineBytes: 10_000 })
        ) {
          seen.push(event.type);
        }
      })(),
    ),
    (e: unknown) =>
      e instanceof WatchLineTooLongError && e instanceof WatchDecodeError &&
      e instanceof SyntaxError && e.maxLineBytes === 10_000 && e.path === "/api/v1/secrets" &&
      /longer than 10000 bytes/.test(e.message) && !e.message.includes(secret),
  );
  assert.deepEqual(seen, ["ADDED"]);
});

Deno.test("decodeWatchStream() matches a plain split of the whole text, however it is chunked", async () => {
  const name = fc.string({ unit: "binary", maxLength: 12 });
  const piece = fc.oneof(
    name.map((n) => JSON.stringify({ type: "ADDED", object: { metadata: { name: n } } })),
    fc.constantFrom("", " ", "\t\r"),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(piece, { maxLength: 8 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.integer({ min: 1, max: 120 }),
      async (lines, endsWithNewline, cuts, maxLineBytes) => {
        const text = lines.join("\n") + (endsWithNewline ? "\n" : "");
        const bytes = encoder.encode(text);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let from = 0;
        for (const point of [...points, bytes.length]) {
          chunks.push(bytes.subarray(from, point));
          from = point;
        }
        // The model: split the whole text, check each line in order.
        const all = text.split("\n");
        const partial = endsWithNewline || lines.length === 0 ? undefined : all.pop();
        if (endsWithNewline) all.pop();
        const expected: string[] = [];
        let failure: "tooLong" | "endedInside" | undefined;
        for (const line of all) {
          if (encoder.encode(line).length > maxLineBytes) {
            failure = "tooLong";
            break;
          }
          if (line.trim()) expected.push(JSON.parse(line).object.metadata.name);
        }
        if (failure === undefined && partial !== undefined) {
          if (encoder.encode(partial).length > maxLineBytes) failure = "tooLong";
          else if (partial.trim()) failure = "endedInside";
        }
        const seen: string[] = [];
        let error: unknown;
        try {
          for await (
            const event of decodeWatchStream("/x", asAsync(chunks), { maxLineBytes })
          ) {
            seen.push((event.object as { metadata: { name: string } }).metadata.name);
          }
        } catch (e) {
          error = e;
        }
        if (failure === undefined) {
          assert.equal(error, undefined);
          assert.deepEqual(seen, expected);
        } else {
          assert.ok(
            failure === "tooLong"
              ? error instanceof WatchLineTooLongError
              : error instanceof WatchDecodeError && /ended inside a line/.test(error.message),
            `${failure}: ${error}`,
          );
          // The events before the bad line may be cut short, never changed.
          assert.deepEqual(seen, expected.slice(0, seen.length));
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("WatchDecodeError never quotes the line", () => {
  const secret = "SECRET-VALUE-8f14e4";
  for (
    const line of [
      `{"type":"ADDED","object":{"data":"${secret}"`,
      `{"type":"${secret}","object":{}}`,
      `{"type":"ADDED","object":"${secret}"}`,
      `"${secret}"`,
    ]
  ) {
    assert.throws(
      () => decodeWatchLine("/api/v1/secrets", line),
      (e: unknown) =>
        e instanceof WatchDecodeError && !e.message.includes(secret) &&
        !Object.values(e).some((v) => String(v).includes(secret)),
      line,
    );
  }
});

/** A body that sends `first`, then `filler` every 20 ms until it is cancelled or `stop` aborts. */
function trickle(first: string, filler: string, stop: AbortSignal): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(first));
      timer = setInterval(() => {
        try {
          controller.enqueue(encoder.encode(filler));
        } catch {
          clearInterval(timer);
        }
      }, 20);
      stop.addEventListener("abort", () => {
        clearInterval(timer);
        try {
          controller.close();
        } catch { /* closed */ }
      });
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

for (const filler of ["whitespace", "blank lines"]) {
  Deno.test(`watchPath(): ${filler} trickling in do not hold off the idle deadline`, async () => {
    const stop = new AbortController();
    const server = fakeServer(() =>
      new Response(trickle(`${added("a")}\n`, filler === "whitespace" ? " " : "\n", stop.signal))
    );
    using client = new KubeClient({ server: server.url });
    const caller = new AbortController();
    try {
      const seen: string[] = [];
      const watching = (async () => {
        const options = { idleTimeoutMs: 300, signal: caller.signal };
        for await (const e of watchPath(client, "/api/v1/configmaps", options)) seen.push(e.type);
      })();
      await assert.rejects(
        within(10_000, watching),
        (e: unknown) => e instanceof WatchIdleTimeoutError && e.idleTimeoutMs === 300,
      );
      assert.deepEqual(seen, ["ADDED"]);
    } finally {
      caller.abort();
      stop.abort();
      await server.close();
    }
  });
}

Deno.test("watchPath() ends a watch the server keeps open past timeoutSeconds, like a server close", async () => {
  const stop = new AbortController();
  const server = fakeServer(() => new Response(trickle(`${added("a")}\n`, "\n", stop.signal)));
  using client = new KubeClient({ server: server.url });
  const caller = new AbortController();
  try {
    const seen: string[] = [];
    const started = performance.now();
    await within(
      10_000,
      (async () => {
        const options = {
          timeoutSeconds: 1,
          deadlineMarginMs: 200,
          idleTimeoutMs: 60_000,
          signal: caller.signal,
        };
        for await (const e of watchPath(client, "/api/v1/configmaps", options)) seen.push(e.type);
      })(),
    );
    assert.deepEqual(seen, ["ADDED"]);
    assert.ok(performance.now() - started >= 1_150, "not before timeoutSeconds + the margin");
  } finally {
    caller.abort();
    stop.abort();
    await server.close();
  }
});

Deno.test("watchPath(): the time the caller spends on an event is not idle time", async () => {
  const sendSecond = Promise.withResolvers<void>();
  const stop = new AbortController();
  const server = fakeServer(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode(`${added("a")}\n`));
          await sendSecond.promise;
          controller.enqueue(encoder.encode(`${added("b")}\n`));
          stop.signal.addEventListener("abort", () => controller.close());
        },
      }),
    )
  );
  using client = new KubeClient({ server: server.url });
  try {
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of watchPath(client, "/api/v1/configmaps", { idleTimeoutMs: 200 })) {
          const name = (e.object as { metadata: { name: string } }).metadata.name;
          seen.push(name);
          if (name === "a") {
            // A slow caller: three idle deadlines pass while it holds the event.
            await new Promise((resolve) => setTimeout(resolve, 600));
            sendSecond.resolve();
          }
        }
      })(),
      WatchIdleTimeoutError,
    );
    assert.deepEqual(seen, ["a", "b"], "the watch was still open after the slow event");
  } finally {
    sendSecond.resolve();
    stop.abort();
    await server.close();
  }
});
