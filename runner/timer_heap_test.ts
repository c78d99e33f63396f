import assert from "node:assert/strict";
import fc from "fast-check";
import { type TimerEntry, TimerHeap } from "./timer_heap.ts";

Deno.test("TimerHeap: peek and pop give the live entries by due time, then by seq", () => {
  // Operations: push a timer for a key (replacing its earlier one, which goes stale), cancel a
  // key's timer, pop the earliest live one, rebuild. Model: a map key → live entry.
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("push" as const),
      key: fc.integer({ min: 0, max: 7 }),
      due: fc.integer({ min: 0, max: 20 }),
    }),
    fc.record({ kind: fc.constant("cancel" as const), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("pop" as const) }),
    fc.record({ kind: fc.constant("rebuild" as const) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
    const live = new Map<string, TimerEntry>();
    const heap = new TimerHeap((entry) => live.get(entry.key)?.seq === entry.seq);
    let seq = 0;
    const earliest = () => [...live.values()].sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
    for (const o of ops) {
      if (o.kind === "push") {
        const entry = { due: o.due, seq: ++seq, key: String(o.key) };
        live.set(entry.key, entry);
        heap.push(entry);
      } else if (o.kind === "cancel") {
        live.delete(String(o.key));
      } else if (o.kind === "rebuild") {
        heap.rebuild();
        assert.equal(heap.length, live.size);
      } else {
        const top = heap.peek();
        assert.deepEqual(top, earliest());
        if (top !== undefined) {
          heap.pop();
          live.delete(top.key);
        }
      }
      assert.deepEqual(heap.peek(), earliest());
    }
  }));
});

Deno.test("TimerHeap: clear drops every entry", () => {
  const heap = new TimerHeap(() => true);
  heap.push({ due: 1, seq: 1, key: "a" });
  heap.push({ due: 0, seq: 2, key: "b" });
  assert.equal(heap.entries().length, 2);
  heap.clear();
  assert.equal(heap.length, 0);
  assert.equal(heap.peek(), undefined);
});
