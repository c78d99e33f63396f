/**
 * One schema for the parent: declare a custom resource once, with TypeBox schemas for `spec` and
 * `status`, and get the handler's types, the CustomResourceDefinition (structural schema, status
 * and scale subresources, printer columns, CEL rules, several versions) and the checks Kubernetes
 * applies, from the same source. A declaration Kubernetes would refuse is refused before anything
 * reaches the API server, with a {@linkcode ParentSchemaError} naming the field.
 *
 * TypeBox's `Type` builder is re-exported, so one import is enough:
 *
 * ```ts
 * import { parentSchema, Type } from "@roperator/core/schema";
 *
 * const Greeting = parentSchema({
 *   apiVersion: "example.roperator.dev/v1",
 *   kind: "Greeting",
 *   plural: "greetings",
 *   namespaced: true,
 *   spec: Type.Object({
 *     message: Type.String({ minLength: 1 }),
 *     replicas: Type.Integer({ minimum: 0, maximum: 10, default: 1 }),
 *   }),
 *   status: Type.Object({ phase: Type.Optional(Type.String()) }),
 *   printerColumns: [{ name: "Phase", type: "string", jsonPath: ".status.phase" }],
 * });
 * console.log(JSON.stringify(Greeting.crd()));
 * ```
 *
 * @module
 */
export { type Static, type TSchema, Type } from "./type.ts";
export { isParentSchema } from "./is_parent_schema.ts";
export {
  type ObjectOf,
  type ObservedGeneration,
  type ParentObject,
  type ParentSchema,
  parentSchema,
  ParentSchemaError,
  type ParentSchemaInit,
  type ParentSchemaProblem,
  type PrinterColumn,
  type ScaleSubresource,
  type SpecOf,
  type StatusOf,
  type VersionInit,
} from "./parent_schema.ts";
export {
  type SchemaProblem,
  structuralProblems,
  type StructuralSchema,
  type ValidationRule,
} from "./structural.ts";
export { type Conversion, type JsonSchema, toStructuralSchema } from "./convert.ts";
export { PrunedFieldReporter, prunedFields } from "./prune.ts";
