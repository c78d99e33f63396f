import assert from "node:assert/strict";
import { Gauge } from "./gauge.ts";
import { Registry } from "./registry.ts";

Deno.test("Gauge: set, inc, dec and a collect callback run at render time", () => {
  const gauge = new Gauge("g", "G.");
  gauge.set(10);
  gauge.inc();
  gauge.inc(4);
  gauge.dec(2);
  gauge.dec();
  assert.equal(gauge.get(), 12);

  let depth = 3;
  let calls = 0;
  const registry = new Registry();
  const collected = registry.gauge("queue_depth", "Depth.", {
    labelNames: ["queue"],
    collect: (g) => {
      calls++;
      g.reset();
      g.set({ queue: "q" }, depth);
    },
  });
  assert.equal(collected.get({ queue: "q" }), 0, "collect does not run before a render");
  assert.match(registry.render(), /^queue_depth\{queue="q"\} 3$/m);
  depth = 9;
  assert.match(registry.render(), /^queue_depth\{queue="q"\} 9$/m);
  assert.equal(calls, 2);
  const labelled = new Gauge("l", "L.", ["x"]);
  labelled.inc({ x: "a" }, 2);
  labelled.dec({ x: "a" });
  labelled.set({ x: "b" }, -4);
  assert.equal(labelled.get({ x: "a" }), 1);
  assert.equal(labelled.get({ x: "b" }), -4);
  assert.equal(labelled.remove({ x: "b" }), true);
  assert.equal(labelled.remove({ x: "b" }), false);
});
