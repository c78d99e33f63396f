import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { jsonLogFormatter } from "./log_format.ts";

function record(message: unknown[], properties: Record<string, unknown>): LogRecord {
  return {
    category: ["roperator", "controller"],
    level: "info",
    message,
    rawMessage: "",
    properties,
    timestamp: Date.UTC(2026, 11, 1),
  };
}

Deno.test("jsonLogFormatter puts string values in the message as they are, escaped once", () => {
  const line = jsonLogFormatter(
    record(["added finalizer ", "roperator.dev/x", " to ", "ns/p", ""], {
      finalizer: "roperator.dev/x",
      parent: "ns/p",
    }),
  );
  assert.ok(line.endsWith("\n"));
  assert.ok(!line.includes('\\"'), `no doubly escaped quotes in ${line}`);
  const parsed = JSON.parse(line);
  assert.equal(parsed.message, "added finalizer roperator.dev/x to ns/p");
  assert.equal(parsed.level, "INFO");
  assert.equal(parsed.logger, "roperator.controller");
  assert.deepEqual(parsed.properties, { finalizer: "roperator.dev/x", parent: "ns/p" });
});

Deno.test("jsonLogFormatter renders numbers, objects and errors readably", () => {
  const parsed = JSON.parse(
    jsonLogFormatter(
      record(["", 3, " children: ", { a: 1 }, ", ", new Error("boom"), ""], {}),
    ),
  );
  assert.equal(parsed.message, '3 children: {"a":1}, boom');
});
