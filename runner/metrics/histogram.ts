/**
 * {@linkcode Histogram}: observations counted in buckets, such as reconcile durations, and the
 * bucket layouts ({@linkcode DEFAULT_BUCKETS}, {@linkcode exponentialBuckets},
 * {@linkcode linearBuckets}).
 *
 * @module
 */
import { cumulative, formatLabels, formatValue, header } from "./exposition.ts";
import { validateLabelNames, validateMetricName } from "./names.ts";
import { type LabelValues, SeriesStore, splitArgs } from "./series_store.ts";

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
