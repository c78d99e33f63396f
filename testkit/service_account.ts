/**
 * Running an operator as a ServiceAccount in tests: create the objects `rbacFor` generates and
 * get a token and a kubeconfig for the ServiceAccount among them, so that a test proves the
 * operator works under exactly those permissions.
 *
 * @module
 */
import { dump as toYaml } from "js-yaml";
import type { ClientConfig } from "../client/client_config.ts";
import { discoverResourceType } from "../client/discovery.ts";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { ControlPlane } from "./control_plane.ts";

/**
 * Creates objects of any type (their plural and scope are discovered), leaving those that exist
 * already alone.
 *
 * @param client a client allowed to create them
 * @param objects the objects, each with apiVersion, kind and metadata
 * @returns a promise that resolves when every object exists
 */
export async function createObjects(
  client: KubeClient,
  objects: readonly KubernetesObject[],
): Promise<void> {
  for (const object of objects) {
    if (!object.apiVersion || !object.kind) {
      throw new TypeError(`Cannot create "${object.metadata?.name}": apiVersion or kind missing`);
    }
    const type = await discoverResourceType(client, {
      apiVersion: object.apiVersion,
      kind: object.kind,
    });
    try {
      await new ResourceClient(client, type).create(object);
    } catch (error) {
      if (!(error instanceof ApiError && error.isAlreadyExists)) throw error;
    }
  }
}

/** What {@linkcode deployServiceAccount} returns. */
export interface ServiceAccountAccess {
  /** The ServiceAccount's namespace. */
  namespace: string;
  /** The ServiceAccount's name. */
  name: string;
  /** A bound token of the ServiceAccount (one hour). */
  token: string;
  /** A kubeconfig file that authenticates with the token, inside the control plane's directory. */
  kubeconfigPath: string;
  /** The same as a client config. */
  clientConfig: ClientConfig;
}

/**
 * Creates RBAC objects (as from `rbacFor`) and returns access as the ServiceAccount among them.
 *
 * @param cp the control plane
 * @param objects the objects, one of them a ServiceAccount
 * @returns the token, a kubeconfig and a client config of the ServiceAccount
 * @throws {TypeError} when no ServiceAccount is among the objects
 */
export async function deployServiceAccount(
  cp: ControlPlane,
  objects: readonly KubernetesObject[],
): Promise<ServiceAccountAccess> {
  const account = objects.find((o) => o.kind === "ServiceAccount");
  const name = account?.metadata?.name;
  const namespace = account?.metadata?.namespace;
  if (!name || !namespace) {
    throw new TypeError(
      "Cannot deploy a ServiceAccount: none (with a namespace) among the objects",
    );
  }
  using admin = new KubeClient(cp.clientConfig);
  await createObjects(admin, objects);
  const token = await cp.serviceAccountToken(namespace, name, { create: false });
  const kubeconfigPath = `${cp.dir}/sa-${namespace}-${name}-${crypto.randomUUID()}.kubeconfig`;
  await Deno.writeTextFile(
    kubeconfigPath,
    toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "test",
        cluster: { server: cp.server, "certificate-authority-data": btoa(cp.caCertificate) },
      }],
      users: [{ name, user: { token } }],
      contexts: [{ name: "test", context: { cluster: "test", user: name, namespace } }],
      "current-context": "test",
    }),
  );
  return {
    namespace,
    name,
    token,
    kubeconfigPath,
    clientConfig: {
      server: cp.server,
      caCertificates: [cp.caCertificate],
      credentials: { kind: "token", token },
    },
  };
}
