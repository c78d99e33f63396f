/**
 * One control plane shared by a whole test run: {@linkcode testControlPlane} attaches to the one
 * named by `ROPERATOR_TEST_CONTROLPLANE` (as `deno task test` arranges) or starts its own, and
 * {@linkcode attachControlPlane} attaches to a control plane another process started.
 *
 * @module
 */
import { load as fromYaml } from "js-yaml";
import type { CertificatePair } from "./certs.ts";
import {
  type AdminKubeconfig,
  type ControlPlane,
  type ControlPlaneOptions,
  type ControlPlaneState,
  startControlPlane,
} from "./control_plane.ts";
import { makeControlPlane } from "./control_plane_handle.ts";
/**
 * Attaches to a control plane another process started (its directory holds
 * `control-plane.json`). `stop()` of the result only releases this process's resources; the
 * control plane keeps running.
 *
 * @param dir the control plane's directory
 * @returns the control plane, without process control (`pids` is empty)
 */
export async function attachControlPlane(dir: string): Promise<ControlPlane> {
  const state = JSON.parse(
    await Deno.readTextFile(`${dir}/control-plane.json`),
  ) as ControlPlaneState;
  const kubeconfig = fromYaml(await Deno.readTextFile(state.kubeconfigPath)) as AdminKubeconfig;
  const pki = `${dir}/pki`;
  const clientCa: CertificatePair = {
    certificate: await Deno.readTextFile(`${pki}/client-ca.crt`),
    key: await Deno.readTextFile(`${pki}/client-ca.key`),
    certificatePath: `${pki}/client-ca.crt`,
    keyPath: `${pki}/client-ca.key`,
  };
  let httpClient: Deno.HttpClient | undefined;
  const adminFetch = (path: string, init: RequestInit = {}): Promise<Response> => {
    httpClient ??= Deno.createHttpClient({ caCerts: [state.caCertificate] });
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${state.adminToken}`);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    return fetch(`${state.server}${path}`, { ...init, headers, client: httpClient });
  };
  const notStarted = (what: string) => () =>
    Promise.reject(
      new TypeError(
        `Cannot ${what} kube-apiserver: this process attached to the control plane in "${dir}" ` +
          `and did not start it (use startControlPlane() for a private one)`,
      ),
    );
  return makeControlPlane(state, {
    kubeconfig,
    clientCa,
    adminFetch,
    pids: {},
    killApiServer: notStarted("kill"),
    startApiServer: notStarted("start"),
    stop: () => {
      httpClient?.close();
      httpClient = undefined;
      return Promise.resolve();
    },
  });
}

/** The environment variable through which a test run shares one control plane. */
export const SHARED_CONTROL_PLANE_ENV = "ROPERATOR_TEST_CONTROLPLANE";

/**
 * The control plane for a test file: the one shared by the whole test run when
 * `ROPERATOR_TEST_CONTROLPLANE` names its directory (as `deno task test` arranges), else a new
 * one. Either way, `stop()` it at the end of the file; isolate tests by namespace.
 *
 * @param options options for a new control plane
 * @returns the control plane
 */
export async function testControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const shared = Deno.env.get(SHARED_CONTROL_PLANE_ENV);
  if (shared) return await attachControlPlane(shared);
  return await startControlPlane(options);
}
