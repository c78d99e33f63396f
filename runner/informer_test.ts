import assert from "node:assert/strict";
import { ApiError, WatchDecodeError } from "../client/errors.ts";
import type { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { configMap, ScriptedClient } from "./testdata/scripted_client.ts";
import { Informer } from "./informer.ts";
import { objectKey, pruneManagedFields } from "./cache_object.ts";
import { InformerSyncError } from "./informer_errors.ts";
import type { InformerClock, InformerOptions } from "./informer_options.ts";

// observe() only touches the cache; the client is never called.
const client = {
  type: { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
} as unknown as ResourceClient;

const cm = (rv: string, extra: Record<string, unknown> = {}): KubernetesObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "a", namespace: "ns", resourceVersion: rv, ...extra },
});

Deno.test("Informer.observe() stores the result of our own write", () => {
  const informer = new Informer(client);
  informer.observe(cm("5"));
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "5");
  informer.observe(cm("7"));
  assert.equal(informer.getByKey("ns/a")?.metadata?.resourceVersion, "7");
});

Deno.test("Informer.observe() never replaces a newer state with an older write result", () => {
  const informer = new Informer(client);
  // The watch delivered the deletion (rv 9) before the response of our status write (rv 8).
  informer.observe(cm("9", { deletionTimestamp: "2026-01-01T00:00:00Z" }));
  informer.observe(cm("8"));
  const cached = informer.get("a", "ns");
  assert.equal(cached?.metadata?.resourceVersion, "9");
  assert.ok(cached?.metadata?.deletionTimestamp, "the deletion is not lost");
  // Not comparable (not integers): keep what the cache has.
  informer.observe(cm("x1"));
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "9");
});

Deno.test("objectKey() and pruneManagedFields()", () => {
  assert.equal(objectKey(cm("1")), "ns/a");
  assert.equal(objectKey({ metadata: { name: "n" } }), "n");
  const pruned = pruneManagedFields(cm("1", { managedFields: [{ manager: "x" }] }));
  assert.equal(pruned.metadata?.managedFields, undefined);
  assert.equal(pruned.metadata?.name, "a");
});

/** A clock whose sleeps pass at once and move its time on; `sleeps` records them. */
function fakeClock(): InformerClock & { time: number; sleeps: number[] } {
  const clock = {
    time: 1_000_000,
    sleeps: [] as number[],
    now: () => clock.time,
    sleep: (ms: number) => {
      clock.sleeps.push(ms);
      clock.time += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

/** Starts an informer on a scripted client; `stop()` stops it and waits. */
function start(options: InformerOptions<KubernetesObject> = {}) {
  const fake = new ScriptedClient();
  const clock = fakeClock();
  const restarts: string[] = [];
  const informer = new Informer(fake.client, {
    relistPeriodMs: 0,
    clock,
    onRestart: (reason) => restarts.push(reason),
    ...options,
  });
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  const stop = async () => {
    abort.abort();
    await running;
  };
  return { fake, clock, restarts, informer, stop };
}

/** What the promise rejects with (it must reject). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => assert.fail("resolved"), (error: unknown) => error);
}

/** Settles: whether the promise has settled by the time the informer waits again. */
async function settled(promise: Promise<unknown>, fake: ScriptedClient): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await fake.blocked();
  await Promise.resolve();
  return done;
}

Deno.test("Informer: a watch that ends at once without an event backs off (no hot loop)", async () => {
  const { fake, clock, restarts, stop } = start();
  await fake.blocked();
  fake.answerList([], "10");
  // The server ends every watch at once (or answers 200 without a body), for 60 s of time.
  const began = clock.time;
  while (fake.watches < 100 && clock.time - began < 60_000) {
    await fake.blocked();
    fake.step({ end: true });
  }
  await fake.blocked();
  await stop();
  // Backoff from 400-800 ms, doubling up to 15-30 s: at most 10 watches in 60 s (was: 100+).
  assert.ok(fake.watches <= 10, `${fake.watches} watch requests in 60 s`);
  assert.ok(restarts.every((r) => r === "error"), `restart reasons: ${restarts}`);
  assert.ok(clock.sleeps.length >= 5 && clock.sleeps.every((ms) => ms >= 400), `${clock.sleeps}`);
  assert.ok(clock.sleeps.at(-1)! > clock.sleeps[0]!, "the backoff grows");
});

Deno.test("Informer: a watch that lasted, or sent an event, restarts at once when it ends", async () => {
  const { fake, clock, restarts, informer, stop } = start();
  await fake.blocked();
  fake.answerList([], "10");
  await fake.blocked();
  clock.time += 5_000;
  fake.step({ end: true });
  await fake.blocked();
  fake.step({ event: { type: "ADDED", object: configMap("a", 11) } });
  await fake.blocked();
  fake.step({ end: true });
  await fake.blocked();
  await stop();
  assert.deepEqual(restarts, ["closed", "closed"]);
  assert.deepEqual(clock.sleeps, []);
  assert.equal(fake.watchFrom, "11");
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "11");
});

Deno.test("Informer: waitForSync() rejects when the informer stops before its first list", async () => {
  const { fake, informer, stop } = start();
  const sync = informer.waitForSync();
  await fake.blocked();
  await stop();
  const error = await rejection(sync);
  assert.ok(error instanceof InformerSyncError);
  assert.match(error.message, /Cannot sync the cache of v1\/ConfigMap: .*stopped/);
  await assert.rejects(informer.waitForSync(), InformerSyncError, "later calls reject too");
});

Deno.test("Informer: waitForSync() rejects with the status when the first list is refused, and resolves once a list succeeds", async () => {
  const { fake, informer, stop } = start();
  const first = informer.waitForSync();
  await fake.blocked();
  fake.failList(new ApiError({ method: "LIST", path: "/api/v1/configmaps" }, 500));
  assert.equal(await settled(first, fake), false, "a 500 is waited out");
  fake.failList(
    new ApiError({ method: "LIST", path: "/api/v1/configmaps" }, 403, {
      reason: "Forbidden",
      message: 'configmaps is forbidden: User "op" cannot list resource "configmaps"',
    }),
  );
  const error = await rejection(first);
  assert.ok(error instanceof InformerSyncError);
  assert.equal(error.status, 403);
  assert.equal(error.typeName, "v1/ConfigMap");
  assert.match(error.message, /v1\/ConfigMap.*403 Forbidden.*cannot list/);
  await assert.rejects(informer.waitForSync(), InformerSyncError);
  // It keeps retrying in the background.
  await fake.blocked();
  assert.equal(fake.state, "list");
  fake.answerList([configMap("a", 3)], "5");
  await fake.blocked();
  await informer.waitForSync();
  assert.equal(informer.size, 1);
  await stop();
});

Deno.test("Informer: whenSynced() waits through refused lists and resolves with the first list that succeeds; a stop rejects it", async () => {
  const { fake, informer, stop } = start();
  const synced = informer.whenSynced();
  await fake.blocked();
  fake.failList(
    new ApiError({ method: "LIST", path: "/api/v1/configmaps" }, 403, { reason: "Forbidden" }),
  );
  await assert.rejects(informer.waitForSync(), InformerSyncError);
  assert.equal(await settled(synced, fake), false, "a refusal does not settle whenSynced()");
  await fake.blocked();
  fake.failList(new ApiError({ method: "LIST", path: "/api/v1/configmaps" }, 404));
  assert.equal(await settled(synced, fake), false, "nor does a second one");
  await fake.blocked();
  fake.answerList([configMap("a", 3)], "5");
  await synced;
  await informer.whenSynced();
  await stop();

  const second = start();
  const never = second.informer.whenSynced();
  await second.fake.blocked();
  await second.stop();
  const error = await rejection(never);
  assert.ok(error instanceof InformerSyncError);
  assert.match(error.message, /stopped before its first list/);
});

Deno.test("Informer: notReadyReason() reflects a working watch, with a grace period", async () => {
  const { fake, clock, informer, stop } = start();
  await fake.blocked();
  assert.match(informer.notReadyReason(60_000)!, /^v1\/ConfigMap: cache not synced/);
  fake.answerList([], "10");
  await fake.blocked();
  assert.equal(informer.notReadyReason(60_000), undefined, "synced, watch just opened");
  // The watch fails for ever (say, RBAC allows list but not watch).
  const failing = clock.time;
  while (clock.time - failing < 120_000) {
    fake.step({ error: new ApiError({ method: "GET", path: "/api/v1/configmaps" }, 403) });
    await fake.blocked();
    if (clock.time - failing < 60_000) {
      assert.equal(informer.notReadyReason(60_000), undefined, "within the grace");
    }
  }
  assert.match(
    informer.notReadyReason(60_000)!,
    /^v1\/ConfigMap: watch failing for \d+ s: Cannot GET .*403/,
  );
  assert.equal(informer.synced, true, "synced stays: it means the first list completed");
  // The watch connects again: an event (or a bookmark) proves it.
  fake.step({ event: { type: "BOOKMARK", object: { metadata: { resourceVersion: "12" } } } });
  await fake.blocked();
  assert.equal(informer.notReadyReason(60_000), undefined);
  await stop();
});

Deno.test("Informer: a watch open longer than a short watch counts as connected, unless it follows an idle deadline", async () => {
  const { fake, clock, informer, stop } = start();
  await fake.blocked();
  fake.answerList([], "10");
  await fake.blocked();
  const idle = new Error("Cannot keep watching: no data for 70000 ms");
  idle.name = "WatchIdleTimeoutError";
  for (let i = 0; i < 3; i++) {
    clock.time += 70_000;
    fake.step({ error: idle });
    await fake.blocked();
  }
  clock.time += 5_000;
  assert.match(informer.notReadyReason(60_000)!, /watch failing/, "an open watch proves nothing");
  fake.step({ error: new Error("Cannot WATCH: connection refused") });
  await fake.blocked();
  clock.time += 5_000;
  assert.equal(informer.notReadyReason(60_000), undefined, "open for 5 s after a quick failure");
  await stop();
});

/** Like the client's WatchUnexpectedObjectError: a subclass of WatchDecodeError. */
class UnexpectedObjectError extends WatchDecodeError {}

Deno.test("Informer: an event the watch cannot decode is counted as 'invalid' and leads to a relist", async () => {
  const { fake, restarts, informer, stop } = start();
  await fake.blocked();
  fake.answerList([configMap("a", 3)], "10");
  for (
    const error of [
      new WatchDecodeError("/api/v1/configmaps", "not JSON"),
      new UnexpectedObjectError("/api/v1/configmaps", "the object is a string"),
    ]
  ) {
    await fake.blocked();
    fake.step({ error });
    await fake.blocked();
    assert.equal(fake.state, "list", "relists");
    fake.answerList([configMap("a", 3)], "10");
  }
  await fake.blocked();
  await stop();
  assert.deepEqual(restarts, ["invalid", "invalid"]);
  assert.equal(informer.size, 1);
});

Deno.test("Informer: an object without metadata.name is never stored", async () => {
  const { fake, restarts, informer, stop } = start();
  await fake.blocked();
  const nameless = (rv: number): KubernetesObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { namespace: "ns", resourceVersion: String(rv) },
  });
  fake.answerList([nameless(3), configMap("a", 4)], "10");
  await fake.blocked();
  fake.step({ event: { type: "ADDED", object: nameless(11) } });
  await fake.blocked();
  assert.equal(fake.state, "list", "the watch is suspect: relist");
  fake.answerList([configMap("a", 4)], "12");
  await fake.blocked();
  informer.observe(nameless(13));
  await stop();
  assert.deepEqual(restarts, ["invalid"]);
  assert.deepEqual(informer.list().map(objectKey), ["ns/a"]);
  assert.equal(informer.getByKey("ns/undefined"), undefined);
  assert.equal(informer.getByKey("undefined"), undefined);
});

Deno.test("Informer: a relist from an older list keeps newer states and reports no false deletion", async () => {
  const changes: string[] = [];
  const { fake, informer, stop } = start({
    onChange: (c) => changes.push(`${c.type} ${c.object.metadata?.resourceVersion}`),
  });
  await fake.blocked();
  fake.answerList([configMap("a", 3)], "10");
  await fake.blocked();
  informer.observe(configMap("b", 12)); // our own create, not yet seen by the watch
  fake.step({ event: { type: "ERROR", object: { code: 410 } } });
  await fake.blocked();
  fake.answerList([configMap("a", 3)], "11"); // from the watch cache: before b existed
  await fake.blocked();
  assert.equal(informer.get("b", "ns")?.metadata?.resourceVersion, "12");
  fake.step({ event: { type: "DELETED", object: configMap("a", 13) } });
  await fake.blocked();
  informer.observe(configMap("a", 3)); // a late result of our own write: a ghost
  fake.step({ event: { type: "ADDED", object: configMap("a", 3) } }); // a replayed event
  await fake.blocked();
  await stop();
  assert.equal(informer.get("a", "ns"), undefined, "no ghost");
  assert.deepEqual(changes, ["added 3", "deleted 13"]);
});

Deno.test("Informer: a watch that only ever sends an ERROR event is not a working watch", async () => {
  const { fake, clock, informer, stop } = start();
  await fake.blocked();
  fake.answerList([], "10");
  await fake.blocked();
  const began = clock.time;
  while (clock.time - began < 120_000) {
    fake.step({ event: { type: "ERROR", object: { code: 500, message: "etcd is down" } } });
    await fake.blocked();
  }
  assert.match(informer.notReadyReason(60_000)!, /watch failing for \d+ s: .*500.*etcd is down/);
  await stop();
});

Deno.test("Informer: a paged list stores each page before it asks for the next", async () => {
  const { fake, informer, stop } = start();
  await fake.blocked();
  fake.answerList([configMap("old", 2), configMap("a", 3)], "10");
  await fake.blocked();
  // A relist (the watch expired), in two pages.
  fake.step({ event: { type: "ERROR", object: { code: 410 } } });
  await fake.blocked();
  assert.equal(fake.state, "list");
  fake.answerPage([configMap("a", 12), configMap("b", 12)], "20");
  await fake.blocked();
  assert.equal(fake.state, "list", "asks for the second page");
  // The first page is stored already: nothing holds it but the cache.
  assert.equal(informer.get("a", "ns")?.metadata?.resourceVersion, "12");
  assert.equal(informer.get("b", "ns")?.metadata?.resourceVersion, "12");
  // Deletions wait for the last page: "old" may be on it.
  assert.ok(informer.get("old", "ns"), "not deleted before the last page");
  fake.answerList([configMap("c", 12)], "21");
  await fake.blocked();
  assert.equal(fake.state, "watch");
  assert.equal(fake.watchFrom, "21", "the watch starts at the last page's resourceVersion");
  assert.equal(informer.get("old", "ns"), undefined, "deleted: on no page");
  assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ["a", "b", "c"]);
  await stop();
});

Deno.test("Informer: a paged first list that fails half-way is not synced, and deletes nothing", async () => {
  const { fake, informer, stop } = start();
  const sync = informer.waitForSync();
  await fake.blocked();
  fake.answerPage([configMap("a", 3)], "10");
  await fake.blocked();
  assert.equal(await settled(sync, fake), false, "not synced after one page of two");
  fake.failList(new ApiError({ method: "LIST", path: "/api/v1/configmaps" }, 500));
  await fake.blocked();
  // Retried from the first page; the objects of the failed list stay.
  assert.equal(fake.state, "list");
  assert.ok(informer.get("a", "ns"));
  fake.answerList([configMap("a", 3), configMap("b", 4)], "11");
  await sync;
  await fake.blocked();
  assert.equal(informer.size, 2);
  await stop();
});
