// Related resources through the controller, with a fake clock and a scripted client: a change
// to a related object syncs exactly the parents that refer to it, a deleted one syncs them with
// the object absent, a parent whose reference moves stops being synced by the old object,
// selector references follow labels, and the handler reads every cache through request.cache.
import assert from "node:assert/strict";
import type { KubernetesObject } from "../client/resource_type.ts";
import { relatedResource } from "../config/related.ts";
import { k8s } from "../config/resource_types.ts";
import type { Handler, SyncRequest } from "../handler/handler.ts";
import type { SyncEvent } from "./controller.ts";
import {
  controllerHarness,
  type Harness,
  NS,
  Parent,
  PARENTS,
} from "./testdata/controller_harness.ts";

const SECRETS = `/api/v1/namespaces/${NS}/secrets`;

interface Thing extends KubernetesObject {
  spec?: { secret?: string; selector?: string };
}

const byName = relatedResource({
  type: k8s.core.v1.Secret,
  refs: (parent: Thing) => parent.spec?.secret ? { name: parent.spec.secret } : null,
});
const bySelector = relatedResource({
  type: k8s.core.v1.Secret,
  refs: (parent: Thing) => parent.spec?.selector ? { labelSelector: parent.spec.selector } : [],
});

const harness = controllerHarness;

function thing(name: string, spec: Thing["spec"]): KubernetesObject {
  return { apiVersion: Parent.apiVersion, kind: Parent.kind, metadata: { name }, spec };
}

function secret(
  name: string,
  value: string,
  labels: Record<string, string> = {},
): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, labels },
    data: { key: btoa(value) },
  };
}

/** A Secret's identity, to ask the reverse index. */
function probe(name: string): KubernetesObject {
  return { metadata: { name, namespace: NS } };
}

const noChildren: Handler<KubernetesObject> = () => ({ children: [] });

function lastRequest(h: Harness, name: string): SyncRequest {
  const list = h.requests.get(name);
  assert.ok(list && list.length > 0, `${name} was never synced`);
  return list[list.length - 1]!;
}

Deno.test("a change to a related Secret syncs exactly the parents that name it, with the new Secret", async () => {
  await using h = await harness(noChildren, { related: [byName] }, (client) => {
    client.store.put(SECRETS, secret("s1", "one"));
    client.store.put(SECRETS, secret("s2", "two"));
    client.store.put(PARENTS, thing("a", { secret: "s1" }));
    client.store.put(PARENTS, thing("b", { secret: "s1" }));
    client.store.put(PARENTS, thing("c", { secret: "s2" }));
    client.store.put(PARENTS, thing("d", {}));
  });
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { a: 1, b: 1, c: 1, d: 1 });
  assert.equal(lastRequest(h, "a").related.get(byName)?.data?.key, btoa("one"));
  assert.equal(lastRequest(h, "d").related.get(byName), undefined);
  assert.deepEqual(h.controller.parentsReferring(byName, probe("s1")), ["ns/a", "ns/b"]);

  h.client.store.put(SECRETS, { ...h.client.store.get(SECRETS, "s1")!, data: { key: btoa("1") } });
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { a: 1, b: 1 });
  assert.equal(lastRequest(h, "a").related.get(byName)?.data?.key, btoa("1"));
  assert.equal(lastRequest(h, "b").related.get(byName)?.data?.key, btoa("1"));
  // An unrelated Secret syncs nobody.
  h.client.store.put(SECRETS, secret("other", "x"));
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), {});
});

Deno.test("a deleted related Secret syncs its parents with the Secret absent, and its re-creation syncs them again", async () => {
  await using h = await harness(noChildren, { related: [byName] }, (client) => {
    client.store.put(SECRETS, secret("s1", "one"));
    client.store.put(PARENTS, thing("a", { secret: "s1" }));
    client.store.put(PARENTS, thing("c", { secret: "s2" }));
  });
  await h.time.tick(0);
  h.takeSyncs();
  h.client.store.remove(SECRETS, "s1");
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { a: 1 });
  assert.equal(lastRequest(h, "a").related.get(byName), undefined);
  assert.deepEqual(lastRequest(h, "a").related.list(byName), []);
  h.client.store.put(SECRETS, secret("s1", "again"));
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { a: 1 });
  assert.equal(lastRequest(h, "a").related.get(byName)?.data?.key, btoa("again"));
});

Deno.test("a parent whose reference moves from A to B is synced by B's changes and no longer by A's", async () => {
  await using h = await harness(noChildren, { related: [byName] }, (client) => {
    client.store.put(SECRETS, secret("a", "A"));
    client.store.put(SECRETS, secret("b", "B"));
    client.store.put(PARENTS, thing("p", { secret: "a" }));
  });
  await h.time.tick(0);
  h.client.store.put(PARENTS, { ...h.client.store.get(PARENTS, "p")!, spec: { secret: "b" } });
  await h.time.tick(0);
  assert.equal(lastRequest(h, "p").related.get(byName)?.data?.key, btoa("B"));
  h.takeSyncs();
  h.client.store.put(SECRETS, { ...h.client.store.get(SECRETS, "a")!, data: { key: btoa("A2") } });
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), {}, "A no longer syncs p");
  h.client.store.put(SECRETS, { ...h.client.store.get(SECRETS, "b")!, data: { key: btoa("B2") } });
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { p: 1 });
  assert.deepEqual(h.controller.parentsReferring(byName, probe("a")), []);
  assert.deepEqual(h.controller.parentsReferring(byName, probe("b")), ["ns/p"]);
  // A deleted parent leaves the index.
  h.client.store.remove(PARENTS, "p");
  await h.time.tick(0);
  assert.deepEqual(h.controller.parentsReferring(byName, probe("b")), []);
});

Deno.test("a selector reference syncs its parent when an object starts or stops matching, and lists the matches in order", async () => {
  await using h = await harness(noChildren, { related: [bySelector] }, (client) => {
    client.store.put(SECRETS, secret("y", "1", { team: "red" }));
    client.store.put(SECRETS, secret("x", "2", { team: "red" }));
    client.store.put(SECRETS, secret("z", "3", { team: "blue" }));
    client.store.put(PARENTS, thing("p", { selector: "team=red" }));
    client.store.put(PARENTS, thing("q", { selector: "team in (green)" }));
  });
  await h.time.tick(0);
  assert.deepEqual(lastRequest(h, "p").related.list(bySelector).map((s) => s.metadata?.name), [
    "x",
    "y",
  ]);
  h.takeSyncs();
  // z joins the red team: p is synced; then it leaves: p is synced again (its previous state
  // matched).
  h.client.store.put(SECRETS, secret("z", "3", { team: "red" }));
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { p: 1 });
  assert.equal(lastRequest(h, "p").related.list(bySelector).length, 3);
  h.client.store.put(SECRETS, secret("z", "3", { team: "blue" }));
  await h.time.tick(0);
  assert.deepEqual(h.takeSyncs(), { p: 1 });
  assert.equal(lastRequest(h, "p").related.list(bySelector).length, 2);
});

Deno.test("related objects outside the declaration's label selector are neither cached nor given", async () => {
  const selected = relatedResource({
    type: k8s.core.v1.Secret,
    labelSelector: "copy=yes",
    refs: (parent: Thing) => parent.spec?.secret ? { name: parent.spec.secret } : null,
  });
  await using h = await harness(noChildren, { related: [selected] }, (client) => {
    client.store.put(SECRETS, secret("hidden", "no"));
    client.store.put(SECRETS, secret("shown", "yes", { copy: "yes" }));
    for (let i = 0; i < 30; i++) client.store.put(SECRETS, secret(`noise-${i}`, "n"));
    client.store.put(PARENTS, thing("a", { secret: "hidden" }));
    client.store.put(PARENTS, thing("b", { secret: "shown" }));
  });
  await h.time.tick(0);
  assert.equal(lastRequest(h, "a").related.get(selected), undefined);
  assert.equal(lastRequest(h, "b").related.get(selected)?.metadata?.name, "shown");
  const [, informer] = h.controller.informers;
  assert.deepEqual(informer!.list().map((o) => o.metadata?.name), ["shown"]);
});

Deno.test("the handler reads every cache through request.cache, as copies, and an unwatched type is an error", async () => {
  let seen: string[] = [];
  let mutated = false;
  let unwatched: unknown;
  await using h = await harness(
    ({ cache }) => {
      seen = cache.list(k8s.core.v1.Secret, { namespace: NS, labelSelector: "team=red" })
        .map((s) => s.metadata!.name!);
      const s = cache.get(k8s.core.v1.Secret, "x", NS)!;
      s.data = {};
      mutated = cache.get(k8s.core.v1.Secret, "x", NS)!.data?.key === undefined;
      try {
        cache.get(k8s.core.v1.Pod, "x", NS);
      } catch (error) {
        unwatched = error;
      }
      assert.equal(cache.watches(Parent), true);
      assert.equal(cache.list(Parent).length, 1);
      return { children: [] };
    },
    { related: [byName] },
    (client) => {
      client.store.put(SECRETS, secret("y", "1", { team: "red" }));
      client.store.put(SECRETS, secret("x", "2", { team: "red" }));
      client.store.put(SECRETS, secret("z", "3", { team: "blue" }));
      client.store.put(PARENTS, thing("p", {}));
    },
  );
  await h.time.tick(0);
  assert.deepEqual(seen, ["x", "y"]);
  assert.equal(mutated, false, "a read returns a copy");
  assert.ok(unwatched instanceof TypeError);
  assert.match((unwatched as Error).message, /^Cannot read v1\/Pod from the cache/);
});

Deno.test("a refs function that throws fails the parent's sync, and the parent refers to nothing meanwhile", async () => {
  const throwing = relatedResource({
    type: k8s.core.v1.Secret,
    refs: (parent: Thing): { name: string } => {
      if (parent.spec?.secret === "boom") throw new Error("no refs for boom");
      return { name: parent.spec?.secret ?? "none" };
    },
  });
  const failed: SyncEvent[] = [];
  await using h = await harness(noChildren, { related: [throwing] }, (client) => {
    client.store.put(SECRETS, secret("boom", "x"));
    client.store.put(PARENTS, thing("p", { secret: "boom" }));
  });
  h.controller.onSync((e) => e.state === "failed" && failed.push(e));
  await h.time.tick(0);
  assert.deepEqual(h.controller.parentsReferring(throwing, probe("boom")), []);
  h.client.store.put(PARENTS, { ...h.client.store.get(PARENTS, "p")!, spec: { secret: "boom" } });
  await h.time.tick(0);
  assert.ok(failed.length >= 1);
  assert.match(String((failed[0]!.error as Error).message), /no refs for boom/);
});

Deno.test("a declaration's field selector goes to the list and the watch of the related type", async () => {
  const opaque = relatedResource({
    type: k8s.core.v1.Secret,
    fieldSelector: "type=Opaque",
    labelSelector: "copy=yes",
    refs: () => null,
  });
  await using h = await harness(noChildren, { related: [opaque] });
  await h.time.tick(0);
  const secretRequests = h.client.requests.filter((r) => r.path.startsWith(SECRETS));
  assert.deepEqual(
    [
      ...new Set(
        secretRequests.map((r) =>
          `${r.method} ${r.query?.fieldSelector} ${r.query?.labelSelector}`
        ),
      ),
    ]
      .sort(),
    ["GET type=Opaque copy=yes", "WATCH type=Opaque copy=yes"],
  );
});

Deno.test("finalize gets the related objects too, and a handler that mutates them does not touch the cache", async () => {
  let finalized: string | undefined;
  await using h = await harness(
    {
      sync: ({ related }) => {
        const secret = related.get(byName)!;
        secret.data = { key: btoa("mutated") };
        return { children: [] };
      },
      finalize: ({ related }) => {
        finalized = atob(related.get(byName)?.data?.key ?? "");
        return {};
      },
    },
    { related: [byName], finalizer: "test.roperator.dev/fin" },
    (client) => {
      client.store.put(SECRETS, secret("s1", "kept"));
      client.store.put(PARENTS, thing("p", { secret: "s1" }));
    },
  );
  await h.time.tick(0);
  const [, informer] = h.controller.informers;
  assert.equal(atob((informer!.get("s1", NS)!.data as Record<string, string>).key!), "kept");
  // Delete the parent: it has the finalizer, so finalize runs with the Secret.
  assert.deepEqual(h.client.store.get(PARENTS, "p")!.metadata?.finalizers, [
    "test.roperator.dev/fin",
  ]);
  h.client.store.remove(PARENTS, "p");
  await h.time.tick(0);
  assert.equal(finalized, "kept");
});

Deno.test("reading a declaration that is not in the config fails the sync and says so", async () => {
  const failed: SyncEvent[] = [];
  await using h = await harness(({ related }) => {
    related.get(bySelector);
    return { children: [] };
  }, { related: [byName] });
  h.controller.onSync((e) => e.state === "failed" && failed.push(e));
  h.client.store.put(PARENTS, thing("p", {}));
  await h.time.tick(0);
  assert.equal(failed.length, 1);
  assert.match(
    (failed[0]!.error as Error).message,
    /Cannot read related v1\/Secret objects: this declaration is not in the operator config's related list/,
  );
});
