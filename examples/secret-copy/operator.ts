/**
 * The secret-copy operator: a related resource at work. Each `SecretCopy` names a source Secret
 * (`spec.secretName`, in its namespace) and a key (`spec.key`); the operator copies that key
 * into a child Secret `<name>-copy`, and says in a `Resolved` condition whether the reference
 * resolves. It does not own the source Secret: it declares it as a related resource, so a change
 * to the source syncs exactly the copies that name it, and a deleted source syncs them too.
 *
 * Only Secrets labelled `example.roperator.dev/copy-source=true` are watched and cached, and
 * only their `data` is kept. The values are copied, never logged.
 *
 * @module
 */
import {
  type Condition,
  type ConditionInit,
  k8s,
  type KubernetesObject,
  type KubernetesObjectOf,
  mergeConditions,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type RelatedResource,
  relatedResource,
  type ResourceType,
  resourceType,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import type { Secret } from "@roperator/core/k8s";

/** A SecretCopy object. */
export interface SecretCopy extends KubernetesObject {
  /** Which key of which Secret to copy. */
  spec?: { secretName?: string; key?: string };
  /** What the operator reports. */
  status?: SecretCopyStatus;
}

/** The status the operator writes. */
export interface SecretCopyStatus {
  /** `Resolved`: whether the source Secret and its key exist. */
  conditions: Condition[];
}

/** The SecretCopy custom resource type. */
export const SecretCopyType: ResourceType<SecretCopy> = resourceType<SecretCopy>({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "SecretCopy",
  plural: "secretcopies",
  namespaced: true,
});

/** The label that makes a Secret a possible source. */
export const SOURCE_LABEL = "example.roperator.dev/copy-source";

/**
 * The source Secret of a copy: watched in the copies' namespaces, only when labelled, with only
 * `data` kept in the cache.
 */
export const source: RelatedResource<KubernetesObjectOf<Secret>, SecretCopy> = relatedResource({
  type: k8s.core.v1.Secret,
  labelSelector: `${SOURCE_LABEL}=true`,
  transform: (secret) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: secret.metadata!.name!,
      namespace: secret.metadata!.namespace!,
      resourceVersion: secret.metadata!.resourceVersion!,
    },
    ...(secret.data ? { data: secret.data } : {}),
  }),
  refs: (copy: SecretCopy) => copy.spec?.secretName ? { name: copy.spec.secretName } : null,
});

/** The operator's settings. */
export const configInit: OperatorConfigInit = {
  name: "secret-copy-operator",
  parent: SecretCopyType,
  children: [{ type: k8s.core.v1.Secret, updateStrategy: "Replace" }],
  related: [source],
};

/** The validated operator config. */
export const config: OperatorConfig = operatorConfig(configInit);

/**
 * Copies the key of the source Secret into the child Secret and reports whether it resolves.
 * Without a resolvable source, the copy is deleted (no child is returned).
 *
 * @param request the SecretCopy, its child and its source Secret
 * @returns the desired child and status
 */
export function sync(request: SyncRequest<SecretCopy>): SyncResponse<SecretCopyStatus> {
  const { parent } = request;
  const name = parent.metadata!.name!;
  const generation = parent.metadata?.generation ?? 0;
  const secretName = parent.spec?.secretName ?? "";
  const key = parent.spec?.key ?? "";
  const secret = request.related.get(source);
  const value = secret?.data?.[key];
  const resolved: ConditionInit = value !== undefined
    ? { type: "Resolved", status: "True", reason: "Copied", observedGeneration: generation }
    : {
      type: "Resolved",
      status: "False",
      reason: secret === undefined ? "SecretNotFound" : "KeyNotFound",
      // Names only: the message never carries a value.
      message: secret === undefined
        ? `Secret "${secretName}" does not exist or lacks the label ${SOURCE_LABEL}=true`
        : `Secret "${secretName}" has no key "${key}"`,
      observedGeneration: generation,
    };
  return {
    status: { conditions: mergeConditions(parent.status?.conditions, [resolved]) },
    children: value === undefined ? [] : [{
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${name}-copy` },
      type: "Opaque",
      data: { [key]: value },
    }],
  };
}
