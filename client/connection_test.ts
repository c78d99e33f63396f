// How KubeClient uses its HTTP connections: a watch has a connection of its own, so its idle
// deadline cannot break the writes of other callers; and the HTTP clients left behind by a
// rotated client certificate are closed once no request uses them.
import assert from "node:assert/strict";
import { join } from "node:path";
import { KubeClient } from "./kube_client.ts";
import { WatchIdleTimeoutError } from "./errors.ts";
import { watchPath } from "./watch.ts";
import { fakeServer, streamOf } from "./testdata/fake_server.ts";
import { createCertificateAuthority, issueCertificate } from "../testkit/certs.ts";

const added = (name: string) =>
  JSON.stringify({ type: "ADDED", object: { metadata: { name, resourceVersion: "1" } } }) + "\n";

/** Counts the `Deno.HttpClient`s created, and those not closed yet, while `fn` runs. */
async function countingHttpClients(
  fn: (open: () => number, created: () => number) => Promise<void>,
): Promise<void> {
  const real = Deno.createHttpClient;
  const live = new Set<Deno.HttpClient>();
  let created = 0;
  Object.defineProperty(Deno, "createHttpClient", {
    configurable: true,
    writable: true,
    value: (options: Deno.CreateHttpClientOptions) => {
      const client = real(options);
      created++;
      live.add(client);
      const close = client.close.bind(client);
      client.close = () => {
        live.delete(client);
        close();
      };
      return client;
    },
  });
  try {
    await fn(() => live.size, () => created);
  } finally {
    Object.defineProperty(Deno, "createHttpClient", {
      configurable: true,
      writable: true,
      value: real,
    });
  }
}

for (const protocol of ["HTTP/1.1", "HTTP/2 over TLS"]) {
  Deno.test(`a watch's idle deadline lets a slow POST in flight finish on its connection (${protocol})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "roperator-connection-" });
    let tls: { certificate: string; key: string; ca: string } | undefined;
    if (protocol !== "HTTP/1.1") {
      const ca = await createCertificateAuthority(dir, "ca");
      const serving = await issueCertificate(ca, "server", {
        commonName: "127.0.0.1",
        usage: "serverAuth",
        ipAddresses: ["127.0.0.1"],
      });
      tls = { certificate: serving.certificate, key: serving.key, ca: ca.certificate };
    }
    const hang = new AbortController();
    const postArrived = Promise.withResolvers<void>();
    const answerPost = Promise.withResolvers<void>();
    let posts = 0;
    const server = fakeServer((request) => {
      if (request.method === "POST") {
        if (++posts > 1) return Response.json({}, { status: 201 });
        // The headers and the start of the body now, the rest once the watch has timed out.
        const encoder = new TextEncoder();
        return new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              controller.enqueue(encoder.encode('{"metadata":'));
              postArrived.resolve();
              await answerPost.promise;
              controller.enqueue(encoder.encode('{"name":"made"}}'));
              controller.close();
            },
          }),
          { status: 201, headers: { "Content-Type": "application/json" } },
        );
      }
      return new Response(streamOf([added("a")], { hang: true, signal: hang.signal }));
    }, tls);
    try {
      await countingHttpClients(async (open, created) => {
        using client = new KubeClient({
          server: server.url,
          ...(tls ? { caCertificates: [tls.ca] } : {}),
        });
        const post = client.request<{ metadata: { name: string } }>("POST", "/api/v1/things", {
          body: { metadata: { name: "made" } },
        });
        await postArrived.promise;
        await assert.rejects(
          (async () => {
            for await (const _ of watchPath(client, "/api/v1/things", { idleTimeoutMs: 200 })) {
              // one event, then silence
            }
          })(),
          WatchIdleTimeoutError,
        );
        assert.equal(open(), 1, "the watch's connection is closed, the shared one is in use");
        answerPost.resolve();
        const made = await post;
        assert.equal(made.metadata.name, "made");
        assert.equal(posts, 1, "the POST was sent once and answered");
        // The shared connection was retired (it may be as dead as the watch's): closed after its
        // last request, and the next request opens a new one.
        assert.equal(open(), 0);
        const before = created();
        await client.request("POST", "/api/v1/things", { body: {} });
        assert.deepEqual([created(), open()], [before + 1, 1]);
      });
    } finally {
      answerPost.resolve();
      hang.abort();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("rotating the client certificate leaves a bounded number of open HTTP clients", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roperator-rotation-" });
  // The exec plugin hands out certificate a, then b, then a…: each 401 rotates the certificate.
  const ca = await createCertificateAuthority(dir, "ca");
  for (const name of ["a", "b"]) {
    const pair = await issueCertificate(ca, name, { commonName: name, usage: "clientAuth" });
    await Deno.writeTextFile(
      join(dir, `${name}.json`),
      JSON.stringify({
        apiVersion: "client.authentication.k8s.io/v1",
        kind: "ExecCredential",
        status: { clientCertificateData: pair.certificate, clientKeyData: pair.key },
      }),
    );
  }
  const plugin = join(dir, "plugin.sh");
  await Deno.writeTextFile(
    plugin,
    `#!/usr/bin/env bash\nn=$(cat "${dir}/count" 2>/dev/null || echo 0)\n` +
      `echo $((n + 1)) > "${dir}/count"\n` +
      `if [ $((n % 2)) = 0 ]; then cat "${dir}/a.json"; else cat "${dir}/b.json"; fi\n`,
  );
  await Deno.chmod(plugin, 0o755);
  const slowArrived = Promise.withResolvers<void>();
  const answerSlow = Promise.withResolvers<void>();
  let calls = 0;
  const server = fakeServer(async (request) => {
    if (new URL(request.url).pathname === "/slow") {
      slowArrived.resolve();
      await answerSlow.promise;
      return Response.json({ slow: true });
    }
    // Every other request is refused once: the client refreshes its credentials and retries.
    return ++calls % 2 === 1
      ? Response.json({ kind: "Status", code: 401, reason: "Unauthorized" }, { status: 401 })
      : Response.json({ ok: true });
  });
  try {
    await countingHttpClients(async (open) => {
      using client = new KubeClient({
        server: server.url,
        credentials: {
          kind: "exec",
          apiVersion: "client.authentication.k8s.io/v1",
          command: plugin,
        },
      });
      // A request in flight on the first certificate's client keeps that client open.
      const slow = client.request<{ slow: boolean }>("GET", "/slow");
      await slowArrived.promise;
      const rotations = 12;
      for (let i = 0; i < rotations; i++) {
        assert.deepEqual(await client.request("GET", "/fast"), { ok: true });
        assert.ok(open() <= 2, `after rotation ${i + 1}: ${open()} open HTTP clients`);
      }
      assert.equal(Number(await Deno.readTextFile(join(dir, "count"))), rotations + 1);
      answerSlow.resolve();
      assert.deepEqual(await slow, { slow: true }, "the retired client served its request");
      assert.equal(open(), 1, "only the current client is open");
      client.close();
      assert.equal(open(), 0);
    });
  } finally {
    answerSlow.resolve();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a request that timed out is retried on a new connection", async () => {
  let calls = 0;
  const hang = new AbortController();
  const server = fakeServer(async () => {
    if (++calls === 1) {
      // Never answers the first attempt, as a dead connection would not.
      await new Promise((resolve) => hang.signal.addEventListener("abort", resolve));
    }
    return Response.json({ calls });
  });
  try {
    await countingHttpClients(async (open, created) => {
      using client = new KubeClient({ server: server.url }, {
        requestTimeoutMs: 200,
        retry: { initialDelayMs: 1 },
      });
      assert.deepEqual(await client.request("GET", "/api/v1/x"), { calls: 2 });
      assert.deepEqual([created(), open()], [2, 1], "the timed-out connection was replaced");
    });
  } finally {
    hang.abort();
    await server.close();
  }
});
