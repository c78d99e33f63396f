/**
 * {@linkcode EventRecorder}: Kubernetes Events (`events.k8s.io/v1`) about parents, written the way
 * client-go's and kube-rs's recorders write them:
 *
 * - **Series.** An event that repeats (same object, type, reason, action and note) within six
 *   minutes of its last occurrence does not create another Event object: the existing one gets
 *   `series.count` and `series.lastObservedTime` (a merge patch). After six quiet minutes the
 *   next occurrence starts a new Event.
 * - **Rate limit per object.** Each object has a token bucket (a burst of 10 writes, then one
 *   every 10 s). An occurrence without a token is counted in memory and written with the next
 *   write of its series, so a parent that fails in a hot loop costs the API server a few writes a
 *   minute, not one per failure.
 * - **Never in the way.** {@linkcode EventRecorder.record} returns at once and never throws;
 *   a failed write (a missing RBAC rule, say) is logged at debug level and dropped.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import type { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { messageOf, microTime } from "../client/_util.ts";

const logger = getLogger(["roperator", "events"]);

/** An event to record about an object. */
export interface EventInit {
  /** The object the event is about (the parent). */
  regarding: KubernetesObject;
  /** `"Normal"` or `"Warning"`. */
  type: "Normal" | "Warning";
  /** A short UpperCamelCase reason, such as `SyncFailed`. */
  reason: string;
  /** What the controller was doing, such as `Sync` or `Finalize`. */
  action: string;
  /** A human-readable description (cut to 1 kB). */
  note?: string;
}

/** Options for {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  /** The controller's name (`reportingController`): the operator name. */
  reportingController: string;
  /** This instance (`reportingInstance`): the leader-election identity or the host name. */
  reportingInstance: string;
  /** Writes an object may make at once. Default 10. */
  burst?: number;
  /** One more write per object is allowed each this many ms. Default 10 000. */
  refillMs?: number;
  /** A repeat within this many ms of the last occurrence joins the series. Default 360 000. */
  seriesWindowMs?: number;
  /** The most series remembered; the oldest are forgotten first. Default 4 096. */
  maxSeries?: number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

interface Series {
  key: string;
  bucketKey: string;
  init: EventInit;
  namespace: string;
  /** The Event's name once created. */
  name: string | undefined;
  /** Occurrences counted. */
  count: number;
  /** Occurrences written to the API server. */
  written: number;
  lastObservedAt: number;
  lastObservedTime: string;
  writing: boolean;
}

const NOTE_LIMIT = 1024;

function cut(text: string, limit: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= limit) return text;
  return new TextDecoder().decode(bytes.subarray(0, limit - 3)).replace(/\uFFFD$/, "") + "...";
}

/** Records Events about objects; see the module documentation for the rules it follows. */
export class EventRecorder {
  readonly #events: ResourceClient;
  readonly #options: Required<Omit<EventRecorderOptions, "now">>;
  readonly #now: () => number;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #writes = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #closed = false;
  #written = 0;

  /**
   * Creates a recorder; nothing is written until {@linkcode EventRecorder.record}.
   *
   * @param client the API client
   * @param options the reporting controller and instance, and the limits
   */
  constructor(client: KubeClient, options: EventRecorderOptions) {
    this.#events = new ResourceClient(client, k8s.events.v1.Event as unknown as ResourceType);
    this.#now = options.now ?? (() => performance.now());
    this.#options = {
      reportingController: options.reportingController,
      reportingInstance: cut(options.reportingInstance, 128),
      burst: options.burst ?? 10,
      refillMs: options.refillMs ?? 10_000,
      seriesWindowMs: options.seriesWindowMs ?? 360_000,
      maxSeries: options.maxSeries ?? 4096,
    };
  }

  /** Event writes (creates and series patches) that succeeded so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Records an occurrence. Returns at once; never throws.
   *
   * @param init the object, type, reason, action and note
   */
  record(init: EventInit): void {
    if (this.#closed) return;
    try {
      this.#record(init);
    } catch (error) {
      logger.debug("cannot record event {reason}: {error}", {
        reason: init.reason,
        error: messageOf(error),
      });
    }
  }

  #record(init: EventInit): void {
    const meta = init.regarding.metadata ?? {};
    const bucketKey = meta.uid ?? `${meta.namespace ?? ""}/${meta.name ?? ""}`;
    const note = init.note === undefined ? undefined : cut(init.note, NOTE_LIMIT);
    const key = [bucketKey, init.type, init.reason, init.action, note ?? ""].join("\u0000");
    const now = this.#now();
    let series = this.#series.get(key);
    if (series && now - series.lastObservedAt > this.#options.seriesWindowMs) {
      this.#series.delete(key);
      series = undefined;
    }
    if (series === undefined) {
      series = {
        key,
        bucketKey,
        init: { ...init, ...(note === undefined ? {} : { note }) },
        namespace: meta.namespace || "default",
        name: undefined,
        count: 0,
        written: 0,
        lastObservedAt: now,
        lastObservedTime: microTime(),
        writing: false,
      };
      this.#prune();
    } else {
      // Refresh its place in the insertion order: the oldest series are forgotten first.
      this.#series.delete(key);
    }
    this.#series.set(key, series);
    series.count++;
    series.lastObservedAt = now;
    series.lastObservedTime = microTime();
    this.#flush(series);
  }

  #prune(): void {
    while (this.#series.size >= this.#options.maxSeries) {
      const oldest = this.#series.keys().next().value;
      if (oldest === undefined) break;
      this.#series.delete(oldest);
    }
    if (this.#buckets.size > this.#options.maxSeries) {
      const now = this.#now();
      const full = this.#options.burst * this.#options.refillMs;
      for (const [key, bucket] of this.#buckets) {
        if (now - bucket.updatedAt >= full) this.#buckets.delete(key);
      }
    }
  }

  /** Takes a token of the object's bucket; returns the ms until one is available, or 0. */
  #take(bucketKey: string): number {
    const now = this.#now();
    const { burst, refillMs } = this.#options;
    const bucket = this.#buckets.get(bucketKey) ?? { tokens: burst, updatedAt: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.updatedAt) / refillMs);
    bucket.updatedAt = now;
    this.#buckets.set(bucketKey, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) * refillMs);
  }

  #flush(series: Series): void {
    if (this.#closed || series.writing || series.written === series.count) return;
    const wait = this.#take(series.bucketKey);
    if (wait > 0) {
      this.#arm(wait);
      return;
    }
    series.writing = true;
    const write = this.#write(series).finally(() => {
      series.writing = false;
      this.#writes.delete(write);
      // Occurrences that arrived during the write.
      if (series.written < series.count && this.#series.get(series.key) === series) {
        this.#flush(series);
      }
    });
    this.#writes.add(write);
  }

  #arm(delayMs: number): void {
    const due = this.#now() + delayMs;
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      for (const series of [...this.#series.values()]) this.#flush(series);
    }, delayMs);
  }

  async #write(series: Series): Promise<void> {
    const count = series.count;
    const { init } = series;
    // An Event is not worth a long wait: a slow API server must not hold up the shutdown.
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(10_000)]);
    const describeEvent = `${init.type} ${init.reason} on ${init.regarding.kind} "${
      init.regarding.metadata?.namespace ? `${init.regarding.metadata.namespace}/` : ""
    }${init.regarding.metadata?.name}"`;
    try {
      if (series.name !== undefined) {
        try {
          await this.#events.patch(series.name, {
            series: { count, lastObservedTime: series.lastObservedTime },
          }, { namespace: series.namespace, signal });
          series.written = count;
          this.#written++;
          logger.debug("event {event} repeated ({count} times)", { event: describeEvent, count });
          return;
        } catch (error) {
          // The Event expired (the API server keeps Events for an hour): start a new one.
          if (!(error instanceof ApiError && error.isNotFound)) throw error;
          series.name = undefined;
        }
      }
      const regarding = init.regarding;
      const meta = regarding.metadata ?? {};
      const name = `${(meta.name ?? "object").slice(0, 200)}.${Date.now().toString(16)}${
        crypto.randomUUID().slice(0, 8)
      }`;
      const created = await this.#events.create({
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name, namespace: series.namespace },
        eventTime: series.lastObservedTime,
        reportingController: this.#options.reportingController,
        reportingInstance: this.#options.reportingInstance,
        action: cut(init.action, 128),
        reason: cut(init.reason, 128),
        type: init.type,
        ...(init.note === undefined ? {} : { note: init.note }),
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: meta.name,
          ...(meta.namespace ? { namespace: meta.namespace } : {}),
          ...(meta.uid ? { uid: meta.uid } : {}),
          ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
        },
        ...(count > 1 ? { series: { count, lastObservedTime: series.lastObservedTime } } : {}),
      } as KubernetesObject, { signal });
      series.name = created.metadata?.name ?? name;
      series.written = count;
      this.#written++;
      logger.debug("recorded event {event}", { event: describeEvent });
    } catch (error) {
      // Never fail a sync over an Event: drop this occurrence (it stays counted for the next).
      series.written = count;
      logger.debug("cannot record event {event}: {error}", {
        event: describeEvent,
        error: messageOf(error),
      });
    }
  }

  /**
   * Forgets the series and rate limit of an object (when it is deleted).
   *
   * @param regarding the object
   */
  forget(regarding: KubernetesObject): void {
    const meta = regarding.metadata ?? {};
    const bucketKey = meta.uid ?? `${meta.namespace ?? ""}/${meta.name ?? ""}`;
    this.#buckets.delete(bucketKey);
    for (const [key, series] of this.#series) {
      if (series.bucketKey === bucketKey) this.#series.delete(key);
    }
  }

  /**
   * Stops recording: drops occurrences not written yet, gives the writes in flight a moment to
   * finish, then aborts them.
   *
   * @param graceMs how long the writes in flight may take (default 2 000 ms)
   * @returns a promise that settles when no write is in flight
   */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writes.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([Promise.allSettled([...this.#writes]), grace]);
      clearTimeout(timer);
      this.#abort.abort();
    }
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }
}
