// Faults of the connection between the operator and kube-apiserver: a silent connection (found by
// the idle deadline), malformed watch lines, a response cut off mid-body, and TLS verification
// that must stay on. On the shared control plane: the faults are in front of this file's operator
// only.
import assert from "node:assert/strict";
import { KubeClient } from "../../client/kube_client.ts";
import { NetworkError } from "../../client/errors.ts";
import { ResourceClient } from "../../client/resource_client.ts";
import { k8s } from "../../config/resource_types.ts";
import { controllerOf, OperatorFatalError, startOperator } from "../../runner/run_operator.ts";
import { createCertificateAuthority, issueCertificate } from "../../testkit/certs.ts";
import { startFaultProxy } from "../../testkit/fault_proxy.ts";
import { startWatchFaultServer } from "../../testkit/watch_fault_server.ts";
import {
  checkConvergence,
  type Convergence,
  faultConfig,
  faultHandler,
  FaultParent,
  type FaultSuite,
  metricSum,
  openSuite,
  scrapeOperator,
  sleep,
} from "./fault_kit.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/connection_test.ts");
let suite: FaultSuite;

Deno.test.beforeAll(async () => {
  suite = await openSuite();
});
Deno.test.afterAll(async () => {
  report.print();
  await suite?.close();
});

const IDLE_MS = 1500;

async function childValue(ns: string, name: string): Promise<string | undefined> {
  const cm = await new ResourceClient(suite.admin, k8s.core.v1.ConfigMap, ns).find(name);
  return (cm as { data?: Record<string, string> } | undefined)?.data?.value;
}

/** Waits until everything in the namespace converged; throws with what is wrong otherwise. */
async function converged(ns: string): Promise<Convergence> {
  return await suite.eventually("every parent to converge", async () => {
    const result = await checkConvergence(suite.admin, ns);
    return result.lost === 0 ? result : undefined;
  }).catch(async (error) => {
    const result = await checkConvergence(suite.admin, ns);
    throw new Error(`${result.problems.join("; ")}\n${error.message}`);
  });
}

Deno.test(
  "a silent connection is found by the idle deadline: the watch restarts (reason idle in /metrics) and the change made meanwhile is reconciled",
  report.test("silent connection (stall, then resume)", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("stall");
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using proxy = startFaultProxy({ target: cp.server });
    const op = await startOperator(
      faultConfig(ns, {
        watchIdleTimeoutMs: IDLE_MS,
        server: { port: 0, hostname: "127.0.0.1" },
      }),
      faultHandler,
      { clientConfig: { ...cp.clientConfig, server: proxy.url } },
    );
    try {
      await op.ready;
      await parents.create({ metadata: { name: "a" }, spec: { value: "one" } });
      await suite.eventually("the child", async () => (await childValue(ns, "a-c0")) === "one");
      const idle = async () =>
        metricSum(await scrapeOperator(op.port!), "roperator_watch_restarts_total", {
          reason: "idle",
        });
      const before = await idle();
      const stalledAt = performance.now();
      proxy.stall({ newConnections: true });
      await parents.patch("a", { spec: { value: "two" } });
      // Both watches (parents and children) go silent and are restarted by the deadline.
      const restarted = await suite.eventually("idle restarts", async () => {
        const now = await idle();
        return now >= before + 2 ? now : undefined;
      }, 30_000);
      const foundMs = performance.now() - stalledAt;
      assert.equal(await childValue(ns, "a-c0"), "one", "nothing got through while stalled");
      proxy.resume();
      await suite.eventually(
        "the change made during the stall",
        async () => (await childValue(ns, "a-c0")) === "two",
      );
      const result = await converged(ns);
      run.objectsLost = result.lost;
      run.note = `${restarted - before} idle restarts, first found after ${
        (foundMs / 1000).toFixed(1)
      } s (deadline ${IDLE_MS / 1000} s)`;
    } finally {
      await op.stop();
    }
  }),
);

Deno.test(
  "a connection that stays silent for good is replaced: a change is reconciled without the connection coming back",
  report.test("silent connection that never comes back", async (run) => {
    // A load balancer that dropped its idle connections without a FIN never resumes them; new
    // connections work. The client must stop using the dead connection.
    const { cp, admin } = suite;
    const ns = await suite.namespace("blackhole");
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using proxy = startFaultProxy({ target: cp.server });
    const op = await startOperator(
      faultConfig(ns, { watchIdleTimeoutMs: IDLE_MS }),
      faultHandler,
      { clientConfig: { ...cp.clientConfig, server: proxy.url } },
    );
    try {
      await op.ready;
      await parents.create({ metadata: { name: "a" }, spec: { value: "one" } });
      // Converged, status included: no request is in flight when the connection dies (one that
      // is would wait for the client's request timeout, 30 s, before it is retried).
      await converged(ns);
      proxy.stall(); // existing connections only: a new connection would work
      const stalledAt = performance.now();
      await parents.patch("a", { spec: { value: "two" } });
      await suite.eventually(
        `the change, within 20 s (idle deadline ${IDLE_MS} ms)`,
        async () => (await childValue(ns, "a-c0")) === "two",
        20_000,
      ).catch((error) => {
        run.objectsLost = 1;
        throw new Error(
          `${error.message}\nconnections through the proxy: ${JSON.stringify(proxy.connections)}`,
        );
      });
      run.note = `recovered after ${((performance.now() - stalledAt) / 1000).toFixed(1)} s with ${
        proxy.connections.accepted - 1
      } new connections`;
    } finally {
      proxy.cut(); // lets the requests stuck on the dead connection end, so stop() is quick
      await op.stop();
    }
  }),
);

Deno.test(
  "malformed watch lines (truncated JSON, an unknown event type, not JSON) restart the watch (reason invalid, a relist) and later changes are reconciled",
  report.test("malformed watch lines", async (run) => {
    const { cp, admin, rejections } = suite;
    const ns = await suite.namespace("malformed");
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using relay = await startWatchFaultServer({
      upstream: cp.server,
      caCertificates: [cp.caCertificate],
      token: cp.adminToken,
    });
    const op = await startOperator(
      faultConfig(ns, { server: { port: 0, hostname: "127.0.0.1" } }),
      faultHandler,
      { clientConfig: relay.clientConfig },
    );
    const rejectionsBefore = rejections.count;
    const logsBefore = suite.logs.lines.length;
    try {
      await op.ready;
      await parents.create({ metadata: { name: "a" }, spec: { value: "start" } });
      await suite.eventually("the child", async () => (await childValue(ns, "a-c0")) === "start");
      const errors = async () =>
        metricSum(await scrapeOperator(op.port!), "roperator_watch_restarts_total", {
          reason: "invalid",
        });
      const faults = ["truncated", "unknownType", "notJson"] as const;
      run.runs = faults.length;
      for (const fault of faults) {
        await suite.eventually("both watches relayed", () => relay.activeWatches >= 2);
        const before = await errors();
        const hit = relay.inject(fault);
        assert.ok(hit >= 2, `${fault} reached the parent and child watches (${hit})`);
        await suite.eventually(
          `watch restarts after ${fault}`,
          async () => (await errors()) >= before + hit,
        );
        await parents.patch("a", { spec: { value: fault } });
        await suite.eventually(
          `the change after ${fault}`,
          async () => (await childValue(ns, "a-c0")) === fault,
        );
      }
      const result = await converged(ns);
      run.objectsLost = result.lost;
      assert.equal(rejections.count - rejectionsBefore, 0, rejections.describe());
      assert.ok(controllerOf(op).synced, "the operator still runs");
      const reported = suite.logs.summary(logsBefore);
      console.log(`what the operator reported:\n${reported}`);
      for (const pattern of [/ended inside a line/, /unknown event type/, /not JSON/]) {
        assert.match(reported, pattern, "each fault is logged with its cause");
      }
      run.note = `${await errors()} watch restarts (reason invalid); injected ${
        JSON.stringify(relay.injected)
      }`;
    } finally {
      await op.stop();
    }
  }),
);

Deno.test(
  "a watch lagging behind the operator's own writes never takes the cache back to an older child: no 409, no failed sync",
  report.test("watch lagging behind own writes", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("lag");
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using relay = await startWatchFaultServer({
      upstream: cp.server,
      caCertificates: [cp.caCertificate],
      token: cp.adminToken,
    });
    const op = await startOperator(faultConfig(ns), faultHandler, {
      clientConfig: relay.clientConfig,
    });
    const key = `${ns}/x`;
    try {
      await op.ready;
      const children = controllerOf(op).informers.find((i) => i.typeName === "v1/ConfigMap")!;
      const cached = () =>
        (children.get("x-c0", ns) as { data?: Record<string, string> } | undefined)?.data?.value;
      await parents.create({ metadata: { name: "x" }, spec: { value: "v1" } });
      await converged(ns);
      // The child watch lags: the operator's next two writes of the child are held back.
      await suite.eventually("the child watch", () => relay.hold({ pathIncludes: "/configmaps" }));
      await parents.patch("x", { spec: { value: "v2" } });
      await suite.eventually("the operator's own write v2 in its cache", () => cached() === "v2");
      await parents.patch("x", { spec: { value: "v3" } });
      await suite.eventually("the operator's own write v3 in its cache", () => cached() === "v3");
      await converged(ns);
      const failedBefore = op.metrics.syncs(key, "error");
      // The watch catches up by one event: the child as of v2, older than what the cache holds.
      const released = relay.release({ pathIncludes: "/configmaps", lines: 1 });
      await sleep(1000);
      const after = {
        cached: cached(),
        failedSyncs: op.metrics.syncs(key, "error") - failedBefore,
      };
      relay.release();
      run.objectsLost = (await converged(ns)).lost;
      run.note =
        `released ${released} old event: cache went to ${after.cached}, ${after.failedSyncs} failed syncs`;
      assert.equal(released, 1);
      assert.deepEqual(
        after,
        { cached: "v3", failedSyncs: 0 },
        "an older watch event must not replace the newer state the operator wrote itself",
      );
    } finally {
      await op.stop();
    }
  }),
);

/**
 * An HTTPS/1.1 server whose first response is cut off in the middle of its body; later responses
 * are whole.
 */
async function cutBodyServer() {
  const dir = await Deno.makeTempDir({ prefix: "roperator-cut-body-" });
  const ca = await createCertificateAuthority(dir, "ca");
  const serving = await issueCertificate(ca, "server", {
    commonName: "server",
    usage: "serverAuth",
    ipAddresses: ["127.0.0.1"],
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: serving.certificate,
    key: serving.key,
    alpnProtocols: ["http/1.1"],
  });
  let responses = 0;
  const body = JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "big" },
    data: { filler: "x".repeat(50_000) },
  });
  const serving_ = (async () => {
    for await (const conn of listener) {
      try {
        const buffer = new Uint8Array(8192);
        let request = "";
        while (!request.includes("\r\n\r\n")) {
          const n = await conn.read(buffer);
          if (n === null) break;
          request += new TextDecoder().decode(buffer.subarray(0, n));
        }
        responses++;
        const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${
          new TextEncoder().encode(body).length
        }\r\nConnection: close\r\n\r\n`;
        const sent = responses === 1 ? body.slice(0, 1000) : body;
        const bytes = new TextEncoder().encode(head + sent);
        let written = 0;
        while (written < bytes.length) written += await conn.write(bytes.subarray(written));
      } catch { /* the client went away */ }
      try {
        conn.close();
      } catch { /* closed */ }
    }
  })().catch(() => {});
  return {
    server: `https://127.0.0.1:${listener.addr.port}`,
    ca: ca.certificate,
    get responses() {
      return responses;
    },
    async close() {
      listener.close();
      await serving_;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test(
  "a response cut off mid-body is a NetworkError, and an idempotent GET is retried",
  report.test("response body cut off mid-way", async () => {
    const server = await cutBodyServer();
    const client = new KubeClient(
      { server: server.server, caCertificates: [server.ca] },
      { retry: { initialDelayMs: 10 } },
    );
    try {
      let error: unknown;
      const result = await client.request<{ metadata: { name: string } }>(
        "GET",
        "/api/v1/namespaces/x/configmaps/big",
      ).catch((e) => {
        error = e;
        return undefined;
      });
      assert.ok(
        result !== undefined || error instanceof NetworkError,
        `a cut-off body must be a NetworkError (callers retry those), got ${
          error instanceof Error ? `${error.constructor.name}: ${error.message}` : error
        }`,
      );
      assert.equal(result?.metadata.name, "big", "the GET was retried and succeeded");
      assert.equal(server.responses, 2);
    } finally {
      client.close();
      await server.close();
    }
  }),
);

Deno.test(
  "TLS verification stays on: a client or an operator with the wrong CA fails, through the proxy too",
  report.test("wrong CA (TLS verification)", async (run) => {
    const { cp } = suite;
    const dir = await Deno.makeTempDir({ prefix: "roperator-wrong-ca-" });
    await using proxy = startFaultProxy({ target: cp.server });
    try {
      const wrong = await createCertificateAuthority(dir, "wrong-ca");
      const configs = [
        { ...cp.clientConfig, caCertificates: [wrong.certificate] },
        { ...cp.clientConfig, caCertificates: [wrong.certificate], server: proxy.url },
        { ...cp.clientConfig, caCertificates: undefined, server: proxy.url }, // system roots
      ];
      run.runs = configs.length + 1;
      for (const config of configs) {
        const { caCertificates, ...rest } = config;
        const client = new KubeClient(caCertificates ? { ...rest, caCertificates } : rest, {
          retry: { maxRetries: 0 },
        });
        try {
          const error = await client.request("GET", "/api/v1/namespaces/default").then(
            () => undefined,
            (e) => e,
          );
          assert.ok(error instanceof NetworkError, `refused: ${error}`);
          assert.match(error.message, /TLS verification failed|certificate|UnknownIssuer/i);
        } finally {
          client.close();
        }
      }
      await assert.rejects(
        startOperator(faultConfig("default"), faultHandler, {
          clientConfig: { ...cp.clientConfig, caCertificates: [wrong.certificate] },
        }),
        OperatorFatalError,
      );
      // The right CA through the proxy works: the proxy itself is transparent to TLS.
      const client = new KubeClient({ ...cp.clientConfig, server: proxy.url });
      try {
        await client.request("GET", "/api/v1/namespaces/default");
      } finally {
        client.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }),
);
