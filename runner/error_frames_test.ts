import assert from "node:assert/strict";
import { userFrames, withFrames } from "./error_frames.ts";

const root = new URL("../", import.meta.url).href;

Deno.test("userFrames: keeps user frames, drops the library's and Deno's", () => {
  const error = new Error("boom");
  error.stack = [
    "Error: boom",
    `    at sync (${root}tests/my_test.ts:12:11)`,
    `    at Object.sync (${root}handler/handler.ts:200:5)`,
    `    at Controller.#callHandler (${root}runner/controller.ts:500:9)`,
    "    at eventLoopTick (ext:core/01_core.js:175:7)",
    "    at new Promise (<anonymous>)",
    `    at ${root}examples/echo-server/main.ts:3:1`,
    "    at async run (https://jsr.io/@std/async/1.0.0/retry.ts:9:3)",
  ].join("\n");
  assert.deepEqual(userFrames(error), [
    `sync (${root}tests/my_test.ts:12:11)`,
    `${root}examples/echo-server/main.ts:3:1`,
    "async run (https://jsr.io/@std/async/1.0.0/retry.ts:9:3)",
  ]);
  assert.deepEqual(userFrames(error, { max: 1 }), [`sync (${root}tests/my_test.ts:12:11)`]);
});

Deno.test("userFrames: looks through the cause chain; nothing for non-errors", () => {
  const inner = new Error("inner");
  inner.stack = `Error: inner\n    at handler (file:///app/main.ts:7:9)`;
  const outer = new Error("outer", { cause: inner });
  outer.stack = `Error: outer\n    at x (${root}runner/controller.ts:1:1)`;
  assert.deepEqual(userFrames(outer), ["handler (file:///app/main.ts:7:9)"]);
  assert.deepEqual(userFrames("a string"), []);
  // A real throw from this file.
  const frames = userFrames(new Error("here"));
  assert.match(frames[0] ?? "", /runner\/error_frames_test\.ts:\d+:\d+/);
});

Deno.test("withFrames: as many frames as fit in the limit, the text always", () => {
  const frames = ["a (file:///a.ts:1:1)", "b (file:///b.ts:2:2)"];
  assert.equal(
    withFrames("failed", frames, 1024),
    "failed\n    at a (file:///a.ts:1:1)\n    at b (file:///b.ts:2:2)",
  );
  const one = withFrames("failed", frames, "failed".length + 30);
  assert.equal(one, "failed\n    at a (file:///a.ts:1:1)");
  assert.equal(new TextEncoder().encode(withFrames("x".repeat(2000), frames, 1024)).length, 1024);
  const long = withFrames("é".repeat(600), frames, 1024);
  assert.ok(new TextEncoder().encode(long).length <= 1024);
  assert.ok(long.endsWith("..."));
});
