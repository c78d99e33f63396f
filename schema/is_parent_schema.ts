/**
 * {@linkcode isParentSchema}, apart from `parentSchema()` itself so that the runner and the
 * command line can ask without loading TypeBox.
 *
 * @module
 */
import type { ResourceType } from "../client/resource_type.ts";
import type { ParentSchema } from "./parent_schema.ts";

/**
 * Whether a resource type was declared with `parentSchema()` (and so knows its CRD and schema).
 *
 * @example
 * ```ts
 * import { resourceType } from "../client/resource_type.ts";
 * import { isParentSchema } from "./is_parent_schema.ts";
 * isParentSchema(resourceType({
 *   apiVersion: "example.dev/v1",
 *   kind: "Widget",
 *   plural: "widgets",
 *   namespaced: true,
 * })); // false
 * ```
 *
 * @param type any resource type
 * @returns true for a {@linkcode ParentSchema}
 */
export function isParentSchema(type: ResourceType): type is ParentSchema {
  const candidate = type as Partial<ParentSchema>;
  return typeof candidate.crd === "function" && typeof candidate.openAPIV3Schema === "object" &&
    candidate.openAPIV3Schema !== null;
}
