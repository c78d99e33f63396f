import assert from "node:assert/strict";
import { Counter } from "./counter.ts";

Deno.test("Counter: labels are checked, increments must be finite and ≥ 0", () => {
  const counter = new Counter("c_total", "C.", ["a", "b"]);
  counter.inc({ a: "1", b: 2 });
  counter.inc({ b: "2", a: "1" }, 0.5);
  assert.equal(counter.get({ a: "1", b: "2" }), 1.5);
  assert.equal(counter.get({ a: "x", b: "y" }), 0);
  assert.throws(() => counter.inc({ a: "1" }), (error: unknown) =>
    error instanceof TypeError &&
    error.message === 'Cannot use metric "c_total": expected labels {a, b}, got {a}');
  assert.throws(() => counter.inc({ a: "1", b: "2", c: "3" }), TypeError);
  assert.throws(() => counter.inc(), TypeError);
  assert.throws(() => counter.inc({ a: "1", b: "2" }, -1), RangeError);
  assert.throws(() => counter.inc({ a: "1", b: "2" }, Number.NaN), RangeError);
  assert.throws(() => counter.inc({ a: "1", b: "2" }, Infinity), RangeError);
  assert.equal(counter.get({ a: "1", b: "2" }), 1.5);

  const plain = new Counter("p_total", "P.");
  plain.inc();
  plain.inc(2);
  plain.inc(undefined, 3);
  assert.equal(plain.get(), 6);
  assert.throws(() => plain.inc({ a: "1" }), TypeError);
  plain.reset();
  assert.equal(plain.get(), 0);
  assert.match(plain.render(), /^p_total 0$/m);
});
