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

/** The `Content-Type` of {@linkcode Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The default histogram buckets, in seconds. They are the same as the Prometheus clients' defaults. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/** Label values by label name. Numbers are converted with `String`. */
export type LabelValues = Readonly<Record<string, string | number>>;

/** The kind of a metric, as written on its `# TYPE` line. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Any metric a {@linkcode Registry} holds. */
export type Metric = Counter | Gauge | Histogram;

/** Options for {@linkcode Gauge} and {@linkcode Registry.gauge}. */
export interface GaugeOptions {
  /** The label names, in rendering order. */
  labelNames?: readonly string[];
  /**
   * Called at the start of every render so the gauge can compute its values, for example
   * `(g) => g.set(queue.depth)`. Call `g.reset()` first to drop series that no longer exist.
   */
  collect?: (gauge: Gauge) => void;
}

/** Options for {@linkcode Histogram} and {@linkcode Registry.histogram}. */
export interface HistogramOptions {
  /** The label names, in rendering order. `le` is reserved. */
  labelNames?: readonly string[];
  /**
   * Bucket upper bounds: finite and strictly increasing. The `+Inf` bucket is always added.
   * Defaults to {@linkcode DEFAULT_BUCKETS}.
   */
  buckets?: readonly number[];
}

/** What a metric name must match. */
export const METRIC_NAME: RegExp = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** What a label name must match. */
export const LABEL_NAME: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One labelled series: its label values in `labelNames` order, and its mutable value. */
interface Series<T> {
  values: string[];
  value: T;
}

/** The series of one metric, keyed by their label values. */
class SeriesStore<T> {
  readonly #metric: string;
  readonly #labelNames: readonly string[];
  readonly #create: () => T;
  #series: Map<string, Series<T>> = new Map();

  constructor(metric: string, labelNames: readonly string[], create: () => T) {
    this.#metric = metric;
    this.#labelNames = labelNames;
    this.#create = create;
    this.reset();
  }

  /** The series for `labels`, created if missing. */
  get(labels: LabelValues | undefined): T {
    const values = this.#values(labels);
    const key = JSON.stringify(values);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = { values, value: this.#create() };
      this.#series.set(key, series);
    }
    return series.value;
  }

  /** The series for `labels`, or `undefined`. */
  find(labels: LabelValues | undefined): T | undefined {
    return this.#series.get(JSON.stringify(this.#values(labels)))?.value;
  }

  delete(labels: LabelValues): boolean {
    return this.#series.delete(JSON.stringify(this.#values(labels)));
  }

  /** Drops every series whose labels include all of `match`. */
  removeMatching(match: LabelValues): number {
    const wanted: Array<[number, string]> = [];
    for (const [name, value] of Object.entries(match)) {
      const index = this.#labelNames.indexOf(name);
      if (index < 0) return 0;
      wanted.push([index, String(value)]);
    }
    let removed = 0;
    for (const [key, series] of this.#series) {
      if (wanted.every(([index, value]) => series.values[index] === value)) {
        this.#series.delete(key);
        removed++;
      }
    }
    return removed;
  }

  /** Drops every series. An unlabelled metric gets its single series back, zeroed. */
  reset(): void {
    this.#series = new Map();
    if (this.#labelNames.length === 0) {
      this.#series.set("[]", { values: [], value: this.#create() });
    }
  }

  entries(): IterableIterator<Series<T>> {
    return this.#series.values();
  }

  #values(labels: LabelValues | undefined): string[] {
    const names = this.#labelNames;
    const given = labels === undefined ? 0 : Object.keys(labels).length;
    const values: string[] = [];
    let missing = false;
    for (const name of names) {
      const value = labels?.[name];
      if (value === undefined) {
        missing = true;
        break;
      }
      values.push(String(value));
    }
    if (missing || given !== names.length) {
      throw new TypeError(
        `Cannot use metric "${this.#metric}": expected labels {${names.join(", ")}}, got {${
          Object.keys(labels ?? {}).join(", ")
        }}`,
      );
    }
    return values;
  }
}

/**
 * A monotonically increasing value, such as a count of reconciles.
 *
 * @example
 * ```ts ignore
 * const errors = new Counter("reconcile_errors_total", "Failed reconciles.", ["controller"]);
 * errors.inc({ controller: "echo" });
 * ```
 */
export class Counter {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in rendering order. */
  readonly labelNames: readonly string[];
  /** Always `"counter"`. */
  readonly type: "counter" = "counter";
  readonly #store: SeriesStore<{ v: number }>;

  /**
   * Creates a counter. Each series starts at 0.
   *
   * @param name the metric name, matching `[a-zA-Z_:][a-zA-Z0-9_:]*`
   * @param help the help text
   * @param labelNames the label names, in rendering order
   * @throws {TypeError} if the name or a label name is invalid
   */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    this.name = validateMetricName(name);
    this.help = help;
    this.labelNames = validateLabelNames(name, labelNames, []);
    this.#store = new SeriesStore(name, this.labelNames, () => ({ v: 0 }));
  }

  /**
   * Adds `n` to the unlabelled series.
   *
   * @param n the increment, a finite number ≥ 0 (default 1)
   */
  inc(n?: number): void;
  /**
   * Adds `n` to the series with these labels.
   *
   * @param labels a value for every label name (omit for an unlabelled counter)
   * @param n the increment, a finite number ≥ 0 (default 1)
   * @throws {TypeError} if the labels do not match the label names
   * @throws {RangeError} if `n` is negative or not finite
   */
  inc(labels?: LabelValues, n?: number): void;
  inc(labelsOrN?: LabelValues | number, n?: number): void {
    const [labels, amount] = splitArgs(labelsOrN, n, 1);
    if (!(amount >= 0 && Number.isFinite(amount))) {
      throw new RangeError(
        `Cannot increment counter "${this.name}": the increment must be a finite number ≥ 0, got ${
          String(amount)
        }`,
      );
    }
    this.#store.get(labels).v += amount;
  }

  /**
   * Reads a series.
   *
   * @param labels the labels of the series (omit for an unlabelled counter)
   * @returns the value, or 0 if the series does not exist
   */
  get(labels?: LabelValues): number {
    return this.#store.find(labels)?.v ?? 0;
  }

  /**
   * Drops the series with exactly these labels.
   *
   * @param labels a value for every label name
   * @returns whether a series was dropped
   */
  remove(labels: LabelValues): boolean {
    return this.#store.delete(labels);
  }

  /**
   * Drops every series whose labels include all of `match`. Nothing is dropped if `match` names a
   * label that this metric does not have.
   *
   * @param match label values that must all be present
   * @returns the number of series dropped
   */
  removeSeries(match: LabelValues): number {
    return this.#store.removeMatching(match);
  }

  /** Drops every series. An unlabelled counter goes back to 0. */
  reset(): void {
    this.#store.reset();
  }

  /**
   * Renders the `# HELP` and `# TYPE` lines and one line per series.
   *
   * @returns the text, ending in a newline
   */
  render(): string {
    let out = header(this.name, this.help, this.type);
    for (const { values, value } of this.#store.entries()) {
      out += `${this.name}${formatLabels(this.labelNames, values)} ${formatValue(value.v)}\n`;
    }
    return out;
  }
}

/**
 * A value that goes up and down, such as a queue depth. With the `collect` option it computes its
 * values at render time.
 *
 * @example
 * ```ts ignore
 * const depth = new Gauge("workqueue_depth", "Keys waiting.", { collect: (g) => g.set(queue.depth) });
 * ```
 */
export class Gauge {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in rendering order. */
  readonly labelNames: readonly string[];
  /** Always `"gauge"`. */
  readonly type: "gauge" = "gauge";
  /** The callback run at the start of every render, if any. */
  readonly collect: ((gauge: Gauge) => void) | undefined;
  readonly #store: SeriesStore<{ v: number }>;

  /**
   * Creates a gauge. Each series starts at 0.
   *
   * @param name the metric name, matching `[a-zA-Z_:][a-zA-Z0-9_:]*`
   * @param help the help text
   * @param options the label names (or the options object, with an optional `collect` callback)
   * @throws {TypeError} if the name or a label name is invalid
   */
  constructor(name: string, help: string, options: readonly string[] | GaugeOptions = {}) {
    const { labelNames = [], collect } = isStringArray(options) ? { labelNames: options } : options;
    this.name = validateMetricName(name);
    this.help = help;
    this.labelNames = validateLabelNames(name, labelNames, []);
    this.collect = collect;
    this.#store = new SeriesStore(name, this.labelNames, () => ({ v: 0 }));
  }

  /**
   * Sets the unlabelled series.
   *
   * @param value the new value
   */
  set(value: number): void;
  /**
   * Sets the series with these labels.
   *
   * @param labels a value for every label name
   * @param value the new value
   * @throws {TypeError} if the labels do not match the label names
   */
  set(labels: LabelValues | undefined, value: number): void;
  set(labelsOrValue: LabelValues | number | undefined, value?: number): void {
    const [labels, v] = splitArgs(labelsOrValue, value, Number.NaN);
    this.#store.get(labels).v = v;
  }

  /**
   * Adds `n` to the unlabelled series.
   *
   * @param n the amount (default 1)
   */
  inc(n?: number): void;
  /**
   * Adds `n` to the series with these labels.
   *
   * @param labels a value for every label name (omit for an unlabelled gauge)
   * @param n the amount (default 1)
   * @throws {TypeError} if the labels do not match the label names
   */
  inc(labels?: LabelValues, n?: number): void;
  inc(labelsOrN?: LabelValues | number, n?: number): void {
    const [labels, amount] = splitArgs(labelsOrN, n, 1);
    this.#store.get(labels).v += amount;
  }

  /**
   * Subtracts `n` from the unlabelled series.
   *
   * @param n the amount (default 1)
   */
  dec(n?: number): void;
  /**
   * Subtracts `n` from the series with these labels.
   *
   * @param labels a value for every label name (omit for an unlabelled gauge)
   * @param n the amount (default 1)
   * @throws {TypeError} if the labels do not match the label names
   */
  dec(labels?: LabelValues, n?: number): void;
  dec(labelsOrN?: LabelValues | number, n?: number): void {
    const [labels, amount] = splitArgs(labelsOrN, n, 1);
    this.#store.get(labels).v -= amount;
  }

  /**
   * Reads a series. It does not run `collect`.
   *
   * @param labels the labels of the series (omit for an unlabelled gauge)
   * @returns the value, or 0 if the series does not exist
   */
  get(labels?: LabelValues): number {
    return this.#store.find(labels)?.v ?? 0;
  }

  /**
   * Drops the series with exactly these labels.
   *
   * @param labels a value for every label name
   * @returns whether a series was dropped
   */
  remove(labels: LabelValues): boolean {
    return this.#store.delete(labels);
  }

  /**
   * Drops every series whose labels include all of `match`. Nothing is dropped if `match` names a
   * label that this metric does not have.
   *
   * @param match label values that must all be present
   * @returns the number of series dropped
   */
  removeSeries(match: LabelValues): number {
    return this.#store.removeMatching(match);
  }

  /** Drops every series. An unlabelled gauge goes back to 0. */
  reset(): void {
    this.#store.reset();
  }

  /**
   * Runs `collect`, if given, then renders the `# HELP` and `# TYPE` lines and one line per
   * series.
   *
   * @returns the text, ending in a newline
   */
  render(): string {
    this.collect?.(this);
    let out = header(this.name, this.help, this.type);
    for (const { values, value } of this.#store.entries()) {
      out += `${this.name}${formatLabels(this.labelNames, values)} ${formatValue(value.v)}\n`;
    }
    return out;
  }
}

/** The state of one histogram series. */
interface HistogramSeries {
  /** Non-cumulative counts per bucket; the last slot is the `+Inf` bucket. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * Counts observations in buckets, such as reconcile durations. It renders `<name>_bucket`
 * (cumulative, with an `le` label), `<name>_sum` and `<name>_count`.
 *
 * @example
 * ```ts ignore
 * const duration = new Histogram("reconcile_seconds", "Reconcile time.", {
 *   labelNames: ["controller"],
 *   buckets: exponentialBuckets(0.001, 2, 15),
 * });
 * duration.observe({ controller: "echo" }, 0.042);
 * ```
 */
export class Histogram {
  /** The metric name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in rendering order. */
  readonly labelNames: readonly string[];
  /** The finite bucket upper bounds. The `+Inf` bucket is implicit. */
  readonly buckets: readonly number[];
  /** Always `"histogram"`. */
  readonly type: "histogram" = "histogram";
  readonly #store: SeriesStore<HistogramSeries>;

  /**
   * Creates a histogram.
   *
   * @param name the metric name, matching `[a-zA-Z_:][a-zA-Z0-9_:]*`
   * @param help the help text
   * @param options the label names and buckets
   * @throws {TypeError} if the name or a label name is invalid, or a label is named `le`
   * @throws {RangeError} if the buckets are not finite and strictly increasing
   */
  constructor(name: string, help: string, options: HistogramOptions = {}) {
    this.name = validateMetricName(name);
    this.help = help;
    this.labelNames = validateLabelNames(name, options.labelNames ?? [], ["le"]);
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)];
    if (buckets.at(-1) === Infinity) buckets.pop();
    if (buckets.length === 0) {
      throw new RangeError(`Cannot create histogram "${name}": no buckets given`);
    }
    for (let i = 0; i < buckets.length; i++) {
      const bound = buckets[i]!;
      if (!Number.isFinite(bound) || (i > 0 && bound <= buckets[i - 1]!)) {
        throw new RangeError(
          `Cannot create histogram "${name}": buckets must be finite and strictly increasing, got [${
            buckets.join(", ")
          }]`,
        );
      }
    }
    this.buckets = Object.freeze(buckets);
    const slots = buckets.length + 1;
    this.#store = new SeriesStore(name, this.labelNames, () => ({
      counts: new Array<number>(slots).fill(0),
      sum: 0,
      count: 0,
    }));
  }

  /**
   * Records an observation in the unlabelled series.
   *
   * @param value the observed value
   */
  observe(value: number): void;
  /**
   * Records an observation in the series with these labels.
   *
   * @param labels a value for every label name (`undefined` for an unlabelled histogram)
   * @param value the observed value, not `NaN`
   * @throws {TypeError} if the labels do not match the label names
   * @throws {RangeError} if `value` is `NaN`
   */
  observe(labels: LabelValues | undefined, value: number): void;
  observe(labelsOrValue: LabelValues | number | undefined, value?: number): void {
    const [labels, v] = splitArgs(labelsOrValue, value, Number.NaN);
    if (Number.isNaN(v)) {
      throw new RangeError(`Cannot observe histogram "${this.name}": the value is NaN`);
    }
    const series = this.#store.get(labels);
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && v > buckets[i]!) i++;
    series.counts[i]!++;
    series.sum += v;
    series.count++;
  }

  /**
   * Reads a series.
   *
   * @param labels the labels of the series (omit for an unlabelled histogram)
   * @returns the cumulative bucket counts (the last one is `+Inf`), the sum and the count. These
   * are zero if the series does not exist.
   */
  get(labels?: LabelValues): { buckets: number[]; sum: number; count: number } {
    const series = this.#store.find(labels);
    const counts = series?.counts ?? new Array<number>(this.buckets.length + 1).fill(0);
    return { buckets: cumulative(counts), sum: series?.sum ?? 0, count: series?.count ?? 0 };
  }

  /**
   * Drops the series with exactly these labels.
   *
   * @param labels a value for every label name
   * @returns whether a series was dropped
   */
  remove(labels: LabelValues): boolean {
    return this.#store.delete(labels);
  }

  /**
   * Drops every series whose labels include all of `match`. Nothing is dropped if `match` names a
   * label that this metric does not have.
   *
   * @param match label values that must all be present
   * @returns the number of series dropped
   */
  removeSeries(match: LabelValues): number {
    return this.#store.removeMatching(match);
  }

  /** Drops every series. An unlabelled histogram goes back to zero. */
  reset(): void {
    this.#store.reset();
  }

  /**
   * Renders the `# HELP` and `# TYPE` lines and, for each series, its `_bucket`, `_sum` and
   * `_count` lines.
   *
   * @returns the text, ending in a newline
   */
  render(): string {
    let out = header(this.name, this.help, this.type);
    const le = [...this.buckets.map(formatValue), "+Inf"];
    for (const { values, value } of this.#store.entries()) {
      const running = cumulative(value.counts);
      for (let i = 0; i < running.length; i++) {
        out += `${this.name}_bucket${formatLabels(this.labelNames, values, le[i])} ${
          formatValue(running[i]!)
        }\n`;
      }
      const labels = formatLabels(this.labelNames, values);
      out += `${this.name}_sum${labels} ${formatValue(value.sum)}\n`;
      out += `${this.name}_count${labels} ${formatValue(value.count)}\n`;
    }
    return out;
  }
}

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

/**
 * Returns `count` buckets starting at `start`, each `factor` times the one before.
 *
 * @param start the first upper bound, > 0
 * @param factor the ratio between bounds, > 1
 * @param count the number of buckets, ≥ 1
 * @returns the buckets
 * @throws {RangeError} if an argument is out of range
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !(factor > 1) || !(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(
      `Cannot make exponential buckets: need start > 0, factor > 1 and an integer count ≥ 1, got ${start}, ${factor}, ${count}`,
    );
  }
  const out: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) out.push(b);
  return out;
}

/**
 * Returns `count` buckets starting at `start`, each `width` above the one before.
 *
 * @param start the first upper bound
 * @param width the distance between bounds, > 0
 * @param count the number of buckets, ≥ 1
 * @returns the buckets
 * @throws {RangeError} if an argument is out of range
 */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isFinite(start) || !(width > 0) || !(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(
      `Cannot make linear buckets: need a finite start, width > 0 and an integer count ≥ 1, got ${start}, ${width}, ${count}`,
    );
  }
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(start + i * width);
  return out;
}

// ── rendering ─────────────────────────────────────────────────────────────────────────────────

function header(name: string, help: string, type: MetricType): string {
  const escaped = help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `# HELP ${name} ${escaped}\n# TYPE ${name} ${type}\n`;
}

function formatLabels(names: readonly string[], values: readonly string[], le?: string): string {
  if (names.length === 0 && le === undefined) return "";
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) {
    parts.push(`${names[i]}="${escapeLabelValue(values[i]!)}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return `{${parts.join(",")}}`;
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

function cumulative(counts: readonly number[]): number[] {
  const out: number[] = [];
  let total = 0;
  for (const count of counts) out.push(total += count);
  return out;
}

// ── validation and helpers ───────────────────────────────────────────────────────────────────

function validateMetricName(name: string): string {
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    throw new TypeError(
      `Cannot create metric ${
        JSON.stringify(name)
      }: a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
  return name;
}

function validateLabelNames(
  metric: string,
  labelNames: readonly string[],
  reserved: readonly string[],
): readonly string[] {
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (typeof label !== "string" || !LABEL_NAME.test(label) || label.startsWith("__")) {
      throw new TypeError(
        `Cannot create metric "${metric}": label name ${
          JSON.stringify(label)
        } must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"`,
      );
    }
    if (reserved.includes(label)) {
      throw new TypeError(
        `Cannot create metric "${metric}": the label name "${label}" is reserved`,
      );
    }
    if (seen.has(label)) {
      throw new TypeError(
        `Cannot create metric "${metric}": the label name "${label}" is repeated`,
      );
    }
    seen.add(label);
  }
  return Object.freeze([...labelNames]);
}

function sampleNames(name: string, type: MetricType): string[] {
  return type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

/** Splits the `(labels?, n?)` / `(n)` argument forms. */
function splitArgs(
  first: LabelValues | number | undefined,
  second: number | undefined,
  fallback: number,
): [LabelValues | undefined, number] {
  if (typeof first === "number") return [undefined, first];
  return [first, second ?? fallback];
}

function isStringArray(value: readonly string[] | object): value is readonly string[] {
  return Array.isArray(value);
}

function sameArray<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}
