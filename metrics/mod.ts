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
export { Counter } from "../runner/metrics/counter.ts";
export { type MetricType, PROMETHEUS_CONTENT_TYPE } from "../runner/metrics/exposition.ts";
export { Gauge, type GaugeOptions } from "../runner/metrics/gauge.ts";
export {
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Histogram,
  type HistogramOptions,
  linearBuckets,
} from "../runner/metrics/histogram.ts";
export { type Metric, Registry } from "../runner/metrics/registry.ts";
export {
  defaultProcessProbe,
  LagSampler,
  type ProcessMetrics,
  type ProcessMetricsOptions,
  type ProcessProbe,
  trackProcessMetrics,
} from "../runner/process_metrics.ts";
export type { LabelValues } from "../runner/metrics/series_store.ts";
