/**
 * A small operator for the leader-election tests, run as a subprocess with the permission flags
 * of a compiled operator binary. Its first argument is a JSON object with the leader-election
 * options (identity and durations); the other arguments go to `operatorMain`.
 *
 * Each parent gets a ConfigMap `<name>-child` with its `spec.value`, and a status with the value
 * and `writer`, this instance's identity, so the test can tell which instance wrote it. A parent with `spec.spinMs` makes the handler busy-wait
 * that long, blocking the event loop and ignoring its abort signal, after it logs "handler
 * started": when the process is paused in that loop and resumed, the sync goes on to its writes
 * before any timer (the elector's included) runs, so only the write fence can stop them.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { resourceType } from "../client/resource_type.ts";
import type { LeaderElectionInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import type { SyncRequest, SyncResponse } from "../handler/handler.ts";
import { operatorMain } from "../runner/cli.ts";

/** The parent type of the leader-election tests. */
export const LeaderParent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "LeaderParent",
  plural: "leaderparents",
  namespaced: true,
});

type Spec = { value?: string; spinMs?: number };

if (import.meta.main) {
  const [json, ...args] = Deno.args;
  const leaderElection = JSON.parse(json ?? "{}") as LeaderElectionInit;
  const identity = leaderElection.identity ?? "unknown";
  const logger = getLogger(["roperator", "test"]);
  const sync = (
    { parent }: SyncRequest<{ metadata?: { name?: string }; spec?: Spec }>,
  ): SyncResponse => {
    const spec = parent.spec ?? {};
    if (spec.spinMs) {
      logger.info("handler started {parent}", { parent: parent.metadata?.name });
      const end = performance.now() + spec.spinMs;
      while (performance.now() < end) { /* busy */ }
    }
    return {
      status: { value: spec.value ?? "", writer: identity },
      children: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${parent.metadata?.name}-child` },
        data: { value: spec.value ?? "" },
      }],
    };
  };
  Deno.exit(
    await operatorMain(
      {
        name: "leader-test",
        parent: LeaderParent,
        children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
        leaderElection,
      },
      sync,
      { args },
    ),
  );
}
