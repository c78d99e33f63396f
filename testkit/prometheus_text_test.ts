import assert from "node:assert/strict";
import { Registry } from "../runner/metrics/registry.ts";
import { parsePrometheusText, type PrometheusSample } from "./prometheus_text.ts";

Deno.test("parsePrometheusText() round-trips what render() writes", () => {
  const registry = new Registry();
  const counter = registry.counter("rt_total", "RT.", ["k"]);
  const gauge = registry.gauge("rt_gauge", "RT gauge.", ["k"]);
  const histogram = registry.histogram("rt_seconds", "RT time.", { buckets: [1e-7, 0.5] });
  const values = ["plain", 'quo"te', "back\\slash", "new\nline", "", "ünïcødé {}=,"];
  values.forEach((k, i) => counter.inc({ k }, i + 1));
  gauge.set({ k: "inf" }, Infinity);
  gauge.set({ k: "-inf" }, -Infinity);
  gauge.set({ k: "nan" }, Number.NaN);
  gauge.set({ k: "tiny" }, 1.5e-12);
  gauge.set({ k: "huge" }, 1e21);
  histogram.observe(undefined, 0.25);

  const samples = parsePrometheusText(registry.render());
  const byName = (name: string): PrometheusSample[] => samples.filter((s) => s.name === name);
  assert.deepEqual(
    byName("rt_total").map((s) => [s.labels.k, s.value]),
    values.map((k, i) => [k, i + 1]),
  );
  assert.deepEqual(
    byName("rt_gauge").map((s) => [s.labels.k, s.value]),
    [["inf", Infinity], ["-inf", -Infinity], ["nan", Number.NaN], ["tiny", 1.5e-12], [
      "huge",
      1e21,
    ]],
  );
  assert.deepEqual(
    byName("rt_seconds_bucket").map((s) => [s.labels.le, s.value]),
    [["1e-7", 0], ["0.5", 1], ["+Inf", 1]],
  );
  assert.deepEqual(byName("rt_seconds_sum"), [{ name: "rt_seconds_sum", labels: {}, value: 0.25 }]);
  assert.equal(samples.length, values.length + 5 + 5);
});

/**
 * Lines copied from a real kube-apiserver v1.36.3 `GET /metrics`, trimmed: a counter without labels,
 * a histogram whose bounds are written like `1e-05`, `apiserver_request_total` and a sum written
 * like `1.29e-06`.
 */
const APISERVER_METRICS =
  `# HELP aggregator_discovery_aggregation_count_total [ALPHA] Counter of number of times discovery was aggregated
# TYPE aggregator_discovery_aggregation_count_total counter
aggregator_discovery_aggregation_count_total 0
# HELP apiextensions_apiserver_validation_ratcheting_seconds [ALPHA] Time for comparison of old to new for the purposes of CRDValidationRatcheting during an UPDATE in seconds.
# TYPE apiextensions_apiserver_validation_ratcheting_seconds histogram
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="1e-05"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="4e-05"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.00016"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.00064"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.00256"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.01024"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.04096"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.16384"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="0.65536"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="2.62144"} 0
apiextensions_apiserver_validation_ratcheting_seconds_bucket{le="+Inf"} 0
apiextensions_apiserver_validation_ratcheting_seconds_sum 0
apiextensions_apiserver_validation_ratcheting_seconds_count 0
# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="LIST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="GET",version="v1"} 15
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="404",component="apiserver",dry_run="",group="rbac.authorization.k8s.io",resource="clusterrolebindings",scope="resource",subresource="",verb="GET",version="v1"} 51
apiserver_request_total{code="404",component="apiserver",dry_run="",group="rbac.authorization.k8s.io",resource="clusterroles",scope="resource",subresource="",verb="GET",version="v1"} 75
apiserver_request_total{code="500",component="",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 34
apiserver_admission_controller_admission_duration_seconds_sum{name="CertificateApproval",operation="UPDATE",rejected="false",type="validate"} 1.2919999999999999e-06
`;

Deno.test("parsePrometheusText() reads kube-apiserver /metrics and counts requests by verb", () => {
  const samples = parsePrometheusText(APISERVER_METRICS);
  assert.equal(samples.length, 1 + 13 + 9 + 1);
  const byVerb: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.name !== "apiserver_request_total") continue;
    const verb = sample.labels.verb!;
    byVerb[verb] = (byVerb[verb] ?? 0) + sample.value;
  }
  assert.deepEqual(byVerb, { GET: 178, LIST: 1, POST: 7 });
  const first = samples.find((s) => s.name === "apiserver_request_total")!;
  assert.deepEqual(first.labels, {
    code: "200",
    component: "",
    dry_run: "",
    group: "",
    resource: "",
    scope: "",
    subresource: "/readyz",
    verb: "GET",
    version: "",
  });
  const bounds = samples
    .filter((s) => s.name === "apiextensions_apiserver_validation_ratcheting_seconds_bucket")
    .map((s) => s.labels.le);
  assert.deepEqual(bounds.slice(0, 2), ["1e-05", "4e-05"]);
  assert.equal(bounds.at(-1), "+Inf");
  assert.equal(samples.at(-1)!.value, 1.2919999999999999e-6);
  assert.deepEqual(samples[0], {
    name: "aggregator_discovery_aggregation_count_total",
    labels: {},
    value: 0,
  });
});

Deno.test("parsePrometheusText() handles escapes, exponents, timestamps and loose whitespace", () => {
  const text = [
    "# A free comment",
    "",
    "# HELP http_requests_total The total number of HTTP requests.",
    "# TYPE http_requests_total counter",
    'http_requests_total{method="post",code="200"} 1027 1395066363000',
    'http_requests_total{method="post",code="400"}    3 1395066363000',
    "# Escaping in label values:",
    'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
    "metric_without_timestamp_and_labels 12.47",
    'something_weird{problem="division by zero"} +Inf -3982045',
    "big 1e+06",
    "neg -Inf",
    "nan NaN",
    'trailing_comma{a="1",} 2',
    '  spaced { a = "1" , b="2" }\t5  ',
    '{"my.metric", "some.label"="x"} 4',
    'exemplar_total{a="b"} 7 # {trace_id="abc"} 1.0',
    "crlf 8\r",
    "# EOF",
  ].join("\n");
  assert.deepEqual(parsePrometheusText(text), [
    {
      name: "http_requests_total",
      labels: { method: "post", code: "200" },
      value: 1027,
      timestampMs: 1395066363000,
    },
    {
      name: "http_requests_total",
      labels: { method: "post", code: "400" },
      value: 3,
      timestampMs: 1395066363000,
    },
    {
      name: "msdos_file_access_time_seconds",
      labels: { path: "C:\\DIR\\FILE.TXT", error: 'Cannot find file:\n"FILE.TXT"' },
      value: 1.458255915e9,
    },
    { name: "metric_without_timestamp_and_labels", labels: {}, value: 12.47 },
    {
      name: "something_weird",
      labels: { problem: "division by zero" },
      value: Infinity,
      timestampMs: -3982045,
    },
    { name: "big", labels: {}, value: 1_000_000 },
    { name: "neg", labels: {}, value: -Infinity },
    { name: "nan", labels: {}, value: Number.NaN },
    { name: "trailing_comma", labels: { a: "1" }, value: 2 },
    { name: "spaced", labels: { a: "1", b: "2" }, value: 5 },
    { name: "my.metric", labels: { "some.label": "x" }, value: 4 },
    { name: "exemplar_total", labels: { a: "b" }, value: 7 },
    { name: "crlf", labels: {}, value: 8 },
  ]);
});

Deno.test("parsePrometheusText() names the line of malformed input", () => {
  const cases: Array<[string, RegExp]> = [
    ["ok 1\nbad", /line 2: expected a space before the value/],
    ['x{a="1"', /line 1: expected "," or "}" after label "a"/],
    ['x{a="1} 2', /line 1: unterminated quoted string/],
    ["x{a=1} 2", /expected a quoted value for label "a"/],
    ['x{a="\\t"} 2', /invalid escape sequence "\\t"/],
    ['x{a="1" b="2"} 3', /expected "," or "}"/],
    ['x{a="1",a="2"} 3', /duplicate label "a"/],
    ["x one", /invalid value/],
    ["x 0x10", /invalid value/],
    ["x 1 2.5", /invalid timestamp/],
    ["x 1 2 3", /unexpected text after the value/],
    ["1x 1", /invalid metric name/],
    ['{a="1"} 2', /missing metric name/],
    ["x{", /unterminated label set/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => parsePrometheusText(text),
      (error: unknown) =>
        error instanceof SyntaxError &&
        error.message.startsWith("Cannot parse Prometheus text: ") &&
        pattern.test(error.message),
      text,
    );
  }
});
