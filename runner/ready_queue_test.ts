import assert from "node:assert/strict";
import fc from "fast-check";
import { ReadyQueue } from "./ready_queue.ts";

Deno.test("ReadyQueue: pop gives the live keys in the order they were pushed", () => {
  // Operations: push a key with a new ticket (its earlier entry goes stale), forget a key (its
  // entry goes stale), pop. Model: the FIFO of (key, ticket) pairs still live.
  const op = fc.oneof(
    fc.record({ kind: fc.constant("push" as const), key: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant("forget" as const), key: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant("pop" as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
      const tickets = new Map<string, number>();
      const queue = new ReadyQueue((key, ticket) => tickets.get(key) === ticket);
      let model: Array<[string, number]> = [];
      let seq = 0;
      for (const o of ops) {
        if (o.kind === "push") {
          const key = String(o.key);
          tickets.set(key, ++seq);
          queue.push(key, seq);
          model.push([key, seq]);
        } else if (o.kind === "forget") {
          tickets.delete(String(o.key));
        } else {
          model = model.filter(([key, ticket]) => tickets.get(key) === ticket);
          const expected = model.shift();
          const key = queue.pop();
          assert.equal(key, expected?.[0]);
          if (key !== undefined) tickets.delete(key);
        }
      }
    }),
    { numRuns: 50 },
  );
});

Deno.test("ReadyQueue: clear drops every entry", () => {
  const queue = new ReadyQueue(() => true);
  queue.push("a", 1);
  queue.clear();
  assert.equal(queue.pop(), undefined);
});
