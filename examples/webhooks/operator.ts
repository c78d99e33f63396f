/**
 * The notices operator: each `Notice` gets a ConfigMap holding its message, and the three kinds
 * of webhook guard it on the way in. A mutating webhook gives a notice the priority `normal` when
 * it has none; a validating webhook refuses an empty message, one over 280 characters, or an
 * unknown priority; a conversion webhook serves `v1alpha1` (`spec.text`, `spec.audience`) and
 * `v1` (`spec.message`, `spec.priority`) of the same objects.
 *
 * @module
 */
import {
  k8s,
  type KubernetesObject,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import {
  type AdmissionDecision,
  type AdmissionRequest,
  allow,
  type ConversionWebhook,
  conversionWebhook,
  deny,
  type MutatingWebhook,
  mutatingWebhook,
  type MutationDecision,
  type ValidatingWebhook,
  validatingWebhook,
} from "@roperator/core/webhook";

/** The priorities a notice may have. */
export const PRIORITIES: readonly string[] = ["low", "normal", "high"];

/** A `v1` Notice. */
export interface Notice extends KubernetesObject {
  /** What to show, and how urgently. */
  spec?: { message?: string | undefined; priority?: string | undefined };
}

/** A `v1alpha1` Notice: `text` became `message`; `audience` has no place in `v1`. */
export interface NoticeV1alpha1 extends KubernetesObject {
  /** What to show, and to whom. */
  spec?: { text?: string | undefined; audience?: string | undefined };
}

/** The Notice custom resource, `v1`. */
export const NoticeType: ResourceType<Notice> = resourceType<Notice>({
  apiVersion: "example.roperator.dev/v1",
  kind: "Notice",
  plural: "notices",
  namespaced: true,
});

/**
 * Refuses a notice without a message, with one over 280 characters, or with an unknown priority.
 *
 * @param request the admission request
 * @returns the decision
 */
export function validateNotice(request: AdmissionRequest<Notice>): AdmissionDecision {
  const spec = request.object?.spec ?? {};
  if (!spec.message) return deny("spec.message is required");
  if (spec.message.length > 280) {
    return deny(`spec.message is ${spec.message.length} characters long; at most 280`);
  }
  if (spec.priority !== undefined && !PRIORITIES.includes(spec.priority)) {
    return deny(`spec.priority is "${spec.priority}", not one of ${PRIORITIES.join(", ")}`);
  }
  return allow(spec.priority === "high" ? ["high-priority notices page someone"] : undefined);
}

/**
 * Gives a notice the priority `normal` when it has none.
 *
 * @param request the admission request
 * @returns the notice as it should be stored
 */
export function defaultNotice(request: AdmissionRequest<Notice>): MutationDecision<Notice> {
  const object = request.object!;
  return { allowed: true, object: { ...object, spec: { priority: "normal", ...object.spec } } };
}

/** The mutating webhook: a default priority. */
export const noticeDefaults: MutatingWebhook<Notice> = mutatingWebhook({
  type: NoticeType,
  handler: defaultNotice,
});

/** The validating webhook. */
export const noticeValidation: ValidatingWebhook<Notice> = validatingWebhook({
  type: NoticeType,
  handler: validateNotice,
  timeoutSeconds: 5,
});

/** The conversion webhook between `v1alpha1` and `v1`. */
export const noticeConversion: ConversionWebhook<{ v1alpha1: NoticeV1alpha1; v1: Notice }> =
  conversionWebhook<{ v1alpha1: NoticeV1alpha1; v1: Notice }>({
    type: NoticeType,
    converters: {
      v1alpha1: { v1: ({ spec, ...rest }) => ({ ...rest, spec: { message: spec?.text } }) },
      v1: { v1alpha1: ({ spec, ...rest }) => ({ ...rest, spec: { text: spec?.message } }) },
    },
  });

/** The operator's settings, before validation (the CLI may override namespace and port). */
export const configInit: OperatorConfigInit = {
  name: "notices-operator",
  parent: NoticeType,
  children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
  webhooks: { hooks: [noticeDefaults, noticeValidation, noticeConversion] },
};

/**
 * A ConfigMap with the notice's message and priority.
 *
 * @param request the Notice and its children
 * @returns the desired ConfigMap and status
 */
export function sync(request: SyncRequest<Notice>): SyncResponse {
  const { parent } = request;
  const name = parent.metadata!.name!;
  return {
    status: { published: true },
    children: [{
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `notice-${name}` },
      data: {
        message: parent.spec?.message ?? "",
        priority: parent.spec?.priority ?? "normal",
      },
    }],
  };
}
