/**
 * The JSON Lines log format of the operator CLI: LogTape's JSON Lines records, with the message
 * rendered as a reader expects it. LogTape renders a string value inside the message with quotes
 * (`added finalizer "roperator.dev/x" to "ns/p"`), which JSON then escapes a second time
 * (`\"roperator.dev/x\"`); here string values are put in as they are, and other values as JSON.
 * The values stay in `properties`, unchanged.
 *
 * @module
 */
import { jsonLinesFormatter, type LogRecord, type TextFormatter } from "@logtape/logtape";

function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Formats a record as one JSON line: `@timestamp`, `level`, `message` (rendered, string values
 * without quotes), `logger` and `properties`.
 *
 * @param record the log record
 * @returns the line, ending with a newline
 */
export const jsonLogFormatter: TextFormatter = (record: LogRecord): string => {
  const message = record.message
    .map((part, i) => i % 2 === 0 ? String(part) : renderValue(part))
    .join("");
  return jsonLinesFormatter({ ...record, message: [message] });
};
