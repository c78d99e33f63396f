// SyncCounter: counts sync starts per parent (not finalizations, not ends) between its creation
// and stop(), resolves names in the kit's namespace, and waitUntil fails with the counts.
import assert from "node:assert/strict";
import type { SyncEvent } from "../runner/controller.ts";
import { SyncCounter, SyncCountTimeoutError } from "./sync_counter.ts";

function source() {
  const listeners = new Set<(event: SyncEvent) => void>();
  return {
    emit: (event: SyncEvent) => listeners.forEach((l) => l(event)),
    onSync: (listener: (event: SyncEvent) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}

Deno.test("SyncCounter counts the syncs started per parent until it is stopped", () => {
  const events = source();
  events.emit({ parent: "ns/before", phase: "sync", state: "started" });
  const counter = new SyncCounter({ onSync: events.onSync, namespace: "ns", timeoutMs: 10 });
  events.emit({ parent: "ns/a", phase: "sync", state: "started" });
  events.emit({ parent: "ns/a", phase: "sync", state: "succeeded", durationMs: 1 });
  events.emit({ parent: "ns/a", phase: "sync", state: "started" });
  events.emit({ parent: "ns/b", phase: "sync", state: "started" });
  events.emit({ parent: "ns/c", phase: "finalize", state: "started" });
  assert.deepEqual(counter.counts(), { "ns/a": 2, "ns/b": 1 });
  assert.equal(counter.count("a"), 2);
  assert.equal(counter.count("b", "ns"), 1);
  assert.equal(counter.count("before"), 0);
  assert.equal(counter.total, 3);
  assert.equal(counter.startTimes("a").length, 2);
  assert.deepEqual(counter.parents(), ["ns/a", "ns/b"]);
  counter.stop();
  assert.equal(events.size, 0);
  events.emit({ parent: "ns/a", phase: "sync", state: "started" });
  assert.equal(counter.count("a"), 2);
});

Deno.test("SyncCounter.waitUntil resolves once the condition holds, and fails with the counts", async () => {
  const events = source();
  using counter = new SyncCounter({ onSync: events.onSync, namespace: undefined, timeoutMs: 100 });
  setTimeout(() => events.emit({ parent: "node-a", phase: "sync", state: "started" }), 10);
  await counter.waitUntil((c) => c.count("node-a") === 1);
  const error = await counter.waitUntil((c) => c.total > 1, 60).catch((e) => e);
  assert.ok(error instanceof SyncCountTimeoutError);
  assert.deepEqual(error.counts, { "node-a": 1 });
  assert.match(error.message, /^Cannot see the expected syncs: .*node-a: 1/);
});
