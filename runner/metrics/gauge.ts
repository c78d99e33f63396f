/**
 * {@linkcode Gauge}: a value that goes up and down, such as a queue depth, optionally computed at
 * render time.
 *
 * @module
 */
import { formatLabels, formatValue, header } from "./exposition.ts";
import { validateLabelNames, validateMetricName } from "./names.ts";
import { type LabelValues, SeriesStore, splitArgs } from "./series_store.ts";

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

/** Whether gauge options were given as a plain list of label names. */
export function isStringArray(value: readonly string[] | object): value is readonly string[] {
  return Array.isArray(value);
}
