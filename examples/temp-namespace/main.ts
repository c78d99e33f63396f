/**
 * The temp-namespace operator as a program. `--help` lists the flags; `--print-rbac` and
 * `--print-manifests` print its least-privilege RBAC and a one-replica StatefulSet.
 *
 * @module
 */
import { operatorMain } from "@roperator/core";
import { configInit, tempNamespaceHandler } from "./operator.ts";

if (import.meta.main) {
  Deno.exit(
    await operatorMain(configInit, tempNamespaceHandler(), {
      image: "ghcr.io/roperator/temp-namespace-operator:0.1.0",
    }),
  );
}
