import assert from "node:assert/strict";
import { describeCause, messageOf, microTime, sleep, sleepOrAbort } from "./_util.ts";

Deno.test("sleep resolves after the wait", async () => {
  assert.equal(await sleep(1), undefined);
});

Deno.test("sleep rejects with the signal's reason, at once or when it aborts", async () => {
  const stop = new Error("stop");
  await assert.rejects(sleep(60_000, AbortSignal.abort(stop)), (error) => error === stop);
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort(stop);
  // A timer left running would also fail the test (Deno's sanitizer).
  await assert.rejects(waiting, (error) => error === stop);
});

Deno.test("sleepOrAbort resolves when the signal aborts, and after the wait", async () => {
  await sleepOrAbort(60_000, AbortSignal.abort(new Error("stop")));
  const controller = new AbortController();
  const waiting = sleepOrAbort(60_000, controller.signal);
  controller.abort(new Error("stop"));
  assert.equal(await waiting, undefined);
  assert.equal(await sleepOrAbort(-5, new AbortController().signal), undefined);
});

Deno.test("messageOf gives an Error's message, or the thrown value as text", () => {
  assert.equal(messageOf(new TypeError("bad type")), "bad type");
  assert.equal(messageOf("plain"), "plain");
  assert.equal(messageOf(42), "42");
  assert.equal(messageOf(undefined), "undefined");
});

Deno.test("describeCause joins the messages of the cause chain, each once, five deep", () => {
  const root = new Error("connection refused");
  const error = new Error("fetch failed", { cause: new Error("fetch failed", { cause: root }) });
  assert.equal(describeCause(error), "fetch failed: connection refused");
  assert.equal(describeCause(new Error("outer", { cause: "inner" })), "outer: inner");
  let deep: Error = new Error("e6");
  for (let i = 5; i >= 1; i--) deep = new Error(`e${i}`, { cause: deep });
  assert.equal(describeCause(deep), "e1: e2: e3: e4: e5");
});

Deno.test("microTime has six fractional digits", () => {
  assert.equal(
    microTime(new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 123))),
    "2024-05-01T12:00:00.123000Z",
  );
  assert.match(microTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});
