/**
 * Runs async jobs one at a time, in the order they were queued. The KV owner runs every room
 * mutation and every stream commit through one, so a check made inside a job (is the sender a
 * member?) still holds when the job's write commits.
 *
 * @module
 */

/**
 * A queue of jobs that never overlap.
 *
 * @example
 * ```ts
 * const serial = new Serial();
 * await serial.run(async () => 1); // 1
 * ```
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `job` after every job queued before it; resolves or rejects with its outcome. */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    this.#tail = result.catch(() => {});
    return result;
  }
}
