/**
 * TypeBox, re-exported: `Type` builds the schemas of a parent's `spec` and `status` (each is JSON
 * Schema with a static TypeScript type), so that an operator needs no import of its own.
 *
 * @module
 */
import TypeBox from "typebox";
import type * as typebox from "typebox";
export type { Static } from "typebox";

/** A TypeBox schema: JSON Schema that carries the TypeScript type of the values it describes. */
export type TSchema = typebox.TSchema;

/**
 * TypeBox's schema builder (`Type.Object`, `Type.String`, `Type.Integer`, `Type.Array`,
 * `Type.Union`, `Type.Literal`, `Type.Record`, `Type.Optional`, `Type.Unknown`, …), from the
 * `typebox` package.
 *
 * @example
 * ```ts
 * import { Type } from "./type.ts";
 * const Spec = Type.Object({ replicas: Type.Integer({ minimum: 0, default: 1 }) });
 * ```
 */
export const Type: typeof TypeBox = TypeBox;
