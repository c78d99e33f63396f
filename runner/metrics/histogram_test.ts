import assert from "node:assert/strict";
import { DEFAULT_BUCKETS, exponentialBuckets, Histogram, linearBuckets } from "./histogram.ts";
import { parsePrometheusText } from "../../testkit/prometheus_text.ts";

Deno.test("Histogram: buckets are cumulative and a value on a bound counts in that bucket", () => {
  const histogram = new Histogram("h", "H.", { buckets: [1, 2, 5] });
  for (const value of [0, 1, 1.5, 2, 2.0001, 5, 6, -3, Infinity]) histogram.observe(value);
  const { buckets, sum, count } = histogram.get();
  // ≤1: 0, 1, -3 │ ≤2: +1.5, 2 │ ≤5: +2.0001, 5 │ +Inf: +6, Infinity
  assert.deepEqual(buckets, [3, 5, 7, 9]);
  assert.equal(count, 9);
  assert.equal(sum, Infinity);
  const samples = parsePrometheusText(histogram.render());
  const rendered = samples.filter((s) => s.name === "h_bucket").map((s) => [s.labels.le, s.value]);
  assert.deepEqual(rendered, [["1", 3], ["2", 5], ["5", 7], ["+Inf", 9]]);
  for (let i = 1; i < rendered.length; i++) {
    assert.ok((rendered[i]![1] as number) >= (rendered[i - 1]![1] as number));
  }
  assert.throws(() => histogram.observe(Number.NaN), RangeError);
});

Deno.test("Histogram: default buckets, explicit +Inf, and invalid buckets", () => {
  assert.deepEqual(new Histogram("d", "D.").buckets, DEFAULT_BUCKETS);
  assert.deepEqual(new Histogram("e", "E.", { buckets: [1, 2, Infinity] }).buckets, [1, 2]);
  for (const buckets of [[], [2, 1], [1, 1], [Number.NaN], [1, -Infinity]]) {
    assert.throws(
      () => new Histogram("bad", "Bad.", { buckets }),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith('Cannot create histogram "bad"'),
      `buckets ${JSON.stringify(buckets)}`,
    );
  }
  assert.throws(
    () => new Histogram("h", "H.", { labelNames: ["le"] }),
    /label name "le" is reserved/,
  );
  assert.deepEqual(exponentialBuckets(0.001, 2, 4), [0.001, 0.002, 0.004, 0.008]);
  assert.deepEqual(linearBuckets(1, 0.5, 3), [1, 1.5, 2]);
  assert.throws(() => exponentialBuckets(0, 2, 3), RangeError);
  assert.throws(() => exponentialBuckets(1, 1, 3), RangeError);
  assert.throws(() => linearBuckets(0, 1, 0), RangeError);
});
