/**
 * Admission webhooks: {@linkcode validatingWebhook} and {@linkcode mutatingWebhook} declare a
 * handler that receives the typed `AdmissionReview` request and answers allow or deny (with a
 * message and warnings), or, for a mutating webhook, the object as it should be, from which the
 * library computes the JSON Patch. {@linkcode reviewAdmission} turns one review into its answer.
 *
 * @module
 */
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { groupOf } from "../client/resource_type.ts";
import { createJsonPatch } from "./json_patch.ts";

/** An operation an admission webhook can be called for. */
export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** A group, version and kind, as an admission request names them. */
export interface GroupVersionKind {
  /** The API group, empty for the core group. */
  group: string;
  /** The version. */
  version: string;
  /** The kind. */
  kind: string;
}

/** A group, version and resource (plural), as an admission request names them. */
export interface GroupVersionResource {
  /** The API group, empty for the core group. */
  group: string;
  /** The version. */
  version: string;
  /** The resource (lower-case plural). */
  resource: string;
}

/** Who sent the request the API server is admitting. */
export interface AdmissionUserInfo {
  /** The user name. */
  username?: string;
  /** The user's uid. */
  uid?: string;
  /** The user's groups. */
  groups?: string[];
  /** Extra attributes from the authenticator. */
  extra?: Record<string, string[]>;
}

/** The `request` of an `admission.k8s.io/v1` `AdmissionReview`, typed with the object's type. */
export interface AdmissionRequest<T extends KubernetesObject = KubernetesObject> {
  /** The request's id; the response repeats it. */
  uid: string;
  /** The kind of the object as the webhook is asked about it. */
  kind: GroupVersionKind;
  /** The resource as the webhook is asked about it. */
  resource: GroupVersionResource;
  /** The subresource, such as `status`, if any. */
  subResource?: string;
  /** The kind of the object as the client sent it. */
  requestKind?: GroupVersionKind;
  /** The resource as the client addressed it. */
  requestResource?: GroupVersionResource;
  /** The object's name (empty on a create whose name is generated). */
  name?: string;
  /** The object's namespace, for a namespaced object. */
  namespace?: string;
  /** The operation. */
  operation: AdmissionOperation;
  /** Who sent the request. */
  userInfo: AdmissionUserInfo;
  /** The object after the operation (absent on DELETE). */
  object?: T;
  /** The object before the operation (UPDATE and DELETE). */
  oldObject?: T;
  /**
   * Whether the request is a dry run (`dryRun=All`): nothing is persisted, and the handler must
   * have no side effects of its own.
   */
  dryRun: boolean;
  /** The operation's options (`CreateOptions`, `UpdateOptions`, …). */
  options?: KubernetesObject;
}

/** The `response` of an `AdmissionReview`. */
export interface AdmissionResponse {
  /** The request's id. */
  uid: string;
  /** Whether the request is admitted. */
  allowed: boolean;
  /** Why it is denied: the message and HTTP code the client sees. */
  status?: { code?: number; message?: string; reason?: string };
  /** The JSON Patch, base64 (mutating webhooks). */
  patch?: string;
  /** `JSONPatch` when `patch` is set. */
  patchType?: "JSONPatch";
  /** Warnings the client sees. */
  warnings?: string[];
}

/** An `admission.k8s.io/v1` `AdmissionReview`. */
export interface AdmissionReview<T extends KubernetesObject = KubernetesObject> {
  /** `admission.k8s.io/v1`. */
  apiVersion: string;
  /** `AdmissionReview`. */
  kind: string;
  /** What the API server asks. */
  request?: AdmissionRequest<T>;
  /** What the webhook answers. */
  response?: AdmissionResponse;
}

/** A validating handler's answer. */
export interface AdmissionDecision {
  /** Whether the request is admitted. */
  allowed: boolean;
  /** Why it is denied; shown to the client. */
  message?: string;
  /** The HTTP status code the client gets when denied; default 403. */
  code?: number;
  /** Warnings shown to the client (admitted or not). */
  warnings?: string[];
}

/** A mutating handler's answer: a decision, and the object as it should be. */
export interface MutationDecision<T extends KubernetesObject> extends AdmissionDecision {
  /**
   * The object as it should be stored; the library sends the JSON Patch from the request's
   * object to this one. Omit it to admit the object unchanged.
   */
  object?: T;
}

/**
 * Admits a request.
 *
 * @param warnings warnings shown to the client
 * @returns the decision
 */
export function allow(warnings?: string[]): AdmissionDecision {
  return warnings?.length ? { allowed: true, warnings } : { allowed: true };
}

/**
 * Denies a request with a message the client sees.
 *
 * @param message why
 * @param options the HTTP code (default 403) and warnings
 * @returns the decision
 */
export function deny(
  message: string,
  options: { code?: number; warnings?: string[] } = {},
): AdmissionDecision {
  return { allowed: false, message, ...options };
}

/** A label selector (`matchLabels`, `matchExpressions`). */
export interface LabelSelector {
  /** Labels that must all be present with these values. */
  matchLabels?: Record<string, string>;
  /** Expressions that must all hold. */
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A CEL condition the API server checks before calling the webhook. */
export interface MatchCondition {
  /** The condition's name, unique in the webhook. */
  name: string;
  /** A CEL expression over `object`, `oldObject`, `request`, `authorizer`; true to call. */
  expression: string;
}

/** What the API server does when the webhook cannot be reached or fails. */
export type FailurePolicy = "Fail" | "Ignore";

/** Whether calling the webhook has side effects. */
export type SideEffects = "None" | "NoneOnDryRun";

/** Settings the generated webhook configuration carries. */
export interface AdmissionWebhookSettings {
  /** The operations the webhook is called for; default `["CREATE", "UPDATE"]`. */
  operations?: (AdmissionOperation | "*")[];
  /**
   * `Fail` (default): a request is refused when the webhook cannot answer. `Ignore`: it is
   * admitted as if the webhook did not exist.
   */
  failurePolicy?: FailurePolicy;
  /** How long the API server waits for an answer, 1–30 seconds; default 10. */
  timeoutSeconds?: number;
  /** Default `None`: the handler has no side effects. */
  sideEffects?: SideEffects;
  /** CEL conditions that must all hold for the webhook to be called. */
  matchConditions?: MatchCondition[];
  /** Only objects in namespaces these labels select. */
  namespaceSelector?: LabelSelector;
  /** Only objects these labels select. */
  objectSelector?: LabelSelector;
  /** Subresources to intercept too, such as `status`; default none (the main resource only). */
  subresources?: string[];
}

/** Options of {@linkcode validatingWebhook}. */
export interface ValidatingWebhookInit<T extends KubernetesObject>
  extends AdmissionWebhookSettings {
  /** The type whose requests the webhook admits. */
  type: ResourceType<T>;
  /**
   * The webhook's name, a fully qualified name of at least three labels; default
   * `validate.<plural>.<group>`.
   */
  name?: string;
  /** The URL path it is served at; default `/validate/<name>`. */
  path?: string;
  /**
   * Decides. It is told `request.dryRun`; it must not have side effects of its own (and never on
   * a dry run).
   */
  handler: (request: AdmissionRequest<T>) => AdmissionDecision | Promise<AdmissionDecision>;
}

/** Options of {@linkcode mutatingWebhook}. */
export interface MutatingWebhookInit<T extends KubernetesObject> extends AdmissionWebhookSettings {
  /** The type whose requests the webhook mutates. */
  type: ResourceType<T>;
  /**
   * The webhook's name, a fully qualified name of at least three labels; default
   * `mutate.<plural>.<group>`.
   */
  name?: string;
  /** The URL path it is served at; default `/mutate/<name>`. */
  path?: string;
  /**
   * Decides, and returns the object as it should be. It is told `request.dryRun`; it must not
   * have side effects of its own.
   */
  handler: (
    request: AdmissionRequest<T>,
  ) => MutationDecision<T> | Promise<MutationDecision<T>>;
  /** `Never` (default) or `IfNeeded`: call again when a later webhook changed the object. */
  reinvocationPolicy?: "Never" | "IfNeeded";
}

/** A validating webhook, made by {@linkcode validatingWebhook}. */
export interface ValidatingWebhook<T extends KubernetesObject = KubernetesObject>
  extends Readonly<Omit<ValidatingWebhookInit<T>, "name" | "path">> {
  /** `"validating"`. */
  readonly kind: "validating";
  /** The webhook's name. */
  readonly name: string;
  /** The URL path. */
  readonly path: string;
}

/** A mutating webhook, made by {@linkcode mutatingWebhook}. */
export interface MutatingWebhook<T extends KubernetesObject = KubernetesObject>
  extends Readonly<Omit<MutatingWebhookInit<T>, "name" | "path">> {
  /** `"mutating"`. */
  readonly kind: "mutating";
  /** The webhook's name. */
  readonly name: string;
  /** The URL path. */
  readonly path: string;
}

/** Thrown when a webhook declaration is invalid; the message names the field. */
export class WebhookConfigError extends TypeError {
  /** The field at fault, such as `timeoutSeconds`. */
  readonly field: string;
  /** What is wrong with the field, without the "Cannot …" part. */
  readonly detail: string;

  /**
   * Creates the error.
   *
   * @param field the field at fault
   * @param message what is wrong, as "Cannot …: detail"
   * @param detail what is wrong with the field alone; default the message
   */
  constructor(field: string, message: string, detail: string = message) {
    super(message);
    this.name = "WebhookConfigError";
    this.field = field;
    this.detail = detail;
  }
}

const QUALIFIED_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?){2,}$/;
const OPERATIONS = new Set(["CREATE", "UPDATE", "DELETE", "CONNECT", "*"]);

/**
 * Checks the settings shared by every admission webhook.
 *
 * @param what the webhook, for messages
 * @param settings the settings
 * @throws {WebhookConfigError} naming the field at fault
 */
export function checkAdmissionSettings(what: string, settings: AdmissionWebhookSettings): void {
  const fail = (field: string, detail: string): never => {
    throw new WebhookConfigError(field, `Cannot declare ${what}: ${field} ${detail}`);
  };
  if (settings.operations !== undefined) {
    if (!settings.operations.length) fail("operations", "is empty");
    for (const op of settings.operations) {
      if (!OPERATIONS.has(op)) fail("operations", `has "${op}", not CREATE, UPDATE, DELETE, *`);
    }
  }
  if (
    settings.failurePolicy !== undefined && settings.failurePolicy !== "Fail" &&
    settings.failurePolicy !== "Ignore"
  ) fail("failurePolicy", `is "${settings.failurePolicy}", not "Fail" or "Ignore"`);
  const t = settings.timeoutSeconds;
  if (t !== undefined && !(Number.isInteger(t) && t >= 1 && t <= 30)) {
    fail("timeoutSeconds", `is ${t}, not a whole number from 1 to 30`);
  }
  if (
    settings.sideEffects !== undefined && settings.sideEffects !== "None" &&
    settings.sideEffects !== "NoneOnDryRun"
  ) fail("sideEffects", `is "${settings.sideEffects}", not "None" or "NoneOnDryRun"`);
  const names = new Set<string>();
  for (const [i, condition] of (settings.matchConditions ?? []).entries()) {
    if (!condition.name) fail(`matchConditions[${i}].name`, "is empty");
    if (!condition.expression) fail(`matchConditions[${i}].expression`, "is empty");
    if (names.has(condition.name)) {
      fail(`matchConditions[${i}].name`, `repeats "${condition.name}"`);
    }
    names.add(condition.name);
  }
}

function checkNameAndPath(what: string, name: string, path: string): void {
  if (!QUALIFIED_NAME.test(name)) {
    throw new WebhookConfigError(
      "name",
      `Cannot declare ${what}: name "${name}" is not a fully qualified name of at least three ` +
        `lower-case labels (such as "validate.widgets.example.dev")`,
    );
  }
  if (!path.startsWith("/") || /[\s?#]/.test(path)) {
    throw new WebhookConfigError(
      "path",
      `Cannot declare ${what}: path "${path}" must start with "/" and hold no space, ? or #`,
    );
  }
}

function defaultName(verb: string, type: ResourceType): string {
  return `${verb}.${type.plural}.${groupOf(type) || "core"}`;
}

/**
 * Declares a validating webhook for a type.
 *
 * @example
 * ```ts
 * import { resourceType } from "@roperator/core";
 * import { allow, deny, validatingWebhook } from "@roperator/core/webhook";
 *
 * const Widget = resourceType<{ spec?: { size?: number } }>({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * });
 * const validate = validatingWebhook({
 *   type: Widget,
 *   handler: ({ object }) =>
 *     (object?.spec?.size ?? 0) > 10 ? deny("spec.size must be at most 10") : allow(),
 * });
 * console.log(validate.path); // "/validate/validate.widgets.example.dev"
 * ```
 *
 * @param init the type, the handler and the configuration's settings
 * @returns the webhook
 * @throws {WebhookConfigError} when a setting is invalid
 */
export function validatingWebhook<T extends KubernetesObject>(
  init: ValidatingWebhookInit<T>,
): ValidatingWebhook<T> {
  const name = init.name ?? defaultName("validate", init.type);
  const path = init.path ?? `/validate/${name}`;
  const what = `validating webhook "${name}"`;
  checkNameAndPath(what, name, path);
  checkAdmissionSettings(what, init);
  return Object.freeze({ ...init, kind: "validating", name, path });
}

/**
 * Declares a mutating webhook for a type: the handler returns the object as it should be, and
 * the library answers with the JSON Patch.
 *
 * @example
 * ```ts
 * import { resourceType } from "@roperator/core";
 * import { mutatingWebhook } from "@roperator/core/webhook";
 *
 * const Widget = resourceType<{ spec?: { size?: number } }>({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * });
 * const defaults = mutatingWebhook({
 *   type: Widget,
 *   handler: ({ object }) => ({
 *     allowed: true,
 *     object: { ...object, spec: { size: 1, ...object?.spec } },
 *   }),
 * });
 * console.log(defaults.name); // "mutate.widgets.example.dev"
 * ```
 *
 * @param init the type, the handler and the configuration's settings
 * @returns the webhook
 * @throws {WebhookConfigError} when a setting is invalid
 */
export function mutatingWebhook<T extends KubernetesObject>(
  init: MutatingWebhookInit<T>,
): MutatingWebhook<T> {
  const name = init.name ?? defaultName("mutate", init.type);
  const path = init.path ?? `/mutate/${name}`;
  const what = `mutating webhook "${name}"`;
  checkNameAndPath(what, name, path);
  checkAdmissionSettings(what, init);
  if (
    init.reinvocationPolicy !== undefined && init.reinvocationPolicy !== "Never" &&
    init.reinvocationPolicy !== "IfNeeded"
  ) {
    throw new WebhookConfigError(
      "reinvocationPolicy",
      `Cannot declare ${what}: reinvocationPolicy is "${init.reinvocationPolicy}", not "Never" ` +
        `or "IfNeeded"`,
    );
  }
  return Object.freeze({ ...init, kind: "mutating", name, path });
}

/** Thrown when an admission review is malformed. */
export class AdmissionReviewError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message what is wrong, as "Cannot …: detail"
   */
  constructor(message: string) {
    super(message);
    this.name = "AdmissionReviewError";
  }
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** What {@linkcode reviewAdmission} made of a review. */
export interface AdmissionOutcome {
  /** The `AdmissionReview` to send back. */
  review: AdmissionReview;
  /** `allowed` or `denied`, for the metrics. */
  result: "allowed" | "denied";
  /** The request, for logs and spans. */
  request: AdmissionRequest;
}

/**
 * Answers one `AdmissionReview`: calls the webhook's handler with the typed request and turns
 * its decision into the response (for a mutating webhook, with the JSON Patch to the object it
 * returned).
 *
 * @param webhook the webhook
 * @param body the review the API server sent (parsed JSON)
 * @returns the review to send back, and the result
 * @throws {AdmissionReviewError} when `body` is not an `AdmissionReview` with a request
 * @throws whatever the handler throws
 */
export async function reviewAdmission<T extends KubernetesObject>(
  webhook: ValidatingWebhook<T> | MutatingWebhook<T>,
  body: unknown,
): Promise<AdmissionOutcome> {
  const review = body as Partial<AdmissionReview> | null;
  const request = review?.request;
  if (
    typeof review !== "object" || review === null || review.kind !== "AdmissionReview" ||
    typeof request !== "object" || request === null || typeof request.uid !== "string"
  ) {
    throw new AdmissionReviewError(
      `Cannot review admission for "${webhook.name}": the body is not an AdmissionReview with a ` +
        `request`,
    );
  }
  // The API server's object, taken to be of the webhook's type (its rules name that type).
  const typed = { ...request, dryRun: request.dryRun === true } as AdmissionRequest<T>;
  const decision: MutationDecision<T> = webhook.kind === "validating"
    ? await webhook.handler(typed)
    : await webhook.handler(typed);
  const response: AdmissionResponse = { uid: request.uid, allowed: decision.allowed === true };
  if (decision.warnings?.length) response.warnings = decision.warnings;
  if (!response.allowed) {
    response.status = {
      code: decision.code ?? 403,
      message: decision.message ?? `denied by webhook "${webhook.name}"`,
    };
  } else if (webhook.kind === "mutating" && decision.object !== undefined) {
    const operations = createJsonPatch(request.object ?? {}, decision.object);
    if (operations.length) {
      response.patchType = "JSONPatch";
      response.patch = base64(JSON.stringify(operations));
    }
  }
  return {
    review: {
      apiVersion: review.apiVersion ?? "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response,
    },
    result: response.allowed ? "allowed" : "denied",
    request: typed as AdmissionRequest,
  };
}
