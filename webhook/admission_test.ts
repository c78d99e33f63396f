import assert from "node:assert/strict";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import {
  type AdmissionRequest,
  AdmissionReviewError,
  allow,
  deny,
  mutatingWebhook,
  reviewAdmission,
  validatingWebhook,
  WebhookConfigError,
} from "./admission.ts";
import { applyJsonPatch } from "./json_patch.ts";

type Widget = KubernetesObject & { spec?: { size?: number } };
const Widget = resourceType<Widget>({
  apiVersion: "example.dev/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
});

function review(object: Widget, extra: Partial<AdmissionRequest> = {}): unknown {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "uid-1",
      kind: { group: "example.dev", version: "v1", kind: "Widget" },
      resource: { group: "example.dev", version: "v1", resource: "widgets" },
      operation: "CREATE",
      userInfo: { username: "alice" },
      object,
      ...extra,
    },
  };
}

const widget: Widget = {
  apiVersion: "example.dev/v1",
  kind: "Widget",
  metadata: { name: "w", namespace: "ns" },
  spec: { size: 20 },
};

Deno.test("reviewAdmission: a denial carries the handler's message and warnings", async () => {
  const webhook = validatingWebhook({
    type: Widget,
    handler: ({ object }) =>
      (object?.spec?.size ?? 0) > 10
        ? deny("spec.size must be at most 10", { warnings: ["big"] })
        : allow(),
  });
  const outcome = await reviewAdmission(webhook, review(widget));
  assert.equal(outcome.result, "denied");
  assert.deepEqual(outcome.review.response, {
    uid: "uid-1",
    allowed: false,
    warnings: ["big"],
    status: { code: 403, message: "spec.size must be at most 10" },
  });
});

Deno.test("reviewAdmission: the handler is told about a dry run", async () => {
  const seen: boolean[] = [];
  const webhook = validatingWebhook({
    type: Widget,
    handler: ({ dryRun }) => {
      seen.push(dryRun);
      return allow();
    },
  });
  await reviewAdmission(webhook, review(widget, { dryRun: true }));
  await reviewAdmission(webhook, review(widget));
  assert.deepEqual(seen, [true, false]);
});

Deno.test("reviewAdmission: a mutating answer is the JSON Patch to the desired object", async () => {
  const webhook = mutatingWebhook({
    type: Widget,
    handler: ({ object }) => ({
      allowed: true,
      object: {
        ...object,
        metadata: { ...object?.metadata, labels: { "size/class": "large" } },
        spec: { ...object?.spec, size: 10 },
      },
    }),
  });
  const outcome = await reviewAdmission(webhook, review(widget));
  const response = outcome.review.response!;
  assert.equal(response.patchType, "JSONPatch");
  const ops = JSON.parse(atob(response.patch!));
  assert.deepEqual(applyJsonPatch(widget, ops), {
    ...widget,
    metadata: { name: "w", namespace: "ns", labels: { "size/class": "large" } },
    spec: { size: 10 },
  });
  const unchanged = mutatingWebhook({
    type: Widget,
    handler: ({ object }) => ({ allowed: true, object: object! }),
  });
  assert.equal(
    (await reviewAdmission(unchanged, review(widget))).review.response?.patch,
    undefined,
  );
});

Deno.test("reviewAdmission: a body that is no AdmissionReview is refused", async () => {
  const webhook = validatingWebhook({ type: Widget, handler: () => allow() });
  await assert.rejects(() => reviewAdmission(webhook, { kind: "Pod" }), AdmissionReviewError);
});

Deno.test("validatingWebhook: invalid settings name their field", () => {
  const field = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (error) {
      if (error instanceof WebhookConfigError) return error.field;
      throw error;
    }
    return undefined;
  };
  const handler = () => allow();
  assert.equal(
    field(() => validatingWebhook({ type: Widget, handler, timeoutSeconds: 31 })),
    "timeoutSeconds",
  );
  assert.equal(
    field(() => validatingWebhook({ type: Widget, handler, name: "short.name" })),
    "name",
  );
  assert.equal(
    field(() =>
      validatingWebhook({
        type: Widget,
        handler,
        // deno-lint-ignore no-explicit-any
        failurePolicy: "Maybe" as any,
      })
    ),
    "failurePolicy",
  );
  assert.equal(
    field(() =>
      validatingWebhook({
        type: Widget,
        handler,
        matchConditions: [{ name: "a", expression: "true" }, { name: "a", expression: "true" }],
      })
    ),
    "matchConditions[1].name",
  );
  assert.equal(
    validatingWebhook({ type: Widget, handler }).path,
    "/validate/validate.widgets.example.dev",
  );
});
