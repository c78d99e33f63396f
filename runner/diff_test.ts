import assert from "node:assert/strict";
import { diffPaths, fingerprint, isSubset } from "./diff.ts";

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
