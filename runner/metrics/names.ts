/**
 * The names of metrics and labels: what they must match, their validation, and the sample names
 * a metric takes up in a registry.
 *
 * @module
 */
import type { MetricType } from "./exposition.ts";

/** What a metric name must match. */
export const METRIC_NAME: RegExp = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** What a label name must match. */
export const LABEL_NAME: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Returns `name` if it is a valid metric name; throws a `TypeError` otherwise. */
export function validateMetricName(name: string): string {
  if (typeof name !== "string" || !METRIC_NAME.test(name)) {
    throw new TypeError(
      `Cannot create metric ${
        JSON.stringify(name)
      }: a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
  return name;
}

/**
 * Returns the label names, frozen, if each is valid, not in `reserved` and not repeated; throws a
 * `TypeError` otherwise.
 */
export function validateLabelNames(
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

/** The sample names a metric writes: a histogram also writes `_bucket`, `_sum` and `_count`. */
export function sampleNames(name: string, type: MetricType): string[] {
  return type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}
