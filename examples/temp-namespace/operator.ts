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
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
} from "@roperator/core";
import { type ObjectOf, parentSchema, type StatusOf, Type } from "@roperator/core/schema";

/**
 * The TempNamespace custom resource (cluster-scoped), declared once: its TypeScript type and its
 * CRD (`crd.yaml` is what `main.ts --print-crds` prints) come from this declaration.
 * `deleteAfter` has no pattern on purpose: the handler reports a malformed one in the status.
 */
export const TempNamespaceType = parentSchema({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "TempNamespace",
  plural: "tempnamespaces",
  namespaced: false,
  spec: Type.Object({
    deleteAfter: Type.String({
      description: 'How long the namespace lives, such as "90s", "10m", "2h" or "1d".',
    }),
  }),
  status: Type.Object({
    createdAt: Type.Optional(Type.String({ description: "When the TempNamespace was created." })),
    expiresAt: Type.Optional(Type.String({ description: "When the Namespace expires." })),
    deletedAt: Type.Optional(
      Type.String({ description: "When the Namespace was deleted, once expired." }),
    ),
    error: Type.Optional(Type.String({ description: "Why the spec is invalid, if it is." })),
  }),
  printerColumns: [
    { name: "Delete-After", type: "string", jsonPath: ".spec.deleteAfter" },
    { name: "Expires", type: "string", jsonPath: ".status.expiresAt" },
  ],
});

/** A TempNamespace object, as the handler sees it. */
export type TempNamespace = ObjectOf<typeof TempNamespaceType>;

/** The status the operator writes. */
export type TempNamespaceStatus = StatusOf<typeof TempNamespaceType>;

/** The operator's settings. */
export const configInit: OperatorConfigInit<TempNamespace> = {
  name: "temp-namespace-operator",
  parent: TempNamespaceType,
  children: [{ type: k8s.core.v1.Namespace, updateStrategy: "OnDelete" }],
};

/** The validated operator config. */
export const config: OperatorConfig<TempNamespace> = operatorConfig(configInit);

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
      return { expiresAt: created + parseDuration(parent.spec.deleteAfter) };
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
      const previous = parent.status ?? {};
      const expired = result.children.length === 0;
      return {
        ...(createdAt ? { createdAt } : {}),
        expiresAt,
        ...(expired ? { deletedAt: previous.deletedAt ?? new Date(now()).toISOString() } : {}),
      };
    },
  }, { regularResyncMs: options.resyncMs ?? 30_000 });
}
