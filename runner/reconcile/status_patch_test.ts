/**
 * The status merge patch, property-based: for random JSON objects `current` (nulls allowed, as a
 * `nullable` field may store one) and `desired` (without nulls), applying the patch to `current`
 * with RFC 7386 semantics gives exactly `desired`, and the patch holds no key whose value
 * `current` already has; a desired status with a `null` anywhere, or that is not an object, has
 * no merge patch. A few examples show the shape of a patch.
 *
 * Replay a failure with `FC_SEED=<seed> deno test -A runner/reconcile/status_patch_test.ts` (and
 * `FC_PATH=<path>` for the shrunk case). `FC_RUNS` changes the number of cases.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { isJsonObject, jsonEqual, type JsonObject } from "../../client/_util.ts";
import { containsNull, statusMergePatch } from "./status_patch.ts";

const seed = Number(Deno.env.get("FC_SEED") ?? Date.now() % 2 ** 31);
const path = Deno.env.get("FC_PATH");
const numRuns = Number(Deno.env.get("FC_RUNS") ?? 2000);
const params = { seed, numRuns, ...(path ? { path } : {}) };

/** Sets an own key, even `__proto__`. */
function setKey(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** RFC 7386 `MergePatch(Target, Patch)`, as written in section 2 of the RFC. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: JsonObject = {};
  if (isJsonObject(target)) { for (const [k, v] of Object.entries(target)) setKey(result, k, v); }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else {setKey(
        result,
        key,
        applyMergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value),
      );}
  }
  return result;
}

/** The value as the API server receives it. */
function json(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/**
 * Checks that every key of the patch changes something: a `null` removes a key `current` has, a
 * nested patch is not empty and goes into an object `current` has there, any other value differs
 * from `current`'s.
 */
function assertMinimal(current: unknown, patch: JsonObject, at = "status"): void {
  for (const [key, value] of Object.entries(patch)) {
    const has = isJsonObject(current) && Object.hasOwn(current, key);
    const now = has ? (current as JsonObject)[key] : undefined;
    if (value === null) {
      assert.ok(has, `${at}.${key}: null for a key current lacks`);
    } else if (isJsonObject(value) && isJsonObject(now)) {
      assert.ok(Object.keys(value).length > 0, `${at}.${key}: an empty nested patch`);
      assertMinimal(now, value, `${at}.${key}`);
    } else {
      assert.ok(!jsonEqual(now, value), `${at}.${key}: a value current already has`);
    }
  }
}

// Few keys, so that `current` and `desired` share many; `__proto__` and a dotted key among them.
const key = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("a", "b", "c", "phase", "__proto__", "x.y") },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
const scalar = fc.oneof(
  fc.boolean(),
  fc.integer({ min: -2, max: 2 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom("", "x", "y"),
  fc.string({ maxLength: 3 }),
);

/** Arbitrary JSON values and objects, with or without nulls. */
function jsonArbitraries(nulls: boolean) {
  const leaf = nulls ? fc.oneof({ weight: 5, arbitrary: scalar }, fc.constant(null)) : scalar;
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      tie("array"),
      tie("object"),
    ),
    array: fc.array(tie("value"), { maxLength: 3 }),
    object: fc.dictionary(key, tie("value"), { maxKeys: 4 }),
  }));
}

const withNulls = jsonArbitraries(true);
const withoutNulls = jsonArbitraries(false);

const DROP = Symbol("drop");

/**
 * `value` with random edits, so that much of it is left equal: per key of an object, kept,
 * dropped, edited deeper or replaced, and new keys; an array kept, shortened or replaced; a
 * scalar kept or replaced. The result has no nulls when `value` had none.
 */
function edited(value: unknown): fc.Arbitrary<unknown> {
  if (isJsonObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => !containsNull(v));
    return fc.tuple(
      fc.tuple(...entries.map(([, v]) =>
        fc.oneof(
          { weight: 3, arbitrary: fc.constant<unknown>(v) },
          { weight: 1, arbitrary: fc.constant<unknown>(DROP) },
          { weight: 2, arbitrary: edited(v) },
          { weight: 1, arbitrary: withoutNulls.value as fc.Arbitrary<unknown> },
        )
      )),
      withoutNulls.object,
    ).map(([values, added]) => {
      const out: JsonObject = {};
      for (const [i, [k]] of entries.entries()) {
        if (values[i] !== DROP) setKey(out, k, values[i]);
      }
      for (const [k, v] of Object.entries(added)) setKey(out, k, v);
      return out;
    });
  }
  if (Array.isArray(value)) {
    return fc.oneof(
      fc.constant<unknown>(value.filter((v) => !containsNull(v))),
      fc.constant<unknown>(value.filter((v) => !containsNull(v)).slice(0, -1)),
      withoutNulls.value as fc.Arbitrary<unknown>,
    );
  }
  return fc.oneof(
    fc.constant<unknown>(value === null ? 0 : value),
    withoutNulls.value as fc.Arbitrary<unknown>,
  );
}

/** `[current, desired]`: unrelated objects, or `desired` edited from `current`. */
const pair: fc.Arbitrary<[JsonObject, JsonObject]> = fc.oneof(
  fc.tuple(withNulls.object, withoutNulls.object),
  withNulls.object.chain((current) =>
    fc.tuple(fc.constant(current), edited(current) as fc.Arbitrary<JsonObject>)
  ),
);

Deno.test("statusMergePatch (property): applied to current it gives exactly desired, and changes only what differs", () => {
  console.log(`fast-check seed ${seed} (replay: FC_SEED=${seed})`);
  const stats = { runs: 0, removals: 0, nested: 0, unchanged: 0 };
  fc.assert(
    fc.property(pair, ([current, desired]) => {
      const before = json(current);
      const desiredBefore = json(desired);
      const patch = statusMergePatch(current, desired);
      assert.ok(patch !== undefined, "an object without nulls has a merge patch");
      assert.deepStrictEqual(json(applyMergePatch(json(current), json(patch))), json(desired));
      assertMinimal(current, patch);
      assert.deepStrictEqual(json(current), before, "current is left as it was");
      assert.deepStrictEqual(json(desired), desiredBefore, "desired is left as it was");
      stats.runs++;
      const text = JSON.stringify(patch);
      if (text.includes("null")) stats.removals++;
      if (Object.values(patch).some(isJsonObject)) stats.nested++;
      if (Object.keys(patch).length === 0) stats.unchanged++;
    }),
    params,
  );
  console.log(stats);
  // The cases covered what matters, not only unrelated pairs.
  assert.ok(stats.removals > stats.runs / 10, `removals in ${stats.removals} cases`);
  assert.ok(stats.nested > stats.runs / 20, `nested patches in ${stats.nested} cases`);
  assert.ok(stats.unchanged > 0, "some pairs were equal");
});

Deno.test("statusMergePatch (property): equal statuses give an empty patch", () => {
  fc.assert(
    fc.property(withoutNulls.object, (status) => {
      assert.deepStrictEqual(statusMergePatch(status, json(status)), {});
    }),
    params,
  );
});

Deno.test("statusMergePatch (property): none for a desired status with a null anywhere, or that is not an object", () => {
  fc.assert(
    fc.property(withNulls.object, withNulls.value, (current, desired) => {
      const patch = statusMergePatch(current, desired);
      const expectNone = !isJsonObject(desired) || JSON.stringify(desired).includes("null");
      assert.equal(patch === undefined, expectNone, JSON.stringify(desired));
    }),
    params,
  );
});

Deno.test("statusMergePatch: a dropped key, a dropped nested key and a shorter list", () => {
  const current = {
    phase: "Ready",
    message: "all good",
    nested: { keep: 1, drop: 2, deeper: { keep: true, drop: "x" } },
    list: [1, 2, 3],
    observedGeneration: 3,
  };
  const desired = {
    phase: "Ready",
    nested: { keep: 1, deeper: { keep: true } },
    list: [1],
    observedGeneration: 4,
  };
  assert.deepStrictEqual(statusMergePatch(current, desired), {
    message: null,
    nested: { drop: null, deeper: { drop: null } },
    list: [1],
    observedGeneration: 4,
  });
});

Deno.test("statusMergePatch: an absent or non-object current status is replaced whole", () => {
  const desired = { phase: "Ready", nested: {} };
  assert.deepStrictEqual(statusMergePatch(undefined, desired), desired);
  assert.deepStrictEqual(statusMergePatch("old", desired), desired);
  assert.deepStrictEqual(statusMergePatch([1], desired), desired);
  // An object where there was a scalar or a list: the whole object.
  assert.deepStrictEqual(
    statusMergePatch({ a: 1, b: [1] }, { a: { x: 1 }, b: { y: {} } }),
    { a: { x: 1 }, b: { y: {} } },
  );
});

Deno.test("statusMergePatch: none when the desired status holds a null or is not an object", () => {
  assert.equal(statusMergePatch({ a: 1 }, { a: null }), undefined);
  assert.equal(statusMergePatch({ a: 1 }, { a: { b: [{ c: null }] } }), undefined);
  assert.equal(statusMergePatch({ a: 1 }, { a: [undefined] }), undefined, "sent as [null]");
  assert.equal(statusMergePatch({ a: 1 }, undefined), undefined);
  assert.equal(statusMergePatch({ a: 1 }, null), undefined);
  assert.equal(statusMergePatch({ a: 1 }, "Ready"), undefined);
  assert.equal(statusMergePatch({ a: 1 }, [1]), undefined);
});

Deno.test("statusMergePatch: undefined fields count as absent, and __proto__ is a key like any", () => {
  assert.deepStrictEqual(statusMergePatch({ a: 1, b: 2 }, { a: 1, b: undefined }), { b: null });
  assert.deepStrictEqual(statusMergePatch({ a: 1, b: undefined }, { a: 1 }), {});
  const current = JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
  const patch = statusMergePatch(current, { a: 1 })!;
  assert.equal(JSON.stringify(patch), '{"__proto__":null}');
  assert.equal(Object.getPrototypeOf(patch), Object.prototype);
});
