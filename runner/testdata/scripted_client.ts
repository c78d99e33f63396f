/**
 * A scripted fake of the part of `ResourceClient` an informer uses (`type`, `listPages`, `watch`),
 * for the informer's unit and model tests. Every call blocks until the test answers it, so a
 * test decides every interleaving; `blocked()` resolves once the informer waits on the fake
 * again.
 *
 * @module
 */
import type { ObjectList, ResourceClient } from "../../client/resource_client.ts";
import type { KubernetesObject } from "../../client/resource_type.ts";
import type { WatchEvent, WatchOptions } from "../../client/watch.ts";

/** What a pending watch is told to do next. */
export type WatchStep =
  | { event: WatchEvent<KubernetesObject> }
  | { end: true }
  | { error: unknown };

/** What the informer waits on now. */
export type FakeState = "running" | "list" | "watch";

/** A fake resource client whose every list and watch step is decided by the test. */
export class ScriptedClient {
  /** The resource type. */
  readonly type = {
    apiVersion: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    namespaced: true,
  } as const;
  /** What the informer waits on now. */
  state: FakeState = "running";
  /** How many lists were asked for. */
  lists = 0;
  /** How many watches were asked for. */
  watches = 0;
  /** How many list pages the informer has consumed (asked for the next one after). */
  pages = 0;
  /** The resourceVersion the last watch started from. */
  watchFrom: string | undefined;
  #list:
    | PromiseWithResolvers<{ items: KubernetesObject[]; resourceVersion: string; more?: boolean }>
    | undefined;
  #watch: PromiseWithResolvers<WatchStep> | undefined;
  #waiters: Array<() => void> = [];

  /** This fake as the client an informer takes. */
  get client(): ResourceClient {
    return this as unknown as ResourceClient;
  }

  #block(state: FakeState): void {
    this.state = state;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /**
   * Resolves once the informer waits on a list or a watch event.
   *
   * @returns a promise
   */
  blocked(): Promise<void> {
    if (this.state !== "running") return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * The fake `listAll`: waits for `answerList` or `failList`.
   *
   * @param options only the signal is used
   * @returns the scripted list
   */
  listAll(
    options: { signal?: AbortSignal } = {},
  ): Promise<{ items: KubernetesObject[]; resourceVersion: string }> {
    this.lists++;
    const pending = Promise.withResolvers<
      { items: KubernetesObject[]; resourceVersion: string }
    >();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new DOMException("aborted", "AbortError"));
    signal?.addEventListener(
      "abort",
      () => pending.reject(new DOMException("aborted", "AbortError")),
      { once: true },
    );
    this.#list = pending;
    this.#block("list");
    return pending.promise;
  }

  /**
   * The fake `listPages`: each page waits for `answerPage` (more pages follow), `answerList` (the
   * last page) or `failList`. Counts one list per call.
   *
   * @param options only the signal is used
   * @yields the scripted pages
   */
  async *listPages(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<ObjectList<KubernetesObject>, void, undefined> {
    this.lists++;
    const signal = options.signal;
    for (;;) {
      if (signal?.aborted) throw new DOMException("aborted", "AbortError");
      const pending = Promise.withResolvers<
        { items: KubernetesObject[]; resourceVersion: string; more?: boolean }
      >();
      const onAbort = () => pending.reject(new DOMException("aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#list = pending;
      this.#block("list");
      const page = await pending.promise.finally(() =>
        signal?.removeEventListener("abort", onAbort)
      );
      yield {
        items: page.items,
        metadata: {
          resourceVersion: page.resourceVersion,
          ...(page.more ? { continue: `after-${this.pages}` } : {}),
        },
      };
      this.pages++;
      if (!page.more) return;
    }
  }

  /**
   * The fake `watch`: yields what `step` says.
   *
   * @param options the resourceVersion and the signal are used
   * @yields the scripted events
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<KubernetesObject>> {
    this.watches++;
    this.watchFrom = options.resourceVersion;
    const signal = options.signal;
    while (!signal?.aborted) {
      const pending = Promise.withResolvers<WatchStep>();
      const onAbort = () => pending.resolve({ end: true });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#watch = pending;
      this.#block("watch");
      const step = await pending.promise;
      signal?.removeEventListener("abort", onAbort);
      if ("end" in step) return;
      if ("error" in step) throw step.error;
      yield step.event;
    }
  }

  /**
   * Answers the pending list.
   *
   * @param items the objects
   * @param resourceVersion the list's resourceVersion
   */
  answerList(items: KubernetesObject[], resourceVersion: string): void {
    const pending = this.#take("list");
    this.#list = undefined;
    pending.resolve({ items, resourceVersion });
  }

  /**
   * Answers the pending list with a page that has a continue token: another page follows.
   *
   * @param items the objects of the page
   * @param resourceVersion the page's resourceVersion
   */
  answerPage(items: KubernetesObject[], resourceVersion: string): void {
    const pending = this.#take("list");
    this.#list = undefined;
    pending.resolve({ items, resourceVersion, more: true });
  }

  /**
   * Fails the pending list.
   *
   * @param error what it throws
   */
  failList(error: unknown): void {
    this.#take("list");
    const pending = this.#list!;
    this.#list = undefined;
    pending.reject(error);
  }

  /**
   * Tells the pending watch what to do next.
   *
   * @param step an event, the end, or an error
   */
  step(step: WatchStep): void {
    this.#take("watch");
    const pending = this.#watch!;
    this.#watch = undefined;
    pending.resolve(step);
  }

  #take(state: "list"): PromiseWithResolvers<
    { items: KubernetesObject[]; resourceVersion: string; more?: boolean }
  >;
  #take(state: "watch"): PromiseWithResolvers<WatchStep>;
  #take(state: "list" | "watch"): unknown {
    if (this.state !== state) {
      throw new Error(`Cannot answer a ${state}: the informer waits on ${this.state}`);
    }
    this.state = "running";
    return state === "list" ? this.#list : this.#watch;
  }
}

/**
 * A ConfigMap `ns/<name>` at a resourceVersion.
 *
 * @param name the name
 * @param rv the resourceVersion
 * @returns the object
 */
export function configMap(name: string, rv: string | number): KubernetesObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "ns", resourceVersion: String(rv) },
  };
}
