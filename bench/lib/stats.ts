/**
 * Small statistics and formatting helpers for the benchmark report.
 *
 * @module
 */

/**
 * The q-quantile of samples by the nearest-rank method (p99 of 200 samples is the 198th).
 *
 * @param samples the samples (any order)
 * @param q the quantile, from 0 to 1
 * @returns the value, or `NaN` without samples
 */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * The median (the 0.5 quantile, nearest rank).
 *
 * @param samples the samples
 * @returns the median
 */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/**
 * Milliseconds with a sensible precision.
 *
 * @param ms milliseconds
 * @returns for example `"1,234 ms"` or `"12.3 ms"`
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms).toLocaleString("en")} ms`;
  return `${ms.toFixed(1)} ms`;
}

/**
 * Bytes in MiB.
 *
 * @param bytes bytes
 * @returns for example `"45.2 MiB"`
 */
export function formatMiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MiB` : "—";
}

/**
 * A ratio such as `"1.07×"`.
 *
 * @param a the numerator
 * @param b the denominator
 * @returns the text, or `"—"` when either is missing or b is 0
 */
export function formatRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return "—";
  }
  return `${(a / b).toFixed(2)}×`;
}

/**
 * A plain-text table with aligned columns.
 *
 * @param header the column titles
 * @param rows the cells
 * @returns the table
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (c ?? "").padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join(
    "\n",
  );
}

/**
 * A Markdown table.
 *
 * @param header the column titles
 * @param rows the cells
 * @returns the table
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const escape = (cell: string) => cell.replaceAll("|", "\\|");
  return [
    `| ${header.map(escape).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(escape).join(" | ")} |`),
  ].join("\n");
}
