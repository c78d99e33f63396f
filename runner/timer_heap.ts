/**
 * {@linkcode TimerHeap}: the work queue's timers, a binary min-heap on the due time with lazy
 * deletion. An entry is stale once its key's timer changed or was cancelled (the queue says
 * which entries are live); stale entries are dropped when they reach the top, or all at once by
 * {@linkcode TimerHeap.rebuild}.
 *
 * @module
 */

/** An entry of the timer heap. It is stale once its key's `timerSeq` no longer matches `seq`. */
export interface TimerEntry {
  /** When the timer is due, on the queue's clock. */
  due: number;
  /** The sequence number of the timer: later timers have higher ones. */
  seq: number;
  /** The key the timer is for. */
  key: string;
}

/** Heap order: earlier due first, then earlier scheduling. */
function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** A min-heap of timers on `due` (then `seq`), with lazy deletion of stale entries. */
export class TimerHeap {
  #heap: TimerEntry[] = [];
  readonly #isLive: (entry: TimerEntry) => boolean;

  /**
   * Creates an empty heap.
   *
   * @param isLive whether an entry is still its key's timer
   */
  constructor(isLive: (entry: TimerEntry) => boolean) {
    this.#isLive = isLive;
  }

  /** The number of entries, stale ones included. */
  get length(): number {
    return this.#heap.length;
  }

  /**
   * Every entry, stale ones included, in no particular order.
   *
   * @returns the entries
   */
  entries(): readonly TimerEntry[] {
    return this.#heap;
  }

  /**
   * The earliest live entry; the stale entries above it are dropped.
   *
   * @returns the entry, or `undefined` when no entry is live
   */
  peek(): TimerEntry | undefined {
    while (this.#heap.length > 0 && !this.#isLive(this.#heap[0]!)) this.pop();
    return this.#heap[0];
  }

  /** Drops every stale entry at once. */
  rebuild(): void {
    const live = this.#heap.filter((entry) => this.#isLive(entry));
    live.sort((a, b) => a.due - b.due || a.seq - b.seq);
    this.#heap = live;
  }

  /** Removes every entry. */
  clear(): void {
    this.#heap = [];
  }

  /**
   * Adds an entry.
   *
   * @param entry the timer
   */
  push(entry: TimerEntry): void {
    const heap = this.#heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  /** Removes the top entry (live or stale). */
  pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
