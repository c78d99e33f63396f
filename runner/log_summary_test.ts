import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { ApiError, NetworkError } from "../client/errors.ts";
import { errorShape, isTransient, LogSummary } from "./log_summary.ts";

const records: LogRecord[] = [];
const logger = getLogger(["roperator", "log-summary-test"]);

Deno.test.beforeAll(async () => {
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator", "log-summary-test"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
});
Deno.test.afterAll(async () => {
  await reset();
});

function text(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : String(part)).join("");
}

function forbidden(parent: string): string {
  const [ns, name] = parent.split("/");
  return `Cannot sync parent "${parent}": cannot write ConfigMap "${parent}-child": ` +
    `Cannot POST /api/v1/namespaces/${ns}/configmaps: 403 Forbidden: configmaps is forbidden: ` +
    `User "system:serviceaccount:ops:echo" cannot create resource "configmaps" in API group "" ` +
    `in the namespace "${ns}" (${name} attempt 12)`;
}

/** A fake clock and timer: the summary is written when the test says so. */
function fakeTime() {
  let now = 0;
  const timers: Array<{ at: number; run: () => void }> = [];
  return {
    now: () => now,
    setTimer: (run: () => void, ms: number) => {
      const timer = { at: now + ms, run };
      timers.push(timer);
      return () => timers.splice(timers.indexOf(timer) >>> 0, 1);
    },
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers]) {
        if (timer.at <= now) {
          timers.splice(timers.indexOf(timer), 1);
          timer.run();
        }
      }
    },
    get pending() {
      return timers.length;
    },
  };
}

Deno.test("LogSummary: 20 parents failing with the same 403 for a minute log two lines", () => {
  records.length = 0;
  const time = fakeTime();
  const suppressed: number[] = [];
  const summary = new LogSummary(logger, {
    now: time.now,
    setTimer: time.setTimer,
    onSuppressed: (_level, n) => suppressed.push(n),
  });
  const parents = Array.from({ length: 20 }, (_, i) => `team-${i % 3}/echo-${i}`);
  // 150 failures a minute: one every 400 ms, round-robin over the parents.
  for (let i = 0; i < 150; i++) {
    const parent = parents[i % parents.length]!;
    summary.log("error", errorShape(forbidden(parent), [parent, ...parent.split("/")]), {
      message: "sync of {parent} failed: {error}",
      properties: { parent, error: forbidden(parent) },
    });
    time.advance(400);
  }
  assert.equal(records.length, 2, records.map(text).join("\n"));
  assert.equal(records[0]!.level, "error");
  assert.equal(text(records[0]!), `sync of team-0/echo-0 failed: ${forbidden("team-0/echo-0")}`);
  assert.equal(records[1]!.level, "error");
  assert.match(text(records[1]!), /^… and 149 more like it in the last 60 s, the last: sync of/);
  assert.equal(records[1]!.properties.suppressed, 149);
  assert.equal(suppressed.reduce((a, b) => a + b, 0), 149);
  summary.close();
  assert.equal(time.pending, 0);
});

Deno.test("LogSummary: a run ends when it stops; the next occurrence is logged again", () => {
  records.length = 0;
  const time = fakeTime();
  const summary = new LogSummary(logger, { now: time.now, setTimer: time.setTimer });
  const entry = { message: "sync of {parent} failed", properties: { parent: "a" } };
  summary.log("warning", "k", entry);
  time.advance(61_000); // nothing suppressed: no summary
  assert.equal(records.length, 1);
  summary.log("warning", "k", entry);
  summary.log("warning", "k", entry);
  summary.log("warning", "other", entry);
  assert.equal(records.length, 3);
  assert.deepEqual(records.map((r) => r.level), ["warning", "warning", "warning"]);
  // close() writes what is pending, whatever the window.
  summary.close();
  assert.equal(records.length, 4);
  assert.match(text(records[3]!), /^… and 1 more like it in the last 0 s/);
});

Deno.test("LogSummary: a bounded number of runs", () => {
  records.length = 0;
  const time = fakeTime();
  const summary = new LogSummary(logger, { now: time.now, setTimer: time.setTimer, maxRuns: 2 });
  const entry = { message: "x", properties: {} };
  for (const key of ["a", "b", "c", "a"]) summary.log("error", key, entry);
  // "a" was forgotten when "c" came: it is written again.
  assert.equal(records.length, 4);
  summary.close();
});

Deno.test("errorShape: the parent's names and numbers do not matter", () => {
  assert.equal(
    errorShape(forbidden("team-1/echo-7"), ["team-1/echo-7", "team-1", "echo-7"]),
    errorShape(forbidden("prod/web"), ["prod/web", "prod", "web"]),
  );
  assert.notEqual(
    errorShape("cannot create configmaps", []),
    errorShape("cannot create secrets", []),
  );
  // A short name does not eat parts of words.
  assert.equal(errorShape('parent "a" cannot', ["a"]), 'parent "<parent>" cannot');
});

Deno.test("isTransient: network errors, 5xx, 429 and timeouts", () => {
  const request = { method: "GET", path: "/api/v1/configmaps" };
  const api = (status: number) =>
    new ApiError(request, status, { kind: "Status", code: status, message: "x" });
  assert.ok(isTransient(new NetworkError(request, "connection refused")));
  assert.ok(isTransient(new Error("wrapped", { cause: new NetworkError(request, "reset") })));
  assert.ok(isTransient(api(503)));
  assert.ok(isTransient(api(500)));
  assert.ok(isTransient(api(429)));
  assert.ok(isTransient(new DOMException("timed out", "TimeoutError")));
  assert.ok(!isTransient(api(403)));
  assert.ok(!isTransient(api(422)));
  assert.ok(!isTransient(new Error("handler bug")));
});
