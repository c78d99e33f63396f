// The reverse index against a simple model (every parent's current references, scanned), under
// random sequences of parent changes and deletions; the label selector matcher on each operator.
import assert from "node:assert/strict";
import fc from "fast-check";
import type { KubernetesObject } from "../client/resource_type.ts";
import { relatedResource } from "../config/related.ts";
import { k8s } from "../config/resource_types.ts";
import { matchesLabelSelector } from "./label_selector.ts";
import { findRelated, RelatedIndex, type ResolvedRef, resolveRefs } from "./related_index.ts";

const NAMES = ["a", "b", "c"];
const NAMESPACES = ["n1", "n2"];
const SELECTORS = ["team=red", "team!=red", "team in (red,blue)", "!team", "team"];

const refArb: fc.Arbitrary<ResolvedRef> = fc.oneof(
  fc.record({ name: fc.constantFrom(...NAMES), namespace: fc.constantFrom(...NAMESPACES) }),
  fc.record({
    labelSelector: fc.constantFrom(...SELECTORS),
    namespace: fc.constantFrom(...NAMESPACES),
  }),
);
const opArb = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    parent: fc.constantFrom("p", "q", "r"),
    refs: fc.array(refArb, { maxLength: 3 }),
  }),
  fc.record({ op: fc.constant("remove" as const), parent: fc.constantFrom("p", "q", "r") }),
);
const objectArb = fc.record({
  name: fc.constantFrom(...NAMES),
  namespace: fc.constantFrom(...NAMESPACES),
  team: fc.constantFrom(undefined, "red", "blue", "green"),
});

Deno.test("the reverse index finds exactly the parents whose current references match an object", () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), objectArb, (ops, o) => {
    const index = new RelatedIndex();
    const model = new Map<string, readonly ResolvedRef[]>();
    for (const op of ops) {
      if (op.op === "set") {
        index.set(op.parent, op.refs);
        model.set(op.parent, op.refs);
      } else {
        index.remove(op.parent);
        model.delete(op.parent);
      }
    }
    const labels = o.team === undefined ? {} : { team: o.team };
    const object: KubernetesObject = { metadata: { name: o.name, namespace: o.namespace, labels } };
    const expected = [...model].filter(([, refs]) =>
      refs.some((ref) =>
        ref.namespace === o.namespace &&
        ("name" in ref ? ref.name === o.name : matchesLabelSelector(ref.labelSelector, labels))
      )
    ).map(([parent]) => parent).sort();
    assert.deepEqual([...index.parentsOf(object)].sort(), expected);
  }));
});

Deno.test("references default to the parent's namespace, the fixed scope's, or none for cluster-scoped types", () => {
  const parent = { metadata: { name: "p", namespace: "home" }, spec: { ref: "s" } };
  const refs = (p: typeof parent) => [{ name: p.spec.ref }, { name: "t", namespace: "other" }];
  const inParent = relatedResource({ type: k8s.core.v1.Secret, refs });
  const fixed = relatedResource({ type: k8s.core.v1.Secret, scope: { namespace: "vault" }, refs });
  const nodes = relatedResource({ type: k8s.core.v1.Node, refs });
  assert.deepEqual(resolveRefs(inParent as never, parent), [
    { name: "s", namespace: "home" },
    { name: "t", namespace: "other" },
  ]);
  assert.deepEqual(resolveRefs(fixed as never, parent), [
    { name: "s", namespace: "vault" },
    { name: "t", namespace: "other" },
  ]);
  assert.deepEqual(resolveRefs(nodes as never, parent), [
    { name: "s", namespace: undefined },
    { name: "t", namespace: undefined },
  ]);
  assert.throws(
    () => relatedResource({ type: k8s.core.v1.Node, scope: "parent", refs }),
    /Node is cluster-scoped/,
  );
  const bad = relatedResource({ type: k8s.core.v1.Secret, refs: () => [{ nme: "x" }] as never });
  assert.throws(() => resolveRefs(bad as never, parent), /reference 0 must be/);
});

Deno.test("findRelated returns each object once, names first-come, selector matches sorted", () => {
  const objects = new Map<string, KubernetesObject>(
    ["b", "a", "c"].map((name): [string, KubernetesObject] => [
      `n/${name}`,
      { metadata: { name, namespace: "n", labels: { all: "yes" } } },
    ]),
  );
  const cache = {
    get: (name: string, namespace?: string) => objects.get(`${namespace}/${name}`),
    list: () => [...objects.values()],
  };
  const found = findRelated([
    { name: "c", namespace: "n" },
    { name: "missing", namespace: "n" },
    { labelSelector: "all=yes", namespace: "n" },
  ], cache);
  assert.deepEqual(found.map((o) => o.metadata?.name), ["c", "a", "b"]);
});

Deno.test("label selectors: equality, inequality, sets, existence and numeric comparisons", () => {
  const labels = { app: "web", tier: "gold", n: "5" };
  const cases: [string, boolean][] = [
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app=api", false],
    ["app!=api", true],
    ["missing!=x", true],
    ["tier in (gold, silver)", true],
    ["tier notin (gold)", false],
    ["missing notin (gold)", true],
    ["missing in (gold)", false],
    ["app", true],
    ["!app", false],
    ["!missing", true],
    ["n>4", true],
    ["n<5", false],
    ["app=web,tier in (gold),!missing", true],
    ["app=web,tier=silver", false],
  ];
  for (const [selector, expected] of cases) {
    assert.equal(matchesLabelSelector(selector, labels), expected, selector);
  }
});
