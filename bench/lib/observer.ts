/**
 * The harness's view of one namespace, through watches (the library's informer): the parents,
 * their ConfigMaps and their Services, and which parents are converged
 * ({@linkcode parentConverged}). Every timing of the harness ends at the moment a watch event
 * shows the result, the same way for every contender.
 *
 * @module
 */
import { k8s, type KubernetesObject, type ResourceType } from "../../mod.ts";
import { type KubeClient, ResourceClient } from "../../client/mod.ts";
import { Informer } from "../../runner/informer.ts";
import {
  type BenchParent,
  BenchParentType,
  CHILD_SELECTOR,
  configMapName,
  parentConverged,
  serviceName,
} from "../workload.ts";

interface Waiter {
  check: () => boolean;
  resolve: (at: number) => void;
}

/** Watches one namespace and tells when parents converge or a ConfigMap shows a value. */
export class NamespaceObserver {
  readonly #namespace: string;
  readonly #parents: Informer<BenchParent>;
  readonly #configMaps: Informer;
  readonly #services: Informer;
  readonly #abort = new AbortController();
  readonly #converged = new Set<string>();
  readonly #waiters = new Set<Waiter>();
  #running: Promise<unknown> | undefined;

  /**
   * Creates the observer; nothing is watched until `start()`.
   *
   * @param client the harness's client
   * @param namespace the namespace
   */
  constructor(client: KubeClient, namespace: string) {
    this.#namespace = namespace;
    // A short server-side timeout bounds a watch that does not end on abort (a library bug,
    // see BENCHMARKS.md); the informer resumes a watch that ends from its resourceVersion.
    const options = { relistPeriodMs: 0, watchTimeoutSeconds: 60 };
    this.#parents = new Informer(new ResourceClient(client, BenchParentType, namespace), {
      ...options,
      onChange: (change) => this.#update(change.object.metadata!.name!),
    });
    const child = (type: ResourceType, suffix: string) =>
      new Informer(new ResourceClient(client, type, namespace), {
        ...options,
        labelSelector: CHILD_SELECTOR,
        onChange: (change) => {
          const name = change.object.metadata!.name!;
          if (name.endsWith(suffix)) this.#update(name.slice(0, -suffix.length));
        },
      });
    this.#configMaps = child(k8s.core.v1.ConfigMap as ResourceType, "-config");
    this.#services = child(k8s.core.v1.Service as ResourceType, "-svc");
  }

  /**
   * Starts the watches and waits until each has listed.
   *
   * @param timeoutMs how long the lists may take
   * @returns a promise that resolves when the view is complete
   * @throws {Error} when the lists do not complete in time
   */
  async start(timeoutMs = 60_000): Promise<void> {
    const informers = [this.#parents, this.#configMaps, this.#services] as Informer[];
    this.#running = Promise.all(informers.map((i) => i.run(this.#abort.signal)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the observer's lists took over ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all(informers.map((i) => i.waitForSync())), timeout]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops the watches, waiting at most `timeoutMs` for them to close.
   *
   * @param timeoutMs how long to wait
   * @returns whether they closed in time
   */
  async stop(timeoutMs = 5000): Promise<boolean> {
    this.#abort.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      Promise.resolve(this.#running).then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
    ]);
    clearTimeout(timer);
    return closed;
  }

  /** The number of parents seen. */
  get parentCount(): number {
    return this.#parents.size;
  }

  /** The number of parents whose children and status are all in place. */
  get convergedCount(): number {
    return this.#converged.size;
  }

  /**
   * The parents seen, sorted by name.
   *
   * @returns the parents
   */
  parents(): BenchParent[] {
    return this.#parents.list().sort((a, b) =>
      a.metadata!.name! < b.metadata!.name! ? -1 : a.metadata!.name! > b.metadata!.name! ? 1 : 0
    );
  }

  /**
   * A parent's ConfigMap as last seen.
   *
   * @param parent the parent's name
   * @returns the ConfigMap, if seen
   */
  configMap(parent: string): KubernetesObject | undefined {
    return this.#configMaps.getByKey(this.#key(configMapName(parent)));
  }

  /**
   * Whether one parent is converged.
   *
   * @param parent the parent's name
   * @returns whether its status and children are in place
   */
  isConverged(parent: string): boolean {
    return this.#converged.has(parent);
  }

  #key(name: string): string {
    return `${this.#namespace}/${name}`;
  }

  #update(parentName: string): void {
    const parent = this.#parents.getByKey(this.#key(parentName));
    const converged = parent !== undefined &&
      parentConverged(
        parent,
        this.#configMaps.getByKey(this.#key(configMapName(parentName))),
        this.#services.getByKey(this.#key(serviceName(parentName))),
      );
    if (converged) this.#converged.add(parentName);
    else this.#converged.delete(parentName);
    if (this.#waiters.size === 0) return;
    const now = performance.now();
    for (const waiter of [...this.#waiters]) {
      if (waiter.check()) {
        this.#waiters.delete(waiter);
        waiter.resolve(now);
      }
    }
  }

  /**
   * Waits until a condition on this view holds, checked after every watch event.
   *
   * @param what a description for the timeout error
   * @param check the condition
   * @param timeoutMs how long to wait
   * @param signal gives up early (for example when the contender exits)
   * @returns `performance.now()` of the event that made it true (or of the call, when it held)
   * @throws {Error} on timeout or abort
   */
  waitFor(
    what: string,
    check: () => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<number> {
    if (check()) return Promise.resolve(performance.now());
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      const onAbort = () => finish(new Error(`gave up waiting for ${what}: ${signal?.reason}`));
      const finish = (error: Error | undefined, at?: number) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#waiters.delete(waiter);
        if (error) reject(error);
        else resolve(at!);
      };
      const waiter: Waiter = { check, resolve: (at) => finish(undefined, at) };
      timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /**
   * Waits until `count` parents are converged.
   *
   * @param count how many parents
   * @param timeoutMs how long to wait
   * @param signal gives up early
   * @returns the time of the event that completed it
   */
  waitConverged(count: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.waitFor(
      `${count} converged parents`,
      () => this.#converged.size >= count,
      timeoutMs,
      signal,
    );
  }

  /**
   * Waits until a parent's ConfigMap holds a value.
   *
   * @param parent the parent's name
   * @param value the value of `data.value`
   * @param timeoutMs how long to wait
   * @param signal gives up early
   * @returns the time of the event that showed it
   */
  waitConfigMapValue(
    parent: string,
    value: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<number> {
    return this.waitFor(
      `ConfigMap of ${parent} to show "${value}"`,
      () => (this.configMap(parent)?.data as Record<string, string> | undefined)?.value === value,
      timeoutMs,
      signal,
    );
  }
}
