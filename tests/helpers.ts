/**
 * Helpers shared by the runtime's integration tests.
 *
 * @module
 */
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { k8s } from "../config/resource_types.ts";

/**
 * Polls `probe` every 100 ms until it returns something other than `undefined` or `false`.
 *
 * @param what what is awaited, for the timeout message
 * @param probe the check
 * @param timeoutMs how long to wait (default 30 s)
 * @returns what the probe returned
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

let counter = 0;

/**
 * Creates a fresh namespace `<prefix>-<time>-<n>` to isolate a test.
 *
 * @param client an admin client
 * @param prefix the name's prefix
 * @returns the namespace's name
 */
export async function createNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${counter++}`;
  await new ResourceClient(client, k8s.core.v1.Namespace).create({ metadata: { name } });
  return name;
}
