/**
 * Whose child an object is. A child belongs to the parent its **controller owner reference**
 * names (by uid), whatever its labels say: Helm, Kustomize and Argo CD rewrite
 * `app.kubernetes.io/instance`, and a child must not change hands when they do. Only a child
 * that cannot carry an owner reference (a cluster-scoped child of a namespaced parent) is tied
 * to its parent by the tracking label alone.
 *
 * @module
 */
import type { KubernetesObject } from "../client/resource_type.ts";

/** An owner reference, as it appears in `metadata.ownerReferences`. */
export interface OwnerReference {
  /** The owner's apiVersion. */
  apiVersion: string;
  /** The owner's kind. */
  kind: string;
  /** The owner's name. */
  name: string;
  /** The owner's uid. */
  uid: string;
  /** Whether this owner is the managing controller. */
  controller?: boolean;
}

/**
 * The object's controller owner reference (the one with `controller: true`), if any.
 *
 * @param object the object
 * @returns the reference or `undefined`
 */
export function controllerOf(object: KubernetesObject): OwnerReference | undefined {
  const refs = object.metadata?.ownerReferences as OwnerReference[] | undefined;
  return refs?.find((ref) => ref.controller === true);
}

/**
 * The uid of the parent an object belongs to: its controller owner's uid, else the value of the
 * tracking label (children that carry no owner reference).
 *
 * @param object the object
 * @param trackingLabel the tracking label's name
 * @returns the parent uid, or `undefined` when the object names no parent
 */
export function parentUidOf(object: KubernetesObject, trackingLabel: string): string | undefined {
  return controllerOf(object)?.uid ?? object.metadata?.labels?.[trackingLabel];
}

/**
 * Says, for an error message, why an object that has the desired child's name is not the
 * parent's child.
 *
 * @param object the object found
 * @param parentUid the uid of the parent that wants a child of this name
 * @param trackingLabel the tracking label's name
 * @param knownParent finds the key of a parent of this operator by uid (to say whether the
 * owner still exists)
 * @returns what is wrong, starting with a verb ("is …", "exists …")
 */
export function describeForeignChild(
  object: KubernetesObject,
  parentUid: string,
  trackingLabel: string,
  knownParent: (uid: string) => string | undefined,
): string {
  const owner = controllerOf(object);
  const deleting = object.metadata?.deletionTimestamp !== undefined;
  if (owner !== undefined && owner.uid !== parentUid) {
    const parentKey = knownParent(owner.uid);
    const who = `${owner.kind} "${owner.name}" (uid ${owner.uid})`;
    if (deleting) {
      return `is still being deleted; it belonged to ${who}, and will be written once it is gone`;
    }
    if (parentKey === undefined) {
      return `belongs to ${who}, which no longer exists; it will be written once the garbage ` +
        `collector has deleted it`;
    }
    return `exists and is controlled by ${who}, another parent: two parents want a child of ` +
      `the same name`;
  }
  const label = object.metadata?.labels?.[trackingLabel];
  if (owner === undefined && label !== undefined && label !== parentUid) {
    const parentKey = knownParent(label);
    return `exists and is not this parent's: it has no controller owner reference, and its ` +
      `"${trackingLabel}" label is "${label}"${
        parentKey === undefined ? "" : ` (the uid of parent "${parentKey}")`
      }`;
  }
  return `exists and was not created by this operator for this parent (it has no controller ` +
    `owner reference${label === undefined ? ` and no "${trackingLabel}" label` : ""}); ` +
    `delete it or give the child another name`;
}
