/**
 * Deciding whether an existing child must be written again: {@linkcode childNeedsWrite}, built
 * on a subset test ({@linkcode isSubset}, with {@linkcode diffPaths} naming what differs, for
 * logs) and a {@linkcode fingerprint} of the desired object that the runner stamps on every child
 * it writes ({@linkcode DESIRED_HASH_ANNOTATION}, {@linkcode withDesiredHash}).
 *
 * ## When a child is written
 *
 * Two questions, and a write when either answer is no:
 *
 * - **Is desired a subset of actual?** Someone else changed, or removed, a field the handler sets
 *   (drift). The rules below decide; fields the API server defaults or others add never count.
 * - **Does the child's `roperator.dev/desired-hash` annotation equal the fingerprint of the
 *   desired object?** The handler changed what it wants since the child was last written. This is
 *   how a field, key, label, annotation or named list item the handler no longer returns reaches
 *   the cluster: it leaves desired a subset of actual, but changes the fingerprint. The
 *   fingerprint is of what the handler returned (after the runner's labels and owner reference),
 *   never of what the API server holds, so defaulting cannot move it.
 *
 * The write is then the strategy's: `Replace` writes the desired object over the child (so
 * removed fields go), `Recreate` deletes it to create it anew, `Apply` applies the desired object
 * with server-side apply, which removes the fields the operator's field manager owned and no
 * longer applies. Each write carries the new annotation, so the next sync writes nothing.
 *
 * A child with no annotation was written by an older version (or someone removed the
 * annotation). When every field the handler sets matches, `Apply` applies it once, which also
 * removes the fields it owned and the handler stopped returning before the upgrade; `Replace` and
 * `Recreate` only add the annotation (a merge patch of the metadata): a `PUT` of a Pod or a Job
 * would be refused (the API server injected fields that are immutable), and a `Recreate` would
 * delete every Pod or re-run every Job after an upgrade. Fields removed before the upgrade then
 * go at the next write.
 *
 * ## Subset rules
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
 * The fingerprint sees what the subset test cannot: a removed key or named item, and the order
 * of a list. Key order does not count, but reordering a list (env vars, containers) is a change:
 * it is written once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { KubernetesObject } from "../client/resource_type.ts";
import { isJsonObject } from "../client/_util.ts";
import type { UpdateStrategy } from "../config/operator_config.ts";

/**
 * The annotation the runner stamps on every child it writes: the {@linkcode fingerprint} of the
 * desired object it wrote (see {@linkcode desiredHash}). A cache transform must keep it.
 */
export const DESIRED_HASH_ANNOTATION = "roperator.dev/desired-hash";

/** Options for {@linkcode diffPaths}. */
export interface DiffPathsOptions {
  /** Stop after this many paths. Default 100. */
  limit?: number;
}

type Json = Record<string, unknown>;

function isNamed(value: unknown): value is Json & { name: string } {
  return isJsonObject(value) && typeof value.name === "string";
}

/** Whether desired asks for nothing that a missing field lacks: `null`, `{}`, `[]` and nests. */
function isEmptyish(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isJsonObject(value)) return Object.values(value).every(isEmptyish);
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
  readonly out: DiffEntry[] | undefined;
  readonly limit: number;

  constructor(out: DiffEntry[] | undefined, limit: number) {
    this.out = out;
    this.limit = limit;
  }

  get full(): boolean {
    return this.out !== undefined && this.out.length >= this.limit;
  }

  /** Records a difference with the values on both sides; returns false. */
  differ(path: string, desired: unknown, actual: unknown): false {
    if (this.out !== undefined && this.out.length < this.limit) {
      this.out.push({ path: path || "(root)", expected: desired, actual });
    }
    return false;
  }

  /** Compares, returning whether desired is a subset of actual. */
  compare(desired: unknown, actual: unknown, path: string): boolean {
    if (desired === undefined) return true;
    if (desired === null) {
      return actual === null || actual === undefined || this.differ(path, desired, actual);
    }
    if (actual === undefined || actual === null) {
      return isEmptyish(desired) || this.differ(path, desired, actual);
    }
    if (Array.isArray(desired)) {
      return Array.isArray(actual)
        ? this.compareArrays(desired, actual, path)
        : this.differ(path, desired, actual);
    }
    if (isJsonObject(desired)) {
      if (!isJsonObject(actual)) return this.differ(path, desired, actual);
      let same = true;
      for (const [key, value] of Object.entries(desired)) {
        if (!this.compare(value, actual[key], keyPath(path, key))) {
          same = false;
          if (this.out === undefined || this.full) return false;
        }
      }
      return same;
    }
    return desired === actual || this.differ(path, desired, actual);
  }

  compareArrays(desired: unknown[], actual: unknown[], path: string): boolean {
    if (desired.length === 0) {
      return actual.length === 0 || actual.every(isNamed) || this.differ(path, desired, actual);
    }
    if (desired.every(isNamed)) {
      let same = true;
      for (const item of desired) {
        const itemPath = namePath(path, item.name);
        const match = actual.find((candidate) =>
          isNamed(candidate) && candidate.name === item.name
        );
        if (
          match === undefined
            ? !this.differ(itemPath, item, undefined)
            : !this.compare(item, match, itemPath)
        ) {
          same = false;
          if (this.out === undefined || this.full) return false;
        }
      }
      return same;
    }
    let same = true;
    if (desired.length !== actual.length) {
      same = this.differ(path, desired, actual);
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
  return diffEntries(desired, actual, options).map((entry) => entry.path);
}

/** One place where the desired object is not a subset of the actual one. */
export interface DiffEntry {
  /** The path, as {@linkcode diffPaths} writes it. */
  path: string;
  /** The desired value there. */
  expected: unknown;
  /** The actual value there (`undefined` when it is missing). */
  actual: unknown;
}

/**
 * The places where the desired object is not a subset of the actual one, with the values on
 * both sides: what {@linkcode diffPaths} says, for a test failure that explains itself.
 *
 * @example
 * ```ts
 * import { diffEntries } from "./diff.ts";
 * diffEntries({ data: { a: "1" } }, { data: { a: "2" } });
 * // [{ path: "data.a", expected: "1", actual: "2" }]
 * ```
 *
 * @param desired the desired object
 * @param actual the actual object
 * @param options the most entries to return
 * @returns the differences, in desired's key order
 */
export function diffEntries(
  desired: unknown,
  actual: unknown,
  options: DiffPathsOptions = {},
): DiffEntry[] {
  const out: DiffEntry[] = [];
  const limit = options.limit ?? 100;
  if (limit <= 0) return out;
  new Walker(out, limit).compare(desired, actual, "");
  return out;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => item === undefined ? "null" : canonicalJson(item)).join(",")}]`;
  }
  if (isJsonObject(value)) {
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
 * `undefined` fields dropped, so key order does not matter (list order does). The runner stamps
 * it on children ({@linkcode desiredHash}) to notice when the desired object changed in a way
 * {@linkcode isSubset} cannot see, such as a removed key or named list item.
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

/** The object without the desired-hash annotation (the same object when it has none). */
function withoutDesiredHash<T extends KubernetesObject>(object: T): T {
  const annotations = object.metadata?.annotations;
  if (!annotations || !(DESIRED_HASH_ANNOTATION in annotations)) return object;
  const { [DESIRED_HASH_ANNOTATION]: _dropped, ...rest } = annotations;
  const metadata = { ...object.metadata };
  if (Object.keys(rest).length > 0) metadata.annotations = rest;
  else delete metadata.annotations;
  return { ...object, metadata };
}

/**
 * The value of {@linkcode DESIRED_HASH_ANNOTATION} for a desired child: the
 * {@linkcode fingerprint} of the object, leaving out that annotation if it is already there.
 *
 * @example
 * ```ts
 * import { desiredHash } from "./diff.ts";
 * const desired = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } };
 * desiredHash(desired).length; // 64
 * ```
 *
 * @param desired the desired child, as it will be written (labels and owner reference included)
 * @returns 64 hex digits
 */
export function desiredHash(desired: KubernetesObject): string {
  return fingerprint(withoutDesiredHash(desired));
}

/**
 * A copy of the desired child with {@linkcode DESIRED_HASH_ANNOTATION} set to its
 * {@linkcode desiredHash}: what the runner creates, replaces or applies. The input is not
 * changed.
 *
 * @example
 * ```ts
 * import { DESIRED_HASH_ANNOTATION, desiredHash, withDesiredHash } from "./diff.ts";
 * const desired = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } };
 * const stamped = withDesiredHash(desired);
 * stamped.metadata.annotations[DESIRED_HASH_ANNOTATION] === desiredHash(desired); // true
 * ```
 *
 * @param desired the desired child
 * @param hash its hash, when already computed (by {@linkcode childNeedsWrite})
 * @returns the stamped copy
 */
export function withDesiredHash<T extends KubernetesObject>(
  desired: T,
  hash: string = desiredHash(desired),
): T & { metadata: { annotations: Record<string, string> } } {
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [DESIRED_HASH_ANNOTATION]: hash },
    },
  };
}

/**
 * A JSON merge patch that only sets {@linkcode DESIRED_HASH_ANNOTATION}: the `"stamp"` action of
 * {@linkcode childNeedsWrite}. It is not guarded by a resourceVersion: a field changed meanwhile
 * is drift, which the next sync sees whatever the annotation says.
 *
 * @param hash the desired hash
 * @returns the patch body
 */
export function desiredHashPatch(
  hash: string,
): { metadata: { annotations: Record<string, string> } } {
  return { metadata: { annotations: { [DESIRED_HASH_ANNOTATION]: hash } } };
}

/**
 * What to do with an existing child (see {@linkcode ChildWriteDecision.action}):
 *
 * - `"none"`: it matches; write nothing.
 * - `"write"`: the strategy's write (`Replace`: PUT the desired object; `Recreate`: delete it,
 *   to create it anew; `Apply`: server-side apply), stamped with {@linkcode withDesiredHash}.
 * - `"stamp"`: only set the annotation, with {@linkcode desiredHashPatch} (a child written by an
 *   older version, with `Replace` or `Recreate`).
 */
export type ChildAction = "none" | "write" | "stamp";

/** The answer of {@linkcode childNeedsWrite}. */
export interface ChildWriteDecision {
  /** What to do. */
  action: ChildAction;
  /**
   * Why, for logs: the paths that drifted (at most five, as {@linkcode diffPaths} names them),
   * or a note on the annotation; empty when the action is `"none"`.
   */
  reasons: string[];
  /** The {@linkcode desiredHash} of the desired child, to stamp on what is written. */
  hash: string;
}

/**
 * Whether an existing child must be written, and why (see the module documentation): a write
 * when desired is not a subset of actual (drift), or when the child's desired-hash annotation is
 * not the fingerprint of the desired object (the handler changed what it wants, removals
 * included). A child without the annotation (written by an older version) that matches is applied
 * once with `Apply`, and only stamped with `Replace` and `Recreate`. `OnDelete` never updates:
 * always `"none"`.
 *
 * @example
 * ```ts
 * import { childNeedsWrite, withDesiredHash } from "./diff.ts";
 * const before = {
 *   apiVersion: "v1",
 *   kind: "ConfigMap",
 *   metadata: { name: "c" },
 *   data: { a: "1", b: "2" },
 * };
 * const actual = { ...withDesiredHash(before), data: { a: "1", b: "2" } };
 * childNeedsWrite(before, actual, "Replace").action; // "none"
 * const after = { ...before, data: { a: "1" } }; // "b" removed: still a subset of actual
 * childNeedsWrite(after, actual, "Replace").action; // "write"
 * ```
 *
 * @param desired the desired child (with or without the annotation: it is ignored)
 * @param actual the child the API server holds (or the cache's copy of it)
 * @param strategy the update strategy of the child's type
 * @returns the action, the reasons and the desired hash
 */
export function childNeedsWrite(
  desired: KubernetesObject,
  actual: KubernetesObject,
  strategy: UpdateStrategy,
): ChildWriteDecision {
  const bare = withoutDesiredHash(desired);
  const hash = fingerprint(bare);
  if (strategy === "OnDelete") return { action: "none", reasons: [], hash };
  if (!isSubset(bare, actual)) {
    return { action: "write", reasons: diffPaths(bare, actual, { limit: 5 }), hash };
  }
  const recorded = actual.metadata?.annotations?.[DESIRED_HASH_ANNOTATION];
  if (recorded === hash) return { action: "none", reasons: [], hash };
  if (recorded === undefined) {
    return {
      action: strategy === "Apply" ? "write" : "stamp",
      reasons: [`no ${DESIRED_HASH_ANNOTATION} annotation (written by an older version)`],
      hash,
    };
  }
  return {
    action: "write",
    reasons: [
      `the desired object changed (${DESIRED_HASH_ANNOTATION} ${recorded.slice(0, 12)} → ${
        hash.slice(0, 12)
      })`,
    ],
    hash,
  };
}
