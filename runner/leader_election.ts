/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of client-go's
 * `leaderelection` package:
 *
 * - a follower takes the Lease when it is free (no holder, or released) or when it has not seen
 *   the Lease change for `leaseDurationMs`. Expiry is judged by the follower's own monotonic
 *   clock from the moment it *observed* a change of the Lease's resourceVersion, never by
 *   comparing `renewTime` with its wall clock, so clock skew between nodes does not matter;
 * - every write to the Lease carries the resourceVersion it read (optimistic concurrency), so two
 *   candidates can never both win;
 * - the leader renews every `retryPeriodMs`. It counts as the leader only while its last
 *   successful renewal was *sent* less than `renewDeadlineMs` ago, checked against the clock at
 *   the moment of asking, not by a timer: a process that was paused (SIGSTOP, a long GC, a
 *   frozen VM) stops being the leader the instant it wakes, before it can write anything.
 *   Because `renewDeadlineMs < leaseDurationMs`, that happens before any follower may take the
 *   Lease;
 * - on graceful shutdown the leader releases the Lease (clears `holderIdentity`), so a follower
 *   takes over at its next retry instead of waiting for the Lease to expire.
 *
 * The controller checks {@linkcode Leadership.holds} before each write of a sync (fencing): a
 * sync that started while leading writes nothing once leadership is lost.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import type { LeaderElectionConfig } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { messageOf, microTime, sleepOrAbort } from "../client/_util.ts";

const logger = getLogger(["roperator", "leader"]);

/** The `spec` of a Lease, as the elector reads and writes it. */
interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type LeaseObject = KubernetesObject & { spec?: LeaseSpec };

/**
 * Thrown by the controller's write fence when a sync that started as the leader is about to
 * write after leadership was lost. The sync is abandoned without a retry: the new leader syncs
 * the parent.
 */
export class LeadershipLostError extends Error {
  /** The Lease, as `namespace/name`. */
  readonly lease: string;

  /**
   * Creates the error.
   *
   * @param lease the Lease, as `namespace/name`
   * @param identity this instance's identity
   */
  constructor(lease: string, identity: string) {
    super(
      `Cannot write as the leader: this instance ("${identity}") no longer holds the Lease "${lease}"`,
    );
    this.name = "LeadershipLostError";
    this.lease = lease;
  }
}

/** What the controller needs to know about leadership. */
export interface Leadership {
  /** The Lease, as `namespace/name`. */
  readonly lease: string;
  /** This instance's identity. */
  readonly identity: string;
  /** Incremented each time leadership is gained; a sync remembers the term it started in. */
  readonly term: number;
  /**
   * Whether this instance leads now: it holds the Lease and renewed it within the renew
   * deadline, judged against the clock at the moment of the call.
   *
   * @returns whether it leads
   */
  isLeader(): boolean;
  /**
   * Whether this instance still leads in the given term (the fence before each write).
   *
   * @param term the term a sync started in
   * @returns whether it still leads in that term
   */
  holds(term: number): boolean;
  /**
   * Calls the listener when leadership is gained (`true`) or lost (`false`).
   *
   * @param listener the listener
   * @returns a function that removes it
   */
  onChange(listener: (leading: boolean) => void): () => void;
}

/** Options for {@linkcode LeaderElector}. */
export interface LeaderElectorOptions {
  /**
   * The namespace of the Lease when the config names none. Default: the environment variable
   * `ROPERATOR_NAMESPACE` (when readable), else `"default"`.
   */
  namespace?: string;
  /** The identity when the config names none. Default: the host name plus a random suffix. */
  identity?: string;
  /** A monotonic clock in ms. Default `performance.now()`. */
  now?: () => number;
}

/** Reads an environment variable without prompting: one the process may not read is unset. */
function quietEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/**
 * The default identity: the host name (in a pod, the pod name, from `HOSTNAME`), or
 * `Deno.hostname()` when `--allow-sys=hostname` is granted, then `_` and a random UUID, so that
 * two processes on one host never share an identity.
 *
 * @returns the identity
 */
export function defaultIdentity(): string {
  let host = quietEnv("HOSTNAME");
  if (!host) {
    const { state } = Deno.permissions.querySync({ name: "sys", kind: "hostname" });
    if (state === "granted") {
      try {
        host = Deno.hostname();
      } catch { /* no host name */ }
    }
  }
  return `${(host || "roperator").slice(0, 90)}_${crypto.randomUUID()}`;
}

/**
 * Campaigns for, holds and releases one Lease. Call {@linkcode LeaderElector.run} once; stop it
 * with its signal, then call {@linkcode LeaderElector.release}.
 *
 * @example
 * ```ts ignore
 * const elector = new LeaderElector(client, config.leaderElection!);
 * elector.onChange((leading) => console.log(leading ? "leading" : "following"));
 * const abort = new AbortController();
 * const running = elector.run(abort.signal);
 * // … later, on shutdown:
 * abort.abort();
 * await running;
 * await elector.release();
 * ```
 */
export class LeaderElector implements Leadership {
  readonly #leases: ResourceClient<LeaseObject>;
  readonly #config: LeaderElectionConfig;
  readonly #namespace: string;
  readonly #identity: string;
  readonly #now: () => number;
  readonly #listeners = new Set<(leading: boolean) => void>();
  /** The last Lease read or written, and when this instance saw its resourceVersion change. */
  #observed: { lease: LeaseObject; at: number } | undefined;
  #leading = false;
  /** When the last successful renewal (or the acquisition) was sent. */
  #renewedAt = -Infinity;
  #term = 0;

  /**
   * Creates an elector; nothing is sent until {@linkcode LeaderElector.run}.
   *
   * @param client the API client
   * @param config the resolved leader-election options
   * @param options the fallback namespace and identity, and the clock
   */
  constructor(
    client: KubeClient,
    config: LeaderElectionConfig,
    options: LeaderElectorOptions = {},
  ) {
    this.#config = config;
    this.#namespace = config.namespace ?? options.namespace ??
      (quietEnv("ROPERATOR_NAMESPACE") || "default");
    this.#identity = config.identity ?? options.identity ?? defaultIdentity();
    this.#now = options.now ?? (() => performance.now());
    this.#leases = new ResourceClient<LeaseObject>(
      client,
      k8s.coordination.v1.Lease as unknown as ResourceType<LeaseObject>,
      this.#namespace,
    );
  }

  /** The Lease, as `namespace/name`. */
  get lease(): string {
    return `${this.#namespace}/${this.#config.leaseName}`;
  }

  /** This instance's identity (the Lease's `holderIdentity` while it leads). */
  get identity(): string {
    return this.#identity;
  }

  /** Incremented each time leadership is gained. */
  get term(): number {
    return this.#term;
  }

  /**
   * Whether this instance leads now: it holds the Lease and its last successful renewal was sent
   * less than `renewDeadlineMs` ago.
   *
   * @returns whether it leads
   */
  isLeader(): boolean {
    return this.#leading && this.#now() - this.#renewedAt < this.#config.renewDeadlineMs;
  }

  /**
   * Whether this instance still leads in the given term.
   *
   * @param term the term a sync started in
   * @returns whether it still leads in that term
   */
  holds(term: number): boolean {
    return term === this.#term && this.isLeader();
  }

  /**
   * Calls the listener when leadership is gained (`true`) or lost (`false`). A listener that
   * throws is reported with `reportError`.
   *
   * @param listener the listener
   * @returns a function that removes it
   */
  onChange(listener: (leading: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(leading: boolean): void {
    for (const listener of this.#listeners) {
      try {
        listener(leading);
      } catch (error) {
        reportError(error);
      }
    }
  }

  #becomeLeader(): void {
    this.#leading = true;
    this.#term++;
    logger.info("{identity} became the leader (Lease {lease})", {
      identity: this.#identity,
      lease: this.lease,
    });
    this.#emit(true);
  }

  #stepDown(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    logger.warn("{identity} lost leadership of Lease {lease}: {reason}", {
      identity: this.#identity,
      lease: this.lease,
      reason,
    });
    this.#emit(false);
  }

  /** The lease duration to wait out for the Lease as last read: the longer of ours and theirs. */
  #leaseDurationOf(lease: LeaseObject): number {
    const seconds = lease.spec?.leaseDurationSeconds;
    return Math.max(this.#config.leaseDurationMs, typeof seconds === "number" ? seconds * 1000 : 0);
  }

  #observe(lease: LeaseObject): void {
    const previous = this.#observed;
    const changed = previous?.lease.metadata?.resourceVersion !== lease.metadata?.resourceVersion;
    this.#observed = { lease, at: previous && !changed ? previous.at : this.#now() };
  }

  /**
   * One attempt to acquire or renew the Lease.
   *
   * @returns `"acquired"` when this instance holds the Lease (written by this attempt),
   * `"held"` when another instance holds it, `"failed"` on an error or a lost race
   */
  async #tryAcquireOrRenew(
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<"acquired" | "held" | "failed"> {
    const sent = this.#now();
    const requestSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, timeoutMs))]);
    const name = this.#config.leaseName;
    const seconds = Math.ceil(this.#config.leaseDurationMs / 1000);
    const now = microTime();
    try {
      const current = await this.#leases.find(name, { signal: requestSignal });
      if (current === undefined) {
        const created = await this.#leases.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace: this.#namespace },
          spec: {
            holderIdentity: this.#identity,
            leaseDurationSeconds: seconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        }, { signal: requestSignal });
        this.#observe(created);
        this.#renewedAt = sent;
        return "acquired";
      }
      this.#observe(current);
      const holder = current.spec?.holderIdentity;
      const observedAt = this.#observed!.at;
      if (
        holder && holder !== this.#identity &&
        observedAt + this.#leaseDurationOf(current) > this.#now()
      ) {
        return "held";
      }
      const mine = holder === this.#identity;
      const spec: LeaseSpec = {
        holderIdentity: this.#identity,
        leaseDurationSeconds: seconds,
        acquireTime: mine && current.spec?.acquireTime ? current.spec.acquireTime : now,
        renewTime: now,
        leaseTransitions: (current.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      const updated = await this.#leases.replace({
        ...current,
        metadata: { ...current.metadata, resourceVersion: current.metadata?.resourceVersion },
        spec,
      } as LeaseObject, { signal: requestSignal });
      this.#observe(updated);
      this.#renewedAt = sent;
      if (!mine) {
        logger.info("{identity} took Lease {lease} from {holder}", {
          identity: this.#identity,
          lease: this.lease,
          holder: holder || "(nobody)",
        });
      }
      return "acquired";
    } catch (error) {
      if (signal.aborted) return "failed";
      if (error instanceof ApiError && (error.isConflict || error.isAlreadyExists)) {
        logger.debug("{identity} lost a race for Lease {lease}", {
          identity: this.#identity,
          lease: this.lease,
        });
        return "failed";
      }
      logger.warn("{identity} cannot acquire or renew Lease {lease}: {error}", {
        identity: this.#identity,
        lease: this.lease,
        error: messageOf(error),
      });
      return "failed";
    }
  }

  /**
   * Campaigns for the Lease and, once leading, renews it, until the signal aborts. Never
   * rejects. When a renewal does not succeed within the renew deadline, or another instance
   * holds the Lease, leadership is lost (listeners get `false`) and the elector campaigns again.
   *
   * @param signal stops the elector (it does not release the Lease: call `release()`)
   * @returns a promise that settles when stopped
   */
  async run(signal: AbortSignal): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.#config;
    logger.info("{identity} campaigning for Lease {lease}", {
      identity: this.#identity,
      lease: this.lease,
    });
    while (!signal.aborted) {
      if (!this.#leading) {
        const result = await this.#tryAcquireOrRenew(signal, renewDeadlineMs);
        if (signal.aborted) break;
        if (result === "acquired" && this.#now() - this.#renewedAt < renewDeadlineMs) {
          this.#becomeLeader();
          continue;
        }
        await sleepOrAbort(retryPeriodMs * (1 + Math.random() * 0.2), signal);
        continue;
      }
      await sleepOrAbort(retryPeriodMs, signal);
      if (signal.aborted) break;
      let lostBecause = "";
      for (;;) {
        const remaining = this.#renewedAt + renewDeadlineMs - this.#now();
        if (remaining <= 0) {
          lostBecause = `no successful renewal within ${renewDeadlineMs} ms`;
          break;
        }
        const result = await this.#tryAcquireOrRenew(signal, remaining);
        if (signal.aborted) return;
        if (result === "acquired" && this.isLeader()) break;
        if (result === "held") {
          lostBecause = `the Lease is held by "${this.#observed?.lease.spec?.holderIdentity}"`;
          break;
        }
        await sleepOrAbort(Math.min(retryPeriodMs / 4, remaining), signal);
        if (signal.aborted) return;
      }
      if (lostBecause) this.#stepDown(lostBecause);
    }
  }

  /**
   * Stops leading at once and, if this instance holds the Lease, releases it: clears
   * `holderIdentity` (with the resourceVersion last seen, so a Lease taken meanwhile is left
   * alone) so that a follower takes over at its next retry. Never rejects.
   *
   * @returns a promise that settles when the Lease is released or the attempt failed
   */
  async release(): Promise<void> {
    const wasLeading = this.#leading;
    this.#leading = false;
    this.#renewedAt = -Infinity;
    if (wasLeading) this.#emit(false);
    const lease = this.#observed?.lease;
    if (!lease || lease.spec?.holderIdentity !== this.#identity) return;
    const { holderIdentity: _holder, ...rest } = lease.spec ?? {};
    try {
      const released = await this.#leases.replace({
        ...lease,
        spec: { ...rest, leaseDurationSeconds: 1, renewTime: microTime() },
      } as LeaseObject, { signal: AbortSignal.timeout(this.#config.renewDeadlineMs) });
      this.#observe(released);
      logger.info("{identity} released Lease {lease}", {
        identity: this.#identity,
        lease: this.lease,
      });
    } catch (error) {
      if (error instanceof ApiError && error.isConflict) {
        // Changed since we last saw it: taken over already, nothing of ours to release.
        logger.debug("{identity} did not release Lease {lease}: it changed meanwhile", {
          identity: this.#identity,
          lease: this.lease,
        });
        return;
      }
      logger.warn("{identity} cannot release Lease {lease}: {error}", {
        identity: this.#identity,
        lease: this.lease,
        error: messageOf(error),
      });
    }
  }
}
