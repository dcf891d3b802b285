/**
 * Admission and scheduling of password hashing jobs: at most `concurrency` run at once, the
 * rest wait in a bounded queue, first come first served. A job may carry a deadline (when
 * its result stops being useful: the connection's login timeout) and an AbortSignal (the
 * connection closed):
 *
 * - a job that is not expected to finish by its deadline is refused at once, with the
 *   seconds after which the queue should have room again;
 * - a job whose signal aborts leaves the queue and is never started;
 * - a job still waiting when its deadline passes is dropped instead of started.
 *
 * The expected duration of a job is learned from the jobs that finished; while every slot is
 * busy it is at least the age of the youngest running job, so hashing that makes no progress
 * at all (its workers starved of CPU) stops admitting work instead of queueing it until it
 * times out.
 *
 * Scheduling only: the clock is injected and the work is a function given by the caller.
 *
 * @module
 */

/** Limits of one job. */
export interface JobLimits {
  /** Time, on the queue's clock (ms), by which the result must be there. */
  deadline?: number;
  /** Aborting it drops the job; the job's promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Refused: too much hashing is waiting for this job to finish in time. */
export class HasherBusyError extends Error {
  /** Seconds after which trying again should be admitted (at least 1). */
  readonly retryAfter: number;

  constructor(retryAfter = 1) {
    super(`Too many logins at once; try again in ${retryAfter} s`);
    this.name = "HasherBusyError";
    this.retryAfter = retryAfter;
  }
}

/** Settings of a {@linkcode HashQueue}. */
export interface HashQueueOptions {
  /** Jobs that may run at once. */
  concurrency: number;
  /** Jobs that may wait; more are refused. */
  maxQueue: number;
  /** The clock deadlines are given on (ms). */
  now?: () => number;
  /** Expected duration of a job until one has been measured, ms. */
  initialEstimateMs?: number;
}

interface Waiting {
  start(): void;
  reject(error: unknown): void;
  deadline: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Weight of the newest measurement in the expected duration. */
const SMOOTHING = 0.2;

/**
 * A bounded queue of hashing jobs with deadlines and cancellation.
 *
 * @example
 * ```ts
 * const queue = new HashQueue({ concurrency: 2, maxQueue: 100 });
 * const hash = await queue.run(() => hashPassword("secret"), { deadline: Date.now() + 10_000 });
 * ```
 */
export class HashQueue {
  readonly #concurrency: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  /** Start times of the running jobs. */
  readonly #running = new Set<{ startedAt: number }>();
  #waiting: Waiting[] = [];
  #estimateMs: number;
  #closed = false;

  constructor(options: HashQueueOptions) {
    this.#concurrency = options.concurrency;
    this.#maxQueue = options.maxQueue;
    this.#now = options.now ?? Date.now;
    this.#estimateMs = options.initialEstimateMs ?? 100;
  }

  /** Jobs waiting to start. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Jobs running. */
  get running(): number {
    return this.#running.size;
  }

  /** Expected duration of one job now, ms. */
  get estimateMs(): number {
    if (this.#running.size < this.#concurrency) return this.#estimateMs;
    const now = this.#now();
    let youngest = Infinity;
    for (const job of this.#running) youngest = Math.min(youngest, now - job.startedAt);
    return Math.max(this.#estimateMs, youngest);
  }

  /**
   * Runs `task` once a slot is free, within `limits`.
   *
   * @throws {HasherBusyError} when the queue is full or the job is not expected to finish by
   * its deadline, or when it is still waiting at its deadline.
   */
  run<T>(task: () => Promise<T>, limits: JobLimits = {}): Promise<T> {
    const { signal } = limits;
    if (this.#closed) return Promise.reject(new Error("Password hasher is closed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const deadline = limits.deadline ?? Infinity;
    const estimate = this.estimateMs;
    // Rounds of `concurrency` jobs that must finish before this one can start.
    const rounds = Math.floor((this.#waiting.length + this.#running.size) / this.#concurrency);
    const retryAfter = Math.max(1, Math.ceil(rounds * estimate / 1000));
    if (this.#waiting.length >= this.#maxQueue) {
      return Promise.reject(new HasherBusyError(retryAfter));
    }
    if (this.#now() + (rounds + 1) * estimate > deadline) {
      return Promise.reject(new HasherBusyError(retryAfter));
    }
    if (this.#running.size < this.#concurrency) return this.#start(task);
    return new Promise<T>((resolve, reject) => {
      const start = () => void this.#start(task).then(resolve, reject);
      const job: Waiting = { start, reject, deadline, signal };
      if (signal) {
        job.onAbort = () => {
          this.#waiting = this.#waiting.filter((other) => other !== job);
          reject(signal.reason);
        };
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#waiting.push(job);
    });
  }

  /** Refuses new jobs and fails the waiting ones; running jobs finish. */
  close(): void {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) {
      this.#forget(job);
      job.reject(new Error("Password hasher is closed"));
    }
  }

  async #start<T>(task: () => Promise<T>): Promise<T> {
    const job = { startedAt: this.#now() };
    this.#running.add(job);
    try {
      const result = await task();
      const took = this.#now() - job.startedAt;
      this.#estimateMs += SMOOTHING * (took - this.#estimateMs);
      return result;
    } finally {
      this.#running.delete(job);
      this.#next();
    }
  }

  /** Starts the next waiting job that can still be of use; drops those past their deadline. */
  #next(): void {
    while (this.#running.size < this.#concurrency && this.#waiting.length > 0) {
      const job = this.#waiting.shift()!;
      this.#forget(job);
      if (this.#now() > job.deadline) {
        job.reject(new HasherBusyError(1));
        continue;
      }
      job.start();
    }
  }

  #forget(job: Waiting): void {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
  }
}
