/**
 * Deployment generated from an `OperatorConfig`, so that it cannot drift from the code:
 * least-privilege RBAC ({@linkcode rbacFor}, with {@linkcode explainRules} saying why each rule is
 * there), a ServiceAccount, a StatefulSet and a headless Service ({@linkcode manifestsFor}), YAML
 * ({@linkcode toYaml}), and the narrowest Deno permission flags for a compiled operator
 * ({@linkcode permissionFlags}), with the V8 flags it is compiled with
 * ({@linkcode OPERATOR_V8_FLAGS}). The CLI's `--print-rbac` and `--print-manifests` print the
 * same.
 *
 * @example Print the RBAC and the manifests of an operator
 * ```ts
 * import { k8s, operatorConfig, resourceType } from "@roperator/core";
 * import { manifestsFor, rbacFor, toYaml } from "@roperator/core/deploy";
 *
 * const config = operatorConfig({
 *   name: "echo-operator",
 *   parent: resourceType({
 *     apiVersion: "example.com/v1",
 *     kind: "Echo",
 *     plural: "echoes",
 *     namespaced: true,
 *   }),
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
 * });
 * console.log(toYaml(rbacFor(config)));
 * console.log(toYaml(manifestsFor(config, { image: "registry.example.com/echo:0.1.0" })));
 * ```
 *
 * @module
 */
export { explainRules, rbacFor, type RbacOptions } from "./rbac.ts";
export {
  type ContainerResources,
  manifestsFor,
  type ManifestsOptions,
  toYaml,
  type ToYamlOptions,
} from "./manifests.ts";
export {
  OPERATOR_ENV_VARS,
  permissionFlags,
  type PermissionFlagsOptions,
  SERVICE_ACCOUNT_DIR,
} from "./permissions.ts";
export {
  type CacheSize,
  type ContainerMemory,
  containerMemoryFor,
  DEFAULT_CACHE_SIZE,
} from "./memory.ts";
export { OPERATOR_V8_FLAGS } from "./v8_flags.ts";
