/**
 * Group commit: items added while a commit is in flight are committed together in the next
 * one, in the order they were added. At light load every item is committed on its own after
 * one microtask; under load each commit carries many items, so a store round trip is paid
 * per batch, not per item.
 *
 * @module
 */

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Commits items in ordered batches of at most `maxBatch`.
 *
 * @example
 * ```ts
 * const batcher = new Batcher(async (xs: number[]) => xs.map((x) => x * 2), 100);
 * await batcher.add(21); // 42
 * ```
 */
export class Batcher<T, R> {
  readonly #commit: (items: T[]) => Promise<R[]>;
  readonly #maxBatch: number;
  #queue: Pending<T, R>[] = [];
  #running = false;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};

  constructor(commit: (items: T[]) => Promise<R[]>, maxBatch: number) {
    this.#commit = commit;
    this.#maxBatch = maxBatch;
  }

  /** Queues one item; resolves with its result once its batch is committed. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) this.#start();
    });
  }

  /** Resolves once every queued item has been committed or failed. */
  drained(): Promise<void> {
    return this.#idle;
  }

  #start(): void {
    this.#running = true;
    this.#idle = new Promise((resolve) => this.#markIdle = resolve);
    queueMicrotask(() => this.#run());
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        const results = await this.#commit(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]));
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.#running = false;
    this.#markIdle();
  }
}
