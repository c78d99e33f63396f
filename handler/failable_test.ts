import assert from "node:assert/strict";
import type { KubernetesObject } from "../client/resource_type.ts";
import { KeyedBackoff } from "./backoff.ts";
import { Children } from "./children.ts";
import {
  type FailableHandler,
  failableHandler,
  type HandlerResult,
  isFailure,
} from "./failable.ts";
import {
  type HandlerObject,
  normalizeHandler,
  type SyncRequest,
  syncRequest,
  type SyncResponse,
} from "./handler.ts";

type Parent = KubernetesObject & { spec?: { size?: unknown; fail?: string } };

function parent(uid: string, spec: Parent["spec"] = {}): Parent {
  return {
    apiVersion: "example.dev/v1",
    kind: "Thing",
    metadata: { namespace: "ns", name: `thing-${uid}`, uid },
    spec,
  };
}

const existing: KubernetesObject[] = [
  { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ns", name: "old" } },
];

interface Status {
  kind: HandlerResult<unknown>["kind"];
  error?: string;
}

/** A handler that fails validation when `spec.size` is not a number. */
function steps(results: HandlerResult<number>[] = []): FailableHandler<Parent, number, Status> {
  return {
    validate({ parent }) {
      const size = parent.spec?.size;
      if (typeof size !== "number") throw new Error("spec.size must be a number");
      return size;
    },
    async syncChildren(size, { parent }) {
      await Promise.resolve();
      if (parent.spec?.fail === "sync") throw new Error("cannot sync");
      return Array.from({ length: size }, (_, i) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { namespace: "ns", name: `cm-${i}` },
      }));
    },
    finalize({ parent }) {
      if (parent.spec?.fail === "finalize") throw new Error("cannot finalize");
    },
    status(_request, result) {
      results.push(result);
      return "error" in result
        ? { kind: result.kind, error: (result.error as Error).message }
        : { kind: result.kind };
    },
  };
}

const noJitter = { backoff: { jitter: 0 } };

async function sync(handler: HandlerObject<Parent>, p: Parent): Promise<SyncResponse> {
  return await handler.sync(syncRequest(p, existing));
}

Deno.test("failableHandler: success returns the children and the success status", async () => {
  const results: HandlerResult<number>[] = [];
  const handler = failableHandler(steps(results), { regularResyncMs: 30_000 });
  const response = await sync(handler, parent("a", { size: 2 }));
  assert.deepEqual(response, {
    status: { kind: "syncSucceeded" },
    children: [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ns", name: "cm-0" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "ns", name: "cm-1" } },
    ],
    resyncAfterMs: 30_000,
  });
  assert.equal(results.length, 1);
  const [result] = results;
  assert.equal(result?.kind, "syncSucceeded");
  assert.equal(result?.kind === "syncSucceeded" && result.value, 2);
  assert.equal(result?.kind === "syncSucceeded" && result.children.length, 2);
});

Deno.test("failableHandler: no regularResyncMs means no resyncAfterMs", async () => {
  const response = await sync(failableHandler(steps()), parent("a", { size: 0 }));
  assert.deepEqual(response, { status: { kind: "syncSucceeded" }, children: [] });
  assert.ok(!("resyncAfterMs" in response));
});

Deno.test("failableHandler: a validation failure keeps the children and backs off", async () => {
  const results: HandlerResult<number>[] = [];
  const handler = failableHandler(steps(results), { ...noJitter, regularResyncMs: 60_000 });
  const bad = parent("a", { size: "big" });
  const first = await sync(handler, bad);
  assert.deepEqual(first, {
    status: { kind: "validationFailed", error: "spec.size must be a number" },
    children: existing,
    resyncAfterMs: 500,
    failed: true,
  });
  assert.equal(results[0]?.kind, "validationFailed");
  assert.ok(results[0] && isFailure(results[0]));
  assert.equal((await sync(handler, bad)).resyncAfterMs, 750);
  assert.equal((await sync(handler, bad)).resyncAfterMs, 1_125);
  // A success resets the backoff: the next failure starts at initialMs again.
  assert.equal((await sync(handler, parent("a", { size: 1 }))).resyncAfterMs, 60_000);
  assert.equal((await sync(handler, bad)).resyncAfterMs, 500);
});

Deno.test("failableHandler: a syncChildren failure carries the validated value", async () => {
  const results: HandlerResult<number>[] = [];
  const handler = failableHandler(steps(results), noJitter);
  const response = await sync(handler, parent("a", { size: 3, fail: "sync" }));
  assert.deepEqual(response, {
    status: { kind: "syncFailed", error: "cannot sync" },
    children: existing,
    resyncAfterMs: 500,
    failed: true,
  });
  const [result] = results;
  assert.equal(result?.kind, "syncFailed");
  assert.equal(result?.kind === "syncFailed" && result.value, 3);
  assert.ok(result && isFailure(result));
});

Deno.test("failableHandler: onErrorChildren 'delete' returns no children", async () => {
  const handler = failableHandler(steps(), { ...noJitter, onErrorChildren: "delete" });
  const invalid = await sync(handler, parent("a", { size: null }));
  assert.deepEqual(invalid.children, []);
  const failed = await sync(handler, parent("b", { size: 1, fail: "sync" }));
  assert.deepEqual(failed.children, []);
  assert.equal(failed.resyncAfterMs, 500);
});

Deno.test("failableHandler: the backoff is per parent uid", async () => {
  const handler = failableHandler(steps(), noJitter);
  assert.equal((await sync(handler, parent("a"))).resyncAfterMs, 500);
  assert.equal((await sync(handler, parent("a"))).resyncAfterMs, 750);
  assert.equal((await sync(handler, parent("b"))).resyncAfterMs, 500);
  // Without a uid, namespace/name is the key.
  const anonymous: Parent = { metadata: { namespace: "ns", name: "x" }, spec: {} };
  assert.equal((await sync(handler, anonymous)).resyncAfterMs, 500);
  assert.equal((await sync(handler, anonymous)).resyncAfterMs, 750);
});

Deno.test("failableHandler: once the backoff gives up, no resync is asked", async () => {
  const handler = failableHandler(steps(), { backoff: { giveUpAfterMs: 0 } });
  const response = await sync(handler, parent("a"));
  assert.equal(response.status && (response.status as Status).kind, "validationFailed");
  assert.deepEqual(response.children, existing);
  assert.ok(!("resyncAfterMs" in response));
});

Deno.test("failableHandler: uses a given KeyedBackoff", async () => {
  const backoff = new KeyedBackoff<string>({ initialMs: 10, multiplier: 3, jitter: 0 });
  const handler = failableHandler(steps(), { backoff });
  assert.equal((await sync(handler, parent("a"))).resyncAfterMs, 10);
  assert.equal((await sync(handler, parent("a"))).resyncAfterMs, 30);
  assert.equal(backoff.attempts("a"), 2);
  await sync(handler, parent("a", { size: 0 }));
  assert.equal(backoff.attempts("a"), 0);
});

Deno.test("failableHandler: finalize success reports done", async () => {
  const results: HandlerResult<number>[] = [];
  const handler = failableHandler(steps(results), noJitter);
  const response = await handler.finalize(syncRequest(parent("a")));
  assert.deepEqual(response, { status: { kind: "finalizeSucceeded" } });
  assert.equal(results[0]?.kind, "finalizeSucceeded");
  assert.ok(results[0] && !isFailure(results[0]));
});

Deno.test("failableHandler: finalize failure retries with backoff", async () => {
  const backoff = new KeyedBackoff<string>({ jitter: 0 });
  const handler = failableHandler(steps(), { backoff });
  const request = syncRequest(parent("a", { fail: "finalize" }));
  assert.deepEqual(await handler.finalize(request), {
    status: { kind: "finalizeFailed", error: "cannot finalize" },
    retryAfterMs: 500,
    failed: true,
  });
  assert.equal((await handler.finalize(request)).retryAfterMs, 750);
  // Success forgets the parent.
  await handler.finalize(syncRequest(parent("a")));
  assert.equal(backoff.size, 0);
});

Deno.test("failableHandler: finalize gives up, which means done", async () => {
  const handler = failableHandler(steps(), { backoff: { giveUpAfterMs: 0 } });
  const response = await handler.finalize(syncRequest(parent("a", { fail: "finalize" })));
  assert.deepEqual(response, {
    status: { kind: "finalizeFailed", error: "cannot finalize" },
    failed: true,
  });
  assert.ok(!("retryAfterMs" in response));
});

Deno.test("failableHandler: without finalize, finalizing succeeds", async () => {
  const { finalize: _, ...withoutFinalize } = steps();
  const handler = failableHandler(withoutFinalize);
  assert.deepEqual(await handler.finalize(syncRequest(parent("a"))), {
    status: { kind: "finalizeSucceeded" },
  });
});

Deno.test("failableHandler: errors from status are not caught", async () => {
  const handler = failableHandler<Parent, number, Status>({
    ...steps(),
    status() {
      throw new Error("status broke");
    },
  });
  await assert.rejects(() => sync(handler, parent("a", { size: 1 })), /status broke/);
  await assert.rejects(() => sync(handler, parent("a")), /status broke/);
});

Deno.test("failableHandler: methods run on the implementation object", async () => {
  class Impl implements FailableHandler<Parent, number, string> {
    prefix = "size:";
    validate(): number {
      return 1;
    }
    syncChildren(): KubernetesObject[] {
      return [];
    }
    status(_request: SyncRequest<Parent>, result: HandlerResult<number>): string {
      return result.kind === "syncSucceeded" ? `${this.prefix}${result.value}` : "failed";
    }
  }
  const response = await sync(failableHandler(new Impl()), parent("a"));
  assert.equal(response.status, "size:1");
});

Deno.test("failableHandler: rejects bad options", () => {
  assert.throws(() => failableHandler(steps(), { regularResyncMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot build failable handler: regularResyncMs must be a finite number of at least 0, got -1",
  });
  assert.throws(
    () => failableHandler(steps(), { onErrorChildren: "drop" as "keep" }),
    /onErrorChildren must be "keep" or "delete", got "drop"/,
  );
  assert.throws(() => failableHandler(steps(), { backoff: { multiplier: 0 } }), RangeError);
});

Deno.test("failableHandler: passes through normalizeHandler", async () => {
  const handler = normalizeHandler(failableHandler(steps(), noJitter));
  const response = await handler.sync(syncRequest(parent("a", { size: 1 })));
  assert.equal(response.children.length, 1);
  const failed = await handler.finalize(syncRequest(parent("a", { fail: "finalize" })));
  assert.equal(failed.retryAfterMs, 500);
});

// normalizeHandler and syncRequest (handler.ts) are exercised here too.

Deno.test("normalizeHandler: a function", async () => {
  const handler = normalizeHandler(({ parent }) => ({
    status: { name: parent.metadata?.name },
    children: [],
  }));
  const request = syncRequest({ metadata: { name: "a" } });
  assert.deepEqual(await handler.sync(request), { status: { name: "a" }, children: [] });
  assert.deepEqual(await handler.finalize(request), {});
});

Deno.test("normalizeHandler: an object, with and without finalize, bound to itself", async () => {
  class Handler {
    calls = 0;
    sync(): SyncResponse {
      this.calls++;
      return { children: [], resyncAfterMs: 5 };
    }
    finalize() {
      this.calls++;
      return { retryAfterMs: 10, status: null };
    }
  }
  const impl = new Handler();
  const handler = normalizeHandler(impl);
  const request = syncRequest({ metadata: { name: "a" } });
  assert.deepEqual(await handler.sync(request), { children: [], resyncAfterMs: 5 });
  assert.deepEqual(await handler.finalize(request), { retryAfterMs: 10, status: null });
  assert.equal(impl.calls, 2);
  const syncOnly = normalizeHandler({ sync: () => ({ children: [] }) });
  assert.deepEqual(await syncOnly.finalize(request), {});
});

Deno.test("normalizeHandler: errors thrown by the handler become rejections", async () => {
  const handler = normalizeHandler(() => {
    throw new Error("boom");
  });
  const promise = handler.sync(syncRequest({}));
  assert.ok(promise instanceof Promise);
  await assert.rejects(promise, /boom/);
});

Deno.test("normalizeHandler: malformed responses are rejected", async (t) => {
  const request = syncRequest({});
  const syncCases: [string, unknown, RegExp][] = [
    [
      "undefined",
      undefined,
      /must return \{ status\?, children, resyncAfterMs\? \}, got undefined/,
    ],
    ["null", null, /got null/],
    ["no children", { status: {} }, /children must be an array/],
    ["children not objects", { children: ["pod"] }, /children\[0\] must be an object/],
    ["negative resync", { children: [], resyncAfterMs: -1 }, /resyncAfterMs: must be/],
    ["NaN resync", { children: [], resyncAfterMs: NaN }, /resyncAfterMs/],
  ];
  for (const [description, response, message] of syncCases) {
    await t.step(`sync: ${description}`, async () => {
      const handler = normalizeHandler(() => response as SyncResponse);
      await assert.rejects(handler.sync(request), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^Cannot use sync response/);
        assert.match(error.message, message);
        return true;
      });
    });
  }
  await t.step("finalize: bad retryAfterMs", async () => {
    const handler = normalizeHandler({
      sync: () => ({ children: [] }),
      finalize: () => ({ retryAfterMs: Infinity }),
    });
    await assert.rejects(handler.finalize(request), /Cannot use finalize response: retryAfterMs/);
  });
  await t.step("finalize: not an object", async () => {
    const handler = normalizeHandler({
      sync: () => ({ children: [] }),
      finalize: () => undefined as never,
    });
    await assert.rejects(handler.finalize(request), /Cannot use finalize response/);
  });
});

Deno.test("normalizeHandler: rejects things that are not handlers", () => {
  for (const bad of [undefined, null, 42, {}, { sync: "no" }]) {
    assert.throws(() => normalizeHandler(bad as never), {
      name: "TypeError",
      message: "Cannot use handler: expected a sync function or an object with a sync method",
    });
  }
  assert.throws(
    () => normalizeHandler({ sync: () => ({ children: [] }), finalize: 1 } as never),
    /finalize must be a method/,
  );
});

Deno.test("syncRequest: builds children and keeps the signal", () => {
  const controller = new AbortController();
  const request = syncRequest(parent("a"), existing, { signal: controller.signal });
  assert.ok(request.children instanceof Children);
  assert.equal(request.children.size, 1);
  assert.equal(request.signal, controller.signal);
  const children = new Children(existing);
  assert.equal(syncRequest(parent("a"), children).children, children);
  assert.equal(syncRequest(parent("a")).children.size, 0);
  const unsignalled = syncRequest(parent("a")).signal;
  assert.ok(
    unsignalled instanceof AbortSignal && !unsignalled.aborted,
    "a signal that never aborts",
  );
});
