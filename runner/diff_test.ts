import assert from "node:assert/strict";
import fc from "fast-check";
import type { KubernetesObject } from "../client/resource_type.ts";
import {
  childNeedsWrite,
  DESIRED_HASH_ANNOTATION,
  desiredHash,
  desiredHashPatch,
  diffPaths,
  fingerprint,
  isSubset,
  withDesiredHash,
} from "./diff.ts";
import { LAST_APPLIED_ANNOTATION, pruneCachedObject } from "./cache_object.ts";

// [description, desired, actual, expected differing paths ([] = subset)]
const CASES: [string, unknown, unknown, string[]][] = [
  // Scalars
  ["equal scalars", 1, 1, []],
  ["different numbers", 1, 2, ["(root)"]],
  ["number vs string stays strict", { cpu: "1" }, { cpu: 1 }, ["cpu"]],
  ["quantities compared as written", { cpu: "1000m" }, { cpu: "1" }, ["cpu"]],
  ["booleans", { a: true }, { a: false }, ["a"]],
  ["string vs object", { a: "x" }, { a: { b: 1 } }, ["a"]],
  // Objects
  ["extra actual keys are ignored", { a: 1 }, { a: 1, b: 2 }, []],
  ["missing actual key", { a: 1, b: 2 }, { a: 1 }, ["b"]],
  ["nested difference", { spec: { replicas: 3 } }, { spec: { replicas: 2 } }, [
    "spec.replicas",
  ]],
  ["undefined desired is ignored", { a: undefined, b: 1 }, { b: 1 }, []],
  ["null desired matches missing", { a: null }, {}, []],
  ["null desired matches null", { a: null }, { a: null }, []],
  ["null desired vs present value", { a: null }, { a: 1 }, ["a"]],
  ["empty object matches missing (omitempty)", { metadata: { annotations: {} } }, {
    metadata: {},
  }, []],
  ["nested empties match missing", { spec: { securityContext: { x: {} } } }, { spec: {} }, []],
  ["non-empty object vs missing", { spec: { a: 1 } }, {}, ["spec"]],
  ["object vs array", { a: {} }, { a: [] }, ["a"]],
  [
    "odd keys are quoted",
    { metadata: { labels: { "app.kubernetes.io/name": "x" } } },
    { metadata: { labels: { "app.kubernetes.io/name": "y" } } },
    ['metadata.labels["app.kubernetes.io/name"]'],
  ],
  // Scalar lists: same length, same order
  ["equal scalar lists", { args: ["a", "b"] }, { args: ["a", "b"] }, []],
  ["removed scalar item is noticed", { args: ["a"] }, { args: ["a", "b"] }, ["args"]],
  ["added scalar item", { args: ["a", "b"] }, { args: ["a"] }, ["args"]],
  ["reordered scalar list", { args: ["b", "a"] }, { args: ["a", "b"] }, ["args[0]", "args[1]"]],
  ["empty list matches missing (omitempty)", { args: [] }, {}, []],
  ["empty list vs scalar items", { args: [] }, { args: ["a"] }, ["args"]],
  ["list vs object", { args: ["a"] }, { args: { 0: "a" } }, ["args"]],
  // Lists of named objects: by name, order-free, extra actual items ignored
  [
    "named items match by name in any order",
    { containers: [{ name: "b", image: "y" }, { name: "a", image: "x" }] },
    {
      containers: [{ name: "a", image: "x", imagePullPolicy: "Always" }, { name: "b", image: "y" }],
    },
    [],
  ],
  [
    "injected named items are ignored",
    { volumes: [{ name: "data", emptyDir: {} }] },
    {
      volumes: [
        { name: "data", emptyDir: {} },
        { name: "kube-api-access-x1", projected: { sources: [] } },
      ],
    },
    [],
  ],
  [
    "missing named item",
    { containers: [{ name: "a" }, { name: "sidecar" }] },
    { containers: [{ name: "a" }] },
    ["containers[name=sidecar]"],
  ],
  [
    "difference inside a named item",
    { spec: { containers: [{ name: "app", image: "v2", ports: [{ containerPort: 80 }] }] } },
    { spec: { containers: [{ name: "app", image: "v1", ports: [{ containerPort: 80 }] }] } },
    ["spec.containers[name=app].image"],
  ],
  [
    "env by name",
    { env: [{ name: "A", value: "1" }] },
    { env: [{ name: "B", value: "2" }, { name: "A", value: "2" }] },
    ["env[name=A].value"],
  ],
  [
    "odd names are quoted",
    { items: [{ name: "a b", v: 1 }] },
    { items: [{ name: "a b", v: 2 }] },
    ['items[name="a b"].v'],
  ],
  ["empty list matches named items", { volumes: [] }, { volumes: [{ name: "token" }] }, []],
  [
    "named desired vs unnamed actual",
    { ports: [{ name: "http", port: 80 }] },
    { ports: [{ port: 80 }] },
    ["ports[name=http]"],
  ],
  // Lists of unnamed objects: by index, same length
  [
    "unnamed items by index with defaults",
    { ports: [{ port: 80 }] },
    { ports: [{ port: 80, protocol: "TCP", targetPort: 80 }] },
    [],
  ],
  [
    "removed unnamed item is noticed",
    { rules: [{ verbs: ["get"] }] },
    { rules: [{ verbs: ["get"] }, { verbs: ["list"] }] },
    ["rules"],
  ],
  [
    "unnamed item differs",
    { rules: [{ verbs: ["get"] }, { verbs: ["watch"] }] },
    { rules: [{ verbs: ["get"] }, { verbs: ["list"] }] },
    ["rules[1].verbs[0]"],
  ],
  [
    "mixed named and unnamed desired items go by index",
    { ports: [{ name: "http", port: 80 }, { port: 443 }] },
    { ports: [{ port: 443 }, { name: "http", port: 80 }] },
    ["ports[0].name", "ports[0].port", "ports[1].port"],
  ],
];

Deno.test("isSubset and diffPaths agree on every case", async (t) => {
  for (const [description, desired, actual, paths] of CASES) {
    await t.step(description, () => {
      assert.deepEqual(diffPaths(desired, actual), paths);
      assert.equal(isSubset(desired, actual), paths.length === 0);
    });
  }
});

Deno.test("isSubset: a realistic Deployment after API-server defaulting", () => {
  const desired = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "ns", labels: { app: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [{
            name: "web",
            image: "nginx:1.27",
            ports: [{ containerPort: 80 }],
            env: [{ name: "MODE", value: "prod" }],
          }],
        },
      },
    },
  };
  const actual = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "ns",
      uid: "1",
      resourceVersion: "42",
      generation: 1,
      labels: { app: "web", "app.kubernetes.io/instance": "p-uid" },
      annotations: { "deployment.kubernetes.io/revision": "1" },
      managedFields: [{ manager: "roperator", operation: "Update" }],
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [{
            name: "web",
            image: "nginx:1.27",
            ports: [{ containerPort: 80, protocol: "TCP" }],
            env: [{ name: "MODE", value: "prod" }],
            resources: {},
            terminationMessagePath: "/dev/termination-log",
            imagePullPolicy: "IfNotPresent",
          }],
          restartPolicy: "Always",
          dnsPolicy: "ClusterFirst",
          securityContext: {},
        },
      },
    },
    status: { replicas: 2 },
  };
  assert.equal(isSubset(desired, actual), true);
  assert.deepEqual(diffPaths(desired, actual), []);
  const scaled = structuredClone(desired);
  scaled.spec.replicas = 3;
  scaled.spec.template.spec.containers[0]!.image = "nginx:1.28";
  assert.equal(isSubset(scaled, actual), false);
  assert.deepEqual(diffPaths(scaled, actual), [
    "spec.replicas",
    "spec.template.spec.containers[name=web].image",
  ]);
});

Deno.test("diffPaths: limit", () => {
  const desired = { a: 1, b: 2, c: 3, d: [1, 2] };
  const actual = { a: 0, b: 0, c: 0, d: [0] };
  assert.deepEqual(diffPaths(desired, actual), ["a", "b", "c", "d", "d[0]"]);
  assert.deepEqual(diffPaths(desired, actual, { limit: 2 }), ["a", "b"]);
  assert.deepEqual(diffPaths(desired, actual, { limit: 0 }), []);
  assert.equal(
    diffPaths({ list: Array.from({ length: 500 }, (_, i) => i) }, {
      list: Array.from({ length: 500 }, () => -1),
    }).length,
    100,
  );
});

Deno.test("isSubset: does not modify its arguments", () => {
  const desired = { a: [{ name: "x", v: 1 }], b: null };
  const actual = { a: [{ name: "x", v: 1, w: 2 }] };
  const before = structuredClone([desired, actual]);
  isSubset(desired, actual);
  diffPaths(desired, actual);
  assert.deepEqual([desired, actual], before);
});

Deno.test("fingerprint: stable across key order, sensitive to content", () => {
  const a = fingerprint({ metadata: { name: "x", labels: { a: "1", b: "2" } }, data: [1, 2] });
  const b = fingerprint({ data: [1, 2], metadata: { labels: { b: "2", a: "1" }, name: "x" } });
  assert.equal(a, b);
  assert.match(a, /^[0-9a-f]{64}$/);
  // undefined fields are dropped, as JSON.stringify does.
  assert.equal(fingerprint({ a: 1, b: undefined }), fingerprint({ a: 1 }));
  // Removing a named list item, invisible to isSubset, changes the fingerprint.
  const before = { env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] };
  const after = { env: [{ name: "A", value: "1" }] };
  assert.equal(isSubset(after, before), true);
  assert.notEqual(fingerprint(after), fingerprint(before));
  // List order matters; scalars are typed.
  assert.notEqual(fingerprint([1, 2]), fingerprint([2, 1]));
  assert.notEqual(fingerprint({ a: "1" }), fingerprint({ a: 1 }));
  assert.equal(fingerprint(null), fingerprint(undefined));
});

// ---------------------------------------------------------------------------------------------
// childNeedsWrite: the desired-hash annotation
// ---------------------------------------------------------------------------------------------

const WRITING = ["Replace", "Recreate", "Apply"] as const;

/**
 * A model of what the API server does to an object it stores: system metadata, and a defaulted
 * field added to every object (inside lists too) where the key is free, as defaulting and
 * admission do (`imagePullPolicy`, `terminationMessagePath`, `protocol`, ...).
 */
function stored(object: KubernetesObject): KubernetesObject {
  const addDefaults = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(addDefaults);
    if (typeof value !== "object" || value === null) return value;
    const out: Record<string, unknown> = { "x-defaulted": "yes" };
    for (const [key, item] of Object.entries(value)) out[key] = addDefaults(item);
    return out;
  };
  const result = addDefaults(object) as KubernetesObject;
  result.metadata = {
    ...result.metadata,
    uid: "0b7c1f5e",
    resourceVersion: "42",
    creationTimestamp: "2026-12-01T00:00:00Z",
  };
  return result;
}

/** The API server's answer to the write of the strategy: the stamped object, stored. */
function written(desired: KubernetesObject): KubernetesObject {
  return stored(withDesiredHash(desired));
}

const key = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
const scalar = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean());
const strings = fc.dictionary(key, fc.string({ maxLength: 6 }), { maxKeys: 4 });
/** Lists of named items, with unique names, like env, ports or containers. */
const named = fc.uniqueArray(
  fc.record({ name: key, value: scalar }),
  { selector: (item) => item.name, maxLength: 4 },
);
const spec = fc.record({
  replicas: fc.integer({ min: 0, max: 5 }),
  args: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  env: named,
  nested: fc.dictionary(key, scalar, { maxKeys: 3 }),
}, { requiredKeys: [] });
/** A desired child: labels, annotations, data and a spec with named lists. */
const desiredChild: fc.Arbitrary<KubernetesObject> = fc.record({
  labels: strings,
  annotations: strings,
  data: strings,
  spec,
}).map(({ labels, annotations, data, spec }) => ({
  apiVersion: "v1",
  kind: "Thing",
  metadata: { name: "child", namespace: "ns", labels, annotations },
  data,
  spec,
}));

/** Every way to remove one key or one named list item from an object, at any depth. */
function removals(value: unknown): unknown[] {
  const out: unknown[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item === "object" && item !== null && "name" in item) {
        out.push(value.filter((_, j) => j !== i));
      }
      for (const inner of removals(item)) out.push(value.map((x, j) => j === i ? inner : x));
    });
  } else if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    for (const k of Object.keys(object)) {
      if (k === "apiVersion" || k === "kind" || k === "name") continue;
      const { [k]: _removed, ...rest } = object;
      out.push(rest);
      for (const inner of removals(object[k])) out.push({ ...object, [k]: inner });
    }
  }
  return out;
}

Deno.test("childNeedsWrite: a written child needs nothing, whatever the API server defaulted", () => {
  fc.assert(fc.property(desiredChild, (desired) => {
    const actual = written(desired);
    for (const strategy of [...WRITING, "OnDelete"] as const) {
      assert.deepEqual(childNeedsWrite(desired, actual, strategy), {
        action: "none",
        reasons: [],
        hash: desiredHash(desired),
      });
    }
  }));
});

Deno.test("childNeedsWrite: removing any key, label, annotation or named item is a write", () => {
  fc.assert(fc.property(
    desiredChild.chain((desired) =>
      fc.tuple(fc.constant(desired), fc.constantFrom(desired, ...removals(desired)))
    ),
    ([before, after]) => {
      const actual = written(before);
      const removed = after !== before;
      // The removal leaves the rest a subset of what the cluster holds: the subset test alone
      // would never write it.
      assert.equal(isSubset(after, actual), true);
      for (const strategy of WRITING) {
        const decision = childNeedsWrite(after as KubernetesObject, actual, strategy);
        assert.equal(decision.action, removed ? "write" : "none", strategy);
        if (removed) assert.match(decision.reasons[0]!, /the desired object changed/);
      }
      assert.equal(childNeedsWrite(after as KubernetesObject, actual, "OnDelete").action, "none");
    },
  ));
});

Deno.test("childNeedsWrite: nothing is written exactly when the desired hash is unchanged", () => {
  fc.assert(fc.property(desiredChild, desiredChild, (before, after) => {
    const actual = written(before);
    for (const strategy of WRITING) {
      const decision = childNeedsWrite(after, actual, strategy);
      assert.equal(decision.action === "none", desiredHash(after) === desiredHash(before));
      assert.notEqual(decision.action, "stamp");
      // After the write, the child matches.
      assert.equal(childNeedsWrite(after, written(after), strategy).action, "none");
    }
  }));
});

Deno.test("childNeedsWrite: a changed field the handler sets is a write naming the path", () => {
  const desired: KubernetesObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", labels: { app: "a" } },
    data: { a: "1", b: "2" },
  };
  const actual = written(desired);
  (actual.data as Record<string, string>).a = "edited by hand";
  for (const strategy of WRITING) {
    assert.deepEqual(childNeedsWrite(desired, actual, strategy), {
      action: "write",
      reasons: ["data.a"],
      hash: desiredHash(desired),
    });
  }
  // A field someone else added is not the handler's business.
  const added = written(desired);
  added.metadata!.labels!.other = "theirs";
  (added.data as Record<string, string>).c = "3";
  for (const strategy of WRITING) {
    assert.equal(childNeedsWrite(desired, added, strategy).action, "none");
  }
});

Deno.test("childNeedsWrite: a matching child written by an older version is applied once with Apply, stamped otherwise", () => {
  fc.assert(fc.property(desiredChild, (desired) => {
    const legacy = stored(desired); // no annotation
    const apply = childNeedsWrite(desired, legacy, "Apply");
    assert.equal(apply.action, "write");
    assert.match(apply.reasons[0]!, /no roperator\.dev\/desired-hash annotation/);
    assert.equal(childNeedsWrite(desired, written(desired), "Apply").action, "none");
    for (const strategy of ["Replace", "Recreate"] as const) {
      const decision = childNeedsWrite(desired, legacy, strategy);
      assert.equal(decision.action, "stamp");
      // The merge patch, applied, leaves a child that needs nothing.
      const patch = desiredHashPatch(decision.hash);
      assert.deepEqual(Object.keys(patch.metadata), ["annotations"]);
      const patched = {
        ...legacy,
        metadata: {
          ...legacy.metadata,
          annotations: { ...legacy.metadata?.annotations, ...patch.metadata.annotations },
        },
      };
      assert.equal(childNeedsWrite(desired, patched, strategy).action, "none");
    }
  }));
  // A legacy child that drifted gets the strategy's write, not a stamp.
  const desired: KubernetesObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: { a: 1 },
  };
  const drifted = stored({ ...desired, spec: { a: 2 } });
  for (const strategy of WRITING) {
    assert.deepEqual(childNeedsWrite(desired, drifted, strategy).action, "write");
  }
});

Deno.test("desiredHash and withDesiredHash: the annotation is left out of the hash; the input is not changed", () => {
  const desired: KubernetesObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", annotations: { keep: "1" } },
    data: { a: "1" },
  };
  const copy = structuredClone(desired);
  const stamped = withDesiredHash(desired);
  assert.deepEqual(desired, copy);
  assert.equal(stamped.metadata.annotations[DESIRED_HASH_ANNOTATION], desiredHash(desired));
  assert.equal(stamped.metadata.annotations.keep, "1");
  assert.match(desiredHash(desired), /^[0-9a-f]{64}$/);
  // Stamping is idempotent, and a handler that sets the annotation itself does not move it.
  assert.equal(desiredHash(stamped), desiredHash(desired));
  assert.deepEqual(withDesiredHash(stamped), stamped);
  const meddling = {
    ...desired,
    metadata: { ...desired.metadata, annotations: { keep: "1", [DESIRED_HASH_ANNOTATION]: "x" } },
  };
  assert.equal(desiredHash(meddling), desiredHash(desired));
  assert.equal(childNeedsWrite(meddling, written(desired), "Replace").action, "none");
  // Without metadata annotations, or without metadata at all.
  const bare = withDesiredHash({ apiVersion: "v1", kind: "Namespace" });
  assert.deepEqual(Object.keys(bare.metadata.annotations), [DESIRED_HASH_ANNOTATION]);
  // Key order does not move the hash; list order does.
  assert.equal(
    desiredHash({ kind: "A", apiVersion: "v1", data: { b: "2", a: "1" } }),
    desiredHash({ apiVersion: "v1", kind: "A", data: { a: "1", b: "2" } }),
  );
  assert.notEqual(
    desiredHash({ spec: { env: [{ name: "A" }, { name: "B" }] } }),
    desiredHash({ spec: { env: [{ name: "B" }, { name: "A" }] } }),
  );
});

Deno.test("the cache's pruning keeps the desired-hash annotation", () => {
  const child = written({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } });
  child.metadata!.annotations![LAST_APPLIED_ANNOTATION] = "{}";
  const pruned = pruneCachedObject(child);
  assert.equal(pruned.metadata?.annotations?.[LAST_APPLIED_ANNOTATION], undefined);
  assert.equal(
    childNeedsWrite(
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } },
      pruned,
      "Replace",
    )
      .action,
    "none",
  );
});
