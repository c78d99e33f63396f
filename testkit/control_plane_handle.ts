/**
 * The {@linkcode ControlPlane} handle: admin requests, users minted on demand (client
 * certificates, static tokens, service-account tokens), the client config and the kubeconfig,
 * built the same way for a control plane this process started and for one it attached to.
 *
 * @module
 */
import { dump as toYaml } from "js-yaml";
import { type CertificatePair, issueCertificate } from "./certs.ts";
import type {
  AdminKubeconfig,
  ControlPlane,
  ControlPlaneState,
  UserCredentials,
} from "./control_plane.ts";
/** What a control plane handle is built from. */
export interface Internals {
  kubeconfig: AdminKubeconfig;
  clientCa: CertificatePair;
  adminFetch: (path: string, init?: RequestInit) => Promise<Response>;
  pids: Record<string, number>;
  killApiServer: () => Promise<void>;
  startApiServer: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * Builds the handle of a control plane.
 *
 * @param state the state written to `control-plane.json`
 * @param internals the process control and credentials behind it
 * @returns the handle
 */
export function makeControlPlane(state: ControlPlaneState, internals: Internals): ControlPlane {
  let minted = 0;
  const { adminFetch } = internals;
  const mintUser = async (
    name: string,
    options: { groups?: string[] } = {},
  ): Promise<UserCredentials> => {
    const groups = options.groups ?? [];
    const file = `user-${++minted}-${name.replace(/[^\w.-]/g, "_")}`;
    const pair = await issueCertificate(internals.clientCa, file, {
      commonName: name,
      organizations: groups,
      usage: "clientAuth",
    });
    const kubeconfigPath = `${state.dir}/${file}.kubeconfig`;
    const config = {
      ...internals.kubeconfig,
      users: [{
        name,
        user: { "client-certificate": pair.certificatePath, "client-key": pair.keyPath },
      }],
      contexts: [{ name: "roperator-test", context: { cluster: "roperator-test", user: name } }],
    };
    await Deno.writeTextFile(kubeconfigPath, toYaml(config));
    const token = state.tokens[name];
    return {
      name,
      groups,
      certificate: pair.certificate,
      key: pair.key,
      kubeconfigPath,
      ...(token === undefined ? {} : { token }),
    };
  };
  const serviceAccountToken = async (
    namespace: string,
    name: string,
    options: { expirationSeconds?: number; create?: boolean } = {},
  ): Promise<string> => {
    const json = { "Content-Type": "application/json" };
    if (options.create ?? true) {
      const res = await adminFetch(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name } }),
      });
      await res.body?.cancel();
      if (!res.ok && res.status !== 409) {
        throw new Error(`Cannot create service account "${namespace}/${name}": ${res.status}`);
      }
    }
    const res = await adminFetch(
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      {
        method: "POST",
        headers: json,
        body: JSON.stringify({
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { expirationSeconds: options.expirationSeconds ?? 3600 },
        }),
      },
    );
    const body = await res.json();
    if (!res.ok) {
      throw new Error(
        `Cannot request a token for "${namespace}/${name}": ${res.status} ${body?.message ?? ""}`,
      );
    }
    return body.status.token as string;
  };
  return {
    ...state,
    kubeconfig: internals.kubeconfig,
    clientConfig: {
      server: state.server,
      caCertificates: [state.caCertificate],
      credentials: { kind: "token", token: state.adminToken },
    },
    pids: internals.pids,
    mintUser,
    serviceAccountToken,
    adminFetch,
    killApiServer: internals.killApiServer,
    startApiServer: internals.startApiServer,
    restartApiServer: async () => {
      const started = performance.now();
      await internals.killApiServer();
      await internals.startApiServer();
      return Math.round(performance.now() - started);
    },
    stop: internals.stop,
    [Symbol.asyncDispose]: internals.stop,
  };
}
