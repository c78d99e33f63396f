/**
 * CRD conversion webhooks: {@linkcode conversionWebhook} declares typed conversion functions
 * between the versions of a custom resource, and {@linkcode reviewConversion} answers a
 * `ConversionReview` (a list of objects, each converted along the shortest chain of the given
 * functions).
 *
 * Round trips are lossless: when converting from version A to version B loses fields (B cannot
 * represent them), the library converts the result back, and records in the annotation
 * {@linkcode LOST_FIELDS_ANNOTATION} of the B object what A had that the round trip lost; the
 * next conversion to A restores those fields. `metadata` is carried over untouched, except the
 * labels and annotations the functions return.
 *
 * @module
 */
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { groupOf } from "../client/resource_type.ts";
import { WebhookConfigError } from "./admission.ts";
import { createJsonPatch, type JsonPatchOperation } from "./json_patch.ts";

/**
 * The annotation that keeps, per version, the fields a conversion lost (JSON, version → JSON
 * Patch operations that restore them).
 */
export const LOST_FIELDS_ANNOTATION = "conversion.roperator.dev/lost-fields";

/**
 * Conversion functions between versions: `converters[from][to]` turns an object of version
 * `from` into one of version `to`. `V` maps each version name to its object type.
 */
export type Converters<V extends Record<string, KubernetesObject>> = {
  [From in keyof V]?: {
    [To in Exclude<keyof V, From>]?: (object: V[From]) => V[To] | Promise<V[To]>;
  };
};

/** Options of {@linkcode conversionWebhook}. */
export interface ConversionWebhookInit<V extends Record<string, KubernetesObject>> {
  /** The custom resource (any of its versions: only the group, kind and plural are used). */
  type: ResourceType;
  /** The conversion functions; every version must be reachable from every other. */
  converters: Converters<V>;
  /** The URL path it is served at; default `/convert/<plural>.<group>`. */
  path?: string;
}

/** A conversion webhook, made by {@linkcode conversionWebhook}. */
export interface ConversionWebhook<
  V extends Record<string, KubernetesObject> = Record<string, KubernetesObject>,
> {
  /** `"conversion"`. */
  readonly kind: "conversion";
  /** `<plural>.<group>`, the CRD's name. */
  readonly name: string;
  /** The URL path. */
  readonly path: string;
  /** The custom resource. */
  readonly type: ResourceType;
  /** The API group. */
  readonly group: string;
  /** The versions the functions name. */
  readonly versions: readonly string[];
  /** The conversion functions. */
  readonly converters: Converters<V>;
}

type AnyConverter = (object: KubernetesObject) => KubernetesObject | Promise<KubernetesObject>;

/**
 * Declares the conversion webhook of a custom resource.
 *
 * @example
 * ```ts
 * import { resourceType, type KubernetesObject } from "@roperator/core";
 * import { conversionWebhook } from "@roperator/core/webhook";
 *
 * type WidgetV1alpha1 = KubernetesObject & { spec?: { size?: number | undefined } };
 * type WidgetV1 = KubernetesObject & { spec?: { replicas?: number | undefined } };
 * const Widget = resourceType({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * });
 * const convert = conversionWebhook<{ v1alpha1: WidgetV1alpha1; v1: WidgetV1 }>({
 *   type: Widget,
 *   converters: {
 *     v1alpha1: { v1: ({ spec, ...rest }) => ({ ...rest, spec: { replicas: spec?.size } }) },
 *     v1: { v1alpha1: ({ spec, ...rest }) => ({ ...rest, spec: { size: spec?.replicas } }) },
 *   },
 * });
 * console.log(convert.path); // "/convert/widgets.example.dev"
 * ```
 *
 * @param init the custom resource and the conversion functions
 * @returns the webhook
 * @throws {WebhookConfigError} when the type is not a custom resource, or a version cannot be
 * reached from another
 */
export function conversionWebhook<V extends Record<string, KubernetesObject>>(
  init: ConversionWebhookInit<V>,
): ConversionWebhook<V> {
  const group = groupOf(init.type);
  const name = `${init.type.plural}.${group}`;
  const what = `conversion webhook "${name}"`;
  if (!group) {
    throw new WebhookConfigError(
      "type",
      `Cannot declare ${what}: ${init.type.apiVersion} is a core type, not a custom resource`,
    );
  }
  const versions = new Set<string>();
  for (const [from, targets] of Object.entries(init.converters)) {
    versions.add(from);
    for (const [to, fn] of Object.entries(targets ?? {})) {
      if (typeof fn !== "function") {
        throw new WebhookConfigError(
          `converters.${from}.${to}`,
          `Cannot declare ${what}: converters.${from}.${to} is not a function`,
        );
      }
      versions.add(to);
    }
  }
  if (versions.size < 2) {
    throw new WebhookConfigError(
      "converters",
      `Cannot declare ${what}: converters must name at least two versions`,
    );
  }
  const webhook: ConversionWebhook<V> = Object.freeze({
    kind: "conversion",
    name,
    path: init.path ?? `/convert/${name}`,
    type: init.type,
    group,
    versions: Object.freeze([...versions]),
    converters: init.converters,
  });
  for (const from of versions) {
    for (const to of versions) {
      if (from !== to && chain(webhook, from, to) === undefined) {
        throw new WebhookConfigError(
          "converters",
          `Cannot declare ${what}: no chain of converters leads from ${from} to ${to}`,
        );
      }
    }
  }
  return webhook;
}

/** The shortest chain of functions from one version to another (breadth first). */
function chain(
  webhook: ConversionWebhook<Record<string, KubernetesObject>>,
  from: string,
  to: string,
): AnyConverter[] | undefined {
  const converters = webhook.converters as Record<string, Record<string, AnyConverter>>;
  const previous = new Map<string, [string, AnyConverter]>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length) {
    const at = queue.shift()!;
    if (at === to) {
      const steps: AnyConverter[] = [];
      for (let v = to; v !== from;) {
        const [prev, fn] = previous.get(v)!;
        steps.unshift(fn);
        v = prev;
      }
      return steps;
    }
    for (const [next, fn] of Object.entries(converters[at] ?? {})) {
      if (seen.has(next)) continue;
      seen.add(next);
      previous.set(next, [at, fn]);
      queue.push(next);
    }
  }
  return undefined;
}

/** An `apiextensions.k8s.io/v1` `ConversionReview`. */
export interface ConversionReview {
  /** `apiextensions.k8s.io/v1`. */
  apiVersion: string;
  /** `ConversionReview`. */
  kind: string;
  /** What the API server asks. */
  request?: {
    /** The request's id; the response repeats it. */
    uid: string;
    /** The `group/version` to convert to. */
    desiredAPIVersion: string;
    /** The objects. */
    objects: KubernetesObject[];
  };
  /** What the webhook answers. */
  response?: {
    /** The request's id. */
    uid: string;
    /** The converted objects, in the request's order. */
    convertedObjects: KubernetesObject[];
    /** `Success`, or `Failure` with a message. */
    result: { status: "Success" | "Failure"; message?: string };
  };
}

/** Thrown when a conversion review is malformed or an object cannot be converted. */
export class ConversionError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, as "Cannot …: detail"
   * @param options the cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConversionError";
  }
}

function versionOf(apiVersion: string | undefined, group: string): string | undefined {
  if (!apiVersion?.startsWith(`${group}/`)) return undefined;
  return apiVersion.slice(group.length + 1);
}

function readLost(object: KubernetesObject): Record<string, JsonPatchOperation[]> {
  const text = object.metadata?.annotations?.[LOST_FIELDS_ANNOTATION];
  if (!text) return {};
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** The object without metadata: what conversion functions are compared on. */
function body(object: KubernetesObject): KubernetesObject {
  const { metadata: _, apiVersion: __, ...rest } = object;
  return rest;
}

/** Applies restore operations, creating missing parents and skipping those that no longer fit. */
function restore(object: KubernetesObject, operations: JsonPatchOperation[]): void {
  for (const operation of operations) {
    const tokens = operation.path.slice(1).split("/").map((t) =>
      t.replaceAll("~1", "/").replaceAll("~0", "~")
    );
    if (tokens[0] === "metadata" || tokens[0] === "apiVersion" || tokens[0] === "kind") continue;
    let target: Record<string, unknown> = object;
    let ok = true;
    for (const token of tokens.slice(0, -1)) {
      const next = Object.hasOwn(target, token) ? target[token] : undefined;
      if (next === undefined && operation.op !== "remove") {
        const created: Record<string, unknown> = {};
        define(target, token, created);
        target = created;
      } else if (typeof next === "object" && next !== null) {
        target = next as Record<string, unknown>;
      } else {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const last = tokens.at(-1)!;
    if (Array.isArray(target)) continue; // array positions may have moved: do not guess
    if (operation.op === "remove") delete target[last];
    else define(target, last, structuredClone(operation.value));
  }
}

/** Sets an own member, even one named `__proto__`. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

async function run(steps: AnyConverter[], object: KubernetesObject): Promise<KubernetesObject> {
  let current = structuredClone(object);
  // Through JSON, as on the wire: `undefined` members vanish.
  for (const step of steps) current = JSON.parse(JSON.stringify(await step(current)));
  return current;
}

/**
 * Converts one object to a version, keeping what the conversion loses for the way back.
 *
 * @param webhook the conversion webhook
 * @param object the object
 * @param desiredAPIVersion the `group/version` to convert to
 * @returns the converted object
 * @throws {ConversionError} when the object's version or the desired one is unknown, or a
 * function throws
 */
export async function convertObject(
  webhook: ConversionWebhook,
  object: KubernetesObject,
  desiredAPIVersion: string,
): Promise<KubernetesObject> {
  const name = `${object.metadata?.namespace ? `${object.metadata.namespace}/` : ""}${
    object.metadata?.name ?? ""
  }`;
  const what = `${object.kind ?? webhook.type.kind} "${name}"`;
  const from = versionOf(object.apiVersion, webhook.group);
  const to = versionOf(desiredAPIVersion, webhook.group);
  if (from === undefined || !webhook.versions.includes(from)) {
    throw new ConversionError(
      `Cannot convert ${what}: apiVersion "${object.apiVersion}" is not a version of ` +
        `${webhook.group} with converters (${webhook.versions.join(", ")})`,
    );
  }
  if (to === undefined || !webhook.versions.includes(to)) {
    throw new ConversionError(
      `Cannot convert ${what}: the desired "${desiredAPIVersion}" is not a version of ` +
        `${webhook.group} with converters (${webhook.versions.join(", ")})`,
    );
  }
  if (from === to) return object;
  const lost = readLost(object);
  const input = structuredClone(object);
  const annotations = { ...input.metadata?.annotations };
  delete annotations[LOST_FIELDS_ANNOTATION];
  input.metadata = { ...input.metadata, annotations };
  if (!Object.keys(annotations).length) delete input.metadata.annotations;
  let converted: KubernetesObject;
  let back: KubernetesObject;
  try {
    converted = await run(chain(webhook, from, to)!, input);
    back = await run(chain(webhook, to, from)!, { ...converted, apiVersion: desiredAPIVersion });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConversionError(`Cannot convert ${what} from ${from} to ${to}: ${detail}`, {
      cause: error,
    });
  }
  const result: KubernetesObject = {
    ...converted,
    apiVersion: desiredAPIVersion,
    kind: object.kind ?? webhook.type.kind,
    metadata: { ...object.metadata },
  };
  delete result.metadata!.labels;
  delete result.metadata!.annotations;
  if (converted.metadata?.labels) result.metadata!.labels = converted.metadata.labels;
  if (converted.metadata?.annotations) {
    result.metadata!.annotations = converted.metadata.annotations;
  }
  const restoring = lost[to];
  delete lost[to];
  if (restoring) restore(result, restoring);
  const operations = createJsonPatch(body(back), body(input));
  if (operations.length) lost[from] = operations;
  else delete lost[from];
  const resultAnnotations: Record<string, string> = { ...result.metadata!.annotations };
  delete resultAnnotations[LOST_FIELDS_ANNOTATION];
  if (Object.keys(lost).length) resultAnnotations[LOST_FIELDS_ANNOTATION] = JSON.stringify(lost);
  if (Object.keys(resultAnnotations).length) result.metadata!.annotations = resultAnnotations;
  else delete result.metadata!.annotations;
  return result;
}

/** What {@linkcode reviewConversion} made of a review. */
export interface ConversionOutcome {
  /** The `ConversionReview` to send back. */
  review: ConversionReview;
  /** `success`, or `failure` when an object could not be converted. */
  result: "success" | "failure";
  /** How many objects were asked for. */
  objects: number;
}

/**
 * Answers one `ConversionReview`: every object converted to the desired version, in order, or a
 * `Failure` naming the object that could not be.
 *
 * @param webhook the conversion webhook
 * @param body the review the API server sent (parsed JSON)
 * @returns the review to send back
 * @throws {ConversionError} when `body` is not a `ConversionReview` with a request
 */
export async function reviewConversion(
  webhook: ConversionWebhook,
  body: unknown,
): Promise<ConversionOutcome> {
  const review = body as Partial<ConversionReview> | null;
  const request = review?.request;
  if (
    typeof review !== "object" || review === null || review.kind !== "ConversionReview" ||
    typeof request !== "object" || request === null || typeof request.uid !== "string" ||
    !Array.isArray(request.objects) || typeof request.desiredAPIVersion !== "string"
  ) {
    throw new ConversionError(
      `Cannot convert for "${webhook.name}": the body is not a ConversionReview with a request`,
    );
  }
  const reply = (response: NonNullable<ConversionReview["response"]>): ConversionReview => ({
    apiVersion: review.apiVersion ?? "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    response,
  });
  try {
    const convertedObjects: KubernetesObject[] = [];
    for (const object of request.objects) {
      convertedObjects.push(await convertObject(webhook, object, request.desiredAPIVersion));
    }
    return {
      review: reply({ uid: request.uid, convertedObjects, result: { status: "Success" } }),
      result: "success",
      objects: request.objects.length,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      review: reply({
        uid: request.uid,
        convertedObjects: [],
        result: { status: "Failure", message },
      }),
      result: "failure",
      objects: request.objects.length,
    };
  }
}
