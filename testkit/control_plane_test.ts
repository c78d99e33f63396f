import assert from "node:assert/strict";
import { type ControlPlane, startControlPlane } from "./control_plane.ts";
import { testControlPlane } from "./shared_control_plane.ts";

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // A zombie ("Z") has exited; only its parent has not reaped it yet.
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("startControlPlane() starts and stops cleanly twice in a row", async () => {
  for (let round = 1; round <= 2; round++) {
    const cp = await startControlPlane({ tokenUsers: [{ name: "bob", groups: ["team-b"] }] });
    const pids = Object.values(cp.pids);
    assert.equal(pids.length, 3, "etcd, kube-apiserver and kube-controller-manager");
    assert.ok(pids.every(alive), "every process runs");
    assert.ok(cp.startupMs > 0);
    console.log(`round ${round}: control plane ready in ${cp.startupMs} ms`);
    const res = await cp.adminFetch("/readyz");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // A user named in tokenUsers authenticates with its static token.
    const bob = await cp.mintUser("bob");
    assert.ok(bob.token);
    const client = Deno.createHttpClient({ caCerts: [cp.caCertificate] });
    try {
      const review = await fetch(`${cp.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
        client,
        method: "POST",
        headers: { Authorization: `Bearer ${bob.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }),
      });
      const body = await review.json() as {
        status: { userInfo: { username: string; groups: string[] } };
      };
      assert.equal(body.status.userInfo.username, "bob");
      assert.ok(body.status.userInfo.groups.includes("team-b"));
    } finally {
      client.close();
    }
    await cp.stop();
    assert.ok(!pids.some(alive), "no process outlives stop()");
    assert.ok(!(await exists(cp.dir)), "the directory is removed");
    await cp.stop(); // a second stop is harmless
  }
});

let cp: ControlPlane;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
});
Deno.test.afterAll(async () => {
  await cp?.stop();
});

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json() as Record<string, unknown>;
}

async function createNamespace(name: string): Promise<void> {
  const res = await cp.adminFetch("/api/v1/namespaces", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }),
  });
  assert.equal(res.status, 201, JSON.stringify(await json(res)));
}

Deno.test("the admin can create and list namespaces", async () => {
  await createNamespace("cp-admin-test");
  const res = await cp.adminFetch("/api/v1/namespaces");
  assert.equal(res.status, 200);
  const list = await json(res) as { items: Array<{ metadata: { name: string } }> };
  assert.ok(list.items.some((ns) => ns.metadata.name === "cp-admin-test"));
});

Deno.test("a user without grants gets 403, and succeeds after a RoleBinding", async () => {
  await createNamespace("cp-rbac-test");
  const user = await cp.mintUser("alice", { groups: ["developers"] });
  const client = Deno.createHttpClient({
    caCerts: [cp.caCertificate],
    cert: user.certificate,
    key: user.key,
  });
  try {
    const list = () => fetch(`${cp.server}/api/v1/namespaces/cp-rbac-test/configmaps`, { client });
    const denied = await list();
    assert.equal(denied.status, 403);
    const status = await json(denied);
    assert.equal(status.reason, "Forbidden");
    assert.match(String(status.message), /User "alice" cannot list resource "configmaps"/);

    const post = (path: string, body: unknown) =>
      cp.adminFetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/cp-rbac-test";
    let res = await post(`${rbac}/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "read-configmaps" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    res = await post(`${rbac}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "alice-reads" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-configmaps" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }],
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();

    // RBAC is read from the API server's cache: allow it a moment to see the binding.
    let allowed = await list();
    for (let i = 0; i < 50 && allowed.status === 403; i++) {
      await allowed.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
      allowed = await list();
    }
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();
  } finally {
    client.close();
  }
});

Deno.test("a service-account token from the TokenRequest API authenticates", async () => {
  await createNamespace("cp-token-test");
  const token = await cp.serviceAccountToken("cp-token-test", "robot");
  const client = Deno.createHttpClient({ caCerts: [cp.caCertificate] });
  try {
    const res = await fetch(`${cp.server}/apis/authentication.k8s.io/v1/selfsubjectreviews`, {
      client,
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        apiVersion: "authentication.k8s.io/v1",
        kind: "SelfSubjectReview",
      }),
    });
    assert.equal(res.status, 201);
    const review = await json(res) as { status: { userInfo: { username: string } } };
    assert.equal(review.status.userInfo.username, "system:serviceaccount:cp-token-test:robot");
  } finally {
    client.close();
  }
});

Deno.test("deleting an owner garbage-collects its dependent", async () => {
  await createNamespace("cp-gc-test");
  const base = "/api/v1/namespaces/cp-gc-test/configmaps";
  const create = async (body: unknown) => {
    const res = await cp.adminFetch(base, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201);
    return await json(res) as { metadata: { uid: string } };
  };
  const owner = await create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owner" } });
  await create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "dependent",
      ownerReferences: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "owner",
        uid: owner.metadata.uid,
      }],
    },
  });
  const del = await cp.adminFetch(`${base}/owner`, { method: "DELETE" });
  assert.equal(del.status, 200);
  await del.body?.cancel();
  const deadline = Date.now() + 60_000;
  let status = 200;
  while (Date.now() < deadline) {
    const res = await cp.adminFetch(`${base}/dependent`);
    status = res.status;
    await res.body?.cancel();
    if (status === 404) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, 404, "the dependent was garbage-collected by kube-controller-manager");
});
