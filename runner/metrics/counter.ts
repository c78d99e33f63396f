/**
 * {@linkcode Counter}: a monotonically increasing value, such as a count of reconciles.
 *
 * @module
 */
import { formatLabels, formatValue, header } from "./exposition.ts";
import { validateLabelNames, validateMetricName } from "./names.ts";
import { type LabelValues, SeriesStore, splitArgs } from "./series_store.ts";

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
