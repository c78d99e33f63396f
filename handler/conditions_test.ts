import assert from "node:assert/strict";
import { findCondition, mergeConditions } from "./conditions.ts";

const t0 = new Date("2026-01-01T00:00:00.000Z");
const t1 = new Date("2026-01-01T00:05:00.000Z");

Deno.test("mergeConditions() stamps new conditions with the current time, without milliseconds", () => {
  const result = mergeConditions(
    undefined,
    [{ type: "Ready", status: "False", reason: "Waiting" }],
    {
      now: t0,
    },
  );
  assert.deepEqual(result, [{
    type: "Ready",
    status: "False",
    reason: "Waiting",
    lastTransitionTime: "2026-01-01T00:00:00Z",
  }]);
});

Deno.test("mergeConditions() keeps lastTransitionTime while the status is unchanged", () => {
  const first = mergeConditions([], [{ type: "Ready", status: "False", reason: "Waiting" }], {
    now: t0,
  });
  const again = mergeConditions(first, [{
    type: "Ready",
    status: "False",
    reason: "StillWaiting",
    message: "x",
  }], {
    now: t1,
  });
  assert.equal(again[0]?.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(again[0]?.reason, "StillWaiting");
  const flipped = mergeConditions(again, [{ type: "Ready", status: "True", reason: "Running" }], {
    now: t1,
  });
  assert.equal(flipped[0]?.lastTransitionTime, "2026-01-01T00:05:00Z");
});

Deno.test("mergeConditions() sorts by type, drops conditions no longer computed, refuses duplicates", () => {
  const result = mergeConditions(
    [{ type: "Old", status: "True", reason: "X", lastTransitionTime: "2025-01-01T00:00:00Z" }],
    [{ type: "Ready", status: "True", reason: "A" }, {
      type: "Available",
      status: "True",
      reason: "B",
    }],
    { now: t0 },
  );
  assert.deepEqual(result.map((c) => c.type), ["Available", "Ready"]);
  assert.equal(findCondition(result, "Old"), undefined);
  assert.equal(findCondition(result, "Ready")?.reason, "A");
  assert.throws(
    () =>
      mergeConditions([], [{ type: "A", status: "True", reason: "x" }, {
        type: "A",
        status: "False",
        reason: "y",
      }]),
    /type "A" appears twice/,
  );
});
