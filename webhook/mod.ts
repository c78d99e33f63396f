/**
 * Admission and conversion webhooks, served by the operator itself: a validating webhook
 * ({@linkcode validatingWebhook}) allows or denies a request with a message, a mutating one
 * ({@linkcode mutatingWebhook}) returns the object as it should be and the library answers with
 * the JSON Patch, and a conversion webhook ({@linkcode conversionWebhook}) converts a custom
 * resource between its versions with typed functions, keeping what a round trip would lose.
 *
 * {@linkcode startWebhooks} serves them over HTTPS on a port of their own, with a certificate
 * it makes and keeps in a Secret (shared by the replicas, renewed before it expires) and whose
 * CA it writes into the webhook configurations and CRDs; or with cert-manager's.
 * {@linkcode webhookConfigurations} generates the `ValidatingWebhookConfiguration`,
 * `MutatingWebhookConfiguration`, Service and CRD `spec.conversion` stanza.
 *
 * @example Deny, default and convert a Widget
 * ```ts
 * import { type KubernetesObject, resourceType } from "@roperator/core";
 * import {
 *   allow,
 *   conversionWebhook,
 *   deny,
 *   mutatingWebhook,
 *   validatingWebhook,
 *   webhookConfigurations,
 * } from "@roperator/core/webhook";
 *
 * type WidgetV1 = KubernetesObject & { spec?: { replicas?: number | undefined } };
 * type WidgetV1alpha1 = KubernetesObject & { spec?: { size?: number | undefined } };
 * const Widget = resourceType<WidgetV1>({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * });
 *
 * const webhooks = [
 *   validatingWebhook({
 *     type: Widget,
 *     handler: ({ object }) =>
 *       (object?.spec?.replicas ?? 0) > 10 ? deny("spec.replicas must be at most 10") : allow(),
 *   }),
 *   mutatingWebhook({
 *     type: Widget,
 *     handler: ({ object }) => ({
 *       allowed: true,
 *       object: { ...object, spec: { replicas: 1, ...object?.spec } },
 *     }),
 *   }),
 *   conversionWebhook<{ v1alpha1: WidgetV1alpha1; v1: WidgetV1 }>({
 *     type: Widget,
 *     converters: {
 *       v1alpha1: { v1: ({ spec, ...rest }) => ({ ...rest, spec: { replicas: spec?.size } }) },
 *       v1: { v1alpha1: ({ spec, ...rest }) => ({ ...rest, spec: { size: spec?.replicas } }) },
 *     },
 *   }),
 * ];
 * const generated = webhookConfigurations(webhooks, { operatorName: "widgets", namespace: "ops" });
 * console.log(generated.validating?.metadata?.name); // "widgets-validating"
 * ```
 *
 * @module
 */
export {
  type AdmissionDecision,
  type AdmissionOperation,
  type AdmissionOutcome,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
  AdmissionReviewError,
  type AdmissionUserInfo,
  type AdmissionWebhookSettings,
  allow,
  deny,
  type FailurePolicy,
  type GroupVersionKind,
  type GroupVersionResource,
  type LabelSelector,
  type MatchCondition,
  type MutatingWebhook,
  mutatingWebhook,
  type MutatingWebhookInit,
  type MutationDecision,
  reviewAdmission,
  type SideEffects,
  type ValidatingWebhook,
  validatingWebhook,
  type ValidatingWebhookInit,
  WebhookConfigError,
} from "./admission.ts";
export {
  ConversionError,
  type ConversionOutcome,
  type ConversionReview,
  type ConversionWebhook,
  conversionWebhook,
  type ConversionWebhookInit,
  type Converters,
  convertObject,
  LOST_FIELDS_ANNOTATION,
  reviewConversion,
} from "./conversion.ts";
export { createJsonPatch, type JsonPatchOperation } from "./json_patch.ts";
export {
  type Webhook,
  WebhookServer,
  WebhookServerError,
  type WebhookServerOptions,
} from "./server.ts";
export {
  CA_BUNDLE_SINCE_ANNOTATION,
  CertificateStore,
  CertificateStoreError,
  type CertificateStoreOptions,
  type WebhookCertificates,
} from "./certificate_store.ts";
export {
  certManagerObjects,
  conversionStanza,
  type CrdConversion,
  type WebhookClientConfig,
  type WebhookConfigurations,
  webhookConfigurations,
  type WebhookEndpointOptions,
  webhookServiceName,
} from "./configuration.ts";
export {
  type CaBundleTargets,
  injectCaBundle,
  type RunningWebhooks,
  startWebhooks,
  type StartWebhooksOptions,
} from "./runtime.ts";
export type { CertifiedKey } from "../tls/certificates.ts";
export {
  configuredWebhookObjects,
  startConfiguredWebhooks,
  type StartConfiguredWebhooksOptions,
  type WebhookCertificatesInit,
  webhookManifests,
  type WebhookOwner,
  type WebhookPermission,
  webhookPermissions,
  type WebhooksConfig,
  webhooksConfig,
  type WebhooksConfigInit,
} from "./settings.ts";
