/**
 * Writes counted by kube-apiserver itself: `apiserver_request_total` from its `/metrics`, summed
 * by verb and resource for the resources the benchmark operator writes. Two scrapes bracket a
 * window; their difference is every write anyone made to those resources in it.
 *
 * @module
 */
import { parsePrometheusText } from "../../testkit/mod.ts";

/** The verbs that change state. */
export const WRITE_VERBS: readonly string[] = [
  "POST",
  "PUT",
  "PATCH",
  "APPLY",
  "DELETE",
  "DELETECOLLECTION",
];

/** Writes by `"<VERB> <resource>[/<subresource>]"`, for example `"PUT benchparents/status"`. */
export type WriteCounts = Record<string, number>;

/**
 * Scrapes kube-apiserver's `/metrics` and sums `apiserver_request_total` of write verbs on the
 * given resources, over every response code.
 *
 * @param adminFetch an authenticated fetch of the API server (`ControlPlane.adminFetch`)
 * @param resources the resources (plural names), such as `configmaps`
 * @returns the counts
 */
export async function scrapeWrites(
  adminFetch: (path: string, init?: RequestInit) => Promise<Response>,
  resources: readonly string[],
): Promise<WriteCounts> {
  const response = await adminFetch("/metrics", { headers: { Accept: "text/plain" } });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot scrape kube-apiserver /metrics: HTTP ${response.status}`);
  }
  const counts: WriteCounts = {};
  for (const sample of parsePrometheusText(await response.text())) {
    if (sample.name !== "apiserver_request_total") continue;
    const { verb, resource, subresource } = sample.labels;
    if (!verb || !WRITE_VERBS.includes(verb) || !resource || !resources.includes(resource)) {
      continue;
    }
    const key = `${verb} ${resource}${subresource ? `/${subresource}` : ""}`;
    counts[key] = (counts[key] ?? 0) + sample.value;
  }
  return counts;
}

/**
 * The writes made between two scrapes (only keys that changed).
 *
 * @param before the first scrape
 * @param after the second scrape
 * @returns the differences
 */
export function writesBetween(before: WriteCounts, after: WriteCounts): WriteCounts {
  const diff: WriteCounts = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) diff[key] = delta;
  }
  return diff;
}

/**
 * The total of some counts.
 *
 * @param counts the counts
 * @returns the sum
 */
export function totalWrites(counts: WriteCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
