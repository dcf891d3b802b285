/**
 * Group commit per slot: one script call at a time per slot, carrying every unit queued for
 * that slot since the previous call returned (up to a bound). A unit (the messages of one
 * append call for one slot) is never split, so they get consecutive positions; units keep
 * the order they were added in. Different slots commit concurrently.
 *
 * @module
 */

interface Unit<T, R> {
  items: T[];
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Ordered batches per key.
 *
 * @example
 * ```ts
 * const commit = new GroupCommit(async (_key, xs: number[]) => xs.map((x) => x * 2), 256);
 * await commit.add("slot", [1, 2]); // [2, 4]
 * ```
 */
export class GroupCommit<T, R> {
  readonly #commit: (key: string, items: T[]) => Promise<R[]>;
  readonly #maxBatch: number;
  readonly #queues = new Map<string, Unit<T, R>[]>();
  readonly #running = new Set<Promise<void>>();

  constructor(commit: (key: string, items: T[]) => Promise<R[]>, maxBatch: number) {
    this.#commit = commit;
    this.#maxBatch = maxBatch;
  }

  /** Queues a unit for `key`; resolves with its results, in order, once committed. */
  add(key: string, items: T[]): Promise<R[]> {
    return new Promise<R[]>((resolve, reject) => {
      const queue = this.#queues.get(key);
      const unit = { items, resolve, reject };
      if (queue) {
        queue.push(unit);
        return;
      }
      this.#queues.set(key, [unit]);
      const run = this.#run(key).finally(() => this.#running.delete(run));
      this.#running.add(run);
    });
  }

  /** Resolves once every queued unit was committed or failed. */
  async drained(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  async #run(key: string): Promise<void> {
    await Promise.resolve();
    const queue = this.#queues.get(key)!;
    while (queue.length > 0) {
      const batch: Unit<T, R>[] = [queue.shift()!];
      let size = batch[0].items.length;
      while (queue.length > 0 && size + queue[0].items.length <= this.#maxBatch) {
        const unit = queue.shift()!;
        size += unit.items.length;
        batch.push(unit);
      }
      try {
        const results = await this.#commit(key, batch.flatMap((unit) => unit.items));
        let at = 0;
        for (const unit of batch) {
          unit.resolve(results.slice(at, at + unit.items.length));
          at += unit.items.length;
        }
      } catch (error) {
        for (const unit of batch) unit.reject(error);
      }
    }
    this.#queues.delete(key);
  }
}
