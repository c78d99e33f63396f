/**
 * The JSON merge patch (RFC 7386) that turns the status the operator last saw into the desired
 * one, so that a status write sends what changed instead of the whole parent: keys the desired
 * status lacks are set to `null` (removed), at every depth; arrays and scalars are replaced
 * whole; unchanged keys are left out. A merge patch cannot store a `null` (it deletes the key),
 * so a desired status holding one anywhere, or one that is not a plain object, has no merge patch
 * ({@linkcode statusMergePatch} returns `undefined`) and is written whole instead.
 *
 * @module
 */

/** A JSON object: what a merge patch and a status are. */
export type JsonObject = Record<string, unknown>;

/**
 * Whether a value is a plain JSON object (not `null`, not an array).
 *
 * @param value any value
 * @returns whether it is an object a merge patch recurses into
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Structural equality of JSON values: objects by their keys whatever their order, arrays item by
 * item. A key whose value is `undefined` counts as absent, as in JSON.
 *
 * @param a a JSON value
 * @param b another
 * @returns whether they serialize to the same JSON, key order aside
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length &&
    ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/**
 * Whether a JSON value holds a `null` anywhere: itself, a field at any depth or an array item.
 *
 * @param value a JSON value
 * @returns whether a merge patch would lose something of it
 */
export function containsNull(value: unknown): boolean {
  if (value === null) return true;
  if (typeof value !== "object") return false;
  // An `undefined` item is sent as `null`.
  if (Array.isArray(value)) return value.some((item) => item === undefined || containsNull(item));
  for (const key in value as JsonObject) {
    if (Object.hasOwn(value, key) && containsNull((value as JsonObject)[key])) return true;
  }
  return false;
}

/** Sets an own enumerable key, even `__proto__`, as `JSON.parse` would. */
function setKey(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The merge patch from one object to another (both plain objects); `{}` when equal. */
function diff(current: JsonObject, desired: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(current)) {
    if (
      current[key] !== undefined && (!Object.hasOwn(desired, key) || desired[key] === undefined)
    ) {
      setKey(patch, key, null);
    }
  }
  for (const key of Object.keys(desired)) {
    const want = desired[key];
    if (want === undefined) continue;
    const have = Object.hasOwn(current, key) ? current[key] : undefined;
    if (isJsonObject(want) && isJsonObject(have)) {
      const nested = diff(have, want);
      if (Object.keys(nested).length > 0) setKey(patch, key, nested);
    } else if (!jsonEqual(have, want)) {
      // A new key, an array, a scalar, or an object where there was none: the value whole (an
      // object merged into a non-object starts from `{}`, so it arrives as it is).
      setKey(patch, key, want);
    }
  }
  return patch;
}

/**
 * The JSON merge patch (RFC 7386, `application/merge-patch+json`) that turns `current` into
 * `desired`: keys of `current` that `desired` lacks are `null`, at every depth of nested objects;
 * arrays and scalars are replaced whole; keys whose values are equal are left out, so equal
 * inputs give `{}`. The patch shares values with `desired`: serialize it, do not change it.
 *
 * @param current the status as last seen (any JSON value; one that is not a plain object is
 * replaced whole)
 * @param desired the status to reach, a JSON value (`undefined` fields count as absent)
 * @returns the patch, or `undefined` when no merge patch can give `desired`: it is not a plain
 * object, or holds a `null` anywhere (a merge patch deletes where it has `null`)
 */
export function statusMergePatch(current: unknown, desired: unknown): JsonObject | undefined {
  if (!isJsonObject(desired) || containsNull(desired)) return undefined;
  return diff(isJsonObject(current) ? current : {}, desired);
}
