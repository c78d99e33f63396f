/**
 * Requests of the fault suite and of `tools/soak.ts` that ride out an API server under faults:
 * {@linkcode isTransient} tells the errors that may go away on their own, and
 * {@linkcode retrying} and {@linkcode createRetrying} retry while they do.
 *
 * @module
 */
import { ApiError, NetworkError } from "../../client/errors.ts";
import type { ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";

/**
 * Creates an object, retrying while the API server is unreachable or answers 5xx; an object
 * that exists already (an earlier attempt went through) counts as created.
 *
 * @param client the resource client
 * @param object the object
 * @param timeoutMs how long to keep trying (default 120 000 ms)
 * @returns the object as stored
 */
export async function createRetrying<T extends KubernetesObject>(
  client: ResourceClient<T>,
  object: T,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return await client.create(object);
    } catch (error) {
      if (error instanceof ApiError && error.isAlreadyExists) {
        return await client.get(object.metadata!.name!);
      }
      if (!isTransient(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Whether an error of a request may go away on its own: the server unreachable, a 5xx or 429, or
 * a response body cut off (which `KubeClient.request` reports as a bare `TypeError`).
 *
 * @param error the error
 * @returns whether to retry
 */
export function isTransient(error: unknown): boolean {
  return error instanceof NetworkError ||
    (error instanceof ApiError && (error.status >= 500 || error.status === 429)) ||
    (error instanceof TypeError && /body|connection/i.test(error.message));
}

/**
 * Runs `fn`, retrying while the API server is unreachable or answers 5xx.
 *
 * @param fn the call
 * @param timeoutMs how long to keep trying (default 120 000 ms)
 * @returns its result
 */
export async function retrying<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
