/**
 * The guide's example operator as a program: `deno run -A main.ts --help` lists its flags.
 *
 * @module
 */
import { operatorMain } from "@roperator/core";
import { configInit, sync } from "./operator.ts";

if (import.meta.main) {
  Deno.exit(
    await operatorMain(configInit, sync, { image: "registry.example.com/greeting-operator:0.1.0" }),
  );
}
