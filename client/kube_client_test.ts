import assert from "node:assert/strict";
import { type ControlPlane, startControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import type { ClientConfig } from "./client_config.ts";
import { ApiError, NetworkError } from "./errors.ts";
import { KubeClient, type RequestObservation } from "./kube_client.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { fromKubeconfig } from "./kubeconfig.ts";
import { ResourceClient } from "./resource_client.ts";
import { type KubernetesObject, resourceType } from "./resource_type.ts";
import { discoverResourceType } from "./discovery.ts";

const ConfigMap = resourceType({
  apiVersion: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
});
const Namespace = resourceType({
  apiVersion: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
});

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

let nsCounter = 0;
async function namespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${nsCounter++}`;
  await new ResourceClient(admin, Namespace).create({ metadata: { name } });
  return name;
}

async function whoAmI(config: ClientConfig): Promise<string> {
  using client = new KubeClient(config);
  const review = await client.request<{ status: { userInfo: { username: string } } }>(
    "POST",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  return review.status.userInfo.username;
}

Deno.test("KubeClient authenticates with a bearer token", async () => {
  assert.equal(
    await whoAmI({
      server: cp.server,
      caCertificates: [cp.caCertificate],
      credentials: { kind: "token", token: cp.adminToken },
    }),
    "admin-token",
  );
});

Deno.test("KubeClient authenticates with a client certificate from a kubeconfig", async () => {
  const user = await cp.mintUser("carol", { groups: ["team-a"] });
  const config = await fromKubeconfig({ path: user.kubeconfigPath });
  assert.equal(await whoAmI(config), "carol");
  const adminConfig = await fromKubeconfig({ path: cp.kubeconfigPath });
  assert.equal(await whoAmI(adminConfig), "admin");
});

Deno.test("KubeClient re-reads a replaced token file on the next request", async () => {
  const ns = await namespace("tokenfile");
  const first = await cp.serviceAccountToken(ns, "first");
  const second = await cp.serviceAccountToken(ns, "second");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/token`;
    await Deno.writeTextFile(path, first);
    using client = new KubeClient({
      server: cp.server,
      caCertificates: [cp.caCertificate],
      credentials: { kind: "tokenFile", path },
    });
    const who = async () =>
      (await client.request<{ status: { userInfo: { username: string } } }>(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
      )).status.userInfo.username;
    assert.equal(await who(), `system:serviceaccount:${ns}:first`);
    // Replace the file the way kubelet does: write a new file and rename it over the old one.
    await Deno.writeTextFile(`${path}.new`, second);
    await Deno.rename(`${path}.new`, path);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await who(), `system:serviceaccount:${ns}:second`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("KubeClient authenticates through an exec credential plugin", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plugin = `${dir}/plugin.sh`;
    await Deno.writeTextFile(
      plugin,
      `#!/usr/bin/env bash\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$TOKEN"\n`,
    );
    await Deno.chmod(plugin, 0o755);
    const username = await whoAmI({
      server: cp.server,
      caCertificates: [cp.caCertificate],
      credentials: {
        kind: "exec",
        apiVersion: "client.authentication.k8s.io/v1",
        command: plugin,
        env: { TOKEN: cp.adminToken },
      },
    });
    assert.equal(username, "admin-token");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("impersonation is sent as headers and checked by RBAC", async () => {
  const base = { server: cp.server, caCertificates: [cp.caCertificate] };
  assert.equal(
    await whoAmI({
      ...base,
      credentials: { kind: "token", token: cp.adminToken },
      impersonate: { user: "dave", groups: ["g1"] },
    }),
    "dave",
  );
  const eve = await cp.mintUser("eve");
  await assert.rejects(
    whoAmI({
      ...base,
      credentials: { kind: "clientCertificate", certificate: eve.certificate, key: eve.key },
      impersonate: { user: "dave" },
    }),
    (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.ok(error.isForbidden);
      assert.match(error.message, /cannot impersonate/);
      return true;
    },
  );
});

Deno.test("a wrong CA fails TLS verification with a NetworkError", async () => {
  const user = await cp.mintUser("frank");
  await assert.rejects(
    whoAmI({
      server: cp.server,
      caCertificates: [user.certificate], // a client certificate, not the serving CA
      credentials: { kind: "token", token: cp.adminToken },
    }),
    (error: unknown) => {
      assert.ok(error instanceof NetworkError, String(error));
      assert.match(error.message, /TLS verification failed|certificate/i);
      assert.ok(!error.message.includes(cp.adminToken), "no token in the message");
      return true;
    },
  );
});

Deno.test("ApiError tells 401, 403, 404, 409 and 422 apart", async () => {
  const ns = await namespace("errors");
  const cms = new ResourceClient(admin, ConfigMap, ns);
  const bad = new KubeClient({
    server: cp.server,
    caCertificates: [cp.caCertificate],
    credentials: { kind: "token", token: "wrong" },
  });
  try {
    await assert.rejects(
      new ResourceClient(bad, ConfigMap, ns).list(),
      (e: unknown) => e instanceof ApiError && e.isUnauthorized && e.status === 401,
    );
  } finally {
    bad.close();
  }
  const nobody = await cp.mintUser("nobody");
  const nobodyClient = new KubeClient({
    server: cp.server,
    caCertificates: [cp.caCertificate],
    credentials: { kind: "clientCertificate", certificate: nobody.certificate, key: nobody.key },
  });
  try {
    await assert.rejects(
      new ResourceClient(nobodyClient, ConfigMap, ns).list(),
      (e: unknown) => e instanceof ApiError && e.isForbidden && e.reason === "Forbidden",
    );
  } finally {
    nobodyClient.close();
  }
  await assert.rejects(
    cms.get("missing"),
    (e: unknown) => e instanceof ApiError && e.isNotFound && e.path.endsWith("/configmaps/missing"),
  );
  assert.equal(await cms.find("missing"), undefined);
  await cms.create({ metadata: { name: "a" }, data: { x: "1" } });
  await assert.rejects(
    cms.create({ metadata: { name: "a" } }),
    (e: unknown) => e instanceof ApiError && e.isConflict && e.isAlreadyExists,
  );
  await assert.rejects(
    cms.replace({ metadata: { name: "a", resourceVersion: "1" }, data: {} }),
    (e: unknown) => e instanceof ApiError && e.isConflict && e.reason === "Conflict",
  );
  await assert.rejects(
    cms.create({ metadata: { name: "Not_Valid" } }),
    (e: unknown) => e instanceof ApiError && e.isInvalid,
  );
});

Deno.test("list paginates over more than 1,000 objects", async () => {
  const ns = await namespace("paging");
  const cms = new ResourceClient(admin, ConfigMap, ns);
  const total = 1050;
  const names = Array.from({ length: total }, (_, i) => `cm-${i}`);
  for (let i = 0; i < names.length; i += 50) {
    await Promise.all(
      names.slice(i, i + 50).map((name) => cms.create({ metadata: { name }, data: { i: name } })),
    );
  }
  let pages = 0;
  const seen = new Set<string>();
  for await (const page of cms.listPages({ pageSize: 100 })) {
    pages++;
    assert.ok(page.items.length <= 100);
    for (const item of page.items) {
      assert.equal(item.kind, "ConfigMap");
      seen.add(item.metadata!.name!);
    }
  }
  assert.equal(pages, 11);
  assert.equal(seen.size, total);
  const all = await cms.listAll({ pageSize: 300 });
  assert.equal(all.items.length, total);
  assert.ok(all.resourceVersion.length > 0);
});

Deno.test("a watch resumed from a resourceVersion does not replay older events", async () => {
  const ns = await namespace("watch");
  const cms = new ResourceClient(admin, ConfigMap, ns);
  await cms.create({ metadata: { name: "before" } });
  const list = await cms.list();
  const controller = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (
      const event of cms.watch({
        resourceVersion: list.metadata.resourceVersion!,
        signal: controller.signal,
      })
    ) {
      if (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED") {
        seen.push(`${event.type} ${(event.object as KubernetesObject).metadata?.name}`);
        if (seen.length === 2) controller.abort();
      }
    }
  })();
  await cms.create({ metadata: { name: "after" } });
  await cms.delete("after");
  await watching;
  assert.deepEqual(seen, ["ADDED after", "DELETED after"]);
});

Deno.test("a too-old resourceVersion yields 410 the caller can act on", async () => {
  // Without the watch cache, watches read etcd directly, and etcd compaction makes every
  // older resourceVersion unavailable: the real 410 an informer must handle.
  await using own = await startControlPlane({
    apiServerArgs: ["--watch-cache=false"],
    controllerManager: false,
  });
  using client = new KubeClient(own.clientConfig);
  const cms = new ResourceClient(client, ConfigMap, "default");
  await cms.create({ metadata: { name: "c1" } });
  const old = (await cms.list()).metadata.resourceVersion!;
  await cms.create({ metadata: { name: "c2" } });
  await cms.create({ metadata: { name: "c3" } });
  const now = (await cms.list()).metadata.resourceVersion!;
  const compact = await fetch(`${own.etcdUrl}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision: now, physical: true }),
  });
  assert.equal(compact.status, 200, await compact.text());
  let gone = false;
  try {
    for await (
      const event of cms.watch({ resourceVersion: old, timeoutSeconds: 5, idleTimeoutMs: 10_000 })
    ) {
      if (event.type === "ERROR") {
        assert.equal(event.object.code, 410);
        gone = true;
        break;
      }
    }
  } catch (error) {
    assert.ok(error instanceof ApiError && error.isGone, String(error));
    gone = true;
  }
  assert.ok(gone, "the watch reported 410");
});

Deno.test("server-side apply: a conflict between two managers, then force", async () => {
  const ns = await namespace("apply");
  const cms = new ResourceClient(admin, ConfigMap, ns);
  await cms.apply({ metadata: { name: "shared", namespace: ns }, data: { owner: "alpha" } }, {
    fieldManager: "alpha",
  });
  await assert.rejects(
    cms.apply({ metadata: { name: "shared", namespace: ns }, data: { owner: "beta" } }, {
      fieldManager: "beta",
    }),
    (e: unknown) => e instanceof ApiError && e.isConflict && /conflict/i.test(e.message),
  );
  const forced = await cms.apply(
    { metadata: { name: "shared", namespace: ns }, data: { owner: "beta" } },
    { fieldManager: "beta", force: true },
  );
  assert.equal((forced.data as Record<string, string>).owner, "beta");
});

Deno.test("patch: merge, JSON and strategic merge; status subresource; delete preconditions", async () => {
  const ns = await namespace("patch");
  const cms = new ResourceClient(admin, ConfigMap, ns);
  const created = await cms.create({ metadata: { name: "p" }, data: { a: "1" } });
  let patched = await cms.patch("p", { data: { b: "2" } });
  assert.deepEqual(patched.data, { a: "1", b: "2" });
  patched = await cms.patch("p", [{ op: "remove", path: "/data/a" }], { type: "json" });
  assert.deepEqual(patched.data, { b: "2" });
  patched = await cms.patch("p", { metadata: { labels: { x: "y" } } }, { type: "strategic" });
  assert.equal(patched.metadata?.labels?.x, "y");
  await assert.rejects(
    cms.delete("p", { preconditions: { uid: "00000000-0000-0000-0000-000000000000" } }),
    (e: unknown) => e instanceof ApiError && e.isConflict,
  );
  await cms.delete("p", { preconditions: { uid: created.metadata!.uid! } });
  assert.equal(await cms.find("p"), undefined);
  // Status subresource on a built-in type that has one.
  const nsClient = new ResourceClient(admin, Namespace);
  const current = await nsClient.getStatus(ns);
  assert.equal((current.status as { phase: string }).phase, "Active");
});

Deno.test("discovery resolves a kind to its plural and scope", async () => {
  const type = await discoverResourceType(admin, { apiVersion: "apps/v1", kind: "Deployment" });
  assert.deepEqual({ ...type }, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    plural: "deployments",
    namespaced: true,
  });
  const ns = await discoverResourceType(admin, { apiVersion: "v1", kind: "Namespace" });
  assert.equal(ns.namespaced, false);
  await assert.rejects(
    discoverResourceType(admin, { apiVersion: "v1", kind: "Nope" }),
    /not served/,
  );
});

Deno.test("a status etcd refuses as too large costs exactly one request", async () => {
  // etcd's --max-request-bytes is 1.5 MiB by default (the test control plane keeps it), below
  // the API server's own 3 MB limit on request bodies: a 1.7 MB status passes the API server
  // and is refused by etcd, on every replay.
  const Big = resourceType({
    apiVersion: "client-test.roperator.dev/v1",
    kind: "Big",
    plural: "bigs",
    namespaced: true,
  });
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Big)]);
  const ns = await namespace("too-large");
  const observed: RequestObservation[] = [];
  using client = new KubeClient(cp.clientConfig, {
    observe: (observation) => observed.push(observation),
    retry: { initialDelayMs: 1 },
  });
  const bigs = new ResourceClient(client, Big, ns);
  const created = await bigs.create({ metadata: { name: "big" }, spec: {} });
  observed.length = 0;
  const payload = "x".repeat(1_700_000);
  await assert.rejects(
    bigs.replaceStatus({ ...created, status: { payload } }),
    (e: unknown) => e instanceof ApiError && /request is too large/.test(e.message),
  );
  assert.deepEqual(observed.map((o) => `${o.method} ${o.status}`), ["PUT 500"]);
});
