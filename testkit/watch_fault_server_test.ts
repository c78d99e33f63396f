import assert from "node:assert/strict";
import { decodeWatchStream } from "../client/watch.ts";
import { WatchDecodeError } from "../client/errors.ts";
import { createCertificateAuthority, issueCertificate } from "./certs.ts";
import { startWatchFaultServer } from "./watch_fault_server.ts";

const encoder = new TextEncoder();

/** A fake API server: a watch that sends one event per `tick()`, and an echo of POST bodies. */
async function fakeApiServer(token: string) {
  const dir = await Deno.makeTempDir({ prefix: "roperator-fake-api-" });
  const ca = await createCertificateAuthority(dir, "ca");
  const serving = await issueCertificate(ca, "server", {
    commonName: "server",
    usage: "serverAuth",
    ipAddresses: ["127.0.0.1"],
  });
  const controllers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  let seen = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: serving.certificate, key: serving.key, onListen() {} },
    async (request) => {
      if (request.headers.get("authorization") !== `Bearer ${token}`) {
        return new Response("unauthorized", { status: 401 });
      }
      const url = new URL(request.url);
      if (url.searchParams.get("watch") === "true") {
        let self: ReadableStreamDefaultController<Uint8Array> | undefined;
        return new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              self = controller;
              controllers.add(controller);
            },
            cancel() {
              if (self) controllers.delete(self);
            },
          }),
          { headers: { "Content-Type": "application/json" } },
        );
      }
      if (request.method === "POST") {
        return new Response(await request.text(), { status: 201 });
      }
      return new Response(JSON.stringify({ kind: "Status", code: 404 }), { status: 404 });
    },
  );
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    ca: ca.certificate,
    tick(): void {
      seen++;
      const line = JSON.stringify({
        type: "ADDED",
        object: { metadata: { name: `o${seen}`, resourceVersion: String(seen) } },
      });
      for (const controller of controllers) {
        controller.enqueue(encoder.encode(line.slice(0, 10)));
        controller.enqueue(encoder.encode(`${line.slice(10)}\n`));
      }
    },
    async close(): Promise<void> {
      for (const controller of controllers) {
        try {
          controller.close();
        } catch { /* closed */ }
      }
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("startWatchFaultServer() relays requests with its token and corrupts watches on demand", async () => {
  const token = "fake-token-for-the-relay";
  const api = await fakeApiServer(token);
  const relay = await startWatchFaultServer({
    upstream: api.url,
    caCertificates: [api.ca],
    token,
  });
  const client = Deno.createHttpClient({ caCerts: [relay.caCertificate] });
  try {
    assert.equal(relay.clientConfig.server, relay.url);
    const posted = await fetch(`${relay.url}/api/v1/things`, {
      client,
      method: "POST",
      body: '{"a":1}',
      headers: { Authorization: "Bearer the-client-token-is-replaced" },
    });
    assert.equal(posted.status, 201);
    assert.equal(await posted.text(), '{"a":1}');

    for (const fault of ["unknownType", "notJson", "truncated"] as const) {
      const controller = new AbortController();
      const res = await fetch(`${relay.url}/api/v1/things?watch=true`, {
        client,
        signal: controller.signal,
      });
      assert.equal(res.status, 200);
      const events = decodeWatchStream<{ metadata: { name: string } }>(
        "/api/v1/things",
        res.body!.pipeThrough(new TextDecoderStream()),
      );
      while (relay.activeWatches === 0) await new Promise((r) => setTimeout(r, 10));
      api.tick();
      const first = await events.next();
      assert.equal(first.value?.type, "ADDED", "whole lines are relayed untouched");
      assert.equal(relay.inject(fault, { pathIncludes: "/nothing-matches" }), 0);
      assert.equal(relay.inject(fault), 1);
      const error = await events.next().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof WatchDecodeError, `${fault}: ${error}`);
      assert.match(
        (error as Error).message,
        fault === "unknownType"
          ? /unknown event type "SURPRISE"/
          : fault === "notJson"
          ? /not JSON/
          : /ended inside a line/,
      );
      controller.abort();
      await res.body?.cancel().catch(() => {});
      while (relay.activeWatches > 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(relay.injected, { truncated: 1, unknownType: 1, notJson: 1 });
  } finally {
    client.close();
    await relay.close();
    await api.close();
  }
});

Deno.test("WatchFaultServer.hold() keeps watch events back until release(), line by line or all", async () => {
  const token = "fake-token-for-the-relay";
  const api = await fakeApiServer(token);
  const relay = await startWatchFaultServer({ upstream: api.url, caCertificates: [api.ca], token });
  const client = Deno.createHttpClient({ caCerts: [relay.caCertificate] });
  const controller = new AbortController();
  try {
    const res = await fetch(`${relay.url}/api/v1/things?watch=true`, {
      client,
      signal: controller.signal,
    });
    const events = decodeWatchStream<{ metadata: { name: string } }>(
      "/api/v1/things",
      res.body!.pipeThrough(new TextDecoderStream()),
    );
    while (relay.activeWatches === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(relay.hold({ pathIncludes: "/nothing" }), 0);
    assert.equal(relay.hold({ pathIncludes: "/things" }), 1);
    api.tick();
    api.tick();
    api.tick();
    while (relay.heldLines < 3) await new Promise((r) => setTimeout(r, 10));
    const name = async () => {
      const { value } = await events.next();
      return (value?.object as { metadata?: { name?: string } } | undefined)?.metadata?.name;
    };
    assert.equal(relay.release({ lines: 1 }), 1);
    assert.equal(await name(), "o1");
    assert.equal(relay.heldLines, 2, "the rest stays held");
    assert.equal(relay.release(), 2);
    assert.equal(await name(), "o2");
    assert.equal(await name(), "o3");
    api.tick();
    assert.equal(await name(), "o4", "flowing again");
    controller.abort();
    await res.body?.cancel().catch(() => {});
  } finally {
    client.close();
    await relay.close();
    await api.close();
  }
});
