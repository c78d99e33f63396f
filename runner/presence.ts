/**
 * {@linkcode PresenceDetector}: without leader election, two instances of the same operator sync
 * the same parents and their writes conflict (a chaos run saw 151 rejected writes and no
 * warning). Each instance renews a `coordination.k8s.io/v1` Lease, `<operator name>-presence`,
 * every ~10 s with its identity; an instance that sees the Lease renewed by another identity
 * logs a warning naming it, once per other identity (again when it comes back after 30 s of
 * silence). The detector never blocks syncing; a 403 on the Lease (RBAC without the Lease rule)
 * is logged once and the detector stops.
 *
 * Liveness is judged the way the leader elector judges expiry: by *observing* the Lease change
 * (its resourceVersion) since this instance's own last write, never by comparing `renewTime`
 * with the local clock; a Lease left behind by a stopped instance (the pod before a restart)
 * does not count until someone renews it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { messageOf, microTime, sleepOrAbort } from "../client/_util.ts";

const logger = getLogger(["roperator", "presence"]);

/** A Lease, as the detector reads and writes it. */
export type PresenceLease = KubernetesObject & {
  spec?: { holderIdentity?: string | null; renewTime?: string; leaseDurationSeconds?: number };
};

/** The Lease operations the detector uses (a `ResourceClient` of Leases, or a fake in tests). */
export interface PresenceLeases {
  /**
   * Reads the Lease, or `undefined` when it does not exist.
   *
   * @param name the Lease name
   * @param options the signal
   */
  find(name: string, options: { signal?: AbortSignal }): Promise<PresenceLease | undefined>;
  /**
   * Creates the Lease.
   *
   * @param lease the Lease
   * @param options the signal
   */
  create(lease: PresenceLease, options: { signal?: AbortSignal }): Promise<PresenceLease>;
  /**
   * Replaces the Lease (fails with 409 when its resourceVersion is stale).
   *
   * @param lease the Lease
   * @param options the signal
   */
  replace(lease: PresenceLease, options: { signal?: AbortSignal }): Promise<PresenceLease>;
}

/** Options for {@linkcode PresenceDetector}. */
export interface PresenceOptions {
  /** The operator name; the Lease is `<name>-presence`. */
  name: string;
  /** The namespace of the Lease. */
  namespace: string;
  /** This instance's identity. */
  identity: string;
  /** How often the Lease is renewed, in ms (±10 % at random). Default 10 000. */
  renewIntervalMs?: number;
  /** Another identity unseen for this long is gone: seen again, it is reported again. Default 30 000. */
  forgetAfterMs?: number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  now?: () => number;
  /** The Lease operations. Default: a `ResourceClient` of Leases of `client`. */
  leases?: PresenceLeases;
}

/** Renews the presence Lease and warns when another instance renews it too. */
export class PresenceDetector {
  readonly #leases: PresenceLeases;
  readonly #name: string;
  readonly #leaseName: string;
  readonly #namespace: string;
  readonly #identity: string;
  readonly #renewIntervalMs: number;
  readonly #forgetAfterMs: number;
  readonly #now: () => number;
  /** The resourceVersion a change is judged against: our last write, else our first read. */
  #baseline: string | undefined;
  /** Other identities seen renewing the Lease, and when. */
  readonly #others = new Map<string, number>();
  #stopped = false;

  /**
   * Creates a detector; nothing is sent until {@linkcode PresenceDetector.run} or
   * {@linkcode PresenceDetector.tick}.
   *
   * @param client the API client (unused when `options.leases` is given)
   * @param options the operator name, namespace, identity and timings
   */
  constructor(client: KubeClient | undefined, options: PresenceOptions) {
    this.#name = options.name;
    this.#leaseName = `${options.name}-presence`;
    this.#namespace = options.namespace;
    this.#identity = options.identity;
    this.#renewIntervalMs = options.renewIntervalMs ?? 10_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 30_000;
    this.#now = options.now ?? (() => performance.now());
    if (options.leases) {
      this.#leases = options.leases;
    } else if (client) {
      this.#leases = new ResourceClient<PresenceLease>(
        client,
        k8s.coordination.v1.Lease as unknown as ResourceType<PresenceLease>,
        options.namespace,
      );
    } else {
      throw new TypeError("Cannot create presence detector: give a client or options.leases");
    }
  }

  /** The Lease, as `namespace/name`. */
  get lease(): string {
    return `${this.#namespace}/${this.#leaseName}`;
  }

  /** The other identities seen renewing the Lease within `forgetAfterMs`. */
  get others(): string[] {
    const now = this.#now();
    return [...this.#others].filter(([, at]) => now - at <= this.#forgetAfterMs).map(([id]) => id);
  }

  /** Whether the detector stopped for good (the Lease is forbidden). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Renews the Lease every interval until the signal aborts or the Lease is forbidden. Never
   * rejects.
   *
   * @param signal stops it
   * @returns a promise that settles when stopped
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.#stopped) {
      await this.tick(signal);
      await sleepOrAbort(this.#renewIntervalMs * (0.9 + Math.random() * 0.2), signal);
    }
  }

  /**
   * One round: read the Lease, note whether someone else renewed it, and renew it.
   *
   * @param signal cancels the requests
   * @returns a promise that settles when the round is done; it never rejects
   */
  async tick(signal?: AbortSignal): Promise<void> {
    if (this.#stopped) return;
    const options = signal ? { signal } : {};
    try {
      const current = await this.#leases.find(this.#leaseName, options);
      const renewal = {
        holderIdentity: this.#identity,
        renewTime: microTime(),
        leaseDurationSeconds: Math.ceil(this.#forgetAfterMs / 1000),
      };
      if (current === undefined) {
        const created = await this.#leases.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.#leaseName, namespace: this.#namespace },
          spec: renewal,
        }, options);
        this.#baseline = created.metadata?.resourceVersion;
        return;
      }
      this.#observe(current);
      const written = await this.#leases.replace({
        ...current,
        spec: { ...current.spec, ...renewal },
      }, options);
      this.#baseline = written.metadata?.resourceVersion;
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof ApiError && (error.isConflict || error.isAlreadyExists)) {
        // Someone wrote between our read and our write: that is a sighting too.
        try {
          const current = await this.#leases.find(this.#leaseName, options);
          if (current) this.#observe(current);
        } catch { /* the next round reads it again */ }
        return;
      }
      if (error instanceof ApiError && error.isForbidden) {
        this.#stopped = true;
        logger.warn(
          "cannot detect a second instance of operator {name}: the presence Lease {lease} is forbidden ({error}); grant get, create and update on leases (see --print-rbac)",
          { name: this.#name, lease: this.lease, error: messageOf(error) },
        );
        return;
      }
      logger.debug("cannot renew the presence Lease {lease}: {error}", {
        lease: this.lease,
        error: messageOf(error),
      });
    }
  }

  #observe(lease: PresenceLease): void {
    const version = lease.metadata?.resourceVersion;
    const holder = lease.spec?.holderIdentity;
    if (this.#baseline === undefined) {
      // The first read: whoever wrote it may be long gone (the pod before a restart).
      this.#baseline = version;
      return;
    }
    if (version === this.#baseline || !holder || holder === this.#identity) return;
    this.#baseline = version;
    const now = this.#now();
    const seen = this.#others.get(holder);
    this.#others.set(holder, now);
    if (seen !== undefined && now - seen <= this.#forgetAfterMs) return;
    logger.warn(
      "another instance of operator {name} is running: {other} renews the presence Lease {lease} too (this instance is {identity}); without leader election both sync the same parents and their writes conflict: run one replica, or configure leaderElection",
      { name: this.#name, other: holder, lease: this.lease, identity: this.#identity },
    );
  }
}
