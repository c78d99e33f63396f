// Credentials and secrets under faults, on the shared control plane: a bound service-account token
// rotated in its file and the old one revoked while the operator works (with its connections
// cut after the revocation, so every watch and list authenticates again); and Secret children
// whose data must never reach a log line, even when the API server rejects them.
import assert from "node:assert/strict";
import { ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import type { ClientConfig } from "../../client/client_config.ts";
import { k8s } from "../../config/resource_types.ts";
import { rbacFor } from "../../deploy/rbac.ts";
import type { SyncRequest, SyncResponse } from "../../handler/handler.ts";
import { parsePrometheusText } from "../../testkit/prometheus_text.ts";
import { controllerOf, startOperator } from "../../runner/run_operator.ts";
import { startFaultProxy } from "../../testkit/fault_proxy.ts";
import {
  checkConvergence,
  createObjects,
  faultConfig,
  faultHandler,
  FaultParent,
  type FaultParentObject,
  type FaultSuite,
  metricSum,
  openSuite,
  sleep,
  toBase64,
} from "./fault_kit.ts";
import { FaultReport } from "./fault_report.ts";

const report = new FaultReport("tests/fault/credentials_test.ts");
let suite: FaultSuite;

Deno.test.beforeAll(async () => {
  suite = await openSuite();
});
Deno.test.afterAll(async () => {
  report.print();
  await suite?.close();
});

/**
 * A token of the service account bound to a fresh Secret: deleting the Secret revokes it.
 */
async function boundToken(
  ns: string,
  serviceAccount: string,
  anchor: string,
): Promise<string> {
  const { cp } = suite;
  const json = { "Content-Type": "application/json" };
  const created = await cp.adminFetch(`/api/v1/namespaces/${ns}/secrets`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: anchor } }),
  });
  const secret = await created.json() as KubernetesObject;
  assert.equal(created.status, 201);
  const res = await cp.adminFetch(
    `/api/v1/namespaces/${ns}/serviceaccounts/${serviceAccount}/token`,
    {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          expirationSeconds: 3600,
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Secret",
            name: anchor,
            uid: secret.metadata!.uid,
          },
        },
      }),
    },
  );
  const body = await res.json() as { status?: { token?: string }; message?: string };
  assert.equal(res.status, 201, body.message);
  const token = body.status!.token!;
  suite.logs.sensitive(`the service-account token bound to ${anchor}`, token);
  return token;
}

/** Whether the API server accepts a token (status of a SelfSubjectReview with it). */
async function accepted(token: string): Promise<boolean> {
  const client = Deno.createHttpClient({ caCerts: [suite.cp.caCertificate] });
  try {
    const res = await fetch(`${suite.cp.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      client,
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
    });
    await res.body?.cancel();
    return res.status === 201;
  } finally {
    client.close();
  }
}

/** Writes a token the way the kubelet does: a new directory, then an atomic symlink swap. */
async function writeProjectedToken(dir: string, token: string, version: number): Promise<void> {
  const data = `${dir}/..${version}`;
  await Deno.mkdir(data);
  await Deno.writeTextFile(`${data}/token`, token);
  await Deno.symlink(`..${version}`, `${dir}/..data_tmp`);
  await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
  try {
    await Deno.lstat(`${dir}/token`);
  } catch {
    await Deno.symlink("..data/token", `${dir}/token`);
  }
}

Deno.test(
  "a bound service-account token rotated in its file, then revoked, while the operator works: no failed sync",
  report.test("token rotation + revocation", async (run) => {
    const { cp, admin, rejections } = suite;
    const ns = await suite.namespace("token");
    const config = faultConfig(ns);
    const rbac = rbacFor(config, { namespace: ns });
    await createObjects(admin, rbac);
    const sa = rbac.find((o) => o.kind === "ServiceAccount")!.metadata!.name!;
    const dir = await Deno.makeTempDir({ prefix: "roperator-token-" });
    const parents = new ResourceClient(admin, FaultParent, ns);
    await using proxy = startFaultProxy({ target: cp.server });
    const clientConfig: ClientConfig = {
      server: proxy.url,
      caCertificates: [cp.caCertificate],
      credentials: { kind: "tokenFile", path: `${dir}/token` },
    };
    let token = await boundToken(ns, sa, "anchor-0");
    await writeProjectedToken(dir, token, 0);
    const rejectionsBefore = rejections.count;
    const op = await startOperator(config, faultHandler, { clientConfig });
    // Another writer keeps the operator busy through every rotation. Not faster: when the child
    // watch lags behind two writes of the operator, the informer takes its cache back to the
    // older child and the next replace conflicts (see "watch lagging behind own writes" in
    // connection_test.ts), a failure this test is not about.
    let writing = true;
    let paused = false;
    let edits = 0;
    const writer = (async () => {
      while (writing) {
        if (!paused) {
          await parents.patch("busy", { spec: { value: `e${++edits}` } }).catch(() => {});
        }
        await sleep(400);
      }
    })();
    const logsBefore = suite.logs.lines.length;
    try {
      await op.ready;
      await parents.create({ metadata: { name: "busy" }, spec: { value: "e0" } });
      for (let i = 0; i < 5; i++) {
        await parents.create({ metadata: { name: `before${i}` }, spec: { value: "x" } });
      }
      await suite.eventually(
        "the first parents to converge",
        async () =>
          (await checkConvergence(admin, ns, { skip: (p) => p.metadata?.name === "busy" }))
            .lost === 0,
      );
      const errorsBefore = metricSum(
        parsePrometheusText(op.metrics.registry.render()),
        "roperator_syncs_total",
        { result: "error" },
      );
      const rounds = 2;
      run.runs = rounds;
      const revokedAfter: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        const old = token;
        token = await boundToken(ns, sa, `anchor-${round}`);
        await writeProjectedToken(dir, token, round);
        await cp.adminFetch(`/api/v1/namespaces/${ns}/secrets/anchor-${round - 1}`, {
          method: "DELETE",
        }).then((res) => res.body?.cancel());
        // kube-apiserver caches a successful authentication for about 10 s.
        const revokedAt = performance.now();
        await suite.eventually("the old token to be revoked", async () => !(await accepted(old)));
        revokedAfter.push(performance.now() - revokedAt);
        // Every connection goes: watches and lists must authenticate again, with the new token.
        // Cut while no sync runs: a write cut off in flight would fail its sync, which is not
        // what this test is about.
        paused = true;
        await sleep(300);
        await suite.eventually("the operator to be idle", () => {
          const { queue } = controllerOf(op);
          return queue.running === 0 && queue.depth === 0;
        });
        proxy.cut();
        paused = false;
        for (let i = 0; i < 5; i++) {
          await parents.create({ metadata: { name: `round${round}-${i}` }, spec: { value: "y" } });
        }
        await suite.eventually(
          `the parents of round ${round} to converge`,
          async () =>
            (await checkConvergence(admin, ns, { skip: (p) => p.metadata?.name === "busy" }))
              .lost === 0,
        );
      }
      writing = false;
      await writer;
      const result = await suite.eventually("the busy parent too", async () => {
        const r = await checkConvergence(admin, ns);
        return r.lost === 0 ? r : undefined;
      });
      run.objectsLost = result.lost;
      const samples = parsePrometheusText(op.metrics.registry.render());
      const errors = metricSum(samples, "roperator_syncs_total", { result: "error" });
      const unauthorized = metricSum(samples, "roperator_api_request_duration_seconds_count", {
        code: "401",
      });
      assert.equal(
        errors - errorsBefore,
        0,
        `failed syncs after the rotation:\n${suite.logs.summary(logsBefore)}`,
      );
      assert.equal(rejections.count - rejectionsBefore, 0, rejections.describe());
      run.note = `${edits} edits during rotations; old token rejected after ${
        revokedAfter.map((ms) => (ms / 1000).toFixed(1)).join("/")
      } s; ${unauthorized} requests answered 401`;
    } finally {
      writing = false;
      await writer;
      await op.stop();
      await Deno.remove(dir, { recursive: true });
    }
  }),
);

const SECRET_VALUE = `fault-secret-${crypto.randomUUID()}`;

function secretHandler(request: SyncRequest<FaultParentObject>): SyncResponse {
  const name = request.parent.metadata!.name!;
  const base = faultHandler(request);
  if (name === "rejected") {
    // A TLS Secret without tls.key: the API server answers 422.
    return {
      ...base,
      children: [...base.children, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-secret` },
        type: "kubernetes.io/tls",
        data: { "tls.crt": toBase64(SECRET_VALUE) },
      } as KubernetesObject],
    };
  }
  if (name === "string-data") {
    return {
      ...base,
      children: [...base.children, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-secret` },
        stringData: { password: SECRET_VALUE },
      } as KubernetesObject],
    };
  }
  return {
    ...base,
    children: [...base.children, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${name}-secret` },
      data: { password: toBase64(SECRET_VALUE) },
    } as KubernetesObject],
  };
}

Deno.test(
  "a Secret child's data never reaches a debug log line, not even when the API server rejects it",
  report.test("Secret child data vs. debug logs", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("secret");
    suite.logs.sensitive("the Secret child's value", SECRET_VALUE);
    const parents = new ResourceClient(admin, FaultParent, ns);
    const secrets = new ResourceClient(admin, k8s.core.v1.Secret, ns);
    const logsBefore = suite.logs.lines.length;
    const op = await startOperator(
      faultConfig(ns, {
        children: [
          { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
          { type: k8s.core.v1.Secret, updateStrategy: "Replace" },
        ],
      }),
      secretHandler,
      { clientConfig: cp.clientConfig },
    );
    try {
      await op.ready;
      await parents.create({ metadata: { name: "kept" }, spec: { value: "v" } });
      await parents.create({ metadata: { name: "rejected" }, spec: { value: "v" } });
      const secret = await suite.eventually("the Secret child", () => secrets.find("kept-secret"));
      assert.equal(
        (secret as { data?: Record<string, string> }).data?.password,
        toBase64(SECRET_VALUE),
      );
      await suite.eventually(
        "the rejected Secret to be reported",
        () => op.metrics.syncs(`${ns}/rejected`, "error") >= 2,
      );
      // Change the parent so the Secret child is replaced too, then check every line so far.
      await parents.patch("kept", { spec: { value: "w" } });
      await suite.eventually(
        "the replaced children",
        async () =>
          (await checkConvergence(admin, ns, { skip: (p) => p.metadata?.name === "rejected" }))
            .lost === 0,
      );
      const lines = suite.logs.lines.slice(logsBefore);
      assert.ok(lines.some((l) => l.includes(" debug ")), "debug lines were captured");
      assert.ok(
        lines.some((l) => /sync of .*\/rejected failed: .*Secret .*422|Invalid/.test(l)),
        "the rejection was logged",
      );
      const checked = suite.logs.assertNoSecrets();
      run.note = `${lines.length} lines checked for ${checked.secrets} secrets (plain and base64)`;
    } finally {
      await op.stop();
    }
  }),
);

Deno.test(
  "a Secret child given as stringData converges and then is not written again",
  report.test("Secret child as stringData (write churn)", async (run) => {
    const { cp, admin } = suite;
    const ns = await suite.namespace("stringdata");
    const parents = new ResourceClient(admin, FaultParent, ns);
    const secrets = new ResourceClient(admin, k8s.core.v1.Secret, ns);
    const op = await startOperator(
      faultConfig(ns, {
        children: [
          { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
          { type: k8s.core.v1.Secret, updateStrategy: "Replace" },
        ],
      }),
      secretHandler,
      { clientConfig: cp.clientConfig },
    );
    try {
      await op.ready;
      await parents.create({ metadata: { name: "string-data" }, spec: { value: "v" } });
      const secret = await suite.eventually("the Secret", () => secrets.find("string-data-secret"));
      assert.equal(
        (secret as { data?: Record<string, string> }).data?.password,
        toBase64(SECRET_VALUE),
      );
      await sleep(500);
      // Three more syncs with nothing to change (a label on the parent is not in the desired
      // state): each must write nothing.
      const before = op.metrics.writes("update");
      for (let i = 0; i < 3; i++) {
        const syncs = op.metrics.syncs(`${ns}/string-data`, "success");
        await parents.patch("string-data", { metadata: { labels: { touch: String(i) } } });
        await suite.eventually(
          "a sync",
          () => op.metrics.syncs(`${ns}/string-data`, "success") > syncs,
        );
      }
      await sleep(500);
      const churn = op.metrics.writes("update") - before;
      run.objectsLost = 0;
      run.note = `${churn} updates in 3 syncs with nothing to change`;
      assert.equal(churn, 0, `the Secret is rewritten at every sync (${churn} updates in 3 syncs)`);
    } finally {
      await op.stop();
    }
  }),
);
