/**
 * The labelled series of one metric ({@linkcode SeriesStore}), keyed by their label values, and
 * the label values a caller passes ({@linkcode LabelValues}).
 *
 * @module
 */
/** Label values by label name. Numbers are converted with `String`. */
export type LabelValues = Readonly<Record<string, string | number>>;

/** One labelled series: its label values in `labelNames` order, and its mutable value. */
export interface Series<T> {
  values: string[];
  value: T;
}

/** The series of one metric, keyed by their label values. */
export class SeriesStore<T> {
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

/** Splits the `(labels?, n?)` / `(n)` argument forms. */
export function splitArgs(
  first: LabelValues | number | undefined,
  second: number | undefined,
  fallback: number,
): [LabelValues | undefined, number] {
  if (typeof first === "number") return [undefined, first];
  return [first, second ?? fallback];
}
