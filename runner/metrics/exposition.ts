/**
 * The Prometheus text exposition format 0.0.4, written: the `Content-Type` it is served with
 * ({@linkcode PROMETHEUS_CONTENT_TYPE}) and the helpers that write `# HELP`/`# TYPE` lines, label
 * sets and values. Each metric renders itself with them.
 *
 * @module
 */
/** The `Content-Type` of `Registry.render()`'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The kind of a metric, as written on its `# TYPE` line. */
export type MetricType = "counter" | "gauge" | "histogram";

/** The `# HELP` and `# TYPE` lines of a metric. */
export function header(name: string, help: string, type: MetricType): string {
  const escaped = help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `# HELP ${name} ${escaped}\n# TYPE ${name} ${type}\n`;
}

/** The `{name="value",…}` label set of a sample, with an optional `le` label last; empty when there are none. */
export function formatLabels(
  names: readonly string[],
  values: readonly string[],
  le?: string,
): string {
  if (names.length === 0 && le === undefined) return "";
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) {
    parts.push(`${names[i]}="${escapeLabelValue(values[i]!)}"`);
  }
  if (le !== undefined) parts.push(`le="${le}"`);
  return `{${parts.join(",")}}`;
}

/** Escapes backslash, double quote and newline in a label value. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as the format writes it: `+Inf`, `-Inf`, `NaN` or the number. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/** Running totals of per-bucket counts, as histogram `_bucket` samples are written. */
export function cumulative(counts: readonly number[]): number[] {
  const out: number[] = [];
  let total = 0;
  for (const count of counts) out.push(total += count);
  return out;
}
