import assert from "node:assert/strict";
import fc from "fast-check";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { WebhookConfigError } from "./admission.ts";
import {
  conversionWebhook,
  convertObject,
  LOST_FIELDS_ANNOTATION,
  reviewConversion,
} from "./conversion.ts";

type V1alpha1 = KubernetesObject & {
  spec?: { size?: number | undefined; colour?: string | undefined } | undefined;
};
type V1 = KubernetesObject & { spec?: { replicas?: number | undefined } };
const Widget = resourceType({
  apiVersion: "example.dev/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
});

// v1 has no colour: converting to v1 loses it.
const webhook = conversionWebhook<{ v1alpha1: V1alpha1; v1: V1 }>({
  type: Widget,
  converters: {
    v1alpha1: { v1: ({ spec, ...rest }) => ({ ...rest, spec: { replicas: spec?.size } }) },
    v1: { v1alpha1: ({ spec, ...rest }) => ({ ...rest, spec: { size: spec?.replicas } }) },
  },
});

function alpha(spec: V1alpha1["spec"], extra: Record<string, unknown> = {}): V1alpha1 {
  return {
    apiVersion: "example.dev/v1alpha1",
    kind: "Widget",
    metadata: { name: "w", namespace: "ns", uid: "u1", resourceVersion: "7" },
    spec,
    ...extra,
  };
}

Deno.test("convertObject: converts and keeps metadata", async () => {
  const v1 = await convertObject(webhook, alpha({ size: 3 }), "example.dev/v1");
  assert.deepEqual(v1, {
    apiVersion: "example.dev/v1",
    kind: "Widget",
    metadata: { name: "w", namespace: "ns", uid: "u1", resourceVersion: "7" },
    spec: { replicas: 3 },
  });
});

Deno.test("convertObject: a round trip through a version that lacks a field keeps it", async () => {
  const original = alpha({ size: 3, colour: "red" }, { status: { seen: true } });
  const v1 = await convertObject(webhook, original, "example.dev/v1");
  assert.ok(v1.metadata?.annotations?.[LOST_FIELDS_ANNOTATION]);
  assert.deepEqual(v1.spec, { replicas: 3 });
  const back = await convertObject(webhook, v1, "example.dev/v1alpha1");
  assert.deepEqual(back, original);
});

Deno.test("convertObject: any v1alpha1 object survives v1alpha1 → v1 → v1alpha1", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({ size: fc.integer(), colour: fc.string() }, { requiredKeys: [] }),
      fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue()),
      async (spec, status) => {
        const original = alpha(spec, { status });
        const v1 = await convertObject(webhook, original, "example.dev/v1");
        const back = await convertObject(webhook, v1, "example.dev/v1alpha1");
        assert.deepEqual(back, JSON.parse(JSON.stringify(original)));
      },
    ),
  );
});

Deno.test("conversionWebhook: versions that cannot reach each other are refused", () => {
  assert.throws(
    () =>
      conversionWebhook({
        type: Widget,
        converters: { v1alpha1: { v1: (o: KubernetesObject) => o } },
      }),
    (error: unknown) => error instanceof WebhookConfigError && error.field === "converters",
  );
});

Deno.test("reviewConversion: a list is converted in order; an unknown version fails the review", async () => {
  const ok = await reviewConversion(webhook, {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    request: {
      uid: "r1",
      desiredAPIVersion: "example.dev/v1",
      objects: [alpha({ size: 1 }), alpha({ size: 2 }), {
        ...alpha({}),
        apiVersion: "example.dev/v1",
        spec: { replicas: 9 },
      }],
    },
  });
  assert.equal(ok.result, "success");
  assert.equal(ok.review.response?.uid, "r1");
  assert.deepEqual(ok.review.response?.convertedObjects.map((o) => o.spec), [
    { replicas: 1 },
    { replicas: 2 },
    { replicas: 9 },
  ]);
  const bad = await reviewConversion(webhook, {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    request: { uid: "r2", desiredAPIVersion: "example.dev/v2", objects: [alpha({})] },
  });
  assert.equal(bad.result, "failure");
  assert.equal(bad.review.response?.result.status, "Failure");
  assert.match(bad.review.response?.result.message ?? "", /example\.dev\/v2/);
});
