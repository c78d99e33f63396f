/**
 * Deciding whether an existing child already matches the desired one: {@linkcode isSubset}, the
 * paths that differ for logs ({@linkcode diffPaths}), and a {@linkcode fingerprint} of the desired
 * object to notice changes a subset test cannot see.
 *
 * ## Rules
 *
 * The desired object is what the handler returned: it names only the fields the handler cares
 * about. The actual object is what the API server holds, after defaulting, admission and other
 * controllers. Desired is a subset of actual when:
 *
 * - **Objects**: every key present in desired matches in actual; extra keys in actual are
 *   ignored (defaulted fields, labels added by others). A desired `undefined` is ignored.
 * - **`null`**: matches a missing field or `null` (a field the handler wants absent).
 * - **Empty desired values** (`{}`, `[]`, or objects made only of those): also match a missing
 *   field, because the API server drops empty maps and lists (`omitempty`); otherwise the child
 *   would be rewritten forever.
 * - **Lists of named objects** (every desired item is an object with a string `name`:
 *   containers, env, volumes, ports, ...): items are matched by name, in any order; extra
 *   actual items are **ignored**, because admission injects some (the service-account token
 *   volume and its mounts, sidecars, image pull secrets). A desired item whose name is missing
 *   in actual is a difference. An empty desired list matches an actual list of named objects.
 * - **Other lists** (scalars, or objects without names such as RBAC rules or tolerations): the
 *   lengths must be equal and items are compared by index, so removing an item is noticed.
 *   Caveat: the API server appends default tolerations to Pods, so a Pod child that sets
 *   `tolerations` must list those defaults too (or use the `OnDelete` strategy).
 * - **Scalars**: strict equality, so `"1"` differs from `1`. Quantities are compared as written:
 *   write them in canonical form (`"1"` rather than `"1000m"`, `"1Gi"` rather than
 *   `"1024Mi"`) or the child is rewritten at every sync.
 *
 * Removing a named item, or a key, from the desired object leaves it a subset of the actual one.
 * To notice such removals, store {@linkcode fingerprint}`(desired)` on the child (for example in
 * an annotation) and write it again when the fingerprint changes.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Options for {@linkcode diffPaths}. */
export interface DiffPathsOptions {
  /** Stop after this many paths. Default 100. */
  limit?: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNamed(value: unknown): value is Json & { name: string } {
  return isObject(value) && typeof value.name === "string";
}

/** Whether desired asks for nothing that a missing field lacks: `null`, `{}`, `[]` and nests. */
function isEmptyish(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.values(value).every(isEmptyish);
  return false;
}

function keyPath(path: string, key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function namePath(path: string, name: string): string {
  return /^[A-Za-z0-9._-]*$/.test(name)
    ? `${path}[name=${name}]`
    : `${path}[name=${JSON.stringify(name)}]`;
}

/** Collects differences; `out` undefined means stop at the first one. */
class Walker {
  readonly out: string[] | undefined;
  readonly limit: number;

  constructor(out: string[] | undefined, limit: number) {
    this.out = out;
    this.limit = limit;
  }

  get full(): boolean {
    return this.out !== undefined && this.out.length >= this.limit;
  }

  /** Records a difference; returns false. */
  differ(path: string): false {
    if (this.out !== undefined && this.out.length < this.limit) this.out.push(path || "(root)");
    return false;
  }

  /** Compares, returning whether desired is a subset of actual. */
  compare(desired: unknown, actual: unknown, path: string): boolean {
    if (desired === undefined) return true;
    if (desired === null) return actual === null || actual === undefined || this.differ(path);
    if (actual === undefined || actual === null) {
      return isEmptyish(desired) || this.differ(path);
    }
    if (Array.isArray(desired)) {
      return Array.isArray(actual) ? this.compareArrays(desired, actual, path) : this.differ(path);
    }
    if (isObject(desired)) {
      if (!isObject(actual)) return this.differ(path);
      let same = true;
      for (const [key, value] of Object.entries(desired)) {
        if (!this.compare(value, actual[key], keyPath(path, key))) {
          same = false;
          if (this.out === undefined || this.full) return false;
        }
      }
      return same;
    }
    return desired === actual || this.differ(path);
  }

  compareArrays(desired: unknown[], actual: unknown[], path: string): boolean {
    if (desired.length === 0) {
      return actual.length === 0 || actual.every(isNamed) || this.differ(path);
    }
    if (desired.every(isNamed)) {
      let same = true;
      for (const item of desired) {
        const itemPath = namePath(path, item.name);
        const match = actual.find((candidate) =>
          isNamed(candidate) && candidate.name === item.name
        );
        if (match === undefined ? !this.differ(itemPath) : !this.compare(item, match, itemPath)) {
          same = false;
          if (this.out === undefined || this.full) return false;
        }
      }
      return same;
    }
    let same = true;
    if (desired.length !== actual.length) {
      same = this.differ(path);
      if (this.out === undefined || this.full) return false;
    }
    const common = Math.min(desired.length, actual.length);
    for (let i = 0; i < common; i++) {
      if (!this.compare(desired[i], actual[i], `${path}[${i}]`)) {
        same = false;
        if (this.out === undefined || this.full) return false;
      }
    }
    return same;
  }
}

/**
 * Whether the desired object is a subset of the actual one, so that no update is needed (see the
 * module documentation for the rules).
 *
 * @example
 * ```ts
 * import { isSubset } from "./diff.ts";
 * const desired = { spec: { containers: [{ name: "app", image: "nginx:1.27" }] } };
 * const actual = {
 *   spec: {
 *     containers: [{ name: "app", image: "nginx:1.27", imagePullPolicy: "IfNotPresent" }],
 *     restartPolicy: "Always",
 *   },
 * };
 * isSubset(desired, actual); // true
 * isSubset({ spec: { args: ["-v"] } }, { spec: { args: ["-v", "-q"] } }); // false
 * ```
 *
 * @param desired the object the handler returned (or any part of it)
 * @param actual the object the API server holds (or the same part of it)
 * @returns `true` when every field in desired matches actual
 */
export function isSubset(desired: unknown, actual: unknown): boolean {
  return new Walker(undefined, 0).compare(desired, actual, "");
}

/**
 * The paths at which the desired object is not a subset of the actual one, for logs: empty
 * exactly when {@linkcode isSubset} is `true`. Paths look like `spec.replicas`,
 * `spec.template.spec.containers[name=app].image`, `spec.rules[0].verbs` or
 * `metadata.labels["app.kubernetes.io/name"]`; a list whose length differs is reported as the
 * list itself, a missing named item as `list[name=x]`, and a difference at the top as `(root)`.
 *
 * @example
 * ```ts
 * import { diffPaths } from "./diff.ts";
 * diffPaths(
 *   { spec: { replicas: 3, template: { spec: { containers: [{ name: "app", image: "b" }] } } } },
 *   { spec: { replicas: 2, template: { spec: { containers: [{ name: "app", image: "a" }] } } } },
 * ); // ["spec.replicas", "spec.template.spec.containers[name=app].image"]
 * ```
 *
 * @param desired the object the handler returned
 * @param actual the object the API server holds
 * @param options the most paths to return
 * @returns the differing paths, in desired's key order
 */
export function diffPaths(
  desired: unknown,
  actual: unknown,
  options: DiffPathsOptions = {},
): string[] {
  const out: string[] = [];
  const limit = options.limit ?? 100;
  if (limit <= 0) return out;
  new Walker(out, limit).compare(desired, actual, "");
  return out;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => item === undefined ? "null" : canonicalJson(item)).join(",")}]`;
  }
  if (isObject(value)) {
    const entries = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A stable hash of a JSON value: the SHA-256 (hex) of its JSON with object keys sorted and
 * `undefined` fields dropped, so key order does not matter. Store it on a child to notice when
 * the desired object changed in a way {@linkcode isSubset} cannot see, such as a removed key or
 * named list item.
 *
 * @example
 * ```ts
 * import { fingerprint } from "./diff.ts";
 * fingerprint({ a: 1, b: [2] }) === fingerprint({ b: [2], a: 1 }); // true
 * ```
 *
 * @param value a JSON value
 * @returns 64 hex digits
 */
export function fingerprint(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}
