/**
 * The temp-namespace operator as a program.
 *
 * @module
 */
import { runOperator } from "@roperator/core";
import { config, tempNamespaceHandler } from "./operator.ts";

if (import.meta.main) {
  const error = await runOperator(config, tempNamespaceHandler());
  console.error(error);
  Deno.exit(1);
}
