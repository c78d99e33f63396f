/**
 * {@linkcode Registry}: the set of metrics (counters, gauges, histograms) that are rendered
 * together, in the Prometheus text exposition format 0.0.4 (served with
 * `PROMETHEUS_CONTENT_TYPE` from `exposition.ts`).
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
import { Counter } from "./counter.ts";
import type { MetricType } from "./exposition.ts";
import { Gauge, type GaugeOptions, isStringArray } from "./gauge.ts";
import { DEFAULT_BUCKETS, Histogram, type HistogramOptions } from "./histogram.ts";
import { sampleNames } from "./names.ts";
import type { LabelValues } from "./series_store.ts";

/** Any metric a {@linkcode Registry} holds. */
export type Metric = Counter | Gauge | Histogram;

/**
 * A set of metrics that are rendered together. Asking again for a metric with the same name,
 * type, help, labels and buckets returns the existing one. Any other clash of names is an error,
 * including a clash with a histogram's `_bucket`, `_sum` or `_count` series.
 */
export class Registry {
  readonly #metrics: Map<string, Metric> = new Map();
  /** Every sample name in use, mapped to the metric that owns it. */
  readonly #names: Map<string, string> = new Map();

  /**
   * Creates a counter and registers it, or returns the identical counter already registered.
   *
   * @param name the metric name
   * @param help the help text
   * @param labelNames the label names, in rendering order
   * @returns the counter
   * @throws {TypeError} if a name is invalid or the name is taken by a different metric
   */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const existing = this.#existing(name, "counter", help, labelNames, undefined);
    if (existing !== undefined) return existing as Counter;
    const counter = new Counter(name, help, labelNames);
    this.register(counter);
    return counter;
  }

  /**
   * Creates a gauge and registers it, or returns the identical gauge already registered. A gauge
   * with a `collect` callback is never shared.
   *
   * @param name the metric name
   * @param help the help text
   * @param options the label names, or an options object with `labelNames` and `collect`
   * @returns the gauge
   * @throws {TypeError} if a name is invalid or the name is taken by a different metric
   */
  gauge(name: string, help: string, options: readonly string[] | GaugeOptions = {}): Gauge {
    const opts: GaugeOptions = isStringArray(options) ? { labelNames: options } : options;
    if (opts.collect === undefined) {
      const existing = this.#existing(name, "gauge", help, opts.labelNames ?? [], undefined);
      if (existing !== undefined) return existing as Gauge;
    }
    const gauge = new Gauge(name, help, opts);
    this.register(gauge);
    return gauge;
  }

  /**
   * Creates a histogram and registers it, or returns the identical histogram already registered.
   *
   * @param name the metric name
   * @param help the help text
   * @param options the label names and buckets
   * @returns the histogram
   * @throws {TypeError} if a name is invalid or the name is taken by a different metric
   * @throws {RangeError} if the buckets are invalid
   */
  histogram(name: string, help: string, options: HistogramOptions = {}): Histogram {
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    const existing = this.#existing(name, "histogram", help, options.labelNames ?? [], buckets);
    if (existing !== undefined) return existing as Histogram;
    const histogram = new Histogram(name, help, options);
    this.register(histogram);
    return histogram;
  }

  /**
   * Adds a metric that was created on its own.
   *
   * @param metric the metric
   * @throws {TypeError} if its name, or one of its sample names, is already taken
   */
  register(metric: Metric): void {
    const names = sampleNames(metric.name, metric.type);
    for (const sample of names) {
      const owner = this.#names.get(sample);
      if (owner !== undefined) {
        throw new TypeError(
          `Cannot register metric "${metric.name}": the name "${sample}" is already used by metric "${owner}"`,
        );
      }
    }
    for (const sample of names) this.#names.set(sample, metric.name);
    this.#metrics.set(metric.name, metric);
  }

  /**
   * Removes a metric.
   *
   * @param name the metric name
   * @returns whether a metric was removed
   */
  unregister(name: string): boolean {
    const metric = this.#metrics.get(name);
    if (metric === undefined) return false;
    for (const sample of sampleNames(metric.name, metric.type)) this.#names.delete(sample);
    return this.#metrics.delete(name);
  }

  /**
   * Looks up a metric.
   *
   * @param name the metric name
   * @returns the metric, or `undefined`
   */
  get(name: string): Metric | undefined {
    return this.#metrics.get(name);
  }

  /**
   * Drops, from every metric, the series whose labels include all of `labelsMatch`. Use it when
   * a parent object is deleted, for example with `{ namespace, name }`. Metrics that lack one of
   * the labels are left alone.
   *
   * @param labelsMatch label values that must all be present, at least one
   * @returns the number of series dropped
   * @throws {RangeError} if `labelsMatch` is empty
   */
  removeSeries(labelsMatch: LabelValues): number {
    if (Object.keys(labelsMatch).length === 0) {
      throw new RangeError("Cannot remove series: labelsMatch must name at least one label");
    }
    let removed = 0;
    for (const metric of this.#metrics.values()) removed += metric.removeSeries(labelsMatch);
    return removed;
  }

  /**
   * Renders every metric, in registration order, in the Prometheus text exposition format 0.0.4.
   *
   * @returns the text. It is empty if nothing is registered; otherwise it ends in a newline.
   */
  render(): string {
    let out = "";
    for (const metric of this.#metrics.values()) out += metric.render();
    return out;
  }

  #existing(
    name: string,
    type: MetricType,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[] | undefined,
  ): Metric | undefined {
    const metric = this.#metrics.get(name);
    if (metric === undefined) return undefined;
    const same = metric.type === type && metric.help === help &&
      sameArray(metric.labelNames, labelNames) &&
      (metric.type !== "histogram" || buckets === undefined ||
        sameArray(metric.buckets, buckets.at(-1) === Infinity ? buckets.slice(0, -1) : buckets)) &&
      (metric.type !== "gauge" || metric.collect === undefined);
    if (same) return metric;
    throw new TypeError(
      `Cannot register metric "${name}": a different ${metric.type} with this name is already registered`,
    );
  }
}

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}
