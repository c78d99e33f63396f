/**
 * The secret-copy operator as a program. `--help` lists the flags; `--print-rbac` prints its
 * least-privilege RBAC, with read access to the source Secrets.
 *
 * @module
 */
import { operatorMain } from "@roperator/core";
import { configInit, sync } from "./operator.ts";

if (import.meta.main) {
  Deno.exit(
    await operatorMain(configInit, sync, { image: "ghcr.io/roperator/secret-copy-operator:0.1.0" }),
  );
}
