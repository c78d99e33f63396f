/**
 * The web-app operator as a program.
 *
 * @module
 */
import { runOperator } from "@roperator/core";
import { config, sync } from "./operator.ts";

if (import.meta.main) {
  const error = await runOperator(config, sync);
  console.error(error);
  Deno.exit(1);
}
