/**
 * The echo-server operator as a program: `deno run -A examples/echo-server/main.ts --help`.
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
