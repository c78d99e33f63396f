/**
 * The notices operator as a program. `--print-manifests` prints, besides its RBAC and
 * StatefulSet, the webhook Service, the webhook configurations and the CRD's conversion stanza.
 *
 * @module
 */
import { operatorMain } from "@roperator/core";
import { configInit, sync } from "./operator.ts";

if (import.meta.main) {
  Deno.exit(
    await operatorMain(configInit, sync, { image: "ghcr.io/roperator/notices-operator:0.1.0" }),
  );
}
