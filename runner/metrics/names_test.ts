import assert from "node:assert/strict";
import { Counter } from "./counter.ts";
import { Gauge } from "./gauge.ts";

Deno.test("metric and label names are validated", () => {
  for (const name of ["", "1abc", "a-b", "a b", "é", "a.b"]) {
    assert.throws(
      () => new Counter(name, "x"),
      (error: unknown) =>
        error instanceof TypeError && error.message.startsWith("Cannot create metric"),
      name,
    );
  }
  for (const name of ["abc", "_a", "a:b", ":x", "A_9"]) new Counter(name, "ok");
  for (const label of ["", "1a", "a-b", "__reserved", "a:b"]) {
    assert.throws(() => new Gauge("g", "G.", [label]), TypeError, label);
  }
  assert.throws(() => new Gauge("g", "G.", ["a", "a"]), /label name "a" is repeated/);
});
