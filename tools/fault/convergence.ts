/**
 * {@linkcode checkConvergence}: whether the fault operator has made a namespace match what its
 * parents ask for (every desired child exactly once and complete, no other child, every status
 * right), used by the fault suite and by `tools/soak.ts`.
 *
 * @module
 */
import type { KubeClient } from "../../client/kube_client.ts";
import { ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import { DEFAULT_OWNERSHIP_LABEL, DEFAULT_TRACKING_LABEL } from "../../config/operator_config.ts";
import { k8s } from "../../config/resource_types.ts";
import {
  desiredChildren,
  FaultParent,
  type FaultParentObject,
  OPERATOR_NAME,
} from "./fault_operator.ts";

/** The outcome of {@linkcode checkConvergence}. */
export interface Convergence {
  /** Desired children missing, incomplete or duplicated, extra children, and wrong statuses. */
  lost: number;
  /** What is wrong, one line each. */
  problems: string[];
  /** Children found. */
  children: number;
}

function sortedJson(record: Record<string, string>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1)),
  );
}

/**
 * Checks that every parent in the namespace has exactly its desired children, each complete (the
 * tracking and ownership labels, one controller owner reference to the parent, the data), no
 * other child exists, and every status is right for the current generation.
 *
 * @param admin an admin client
 * @param namespace the namespace
 * @param options parents to skip (failing on purpose)
 * @returns what is lost, and why
 */
export async function checkConvergence(
  admin: KubeClient,
  namespace: string,
  options: { skip?: (parent: FaultParentObject) => boolean } = {},
): Promise<Convergence> {
  const parents = (await new ResourceClient(admin, FaultParent, namespace).listAll()).items;
  const children = (await new ResourceClient(admin, k8s.core.v1.ConfigMap, namespace).listAll({
    labelSelector: `${DEFAULT_OWNERSHIP_LABEL}=${OPERATOR_NAME}`,
  })).items;
  const problems: string[] = [];
  const byName = new Map<string, KubernetesObject[]>();
  for (const child of children) {
    const name = child.metadata!.name!;
    byName.set(name, [...(byName.get(name) ?? []), child]);
  }
  const expected = new Set<string>();
  for (const parent of parents) {
    if (options.skip?.(parent)) continue;
    const uid = parent.metadata!.uid!;
    for (const want of desiredChildren(parent)) {
      const name = want.metadata!.name!;
      expected.add(name);
      const found = byName.get(name) ?? [];
      if (found.length !== 1) {
        problems.push(`${name}: ${found.length} copies`);
        continue;
      }
      const child = found[0]!;
      const labels = child.metadata?.labels ?? {};
      const refs = child.metadata?.ownerReferences ?? [];
      if (labels[DEFAULT_TRACKING_LABEL] !== uid) problems.push(`${name}: no tracking label`);
      if (labels[DEFAULT_OWNERSHIP_LABEL] !== OPERATOR_NAME) {
        problems.push(`${name}: no ownership label`);
      }
      if (refs.length !== 1 || refs[0]?.uid !== uid || refs[0]?.controller !== true) {
        problems.push(`${name}: ${refs.length} owner references, not one to its parent`);
      }
      const data = (child as { data?: Record<string, string> }).data ?? {};
      const wanted = (want as { data?: Record<string, string> }).data ?? {};
      if (sortedJson(data) !== sortedJson(wanted)) {
        problems.push(`${name}: data ${sortedJson(data)}, not ${sortedJson(wanted)}`);
      }
    }
    const status = parent.status ?? {};
    if (
      status.children !== (parent.spec?.children ?? 1) ||
      status.value !== (parent.spec?.value ?? "") ||
      status.observedGeneration !== parent.metadata?.generation
    ) {
      problems.push(`${parent.metadata!.name}: status ${JSON.stringify(status)}`);
    }
  }
  for (const name of byName.keys()) {
    const owner = byName.get(name)![0]!.metadata?.ownerReferences?.[0]?.name;
    const skipped = parents.some((p) => p.metadata?.name === owner && options.skip?.(p));
    if (!expected.has(name) && !skipped) problems.push(`${name}: not desired by any parent`);
  }
  return { lost: problems.length, problems, children: children.length };
}
