/**
 * Watch decoding: how many watch events of about 1 KiB per second the incremental decoder
 * turns into objects, fed in 64 KiB chunks as a socket would deliver them (as text, and as the
 * bytes `watchPath` passes). Target: at least 50,000 events/s on one core. And one line of
 * 20 MB in 64 KiB chunks, which must take time linear in its length (well under a second), not
 * the quadratic time of rescanning the growing line. Run with `deno task bench`.
 *
 * @module
 */
import { decodeWatchStream } from "../client/watch.ts";

const EVENTS = 10_000;

function event(i: number): string {
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `config-${i}`,
      namespace: "bench",
      uid: crypto.randomUUID(),
      resourceVersion: String(100_000 + i),
      creationTimestamp: "2026-11-25T00:00:00Z",
      labels: {
        "app.kubernetes.io/instance": crypto.randomUUID(),
        "app.kubernetes.io/managed-by": "bench",
      },
    },
    data: { payload: "x".repeat(700) },
  };
  return JSON.stringify({ type: "MODIFIED", object }) + "\n";
}

const body = Array.from({ length: EVENTS }, (_, i) => event(i)).join("");
const chunks: string[] = [];
for (let i = 0; i < body.length; i += 65_536) chunks.push(body.slice(i, i + 65_536));
const bytesPerEvent = Math.round(body.length / EVENTS);

async function* feed(): AsyncGenerator<string> {
  for (const chunk of chunks) yield chunk;
}

const bodyBytes = new TextEncoder().encode(body);
const byteChunks: Uint8Array[] = [];
for (let i = 0; i < bodyBytes.length; i += 65_536) {
  byteChunks.push(bodyBytes.subarray(i, i + 65_536));
}

async function* feedBytes(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

// One watch event of 20 MB: a hostile or broken stream, within the default maxLineBytes.
const LONG_LINE_MB = 20;
const longLine = new TextEncoder().encode(
  JSON.stringify({
    type: "ADDED",
    object: { metadata: { name: "big" }, data: { payload: "x".repeat(LONG_LINE_MB << 20) } },
  }) + "\n",
);
const longLineChunks: Uint8Array[] = [];
for (let i = 0; i < longLine.length; i += 65_536) {
  longLineChunks.push(longLine.subarray(i, i + 65_536));
}

Deno.bench({
  name: `decode ${EVENTS} watch events of ~${bytesPerEvent} bytes`,
  n: 20,
  async fn() {
    let count = 0;
    for await (const _ of decodeWatchStream("/bench", feed())) count++;
    if (count !== EVENTS) throw new Error(`decoded ${count} events, expected ${EVENTS}`);
  },
});

Deno.bench({
  name: `decode ${EVENTS} watch events of ~${bytesPerEvent} bytes, as bytes`,
  n: 20,
  async fn() {
    let count = 0;
    for await (const _ of decodeWatchStream("/bench", feedBytes(byteChunks))) count++;
    if (count !== EVENTS) throw new Error(`decoded ${count} events, expected ${EVENTS}`);
  },
});

Deno.bench({
  name: `decode one ${LONG_LINE_MB} MB watch line in 64 KiB chunks`,
  n: 5,
  async fn() {
    let count = 0;
    for await (const _ of decodeWatchStream("/bench", feedBytes(longLineChunks))) count++;
    if (count !== 1) throw new Error(`decoded ${count} events, expected 1`);
  },
});

// The floor of decoding: split the same chunks into lines and `JSON.parse` each, with no checks.
Deno.bench({
  name: `floor: split and JSON.parse ${EVENTS} watch lines`,
  n: 20,
  fn() {
    let count = 0;
    let buffer = "";
    for (const chunk of chunks) {
      buffer += chunk;
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

if (import.meta.main) {
  // `deno run bench/watch_decode_bench.ts` prints events per second directly.
  const rounds = 10;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    for await (const _ of decodeWatchStream("/bench", feed())) { /* decode only */ }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${Math.round((EVENTS * rounds) / seconds).toLocaleString("en")} events/s ` +
      `(${bytesPerEvent} bytes each; target ≥ 50,000)`,
  );
}
