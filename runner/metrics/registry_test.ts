import assert from "node:assert/strict";
import {
  Counter,
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Gauge,
  Histogram,
  linearBuckets,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "./registry.ts";
import { parsePrometheusText } from "../../testkit/prometheus_text.ts";

Deno.test("Registry.render() writes the text exposition format 0.0.4 (golden)", () => {
  const registry = new Registry();
  const reconciles = registry.counter(
    "roperator_reconcile_total",
    "Reconciles by controller and result.",
    ["controller", "result"],
  );
  const events = registry.counter("roperator_events_received_total", "Watch events received.");
  const depth = registry.gauge("roperator_workqueue_depth", "Keys waiting.", ["controller"]);
  const duration = registry.histogram("roperator_reconcile_seconds", "Reconcile time.", {
    labelNames: ["controller"],
    buckets: [0.1, 1, 10],
  });
  const uptime = registry.histogram("roperator_plain_seconds", "Unlabelled.", { buckets: [1] });

  reconciles.inc({ controller: "echo", result: "success" });
  reconciles.inc({ controller: "echo", result: "success" }, 2);
  reconciles.inc({ controller: "echo", result: "error" });
  events.inc(5);
  depth.set({ controller: "echo" }, 7);
  duration.observe({ controller: "echo" }, 0.05);
  duration.observe({ controller: "echo" }, 0.1);
  duration.observe({ controller: "echo" }, 3);
  duration.observe({ controller: "echo" }, 42);
  uptime.observe(0.5);

  assert.equal(
    registry.render(),
    `# HELP roperator_reconcile_total Reconciles by controller and result.
# TYPE roperator_reconcile_total counter
roperator_reconcile_total{controller="echo",result="success"} 3
roperator_reconcile_total{controller="echo",result="error"} 1
# HELP roperator_events_received_total Watch events received.
# TYPE roperator_events_received_total counter
roperator_events_received_total 5
# HELP roperator_workqueue_depth Keys waiting.
# TYPE roperator_workqueue_depth gauge
roperator_workqueue_depth{controller="echo"} 7
# HELP roperator_reconcile_seconds Reconcile time.
# TYPE roperator_reconcile_seconds histogram
roperator_reconcile_seconds_bucket{controller="echo",le="0.1"} 2
roperator_reconcile_seconds_bucket{controller="echo",le="1"} 2
roperator_reconcile_seconds_bucket{controller="echo",le="10"} 3
roperator_reconcile_seconds_bucket{controller="echo",le="+Inf"} 4
roperator_reconcile_seconds_sum{controller="echo"} 45.15
roperator_reconcile_seconds_count{controller="echo"} 4
# HELP roperator_plain_seconds Unlabelled.
# TYPE roperator_plain_seconds histogram
roperator_plain_seconds_bucket{le="1"} 1
roperator_plain_seconds_bucket{le="+Inf"} 1
roperator_plain_seconds_sum 0.5
roperator_plain_seconds_count 1
`,
  );
  assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("render() writes unlabelled metrics at zero and labelled ones without series as headers only", () => {
  const registry = new Registry();
  registry.counter("a_total", "A.");
  registry.gauge("b", "B.", ["x"]);
  registry.histogram("c", "C.", { buckets: [1, 2] });
  assert.equal(
    registry.render(),
    `# HELP a_total A.
# TYPE a_total counter
a_total 0
# HELP b B.
# TYPE b gauge
# HELP c C.
# TYPE c histogram
c_bucket{le="1"} 0
c_bucket{le="2"} 0
c_bucket{le="+Inf"} 0
c_sum 0
c_count 0
`,
  );
  assert.equal(new Registry().render(), "");
});

Deno.test("render() escapes label values (backslash, quote, newline) and help text", () => {
  const registry = new Registry();
  const counter = registry.counter(
    "escapes_total",
    'Help with a \\ backslash,\na newline and "quotes".',
    [
      "path",
    ],
  );
  counter.inc({ path: 'C:\\DIR\\FILE.TXT "x"\nnext' });
  assert.equal(
    registry.render(),
    `# HELP escapes_total Help with a \\\\ backslash,\\na newline and "quotes".
# TYPE escapes_total counter
escapes_total{path="C:\\\\DIR\\\\FILE.TXT \\"x\\"\\nnext"} 1
`,
  );
  const [sample] = parsePrometheusText(registry.render());
  assert.deepEqual(sample, {
    name: "escapes_total",
    labels: { path: 'C:\\DIR\\FILE.TXT "x"\nnext' },
    value: 1,
  });
});

Deno.test("render() writes special values as +Inf, -Inf and NaN", () => {
  const registry = new Registry();
  const gauge = registry.gauge("g", "G.", ["k"]);
  gauge.set({ k: "pos" }, Infinity);
  gauge.set({ k: "neg" }, -Infinity);
  gauge.set({ k: "nan" }, Number.NaN);
  gauge.set({ k: "big" }, 1e21);
  gauge.set({ k: "small" }, -0.000001);
  assert.equal(
    registry.render(),
    `# HELP g G.
# TYPE g gauge
g{k="pos"} +Inf
g{k="neg"} -Inf
g{k="nan"} NaN
g{k="big"} 1e+21
g{k="small"} -0.000001
`,
  );
});

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

Deno.test("Gauge: set, inc, dec and a collect callback run at render time", () => {
  const gauge = new Gauge("g", "G.");
  gauge.set(10);
  gauge.inc();
  gauge.inc(4);
  gauge.dec(2);
  gauge.dec();
  assert.equal(gauge.get(), 12);

  let depth = 3;
  let calls = 0;
  const registry = new Registry();
  const collected = registry.gauge("queue_depth", "Depth.", {
    labelNames: ["queue"],
    collect: (g) => {
      calls++;
      g.reset();
      g.set({ queue: "q" }, depth);
    },
  });
  assert.equal(collected.get({ queue: "q" }), 0, "collect does not run before a render");
  assert.match(registry.render(), /^queue_depth\{queue="q"\} 3$/m);
  depth = 9;
  assert.match(registry.render(), /^queue_depth\{queue="q"\} 9$/m);
  assert.equal(calls, 2);
  const labelled = new Gauge("l", "L.", ["x"]);
  labelled.inc({ x: "a" }, 2);
  labelled.dec({ x: "a" });
  labelled.set({ x: "b" }, -4);
  assert.equal(labelled.get({ x: "a" }), 1);
  assert.equal(labelled.get({ x: "b" }), -4);
  assert.equal(labelled.remove({ x: "b" }), true);
  assert.equal(labelled.remove({ x: "b" }), false);
});

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

Deno.test("Registry: identical re-registration is shared, clashes throw", () => {
  const registry = new Registry();
  const a = registry.counter("x_total", "X.", ["k"]);
  assert.equal(registry.counter("x_total", "X.", ["k"]), a);
  assert.equal(registry.get("x_total"), a);
  assert.throws(
    () => registry.counter("x_total", "X.", ["other"]),
    /Cannot register metric "x_total"/,
  );
  assert.throws(() => registry.gauge("x_total", "X.", ["k"]), TypeError);
  const h = registry.histogram("lat", "Lat.", { buckets: [1, 2] });
  assert.equal(registry.histogram("lat", "Lat.", { buckets: [1, 2, Infinity] }), h);
  assert.throws(() => registry.histogram("lat", "Lat.", { buckets: [1, 3] }), TypeError);
  assert.throws(
    () => registry.counter("lat_sum", "Clash."),
    /the name "lat_sum" is already used by metric "lat"/,
  );
  registry.counter("other_count", "Other.");
  assert.throws(() => registry.histogram("other", "Other."), /"other_count" is already used/);
  const g = registry.gauge("gg", "G.");
  assert.equal(registry.gauge("gg", "G."), g);
  assert.throws(() => registry.gauge("gg", "G.", { collect: () => {} }), TypeError);
  assert.equal(registry.unregister("lat"), true);
  assert.equal(registry.unregister("lat"), false);
  registry.counter("lat_sum", "Now free.");
  const standalone = new Counter("standalone_total", "S.");
  registry.register(standalone);
  assert.throws(() => registry.register(new Counter("standalone_total", "S.")), TypeError);
});

Deno.test("Registry.removeSeries() drops the series of a deleted parent from every metric", () => {
  const registry = new Registry();
  const syncs = registry.counter("syncs_total", "Syncs.", ["namespace", "name"]);
  const errors = registry.counter("sync_errors_total", "Errors.", ["namespace", "name", "kind"]);
  const time = registry.histogram("sync_seconds", "Time.", {
    labelNames: ["name", "namespace"],
    buckets: [1],
  });
  const cached = registry.gauge("cached", "Cached.", ["kind"]);
  const total = registry.counter("all_total", "All.");
  for (const name of ["a", "b"]) {
    syncs.inc({ namespace: "ns", name });
    errors.inc({ namespace: "ns", name, kind: "x" });
    errors.inc({ namespace: "ns", name, kind: "y" });
    time.observe({ namespace: "ns", name }, 0.5);
  }
  syncs.inc({ namespace: "other", name: "a" });
  cached.set({ kind: "Pod" }, 3);
  total.inc();

  assert.equal(registry.removeSeries({ namespace: "ns", name: "a" }), 4);
  assert.equal(syncs.get({ namespace: "ns", name: "a" }), 0);
  assert.equal(syncs.get({ namespace: "ns", name: "b" }), 1);
  assert.equal(syncs.get({ namespace: "other", name: "a" }), 1);
  assert.equal(errors.get({ namespace: "ns", name: "b", kind: "y" }), 1);
  assert.equal(time.get({ namespace: "ns", name: "a" }).count, 0);
  assert.equal(time.get({ namespace: "ns", name: "b" }).count, 1);
  assert.equal(cached.get({ kind: "Pod" }), 3);
  assert.equal(total.get(), 1);
  const text = registry.render();
  assert.doesNotMatch(text, /namespace="ns",name="a"/);
  assert.doesNotMatch(text, /name="a",namespace="ns"/);
  assert.match(text, /name="b",namespace="ns"/);
  assert.equal(registry.removeSeries({ namespace: "ns", name: "a" }), 0);
  assert.throws(() => registry.removeSeries({}), RangeError);
});
