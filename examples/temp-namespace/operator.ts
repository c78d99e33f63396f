/**
 * The temp-namespace operator: each cluster-scoped `TempNamespace` owns a Namespace of the same
 * name until `spec.deleteAfter` has passed since the TempNamespace was created; then the
 * Namespace is deleted. The Namespace is never updated (`OnDelete`). The handler is a
 * {@linkcode failableHandler}: an invalid `deleteAfter` is reported in the status and retried
 * with backoff, and the existing Namespace is kept meanwhile.
 *
 * @module
 */
import {
  failableHandler,
  type HandlerObject,
  isFailure,
  k8s,
  type KubernetesObject,
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
  type ResourceType,
  resourceType,
} from "@roperator/core";

/** A TempNamespace object. */
export interface TempNamespace extends KubernetesObject {
  /** How long the namespace lives. */
  spec?: { deleteAfter?: string };
}

/** The status the operator writes. */
export interface TempNamespaceStatus {
  /** When the TempNamespace was created. */
  createdAt?: string;
  /** When the Namespace expires. */
  expiresAt?: string;
  /** When the Namespace was deleted, once expired. */
  deletedAt?: string;
  /** Why the spec is invalid, if it is. */
  error?: string;
}

/** The TempNamespace custom resource type (cluster-scoped). */
export const TempNamespaceType: ResourceType<TempNamespace> = resourceType<TempNamespace>({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "TempNamespace",
  plural: "tempnamespaces",
  namespaced: false,
});

/** The operator's settings. */
export const configInit: OperatorConfigInit = {
  name: "temp-namespace-operator",
  parent: TempNamespaceType,
  children: [{ type: k8s.core.v1.Namespace, updateStrategy: "OnDelete" }],
};

/** The validated operator config. */
export const config: OperatorConfig = operatorConfig(configInit);

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `"90s"`, `"10m"`, `"2h"` or `"1d"`.
 *
 * @param text the duration
 * @returns milliseconds
 * @throws {SyntaxError} when the text is not a duration
 */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) {
    throw new SyntaxError(
      `Cannot parse deleteAfter "${text}": expected a number and a unit s, m, h or d, as in "10m"`,
    );
  }
  return Number(match[1]) * UNITS[match[2]!]!;
}

/**
 * Builds the handler.
 *
 * @param options how often to check for expiry (default every 30 s)
 * @returns the handler
 */
export function tempNamespaceHandler(
  options: { resyncMs?: number; now?: () => number } = {},
): Required<HandlerObject<TempNamespace>> {
  const now = options.now ?? Date.now;
  return failableHandler<TempNamespace, { expiresAt: number }, TempNamespaceStatus>({
    validate({ parent }) {
      const created = Date.parse(parent.metadata?.creationTimestamp ?? "");
      return { expiresAt: created + parseDuration(parent.spec?.deleteAfter ?? "") };
    },
    syncChildren({ expiresAt }, { parent }) {
      if (now() >= expiresAt) return [];
      return [{ apiVersion: "v1", kind: "Namespace", metadata: { name: parent.metadata!.name! } }];
    },
    status({ parent }, result) {
      const createdAt = parent.metadata?.creationTimestamp ?? undefined;
      if (isFailure(result)) {
        return {
          ...(createdAt ? { createdAt } : {}),
          error: String((result.error as Error).message ?? result.error),
        };
      }
      if (result.kind !== "syncSucceeded") return {};
      const expiresAt = new Date(result.value.expiresAt).toISOString();
      const previous = (parent.status ?? {}) as TempNamespaceStatus;
      const expired = result.children.length === 0;
      return {
        ...(createdAt ? { createdAt } : {}),
        expiresAt,
        ...(expired ? { deletedAt: previous.deletedAt ?? new Date(now()).toISOString() } : {}),
      };
    },
  }, { regularResyncMs: options.resyncMs ?? 30_000 });
}
