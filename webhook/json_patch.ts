/**
 * JSON Patch (RFC 6902) between two JSON documents: {@linkcode createJsonPatch} computes the
 * operations that turn one into the other (what a mutating webhook answers), and
 * {@linkcode applyJsonPatch} applies them (what kube-apiserver does with the answer).
 *
 * Objects are compared key by key; arrays element by element while their lengths match, and
 * replaced whole otherwise (the patch is correct and short, not minimal).
 *
 * @module
 */
import { isJsonObject, jsonEqual } from "../client/_util.ts";

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** One JSON Patch operation of the kinds {@linkcode createJsonPatch} emits. */
export type JsonPatchOperation =
  | { op: "add"; path: string; value: unknown }
  | { op: "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

/** Thrown when a patch cannot be applied. */
export class JsonPatchError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, as "Cannot …: detail"
   */
  constructor(message: string) {
    super(message);
    this.name = "JsonPatchError";
  }
}

/**
 * Escapes one reference token of a JSON Pointer (`~` → `~0`, `/` → `~1`).
 *
 * @param token an object key or array index
 * @returns the escaped token
 */
export function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The JSON Patch that turns `from` into `to`.
 *
 * @param from the document as it is
 * @param to the document as it should be
 * @returns the operations, empty when the documents are equal
 */
export function createJsonPatch(from: unknown, to: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  diff(from, to, "", ops);
  return ops;
}

/** A member of an object, never one of its prototype's (`valueOf`, `__proto__`, …). */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function diff(from: unknown, to: unknown, path: string, ops: JsonPatchOperation[]): void {
  if (jsonEqual(from, to)) return;
  if (isJsonObject(from) && isJsonObject(to)) {
    for (const key of Object.keys(from)) {
      if (from[key] !== undefined && own(to, key) === undefined) {
        ops.push({ op: "remove", path: `${path}/${escapePointerToken(key)}` });
      }
    }
    for (const key of Object.keys(to)) {
      if (to[key] === undefined) continue;
      const child = `${path}/${escapePointerToken(key)}`;
      const before = own(from, key);
      if (before === undefined) ops.push({ op: "add", path: child, value: to[key] });
      else diff(before, to[key], child, ops);
    }
    return;
  }
  if (Array.isArray(from) && Array.isArray(to) && from.length === to.length) {
    for (let i = 0; i < to.length; i++) diff(from[i], to[i], `${path}/${i}`, ops);
    return;
  }
  // The whole document: "replace" at the root is what RFC 6902 allows.
  ops.push({ op: "replace", path, value: to });
}

function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) {
    throw new JsonPatchError(`Cannot apply patch: "${path}" is not a JSON Pointer`);
  }
  return path.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/**
 * Applies a JSON Patch of `add`, `replace` and `remove` operations to a copy of `document`.
 *
 * @param document the document (left unchanged)
 * @param operations the operations
 * @returns the patched copy
 * @throws {JsonPatchError} when an operation's path does not exist
 */
export function applyJsonPatch(document: unknown, operations: JsonPatchOperation[]): unknown {
  let root: unknown = structuredClone(document);
  for (const operation of operations) {
    const tokens = parsePointer(operation.path);
    if (tokens.length === 0) {
      if (operation.op === "remove") root = undefined;
      else root = structuredClone(operation.value);
      continue;
    }
    let target: unknown = root;
    for (const token of tokens.slice(0, -1)) {
      target = Array.isArray(target)
        ? target[Number(token)]
        : isJsonObject(target) && Object.hasOwn(target, token)
        ? target[token]
        : undefined;
      if (target === undefined) {
        throw new JsonPatchError(`Cannot apply patch: "${operation.path}" has no parent`);
      }
    }
    const last = tokens.at(-1)!;
    if (Array.isArray(target)) {
      const index = last === "-" ? target.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > target.length) {
        throw new JsonPatchError(`Cannot apply patch: "${operation.path}" is out of range`);
      }
      if (operation.op === "add") target.splice(index, 0, structuredClone(operation.value));
      else if (index === target.length) {
        throw new JsonPatchError(`Cannot apply patch: "${operation.path}" does not exist`);
      } else if (operation.op === "replace") target[index] = structuredClone(operation.value);
      else target.splice(index, 1);
    } else if (isJsonObject(target)) {
      if (operation.op !== "add" && !Object.hasOwn(target, last)) {
        throw new JsonPatchError(`Cannot apply patch: "${operation.path}" does not exist`);
      }
      if (operation.op === "remove") delete target[last];
      else {
        Object.defineProperty(target, last, {
          value: structuredClone(operation.value),
          writable: true,
          enumerable: true,
          configurable: true,
        });
      }
    } else {
      throw new JsonPatchError(`Cannot apply patch: "${operation.path}" has no parent`);
    }
  }
  return root;
}
