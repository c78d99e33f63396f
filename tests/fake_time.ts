/**
 * A fake clock for ordering tests: replaces `setTimeout`, `setInterval`, their `clear…`,
 * `Date.now` and `performance.now` until disposed. Time moves only when the test calls
 * {@linkcode FakeTime.tick}; {@linkcode FakeTime.flush} lets promises and I/O-free streams
 * settle in between, on the real event loop.
 *
 * @module
 */

interface Timer {
  due: number;
  seq: number;
  fn: (...args: unknown[]) => void;
  args: unknown[];
  interval: number | undefined;
}

const realSetTimeout = globalThis.setTimeout;

/** A fake clock; `using time = new FakeTime()` restores the real one at the end of the scope. */
export class FakeTime implements Disposable {
  #now: number;
  #seq = 0;
  #nextId = 1_000_000;
  readonly #timers = new Map<number, Timer>();
  readonly #restore: Array<() => void> = [];

  /**
   * Installs the fake clock.
   *
   * @param start the time it starts at, in ms
   */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
    const g = globalThis as unknown as Record<string, unknown>;
    const replace = (target: Record<string, unknown>, name: string, value: unknown) => {
      const original = target[name];
      target[name] = value;
      this.#restore.push(() => target[name] = original);
    };
    const schedule = (interval: boolean) =>
    (
      fn: (...args: unknown[]) => void,
      ms = 0,
      ...args: unknown[]
    ) => {
      const id = this.#nextId++;
      const delay = Math.max(0, Number(ms) || 0);
      this.#timers.set(id, {
        due: this.#now + delay,
        seq: this.#seq++,
        fn,
        args,
        interval: interval ? Math.max(1, delay) : undefined,
      });
      return id;
    };
    const clear = (id: unknown) => {
      this.#timers.delete(Number(id));
    };
    replace(g, "setTimeout", schedule(false));
    replace(g, "setInterval", schedule(true));
    replace(g, "clearTimeout", clear);
    replace(g, "clearInterval", clear);
    replace(Date as unknown as Record<string, unknown>, "now", () => this.#now);
    replace(performance as unknown as Record<string, unknown>, "now", () => this.#now);
  }

  /** The fake time, in ms. */
  get now(): number {
    return this.#now;
  }

  /** The number of pending timers. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Lets pending promises and in-memory streams settle, on the real event loop; time stands
   * still.
   */
  async flush(): Promise<void> {
    for (let i = 0; i < 30; i++) await new Promise((resolve) => realSetTimeout(resolve, 0));
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way, in order, and
   * letting the work each one starts settle.
   *
   * @param ms how far to move
   */
  async tick(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.flush();
    while (true) {
      let next: [number, Timer] | undefined;
      for (const entry of this.#timers) {
        const [, timer] = entry;
        if (timer.due > target) continue;
        if (
          next === undefined || timer.due < next[1].due ||
          (timer.due === next[1].due && timer.seq < next[1].seq)
        ) next = entry;
      }
      if (next === undefined) break;
      const [id, timer] = next;
      this.#now = Math.max(this.#now, timer.due);
      if (timer.interval === undefined) this.#timers.delete(id);
      else timer.due += timer.interval;
      timer.fn(...timer.args);
      await this.flush();
    }
    this.#now = target;
    await this.flush();
  }

  /** Restores the real clock; pending fake timers are dropped. */
  [Symbol.dispose](): void {
    for (const restore of this.#restore.reverse()) restore();
    this.#timers.clear();
  }
}
