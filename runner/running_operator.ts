/**
 * One operator of a process, started on the process's shared client and informer pool: its
 * controller, leader election (or presence detection), event recorder and their shutdown.
 * `startOperators` starts one per config and adds the HTTP server, the webhooks and the client.
 *
 * The informers start at once; everything that writes (syncs, the leader election's and the
 * presence detector's Lease) waits for the group's gate, which opens once the start-up checks
 * have passed.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { KubeClient } from "../client/kube_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import { type Handler, normalizeHandler } from "../handler/handler.ts";
import { Controller } from "./controller.ts";
import { EventRecorder } from "./events.ts";
import type { InformerPool } from "./informer_pool.ts";
import { defaultIdentity, LeaderElector } from "./leader_election.ts";
import type { OperatorMetrics } from "./operator_metrics.ts";
import { PresenceDetector } from "./presence.ts";
import { messageOf } from "../client/_util.ts";
import { OperatorFatalError } from "./operator_fatal_error.ts";

const logger = getLogger(["roperator", "runner"]);

/**
 * `ROPERATOR_NAMESPACE` when the process may read it, else `"default"`.
 *
 * @returns the namespace
 */
export function presenceNamespaceFromEnv(): string {
  const { state } = Deno.permissions.querySync({ name: "env", variable: "ROPERATOR_NAMESPACE" });
  return (state === "granted" ? Deno.env.get("ROPERATOR_NAMESPACE") : undefined) || "default";
}

/** Everything one operator of a process uses, before its HTTP server. */
export interface RunningOperator {
  /** Its config. */
  config: OperatorConfig;
  /** Its controller. */
  controller: Controller;
  /** Its metrics. */
  metrics: OperatorMetrics;
  /** Its leader elector, when configured. */
  elector: LeaderElector | undefined;
  /** Resolves when its caches have synced (see `OperatorHandle.ready`). */
  ready: Promise<void>;
  /** Resolves when it cannot go on (see `OperatorHandle.failed`). */
  failed: Promise<OperatorFatalError>;
  /**
   * Drains syncs, releases the Lease, closes the event recorder (not the client).
   *
   * @param drainTimeoutMs how long in-flight syncs may take
   */
  stop(drainTimeoutMs: number): Promise<void>;
}

type ControllerHandler = ConstructorParameters<typeof Controller>[0]["handler"];

/**
 * Starts one operator's controller, leader election and event recorder on a shared client. Its
 * informers list at once; its syncs, leader election and presence detection wait for the gate.
 *
 * @param config the operator config
 * @param handler its handler
 * @param shared the process's client, informer pool, this operator's metrics, and the gate:
 * resolved when the start-up checks pass, rejected (with the reason the start fails) when the
 * group does not start
 * @returns the running operator
 */
export function startRunningOperator(
  config: OperatorConfig,
  handler: Handler<KubernetesObject>,
  shared: {
    client: KubeClient;
    pool: InformerPool;
    metrics: OperatorMetrics;
    gate: Promise<void>;
  },
): RunningOperator {
  const { client, pool, metrics, gate } = shared;
  const elector = config.leaderElection
    ? new LeaderElector(client, config.leaderElection)
    : undefined;
  const identity = elector?.identity ?? defaultIdentity();
  const events = config.events
    ? new EventRecorder(client, { reportingController: config.name, reportingInstance: identity })
    : undefined;
  // Without leader election, a second instance of the same operator is reported (a warning).
  const presence = elector ? undefined : new PresenceDetector(client, {
    name: config.name,
    namespace: config.namespace ?? client.config.namespace ?? presenceNamespaceFromEnv(),
    identity,
  });
  const controller = new Controller({
    config,
    client,
    handler: normalizeHandler(handler) as ControllerHandler,
    metrics,
    informers: pool,
    ...(elector ? { leadership: elector } : {}),
    ...(events ? { events } : {}),
  });
  metrics.trackInformers(() => controller.informers);
  const electorAbort = new AbortController();
  let stopping = false;
  const failed = Promise.withResolvers<OperatorFatalError>();
  // Whether to go on once the gate settles: it opened, and the operator was not stopped meanwhile.
  const admitted = gate.then(() => !electorAbort.signal.aborted, () => false);
  let campaigning: Promise<void> | undefined;
  if (elector) {
    metrics.trackLeadership(elector.lease, () => elector.isLeader());
    elector.onChange((leading) => {
      if (leading || stopping) return;
      if (config.leaderElection?.onLost === "exit") {
        electorAbort.abort();
        failed.resolve(
          new OperatorFatalError(
            `Cannot go on as operator "${config.name}": this instance lost the Lease "${elector.lease}" (leaderElection.onLost is "exit")`,
          ),
        );
      }
    });
    // The Lease is written: after the checks. The lists are under way by then.
    campaigning = admitted.then((go) => go ? elector.run(electorAbort.signal) : undefined);
  }
  const presenceRunning = presence &&
    admitted.then((go) => go ? presence.run(electorAbort.signal) : undefined);
  const ready = controller.start(gate);
  ready.then(
    () =>
      elector
        ? logger.info("operator {name} ready: caches synced ({role})", {
          name: config.name,
          role: elector.isLeader() ? "leader" : "follower",
        })
        : logger.info("operator {name} ready: caches synced", { name: config.name }),
    (error) => {
      // Stopped before the first list, or the start failed (the gate's reason, which the start
      // throws): nothing to report. A refused list (RBAC, a missing type): the informers keep
      // retrying, and `ready` says why it cannot resolve.
      gate.then(() => {
        if (stopping) return;
        logger.error("operator {name} cannot become ready: {message}", {
          name: config.name,
          message: messageOf(error),
        });
        // The informers retry; once every list succeeds, syncs begin.
        controller.whenRunning().then(() => {
          if (stopping) return;
          logger.info("operator {name} ready: caches synced after a refused list", {
            name: config.name,
          });
        });
      }, () => {});
    },
  );
  return {
    config,
    controller,
    metrics,
    elector,
    ready,
    failed: failed.promise,
    async stop(drainTimeoutMs) {
      stopping = true;
      const drained = await controller.stop(drainTimeoutMs);
      if (!drained) {
        logger.warn("some syncs of {name} did not finish before shutdown", {
          name: config.name,
        });
      }
      electorAbort.abort();
      await campaigning;
      await presenceRunning;
      // After the syncs: a follower that takes over at once never overlaps with our writes.
      await elector?.release();
      await events?.close();
    },
  };
}
