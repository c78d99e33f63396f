import assert from "node:assert/strict";
import fc from "fast-check";
import { jsonEqual } from "../client/_util.ts";
import { applyJsonPatch, createJsonPatch, JsonPatchError } from "./json_patch.ts";

Deno.test("createJsonPatch: applying the patch to the source gives the target", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (from, to) => {
      const patched = applyJsonPatch(from, createJsonPatch(from, to));
      assert.ok(jsonEqual(patched, to), JSON.stringify({ from, to, patched }));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("createJsonPatch: small edits of an object give small patches", () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string(), fc.jsonValue()),
      fc.string(),
      fc.jsonValue(),
      (object, key, value) => {
        const to = { ...object };
        Object.defineProperty(to, key, { value, enumerable: true, writable: true });
        const ops = createJsonPatch(object, to);
        assert.ok(ops.length <= 1 || Array.isArray(value) || typeof value === "object");
        assert.ok(jsonEqual(applyJsonPatch(object, ops), to));
      },
    ),
  );
});

Deno.test("createJsonPatch: keys with / and ~ are escaped", () => {
  const ops = createJsonPatch({ a: { "x/y": 1 } }, { a: { "x/y": 2, "m~n": 3 } });
  assert.deepEqual(ops, [
    { op: "replace", path: "/a/x~1y", value: 2 },
    { op: "add", path: "/a/m~0n", value: 3 },
  ]);
});

Deno.test("createJsonPatch: equal documents give no operations", () => {
  assert.deepEqual(createJsonPatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
});

Deno.test("applyJsonPatch: a missing path is an error", () => {
  assert.throws(
    () => applyJsonPatch({}, [{ op: "replace", path: "/a", value: 1 }]),
    JsonPatchError,
  );
  assert.throws(() => applyJsonPatch({}, [{ op: "add", path: "/a/b", value: 1 }]), JsonPatchError);
});
