/**
 * {@linkcode ReadyQueue}: the work queue's FIFO of keys ready to start. Adding costs O(1); an
 * entry whose ticket is no longer its key's (the key was forgotten or started) is stale and
 * skipped when it reaches the front.
 *
 * @module
 */

/** A FIFO of `(key, ticket)` entries, two parallel arrays with a moving head. */
export class ReadyQueue {
  #keys: string[] = [];
  #tickets: number[] = [];
  #head = 0;
  readonly #isLive: (key: string, ticket: number) => boolean;

  /**
   * Creates an empty queue.
   *
   * @param isLive whether an entry's ticket is still its key's
   */
  constructor(isLive: (key: string, ticket: number) => boolean) {
    this.#isLive = isLive;
  }

  /**
   * Adds a key at the back.
   *
   * @param key the key
   * @param ticket the key's ticket for this entry
   */
  push(key: string, ticket: number): void {
    this.#keys.push(key);
    this.#tickets.push(ticket);
  }

  /**
   * Removes the next live entry.
   *
   * @returns its key, or `undefined` when no entry is live
   */
  pop(): string | undefined {
    while (this.#head < this.#keys.length) {
      const i = this.#head++;
      const key = this.#keys[i]!;
      const ticket = this.#tickets[i]!;
      if (this.#isLive(key, ticket)) {
        this.#compact();
        return key;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Removes every entry. */
  clear(): void {
    this.#keys = [];
    this.#tickets = [];
    this.#head = 0;
  }

  #compact(): void {
    const head = this.#head;
    if (head === this.#keys.length) {
      this.clear();
    } else if (head >= 1024 && head * 2 >= this.#keys.length) {
      this.#keys = this.#keys.slice(head);
      this.#tickets = this.#tickets.slice(head);
      this.#head = 0;
    }
  }
}
