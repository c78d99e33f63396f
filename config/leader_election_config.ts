/**
 * Leader election in the operator config: the options as written
 * ({@linkcode LeaderElectionInit}), resolved ({@linkcode LeaderElectionConfig}), and their
 * validation. The election itself runs in `runner/leader_election.ts`.
 *
 * @module
 */
import { describe, DNS_LABEL, DNS_SUBDOMAIN, type Validator } from "./validate.ts";

/** What to do when the leader cannot renew its Lease in time. */
export type LeaderLostAction = "exit" | "stepDown";

/** The leader-election options of `OperatorConfigInit` (its `leaderElection` field). */
export interface LeaderElectionInit {
  /** The Lease name, a DNS subdomain. Default `"<name>-leader"`. */
  leaseName?: string;
  /**
   * The Lease's namespace. Default: `namespace` when the operator is confined to one, else the
   * environment variable `ROPERATOR_NAMESPACE`, else `"default"`.
   */
  namespace?: string;
  /**
   * This instance's identity, written to the Lease's `holderIdentity` and used as the Events'
   * `reportingInstance`. Default: the host name (the pod name in a pod; read from the
   * `HOSTNAME` variable or `Deno.hostname()` when permitted) plus a random suffix.
   */
  identity?: string;
  /**
   * How long followers wait after they last saw the Lease change before they take it, in ms.
   * Default 15 000 (client-go's). Whole seconds are written to the Lease (rounded up).
   */
  leaseDurationMs?: number;
  /**
   * How long the leader keeps leading without a successful renewal, in ms; it must be shorter
   * than `leaseDurationMs`, so that the leader stops writing before anyone else may take the
   * Lease. Default 10 000.
   */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew the Lease, in ms. Default 2 000. */
  retryPeriodMs?: number;
  /**
   * What the leader does once it has lost the Lease (after it stopped syncing): `"exit"` makes
   * the operator fail (`runOperator` resolves with an `OperatorFatalError` and the CLI exits
   * 1, so that the pod restarts with fresh state, as client-go advises); `"stepDown"` keeps
   * the process running as a follower. Default `"exit"`.
   */
  onLost?: LeaderLostAction;
}

/** The resolved leader-election options. */
export interface LeaderElectionConfig {
  /** The Lease name. */
  readonly leaseName: string;
  /**
   * The Lease's namespace, or `undefined` to use `ROPERATOR_NAMESPACE`, else `"default"`, when
   * the operator starts.
   */
  readonly namespace: string | undefined;
  /** The identity, or `undefined` for the host name plus a random suffix. */
  readonly identity: string | undefined;
  /** The lease duration, in ms. */
  readonly leaseDurationMs: number;
  /** The renew deadline, in ms. */
  readonly renewDeadlineMs: number;
  /** The retry period, in ms. */
  readonly retryPeriodMs: number;
  /** What to do when the Lease is lost. */
  readonly onLost: LeaderLostAction;
}

const KNOWN_LEADER_ELECTION_FIELDS: ReadonlySet<string> = new Set([
  "leaseName",
  "namespace",
  "identity",
  "leaseDurationMs",
  "renewDeadlineMs",
  "retryPeriodMs",
  "onLost",
]);

/** Validates `leaderElection` of the operator config; `undefined` when it is off. */
export function resolveLeaderElection(
  v: Validator,
  raw: unknown,
  name: string,
  namespace: string | undefined,
): LeaderElectionConfig | undefined {
  if (raw === undefined || raw === false) return undefined;
  if (raw === true) raw = {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    v.fail("leaderElection", `must be an object or a boolean, got ${describe(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_LEADER_ELECTION_FIELDS.has(key)) {
      v.fail(
        `leaderElection.${key}`,
        "is not an option (expected leaseName, namespace, identity, leaseDurationMs, renewDeadlineMs, retryPeriodMs or onLost)",
      );
    }
  }
  const init = raw as Record<string, unknown>;
  let leaseName = `${name}-leader`;
  if (init.leaseName !== undefined) {
    leaseName = v.string(init.leaseName, "leaderElection.leaseName");
    if (leaseName.length > 253 || !DNS_SUBDOMAIN.test(leaseName)) {
      v.fail("leaderElection.leaseName", `"${leaseName}" is not a valid name (a DNS subdomain)`);
    }
  }
  let leaseNamespace = namespace;
  if (init.namespace !== undefined) {
    leaseNamespace = v.string(init.namespace, "leaderElection.namespace");
    if (leaseNamespace.length > 63 || !DNS_LABEL.test(leaseNamespace)) {
      v.fail(
        "leaderElection.namespace",
        `"${leaseNamespace}" is not a valid namespace name (a DNS-1123 label)`,
      );
    }
  }
  let identity: string | undefined;
  if (init.identity !== undefined) {
    identity = v.string(init.identity, "leaderElection.identity");
    if (identity.length === 0 || identity.length > 128) {
      v.fail("leaderElection.identity", "must be 1 to 128 characters");
    }
  }
  const leaseDurationMs = v.duration(
    init.leaseDurationMs,
    "leaderElection.leaseDurationMs",
    15_000,
  );
  const renewDeadlineMs = v.duration(
    init.renewDeadlineMs,
    "leaderElection.renewDeadlineMs",
    10_000,
  );
  const retryPeriodMs = v.duration(init.retryPeriodMs, "leaderElection.retryPeriodMs", 2_000);
  if (leaseDurationMs < 1000) {
    v.fail("leaderElection.leaseDurationMs", `must be at least 1000 ms, got ${leaseDurationMs}`);
  }
  if (renewDeadlineMs >= leaseDurationMs) {
    v.fail(
      "leaderElection.renewDeadlineMs",
      `must be shorter than leaseDurationMs (${leaseDurationMs}), so that the leader stops before another can take the Lease, got ${renewDeadlineMs}`,
    );
  }
  if (retryPeriodMs * 1.2 >= renewDeadlineMs) {
    v.fail(
      "leaderElection.retryPeriodMs",
      `must be shorter than renewDeadlineMs (${renewDeadlineMs}) / 1.2, so that a renewal can be retried in time, got ${retryPeriodMs}`,
    );
  }
  const onLost = init.onLost ?? "exit";
  if (onLost !== "exit" && onLost !== "stepDown") {
    v.fail("leaderElection.onLost", `must be "exit" or "stepDown", got ${describe(onLost)}`);
  }
  return Object.freeze({
    leaseName,
    namespace: leaseNamespace,
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    onLost,
  });
}
