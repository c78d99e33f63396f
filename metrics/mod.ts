/**
 * Prometheus metrics: the operator's own ({@linkcode OperatorMetrics}, served at `/metrics`), and
 * a small registry of counters, gauges and histograms to add yours to the same page.
 *
 * @example Count something of your own next to the operator's metrics
 * ```ts
 * import { OperatorMetrics } from "@roperator/core/metrics";
 *
 * const metrics = new OperatorMetrics();
 * const greetings = metrics.registry.counter(
 *   "greetings_total",
 *   "Greetings said, by language.",
 *   ["language"],
 * );
 * greetings.inc({ language: "en" });
 * metrics.registry.render().includes('greetings_total{language="en"} 1'); // true
 * ```
 *
 * @module
 */
export {
  type CacheStats,
  OperatorMetrics,
  type OperatorMetricsOptions,
  type WriteKind,
} from "../runner/operator_metrics.ts";
export {
  Counter,
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Gauge,
  type GaugeOptions,
  Histogram,
  type HistogramOptions,
  type LabelValues,
  linearBuckets,
  type Metric,
  type MetricType,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "../runner/metrics.ts";
