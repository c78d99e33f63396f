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
import { isJsonObject, jsonEqual, type JsonObject } from "../../client/_util.ts";

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
