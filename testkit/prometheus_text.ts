/**
 * A reader for the Prometheus text exposition format 0.0.4: {@linkcode parsePrometheusText}
 * turns what a `/metrics` endpoint serves (the operator's own, or kube-apiserver's) into samples,
 * so tests and benchmarks can assert on them. It is test support and not part of the runtime.
 *
 * @example Read a counter from a scrape
 * ```ts ignore
 * import { parsePrometheusText } from "@roperator/core/testkit";
 * const res = await fetch("http://127.0.0.1:8080/metrics");
 * const samples = parsePrometheusText(await res.text());
 * const syncs = samples.filter((s) => s.name === "roperator_reconcile_total");
 * ```
 *
 * @module
 */
import { LABEL_NAME, METRIC_NAME } from "../runner/metrics/names.ts";

/** One sample read by {@linkcode parsePrometheusText}. */
export interface PrometheusSample {
  /** The sample name, such as `apiserver_request_total` or `foo_bucket`. */
  name: string;
  /** The labels, unescaped. */
  labels: Record<string, string>;
  /** The value. It can be `Infinity`, `-Infinity` or `NaN`. */
  value: number;
  /** The optional timestamp, in milliseconds since the epoch. */
  timestampMs?: number;
}

/**
 * Parses the Prometheus text exposition format (0.0.4) into samples. It understands what
 * Prometheus clients and kube-apiserver's `/metrics` produce:
 * - blank lines and `#` lines (HELP, TYPE, comments, `# EOF`) are skipped;
 * - label values may contain `\\`, `\"` and `\n` escapes, and the label set may end with a
 *   comma;
 * - values may be written like `1e+06`, `+Inf`, `-Inf` or `NaN`;
 * - a timestamp may follow the value;
 * - quoted (UTF-8) metric and label names are accepted, and OpenMetrics exemplars
 *   (` # {…} v`) are ignored.
 *
 * @param text the exposition text
 * @returns the samples, in order
 * @throws {SyntaxError} naming the line if the text is malformed
 */
export function parsePrometheusText(text: string): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    try {
      const sample = parseLine(line);
      if (sample !== undefined) samples.push(sample);
    } catch (error) {
      if (!(error instanceof LineError)) throw error;
      throw new SyntaxError(
        `Cannot parse Prometheus text: line ${n + 1}: ${error.message}: ${
          JSON.stringify(line.length > 200 ? line.slice(0, 200) + "…" : line)
        }`,
      );
    }
  }
  return samples;
}

/** A parse error within one line; {@linkcode parsePrometheusText} adds the line number. */
class LineError extends Error {}

function parseLine(line: string): PrometheusSample | undefined {
  let i = skipSpace(line, 0);
  if (i === line.length || line[i] === "#") return undefined;
  let name = "";
  const labels: Record<string, string> = {};
  if (line[i] !== "{") {
    const start = i;
    while (i < line.length && isNameChar(line.charCodeAt(i))) i++;
    name = line.slice(start, i);
    if (name === "" || !METRIC_NAME.test(name)) throw new LineError("invalid metric name");
  }
  let afterLabels = i;
  i = skipSpace(line, i);
  if (line[i] === "{") {
    i = skipSpace(line, i + 1);
    let first = true;
    while (line[i] !== "}") {
      if (i >= line.length) throw new LineError("unterminated label set");
      let labelName: string;
      if (line[i] === '"') {
        [labelName, i] = readQuoted(line, i);
        i = skipSpace(line, i);
        if (first && name === "" && line[i] !== "=") {
          // `{"metric.name", label="v"}`: the quoted metric name of the UTF-8 syntax.
          name = labelName;
          first = false;
          if (line[i] === ",") i = skipSpace(line, i + 1);
          continue;
        }
      } else {
        const start = i;
        while (i < line.length && isNameChar(line.charCodeAt(i)) && line[i] !== ":") i++;
        labelName = line.slice(start, i);
        if (!LABEL_NAME.test(labelName)) throw new LineError("invalid label name");
        i = skipSpace(line, i);
      }
      first = false;
      if (line[i] !== "=") throw new LineError(`expected "=" after label "${labelName}"`);
      i = skipSpace(line, i + 1);
      if (line[i] !== '"') throw new LineError(`expected a quoted value for label "${labelName}"`);
      let value: string;
      [value, i] = readQuoted(line, i);
      if (Object.hasOwn(labels, labelName)) {
        throw new LineError(`duplicate label "${labelName}"`);
      }
      labels[labelName] = value;
      i = skipSpace(line, i);
      if (line[i] === ",") i = skipSpace(line, i + 1);
      else if (line[i] !== "}") {
        throw new LineError(`expected "," or "}" after label "${labelName}"`);
      }
    }
    afterLabels = ++i;
  }
  if (name === "") throw new LineError("missing metric name");
  i = skipSpace(line, afterLabels);
  if (i === afterLabels) throw new LineError("expected a space before the value");
  const valueStart = i;
  while (i < line.length && line[i] !== " " && line[i] !== "\t") i++;
  const value = parseNumber(line.slice(valueStart, i));
  if (value === undefined) throw new LineError("invalid value");
  const sample: PrometheusSample = { name, labels, value };
  i = skipSpace(line, i);
  if (i < line.length && line[i] !== "#") {
    const start = i;
    while (i < line.length && line[i] !== " " && line[i] !== "\t") i++;
    const timestamp = line.slice(start, i);
    if (!/^-?\d+$/.test(timestamp)) throw new LineError("invalid timestamp");
    sample.timestampMs = Number(timestamp);
    i = skipSpace(line, i);
  }
  if (i < line.length && line[i] !== "#") throw new LineError("unexpected text after the value");
  return sample;
}

/** Reads a double-quoted, escaped string starting at `line[i] === '"'`; returns it and the index after it. */
function readQuoted(line: string, i: number): [string, number] {
  let out = "";
  let start = ++i;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === '"') return [out + line.slice(start, i), i + 1];
    if (c === "\\") {
      out += line.slice(start, i);
      const next = line[++i];
      if (next === "\\") out += "\\";
      else if (next === '"') out += '"';
      else if (next === "n") out += "\n";
      else throw new LineError(`invalid escape sequence "\\${next ?? ""}"`);
      start = i + 1;
    }
  }
  throw new LineError("unterminated quoted string");
}

function parseNumber(token: string): number | undefined {
  switch (token.toLowerCase()) {
    case "+inf":
    case "inf":
    case "+infinity":
    case "infinity":
      return Infinity;
    case "-inf":
    case "-infinity":
      return -Infinity;
    case "nan":
      return Number.NaN;
  }
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(token)) return undefined;
  return Number(token);
}

function skipSpace(line: string, i: number): number {
  while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
  return i;
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 ||
    c === 58;
}
