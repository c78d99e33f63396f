/**
 * A small Prometheus metrics registry with no dependencies: {@linkcode Counter},
 * {@linkcode Gauge}, {@linkcode Histogram} and {@linkcode Registry}. The registry renders the
 * text exposition format 0.0.4 (serve it with {@linkcode PROMETHEUS_CONTENT_TYPE}). The reader of
 * that format, for tests and benchmarks, is `parsePrometheusText` in `testkit/prometheus_text.ts`.
 *
 * @example Count reconciles and render them
 * ```ts ignore
 * const registry = new Registry();
 * const reconciles = registry.counter("roperator_reconcile_total", "Reconciles by result.", [
 *   "controller",
 *   "result",
 * ]);
 * reconciles.inc({ controller: "echo", result: "success" });
 * const body = registry.render();
 * ```
 *
 * @module
 */
export { Counter } from "./counter.ts";
export { type MetricType, PROMETHEUS_CONTENT_TYPE } from "./exposition.ts";
export { Gauge, type GaugeOptions } from "./gauge.ts";
export {
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Histogram,
  type HistogramOptions,
  linearBuckets,
} from "./histogram.ts";
export { type Metric, Registry } from "./registry.ts";
export type { LabelValues } from "./series_store.ts";
