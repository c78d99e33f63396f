/**
 * The echo-server operator as a program. `--help` lists the flags; `--print-rbac` and
 * `--print-manifests` print its least-privilege RBAC and a one-replica StatefulSet, and
 * `--print-crds` its CRD.
 *
 * @module
 */
import { operatorMain } from "@roperator/core";
import { configInit, sync } from "./operator.ts";

if (import.meta.main) {
  Deno.exit(
    await operatorMain(configInit, sync, { image: "ghcr.io/roperator/echo-server-operator:0.1.0" }),
  );
}
