import assert from "node:assert/strict";
import { WorkQueue } from "./work_queue.ts";
import type { WorkQueueObserver, WorkQueueOptions, WorkResult } from "./work_queue_options.ts";
import { sleep } from "../client/_util.ts";

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `predicate` every millisecond until it holds, failing after `timeoutMs`. */
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Recorder {
  queue: WorkQueue;
  /** Keys in the order their runs started. */
  starts: string[];
  errorBackoffCalls: string[];
  resetBackoffCalls: string[];
  forgetBackoffCalls: string[];
  events: string[];
}

/** A queue whose backoff hooks and observer record what they see. */
function recordingQueue(
  process: WorkQueueOptions["process"],
  options: Partial<Omit<WorkQueueOptions, "process">> & { backoffMs?: number } = {},
): Recorder {
  const rec: Omit<Recorder, "queue"> = {
    starts: [],
    errorBackoffCalls: [],
    resetBackoffCalls: [],
    forgetBackoffCalls: [],
    events: [],
  };
  const observer: WorkQueueObserver = {
    onAdd: (key) => rec.events.push(`add ${key}`),
    onStart: (key) => {
      rec.starts.push(key);
      rec.events.push(`start ${key}`);
    },
    onDone: (key, ok) => rec.events.push(`done ${key} ${ok}`),
    onRetry: (key, delayMs) => rec.events.push(`retry ${key} ${delayMs}`),
  };
  const queue = new WorkQueue({
    concurrency: 1,
    errorBackoff: (key) => {
      rec.errorBackoffCalls.push(key);
      return options.backoffMs ?? 5;
    },
    resetBackoff: (key) => void rec.resetBackoffCalls.push(key),
    forgetBackoff: (key) => void rec.forgetBackoffCalls.push(key),
    observer,
    ...options,
    process,
  });
  return { queue, ...rec };
}

const OK: WorkResult = { ok: true };

// ── construction and arguments ──────────────────────────────────────────────────────────────

Deno.test("WorkQueue: concurrency must be an integer ≥ 1 or Infinity", () => {
  const base = {
    process: () => Promise.resolve(OK),
    errorBackoff: () => 1,
    resetBackoff: () => {},
  };
  for (const concurrency of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => new WorkQueue({ ...base, concurrency }),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith("Cannot create work queue:"),
      String(concurrency),
    );
  }
  new WorkQueue({ ...base, concurrency: 1 });
  new WorkQueue({ ...base, concurrency: Infinity });
});

Deno.test("WorkQueue: addAfter rejects NaN and infinite delays; a delay ≤ 0 is an add", async () => {
  const { queue, starts } = recordingQueue(() => Promise.resolve(OK));
  assert.throws(() => queue.addAfter("a", Number.NaN), /Cannot schedule key "a"/);
  assert.throws(() => queue.addAfter("a", Infinity), RangeError);
  queue.addAfter("a", 0);
  queue.addAfter("b", -5);
  assert.equal(queue.pendingTimers, 0);
  await queue.onIdle();
  assert.deepEqual(starts, ["a", "b"]);
  await queue.shutdown();
});

// ── de-duplication and dirty re-runs ───────────────────────────────────────────────────────────

Deno.test("WorkQueue: many adds of a queued key give one run", async () => {
  const gate = deferred();
  const calls: string[] = [];
  const { queue, events } = recordingQueue(async (key) => {
    calls.push(key);
    if (key === "blocker") await gate.promise;
    return OK;
  });
  queue.add("blocker");
  await waitFor(() => calls.length === 1, "the blocker to start");
  for (let i = 0; i < 1_000; i++) queue.add("a");
  for (let i = 0; i < 1_000; i++) queue.add("b");
  assert.equal(queue.depth, 2);
  assert.equal(queue.running, 1);
  gate.resolve();
  await queue.onIdle();
  assert.deepEqual(calls, ["blocker", "a", "b"]);
  assert.deepEqual(events.filter((e) => e.startsWith("add")), ["add blocker", "add a", "add b"]);
  assert.equal(queue.depth, 0);
  assert.equal(queue.running, 0);
  await queue.shutdown();
});

Deno.test("WorkQueue: adds while a key runs mark it dirty: exactly one more run, after the first", async () => {
  const gates = [deferred(), deferred()];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const { queue } = recordingQueue(async (key) => {
    assert.equal(key, "a");
    const gate = gates[runs++];
    active++;
    maxActive = Math.max(maxActive, active);
    await gate?.promise;
    active--;
    return OK;
  }, { concurrency: 4 });
  queue.add("a");
  await waitFor(() => runs === 1, "the first run");
  for (let i = 0; i < 50; i++) queue.add("a");
  assert.equal(queue.depth, 0, "a dirty key is not queued while it runs");
  assert.equal(queue.running, 1);
  await sleep(5);
  assert.equal(runs, 1, "no second run while the first is in progress");
  gates[0]!.resolve();
  await waitFor(() => runs === 2, "the dirty re-run");
  for (let i = 0; i < 10; i++) queue.add("a");
  gates[1]!.resolve();
  await queue.onIdle();
  assert.equal(runs, 3, "adds during the second run give exactly one third run");
  assert.equal(maxActive, 1);
  await queue.shutdown();
});

Deno.test("WorkQueue: never two runs of one key at once, and never more than `concurrency` runs", async () => {
  const random = prng(42);
  const keys = Array.from({ length: 12 }, (_, i) => `ns/key-${i}`);
  const activeKeys = new Set<string>();
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let violations = 0;
  let queue: WorkQueue | undefined = undefined;
  queue = new WorkQueue({
    concurrency: 4,
    errorBackoff: () => 1 + Math.floor(random() * 3),
    resetBackoff: () => {},
    process: async (key) => {
      if (activeKeys.has(key)) violations++;
      activeKeys.add(key);
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      try {
        // Re-adding keys from inside a run exercises the dirty path.
        if (random() < 0.3) queue!.add(keys[Math.floor(random() * keys.length)]!);
        await sleep(Math.floor(random() * 4));
        const roll = random();
        if (roll < 0.1) throw new Error("boom");
        if (roll < 0.2) return { ok: false };
        if (roll < 0.3) return { ok: true, requeueAfterMs: 1 + Math.floor(random() * 3) };
        return OK;
      } finally {
        active--;
        activeKeys.delete(key);
      }
    },
  });
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 25; i++) queue.add(keys[Math.floor(random() * keys.length)]!);
    assert.ok(queue.running <= 4);
    await sleep(Math.floor(random() * 3));
  }
  await queue.onIdle();
  assert.equal(violations, 0, "a key ran twice at once");
  assert.ok(maxActive <= 4, `max concurrency ${maxActive} exceeds 4`);
  assert.equal(maxActive, 4, "the concurrency bound is used");
  assert.ok(runs >= keys.length, `only ${runs} runs`);
  assert.deepEqual(await queue.shutdown(), { drained: true });
  assert.equal(queue.pendingTimers, 0);
});

// ── retries, backoff, requeue ──────────────────────────────────────────────────────────────────

Deno.test("WorkQueue: a failed run is retried after errorBackoff(key); success resets the backoff", async () => {
  const done = deferred();
  let attempt = 0;
  const startTimes: number[] = [];
  const { queue, errorBackoffCalls, resetBackoffCalls, events } = recordingQueue(() => {
    startTimes.push(performance.now());
    attempt++;
    if (attempt === 3) done.resolve();
    return Promise.resolve({ ok: attempt >= 3 });
  }, { backoffMs: 15 });
  queue.add("a");
  await done.promise;
  await queue.onIdle();
  assert.deepEqual(errorBackoffCalls, ["a", "a"]);
  assert.deepEqual(resetBackoffCalls, ["a"]);
  assert.deepEqual(events, [
    "add a",
    "start a",
    "done a false",
    "retry a 15",
    "add a",
    "start a",
    "done a false",
    "retry a 15",
    "add a",
    "start a",
    "done a true",
  ]);
  for (let i = 1; i < startTimes.length; i++) {
    const gap = startTimes[i]! - startTimes[i - 1]!;
    assert.ok(gap >= 14, `retry ${i} came after ${gap.toFixed(1)} ms, before the 15 ms backoff`);
  }
  assert.equal(queue.pendingTimers, 0);
  await queue.shutdown();
});

Deno.test("WorkQueue: a thrown or rejected process counts as a failure and is retried", async () => {
  const errors: unknown[] = [];
  let attempt = 0;
  const finished = deferred();
  const queue = new WorkQueue({
    concurrency: 2,
    errorBackoff: () => 2,
    resetBackoff: () => {},
    observer: {
      onDone: (_key, ok, _ms, error) => {
        if (!ok) errors.push(error);
        else finished.resolve();
      },
    },
    // Not async: the first call throws synchronously, the second rejects.
    process: (key) => {
      attempt++;
      if (attempt === 1) throw new Error(`sync ${key}`);
      if (attempt === 2) return Promise.reject(new TypeError(`async ${key}`));
      if (attempt === 3) return Promise.resolve({ ok: false });
      return Promise.resolve(OK);
    },
  });
  queue.add("x");
  await finished.promise;
  assert.equal(attempt, 4);
  assert.equal(errors.length, 3);
  assert.ok(errors[0] instanceof Error && errors[0].message === "sync x");
  assert.ok(errors[1] instanceof TypeError && errors[1].message === "async x");
  assert.equal(errors[2], undefined, "a plain { ok: false } has no error");
  await queue.shutdown();
});

Deno.test("WorkQueue: a malformed result counts as a failure", async () => {
  let attempt = 0;
  const { queue, errorBackoffCalls, resetBackoffCalls } = recordingQueue(() => {
    attempt++;
    return Promise.resolve((attempt === 1 ? undefined : OK) as unknown as WorkResult);
  }, { backoffMs: 1 });
  queue.add("a");
  await waitFor(() => attempt === 2, "the retry");
  await queue.onIdle();
  assert.deepEqual(errorBackoffCalls, ["a"]);
  assert.deepEqual(resetBackoffCalls, ["a"]);
  await queue.shutdown();
});

Deno.test("WorkQueue: errorBackoff returning Infinity gives up until the next add", async () => {
  let runs = 0;
  const { queue, events } = recordingQueue(() => {
    runs++;
    return Promise.resolve({ ok: false });
  }, { backoffMs: Infinity });
  queue.add("a");
  await queue.onIdle();
  assert.equal(queue.pendingTimers, 0);
  assert.equal(events.some((e) => e.startsWith("retry")), false);
  queue.add("a");
  await queue.onIdle();
  assert.equal(runs, 2);
  await queue.shutdown();
});

Deno.test("WorkQueue: requeueAfterMs runs the key again after the delay", async () => {
  const startTimes: number[] = [];
  const second = deferred();
  const { queue, resetBackoffCalls } = recordingQueue(() => {
    startTimes.push(performance.now());
    if (startTimes.length === 2) second.resolve();
    return Promise.resolve(startTimes.length === 1 ? { ok: true, requeueAfterMs: 30 } : OK);
  });
  queue.add("a");
  await queue.onIdle();
  assert.equal(queue.pendingTimers, 1, "the requeue timer is pending");
  assert.equal(startTimes.length, 1);
  await second.promise;
  await queue.onIdle();
  const gap = startTimes[1]! - startTimes[0]!;
  assert.ok(gap >= 29, `requeued after ${gap.toFixed(1)} ms, before 30 ms`);
  assert.deepEqual(resetBackoffCalls, ["a", "a"]);
  assert.equal(queue.pendingTimers, 0);
  await queue.shutdown();
});

Deno.test("WorkQueue: requeueAfterMs is ignored on failure, and when not a finite number ≥ 0", async () => {
  let runs = 0;
  const { queue, errorBackoffCalls } = recordingQueue(() => {
    runs++;
    if (runs === 1) return Promise.resolve({ ok: false, requeueAfterMs: 1 });
    if (runs === 2) return Promise.resolve({ ok: true, requeueAfterMs: -1 });
    return Promise.resolve({ ok: true, requeueAfterMs: Number.NaN });
  }, { backoffMs: Infinity });
  queue.add("a");
  await queue.onIdle();
  assert.deepEqual(errorBackoffCalls, ["a"]);
  assert.equal(queue.pendingTimers, 0, "a failed run's requeueAfterMs is not honoured");
  queue.add("a");
  await queue.onIdle();
  queue.add("a");
  await queue.onIdle();
  assert.equal(runs, 3);
  assert.equal(queue.pendingTimers, 0);
  await queue.shutdown();
});

// ── timers ────────────────────────────────────────────────────────────────────────────────────

Deno.test("WorkQueue: the earlier schedule wins over a later one", async () => {
  const starts: number[] = [];
  const { queue } = recordingQueue(() => {
    starts.push(performance.now());
    return Promise.resolve(OK);
  });
  const t0 = performance.now();
  queue.addAfter("a", 10_000);
  queue.addAfter("a", 20);
  queue.addAfter("a", 5_000);
  assert.equal(queue.pendingTimers, 1);
  await waitFor(() => starts.length === 1, "the 20 ms timer");
  assert.ok(starts[0]! - t0 >= 19, `ran after ${(starts[0]! - t0).toFixed(1)} ms`);
  await queue.onIdle();
  assert.equal(queue.pendingTimers, 0, "the later schedules were dropped");
  await queue.shutdown();
});

Deno.test("WorkQueue: an immediate add cancels no timer but runs first", async () => {
  const starts: number[] = [];
  const { queue } = recordingQueue(() => {
    starts.push(performance.now());
    return Promise.resolve(OK);
  });
  const t0 = performance.now();
  queue.addAfter("a", 60);
  queue.add("a");
  await queue.onIdle();
  assert.equal(starts.length, 1, "the add ran at once");
  assert.equal(queue.pendingTimers, 1, "the timer survived the add and the run");
  await waitFor(() => starts.length === 2, "the timer run");
  assert.ok(starts[1]! - t0 >= 59);
  await queue.onIdle();
  assert.equal(queue.pendingTimers, 0);
  await queue.shutdown();
});

Deno.test("WorkQueue: a timer that fires while its key runs marks it dirty", async () => {
  const gate = deferred();
  let runs = 0;
  const { queue } = recordingQueue(async () => {
    runs++;
    if (runs === 1) await gate.promise;
    return OK;
  });
  queue.add("a");
  queue.addAfter("a", 5);
  await waitFor(() => queue.pendingTimers === 0, "the timer to fire");
  assert.equal(runs, 1);
  gate.resolve();
  await waitFor(() => runs === 2, "the dirty re-run");
  await queue.onIdle();
  assert.equal(runs, 2);
  await queue.shutdown();
});

Deno.test("WorkQueue: timers of many keys fire in due order through one timer", async () => {
  const { queue, starts } = recordingQueue(() => Promise.resolve(OK), { concurrency: 1 });
  const delays = [40, 10, 30, 20, 50, 15, 25];
  delays.forEach((d, i) => queue.addAfter(`k${i}`, d));
  assert.equal(queue.pendingTimers, delays.length);
  await waitFor(() => starts.length === delays.length, "every timer");
  const expected = delays.map((d, i) => [d, `k${i}`] as const).sort((a, b) => a[0] - b[0]).map((
    x,
  ) => x[1]);
  assert.deepEqual(starts, expected);
  await queue.shutdown();
});

Deno.test("WorkQueue: forget() drops the queued entry, the timer and the backoff", async () => {
  const gate = deferred();
  const { queue, starts, forgetBackoffCalls } = recordingQueue(async (key) => {
    if (key === "blocker") await gate.promise;
    return OK;
  });
  queue.add("blocker");
  queue.add("queued");
  queue.addAfter("timed", 10);
  queue.addAfter("queued", 10);
  assert.equal(queue.depth, 1);
  assert.equal(queue.pendingTimers, 2);
  queue.forget("queued");
  queue.forget("timed");
  queue.forget("never-seen");
  assert.equal(queue.depth, 0);
  assert.equal(queue.pendingTimers, 0);
  assert.deepEqual(forgetBackoffCalls, ["queued", "timed", "never-seen"]);
  await sleep(25);
  gate.resolve();
  await queue.onIdle();
  assert.deepEqual(starts, ["blocker"]);
  // A forgotten key can come back.
  queue.add("queued");
  await queue.onIdle();
  assert.deepEqual(starts, ["blocker", "queued"]);
  await queue.shutdown();
});

Deno.test("WorkQueue: forget() during a run ignores its result; a later add still re-runs", async () => {
  const gates = [deferred(), deferred()];
  let runs = 0;
  const { queue, errorBackoffCalls, resetBackoffCalls } = recordingQueue(async () => {
    await gates[runs++]!.promise;
    return { ok: false };
  });
  queue.add("a");
  await waitFor(() => runs === 1, "the first run");
  queue.add("a"); // dirty
  queue.forget("a"); // clears the dirty mark
  gates[0]!.resolve();
  await queue.onIdle();
  assert.equal(runs, 1, "the dirty mark was dropped by forget");
  assert.deepEqual(errorBackoffCalls, [], "the forgotten run's failure is ignored");
  assert.equal(queue.pendingTimers, 0);

  queue.add("a");
  await waitFor(() => runs === 2, "the second run");
  queue.forget("a");
  queue.add("a"); // the object came back while the old run was in progress
  gates[1]!.resolve();
  await waitFor(() => runs === 3, "the re-run after the forget");
  await queue.onIdle();
  assert.deepEqual(errorBackoffCalls, ["a"], "only the third run's failure counts");
  assert.deepEqual(resetBackoffCalls, []);
  await queue.shutdown();
});

Deno.test("WorkQueue: forget() of the only timer clears the OS timer (no shutdown needed)", () => {
  const queue = new WorkQueue({
    concurrency: 1,
    process: () => Promise.resolve(OK),
    errorBackoff: () => 1,
    resetBackoff: () => {},
  });
  queue.addAfter("a", 60_000);
  queue.addAfter("b", 30_000);
  queue.forget("b");
  queue.forget("a");
  assert.equal(queue.pendingTimers, 0);
  // The test sanitizer fails this test if a timer is still armed.
});

Deno.test("WorkQueue: thousands of rescheduled timers keep pendingTimers exact", async () => {
  const { queue } = recordingQueue(() => Promise.resolve(OK));
  for (let i = 0; i < 5_000; i++) {
    queue.addAfter(`k${i % 100}`, 60_000 - i);
  }
  assert.equal(queue.pendingTimers, 100);
  for (let i = 0; i < 50; i++) queue.forget(`k${i}`);
  assert.equal(queue.pendingTimers, 50);
  assert.deepEqual(await queue.shutdown(), { drained: true });
  assert.equal(queue.pendingTimers, 0);
});

// ── fairness and bursts ────────────────────────────────────────────────────────────────────────

Deno.test("WorkQueue: a hot key that keeps re-adding itself does not starve others", async () => {
  let hotRuns = 0;
  const { queue, starts } = recordingQueue((key) => {
    if (key === "hot" && ++hotRuns < 20) queue.add("hot");
    return Promise.resolve(OK);
  });
  queue.add("hot");
  queue.add("cold-1");
  queue.add("cold-2");
  await queue.onIdle();
  assert.deepEqual(starts.slice(0, 4), ["hot", "cold-1", "cold-2", "hot"]);
  assert.equal(hotRuns, 20);
  await queue.shutdown();
});

Deno.test("WorkQueue: a burst of 10,000 keys runs once each, in FIFO order, within the bound", async () => {
  const random = prng(7);
  let active = 0;
  let maxActive = 0;
  const seen = new Map<string, number>();
  const { queue, starts } = recordingQueue(async (key) => {
    active++;
    maxActive = Math.max(maxActive, active);
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (random() < 0.05) await sleep(1);
    else await Promise.resolve();
    active--;
    return OK;
  }, { concurrency: 8 });

  queue.add("early");
  const keys = Array.from({ length: 10_000 }, (_, i) => `ns/obj-${i}`);
  const t0 = performance.now();
  for (const key of keys) queue.add(key);
  assert.equal(queue.running, 8);
  assert.equal(queue.depth, 10_001 - 8);
  // Adds of queued keys are absorbed. (The 7 running keys are left alone: an add would mark them
  // dirty and give them a second run.)
  for (const key of keys.slice(7)) queue.add(key);
  const addMs = performance.now() - t0;
  assert.ok(addMs < 1_000, `about 20,000 adds took ${addMs.toFixed(0)} ms`);
  assert.equal(queue.depth, 10_001 - 8);

  await queue.onIdle();
  assert.equal(starts[0], "early");
  assert.deepEqual(starts, ["early", ...keys], "keys start in the order they were added");
  assert.equal(seen.size, 10_001);
  assert.ok([...seen.values()].every((n) => n === 1));
  assert.ok(maxActive <= 8, `max concurrency ${maxActive}`);
  assert.equal(maxActive, 8);
  await queue.shutdown();
});

// ── observer ──────────────────────────────────────────────────────────────────────────────────

Deno.test("WorkQueue: observer hooks get queue and run times from the injected clock", async () => {
  let now = 1_000;
  const log: Array<[string, ...unknown[]]> = [];
  const gate = deferred();
  const queue = new WorkQueue({
    concurrency: 1,
    now: () => now,
    errorBackoff: () => 25,
    resetBackoff: () => {},
    observer: {
      onAdd: (key) => log.push(["add", key]),
      onStart: (key, queuedMs) => log.push(["start", key, queuedMs]),
      onDone: (key, ok, durationMs) => log.push(["done", key, ok, durationMs]),
      onRetry: (key, delayMs) => log.push(["retry", key, delayMs]),
    },
    process: async (key) => {
      if (key === "a") {
        await gate.promise;
        now += 40; // a takes 40 ms
        return OK;
      }
      now += 5;
      return { ok: false };
    },
  });
  queue.add("a"); // starts at once: queued 0 ms
  now += 10;
  queue.add("b"); // waits behind a: queued from 1010 to 1050
  gate.resolve();
  await queue.onIdle();
  assert.deepEqual(log, [
    ["add", "a"],
    ["start", "a", 0],
    ["add", "b"],
    ["done", "a", true, 50],
    ["start", "b", 40],
    ["done", "b", false, 5],
    ["retry", "b", 25],
  ]);
  assert.equal(queue.pendingTimers, 1);
  await queue.shutdown();
  assert.equal(queue.pendingTimers, 0);
});

Deno.test("WorkQueue: a throwing observer does not break the queue", async () => {
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent): void => {
    reported.push(event.error);
    event.preventDefault();
  };
  globalThis.addEventListener("error", onError);
  try {
    let runs = 0;
    const queue = new WorkQueue({
      concurrency: 1,
      errorBackoff: () => 1,
      resetBackoff: () => {},
      observer: {
        onStart: () => {
          throw new Error("metrics bug");
        },
      },
      process: () => {
        runs++;
        return Promise.resolve(OK);
      },
    });
    queue.add("a");
    queue.add("b");
    await queue.onIdle();
    assert.equal(runs, 2);
    assert.equal(reported.length, 2);
    assert.ok(reported[0] instanceof Error && reported[0].message === "metrics bug");
    await queue.shutdown();
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

// ── idle and shutdown ─────────────────────────────────────────────────────────────────────────

Deno.test("WorkQueue: onIdle() resolves at once when idle, and after the work otherwise", async () => {
  const gate = deferred();
  const { queue } = recordingQueue(async () => {
    await gate.promise;
    return OK;
  });
  await queue.onIdle();
  queue.add("a");
  queue.add("b");
  let idle = false;
  const waiting = queue.onIdle().then(() => idle = true);
  await sleep(5);
  assert.equal(idle, false);
  gate.resolve();
  await waiting;
  assert.equal(idle, true);
  assert.equal(queue.depth + queue.running, 0);
  await queue.shutdown();
});

Deno.test("WorkQueue: shutdown() drains in-flight runs, discards queued keys and cancels timers", async () => {
  const signals: AbortSignal[] = [];
  const completed: string[] = [];
  const { queue, starts } = recordingQueue(async (key, signal) => {
    signals.push(signal);
    await sleep(20);
    completed.push(key);
    return { ok: false }; // no retry may be scheduled while shutting down
  }, { concurrency: 2 });
  queue.add("a");
  queue.add("b");
  queue.add("queued");
  queue.addAfter("timed", 5);
  queue.addAfter("c", 10_000);
  await waitFor(() => signals.length === 2, "two runs");
  const result = await queue.shutdown({ drainTimeoutMs: 5_000 });
  assert.deepEqual(result, { drained: true });
  assert.deepEqual(completed.sort(), ["a", "b"]);
  assert.ok(signals.every((s) => !s.aborted));
  assert.equal(queue.depth, 0);
  assert.equal(queue.running, 0);
  assert.equal(queue.pendingTimers, 0);
  assert.equal(queue.isShuttingDown, true);
  queue.add("late");
  queue.addAfter("late", 1);
  assert.equal(queue.depth + queue.pendingTimers, 0, "work after shutdown is ignored");
  await sleep(10);
  assert.deepEqual(starts.sort(), ["a", "b"]);
  assert.equal(queue.shutdown(), queue.shutdown(), "later calls share the first promise");
});

Deno.test("WorkQueue: shutdown() aborts the runs still going after the drain timeout", async () => {
  const signals = new Map<string, AbortSignal>();
  const outcomes: Array<[string, boolean]> = [];
  const queue = new WorkQueue({
    concurrency: 3,
    errorBackoff: () => 1,
    resetBackoff: () => {},
    observer: { onDone: (key, ok) => outcomes.push([key, ok]) },
    process: (key, signal) => {
      signals.set(key, signal);
      if (key === "fast") return sleep(5).then(() => OK);
      // "slow" ends only when aborted, clearing its own timer.
      return new Promise<WorkResult>((_resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("never")), 60_000);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      });
    },
  });
  queue.add("fast");
  queue.add("slow");
  await waitFor(() => signals.size === 2, "both runs");
  const t0 = performance.now();
  const result = await queue.shutdown({ drainTimeoutMs: 30 });
  const waited = performance.now() - t0;
  assert.deepEqual(result, { drained: false });
  assert.ok(waited >= 29, `gave up after ${waited.toFixed(1)} ms`);
  assert.equal(signals.get("fast")!.aborted, false);
  const slow = signals.get("slow")!;
  assert.equal(slow.aborted, true);
  assert.ok(slow.reason instanceof DOMException && slow.reason.name === "AbortError");
  assert.match(slow.reason.message, /^Cannot finish run of "slow": .*drain timeout of 30 ms/);
  await queue.onIdle();
  assert.deepEqual(outcomes, [["fast", true], ["slow", false]]);
  assert.equal(queue.pendingTimers, 0, "no retry after shutdown");
});

Deno.test("WorkQueue: shutdown() with drainTimeoutMs 0 aborts at once; negative is rejected", async () => {
  let aborted = false;
  const queue = new WorkQueue({
    concurrency: 1,
    errorBackoff: () => 1,
    resetBackoff: () => {},
    process: (_key, signal) =>
      new Promise((resolve) => {
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve({ ok: false });
        }, { once: true });
      }),
  });
  assert.throws(() => queue.shutdown({ drainTimeoutMs: -1 }), RangeError);
  queue.add("a");
  await waitFor(() => queue.running === 1, "the run");
  assert.deepEqual(await queue.shutdown({ drainTimeoutMs: 0 }), { drained: false });
  await queue.onIdle();
  assert.equal(aborted, true);
});

Deno.test("WorkQueue: shutdown() with no runs resolves drained at once", async () => {
  const { queue } = recordingQueue(() => Promise.resolve(OK));
  queue.addAfter("a", 60_000);
  assert.deepEqual(await queue.shutdown({ drainTimeoutMs: Infinity }), { drained: true });
  assert.equal(queue.pendingTimers, 0);
});
