/**
 * {@linkcode InformerPool}: one informer per resource type (and namespace, selector, index and
 * transform) shared by every controller that asks for it, so that several operators in one
 * process open one watch and keep one cache per type instead of one each.
 *
 * An informer starts when its first user starts it and stops when its last user releases it.
 * Every user gets every change (its own `onChange` and `onRestart`).
 *
 * @module
 */
import type { KubeClient } from "../client/kube_client.ts";
import type { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, typeKey } from "../client/resource_type.ts";
import { Informer } from "./informer.ts";
import type { InformerChange, RestartReason } from "./informer_options.ts";
import { parentUidOf } from "./ownership.ts";

/** What decides whether two users can share an informer. */
export interface SharedInformerOptions {
  /** Label selector for list and watch. */
  labelSelector?: string;
  /**
   * Index objects by the uid of their parent: the uid of their controller owner reference, else
   * the value of this label (the tracking label).
   */
  indexLabel?: string;
  /** Trims objects before they are cached; informers share only with the same function. */
  transform?: (object: KubernetesObject) => KubernetesObject;
  /** Idle deadline of a watch, in ms. */
  idleTimeoutMs?: number;
  /** Full relist period, in ms (0 = never). */
  relistPeriodMs?: number;
}

/** The callbacks of one user of a shared informer. */
export interface InformerSubscriber {
  /** Called for every change, after the cache is updated. */
  onChange?: (change: InformerChange<KubernetesObject>) => void;
  /** Called when a watch restarts. */
  onRestart?: (reason: RestartReason, error?: unknown) => void;
}

/** One user's hold on a shared informer. */
export interface InformerHandle {
  /** The shared informer. */
  readonly informer: Informer;
  /** Starts the informer unless another user already did; idempotent. */
  start(): void;
  /**
   * Stops delivering changes to this user; the informer stops once no user is left.
   *
   * @returns a promise that settles when this user's hold is gone (and the informer stopped,
   * if it was the last)
   */
  release(): Promise<void>;
}

interface Entry {
  key: string;
  informer: Informer;
  subscribers: Set<InformerSubscriber>;
  started: number;
  abort: AbortController | undefined;
  running: Promise<void> | undefined;
}

/** Shares informers between controllers. Create one per process (or per group of operators). */
export class InformerPool {
  readonly #entries = new Map<string, Entry>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  #id(value: object | undefined): number {
    if (value === undefined) return 0;
    let id = this.#ids.get(value);
    if (id === undefined) this.#ids.set(value, id = this.#nextId++);
    return id;
  }

  /** The number of informers in the pool. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Every informer in the pool.
   *
   * @returns the informers
   */
  informers(): Informer[] {
    return [...this.#entries.values()].map((entry) => entry.informer);
  }

  /**
   * Gets the informer for this client (type and namespace) and these options, creating it if no
   * user holds one yet, and subscribes to its changes.
   *
   * @param client the resource client (its API client, type and namespace are part of the key)
   * @param options selector, index, transform and timings (also part of the key)
   * @param subscriber this user's callbacks
   * @returns this user's hold on the informer
   */
  acquire(
    client: ResourceClient,
    options: SharedInformerOptions,
    subscriber: InformerSubscriber,
  ): InformerHandle {
    const key = [
      this.#id(client.client as KubeClient),
      typeKey(client.type),
      client.namespace ?? "",
      options.labelSelector ?? "",
      options.indexLabel ?? "",
      this.#id(options.transform),
      options.idleTimeoutMs ?? "",
      options.relistPeriodMs ?? "",
    ].join("\u0000");
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const subscribers = new Set<InformerSubscriber>();
      const indexLabel = options.indexLabel;
      const informer = new Informer(client, {
        ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
        ...(options.transform ? { transform: options.transform } : {}),
        ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
        ...(options.relistPeriodMs === undefined ? {} : { relistPeriodMs: options.relistPeriodMs }),
        ...(indexLabel === undefined
          ? {}
          : { indexBy: (object: KubernetesObject) => parentUidOf(object, indexLabel) }),
        onChange: (change) => {
          for (const s of subscribers) s.onChange?.(change);
        },
        onRestart: (reason, error) => {
          for (const s of subscribers) s.onRestart?.(reason, error);
        },
      });
      entry = { key, informer, subscribers, started: 0, abort: undefined, running: undefined };
      this.#entries.set(key, entry);
    }
    const held = entry;
    held.subscribers.add(subscriber);
    let started = false;
    let released: Promise<void> | undefined;
    return {
      informer: held.informer,
      start: () => {
        if (started || released) return;
        started = true;
        held.started++;
        if (held.running === undefined) {
          held.abort = new AbortController();
          held.running = held.informer.run(held.abort.signal);
        }
      },
      release: () =>
        released ??= (async () => {
          held.subscribers.delete(subscriber);
          if (started) held.started--;
          if (held.subscribers.size > 0) return;
          // The last user: stop the informer and forget it.
          if (this.#entries.get(held.key) === held) this.#entries.delete(held.key);
          held.abort?.abort();
          await held.running;
        })(),
    };
  }
}
