/**
 * Test helpers for operators built with `@roperator/core`: a real Kubernetes control plane
 * (etcd, kube-apiserver, kube-controller-manager) started on loopback ports.
 *
 * ```ts ignore
 * import { testControlPlane } from "@roperator/core/testkit";
 *
 * Deno.test("my operator", async () => {
 *   await using cp = await testControlPlane();
 *   const res = await cp.adminFetch("/api/v1/namespaces");
 *   console.log(res.status);
 * });
 * ```
 *
 * @module
 */
export {
  type AdminKubeconfig,
  type ControlPlane,
  type ControlPlaneOptions,
  ControlPlaneStartError,
  type ControlPlaneState,
  startControlPlane,
  type UserCredentials,
} from "./control_plane.ts";
export {
  attachControlPlane,
  SHARED_CONTROL_PLANE_ENV,
  testControlPlane,
} from "./shared_control_plane.ts";
export {
  binarySearchPath,
  type ControlPlaneBinaries,
  ControlPlaneBinariesNotFoundError,
  type ControlPlaneBinary,
  ControlPlaneDownloadError,
  DEFAULT_ENVTEST_INDEX_URL,
  defaultBinaryCacheDir,
  downloadEnvtestBinaries,
  type DownloadEnvtestOptions,
  type DownloadFailure,
  type EnsureBinariesOptions,
  ensureControlPlaneBinaries,
  ENVTEST_INDEX_URL_ENV,
  ETCD_VERSION,
  type FindBinariesOptions,
  findControlPlaneBinaries,
  KUBERNETES_VERSION,
  WITHOUT_CONTROLLER_MANAGER,
} from "./binaries.ts";
export { TestKit } from "./test_kit.ts";
export { SyncCounter, SyncCountTimeoutError } from "./sync_counter.ts";
export { TEST_NAMESPACE_LABEL, type TestKitOptions } from "./kit_lifecycle.ts";
export { ResourceAssertionError, type ResourceRef, type WaitOptions } from "./assertions.ts";
export { buildControlPlaneBinaries, GoBuildError, type GoBuildOptions } from "./go_build.ts";
export {
  type BusyParent,
  type ParentFailures,
  ReconcileFailedError,
  ReconcileTimeoutError,
} from "./sync_tracker.ts";
export {
  type InstallCrdsOptions,
  installCustomResourceDefinitions,
  testCustomResourceDefinition,
} from "./crds.ts";
export {
  FaultProxy,
  FaultProxyError,
  type FaultProxyOptions,
  type ProxyConnectionCounts,
  type StallOptions,
  startFaultProxy,
} from "./fault_proxy.ts";
export {
  type ReleaseOptions,
  startWatchFaultServer,
  type WatchFault,
  WatchFaultServer,
  type WatchFaultServerOptions,
  type WatchFilter,
} from "./watch_fault_server.ts";
export { parsePrometheusText, type PrometheusSample } from "./prometheus_text.ts";
export {
  createObjects,
  deployServiceAccount,
  type ServiceAccountAccess,
} from "./service_account.ts";
export { syncRequest, type SyncRequestOptions } from "../handler/handler.ts";
