import assert from "node:assert/strict";
import { Counter } from "./counter.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./exposition.ts";
import { Registry } from "./registry.ts";
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
