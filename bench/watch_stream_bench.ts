/**
 * Watch streaming: `watchPath` over a response body that delivers one event per chunk, as a
 * live watch does (events arrive one by one, not in 64 KiB blocks as in
 * `watch_decode_bench.ts`). This measures the per-chunk cost of the watch: the body stream, text
 * decoding, the idle deadline and line splitting. The floor reads the same chunks with a plain
 * reader, a `TextDecoder` and `JSON.parse`.
 *
 * @module
 */
import { type KubeClient, watchPath } from "../client/mod.ts";

const EVENTS = 5_000;

const encoder = new TextEncoder();
const chunks: Uint8Array[] = Array.from({ length: EVENTS }, (_, i) =>
  encoder.encode(
    JSON.stringify({
      type: "MODIFIED",
      object: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: `config-${i}`,
          namespace: "bench",
          uid: crypto.randomUUID(),
          resourceVersion: String(100_000 + i),
          labels: { "app.kubernetes.io/instance": crypto.randomUUID() },
        },
        data: { value: `v${i}` },
      },
    }) + "\n",
  ));

function body(): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

/** A stand-in for `KubeClient`: `send` answers with the chunked body. */
const client = {
  send: () => Promise.resolve(new Response(body())),
} as unknown as KubeClient;

Deno.bench({
  name: `watchPath: ${EVENTS} watch events, one per chunk`,
  group: "watch stream",
  n: 20,
  async fn() {
    let count = 0;
    for await (const _ of watchPath(client, "/api/v1/configmaps", { idleTimeoutMs: 60_000 })) {
      count++;
    }
    if (count !== EVENTS) throw new Error(`got ${count} events, expected ${EVENTS}`);
  },
});

Deno.bench({
  name: `floor: reader, TextDecoder and JSON.parse, ${EVENTS} watch lines, one per chunk`,
  group: "watch stream",
  baseline: true,
  n: 20,
  async fn() {
    const reader = body().getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let count = 0;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      let newline: number;
      while ((newline = buffer.indexOf("\n", start)) >= 0) {
        JSON.parse(buffer.slice(start, newline));
        start = newline + 1;
        count++;
      }
      buffer = buffer.slice(start);
    }
    if (count !== EVENTS) throw new Error(`parsed ${count} lines, expected ${EVENTS}`);
  },
});
