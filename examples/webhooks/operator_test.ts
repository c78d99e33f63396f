import assert from "node:assert/strict";
import { type AdmissionRequest, convertObject, reviewAdmission } from "@roperator/core/webhook";
import {
  defaultNotice,
  type Notice,
  noticeConversion,
  noticeDefaults,
  validateNotice,
} from "./operator.ts";

function request(spec: NonNullable<Notice["spec"]>): AdmissionRequest<Notice> {
  return {
    uid: "1",
    kind: { group: "example.roperator.dev", version: "v1", kind: "Notice" },
    resource: { group: "example.roperator.dev", version: "v1", resource: "notices" },
    operation: "CREATE",
    userInfo: {},
    dryRun: false,
    object: { apiVersion: "example.roperator.dev/v1", kind: "Notice", spec },
  };
}

Deno.test("notices: the validating handler refuses what it must, with a reason", () => {
  assert.deepEqual(validateNotice(request({ message: "hi" })), { allowed: true });
  assert.equal(validateNotice(request({})).message, "spec.message is required");
  assert.match(validateNotice(request({ message: "x".repeat(281) })).message!, /281 characters/);
  assert.match(validateNotice(request({ message: "hi", priority: "urgent" })).message!, /urgent/);
  assert.deepEqual(validateNotice(request({ message: "hi", priority: "high" })).warnings, [
    "high-priority notices page someone",
  ]);
});

Deno.test("notices: the mutating webhook answers with a patch that adds the priority", async () => {
  assert.equal(defaultNotice(request({ message: "hi" })).object?.spec?.priority, "normal");
  const outcome = await reviewAdmission(noticeDefaults, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: request({ message: "hi" }),
  });
  assert.deepEqual(JSON.parse(atob(outcome.review.response!.patch!)), [
    { op: "add", path: "/spec/priority", value: "normal" },
  ]);
});

Deno.test("notices: v1alpha1 → v1 → v1alpha1 keeps the audience", async () => {
  const convert = noticeConversion;
  const alpha = {
    apiVersion: "example.roperator.dev/v1alpha1",
    kind: "Notice",
    metadata: { name: "lunch", namespace: "default" },
    spec: { text: "Lunch at noon", audience: "everyone" },
  };
  const v1 = await convertObject(convert, alpha, "example.roperator.dev/v1");
  assert.deepEqual(v1.spec, { message: "Lunch at noon" });
  assert.deepEqual(await convertObject(convert, v1, "example.roperator.dev/v1alpha1"), alpha);
});
