/**
 * Orders the writes of one append call per stream. A private message writes two streams (the
 * sender's and then the receiver's), so the writes of one call to one stream come from two
 * kinds of script; to keep them in call order, each stream's writes are planned as a chain of
 * steps, each step one kind of write, started after the step before it on that stream and
 * after what its items wait for. Consecutive writes of one kind to a stream share a step (one
 * unit of the group commit).
 *
 * @module
 */

/** One planned step: items of one kind for one stream. */
export class Step<T, R> {
  readonly kind: string;
  readonly #after: Promise<unknown>;
  readonly #items: Promise<T | null>[] = [];
  readonly #results: Promise<(R | null)[]>;
  #start: (commit: (items: T[]) => Promise<R[]>) => void = () => {};
  /** Settles when the step's writes are done or failed. */
  readonly done: Promise<unknown>;

  constructor(kind: string, after: Promise<unknown>) {
    this.kind = kind;
    this.#after = after;
    this.#results = new Promise<(R | null)[]>((resolve, reject) => {
      this.#start = (commit) => {
        this.#run(commit).then(resolve, reject);
      };
    });
    this.done = this.#results.catch(() => {});
  }

  /** Adds an item (null when it turns out to need no write); resolves with its result. */
  add(item: Promise<T | null>): Promise<R | null> {
    const at = this.#items.length;
    this.#items.push(item.catch(() => null));
    return this.#results.then((results) => results[at]);
  }

  /** Starts the step once the step before and its items are ready. */
  launch(commit: (items: T[]) => Promise<R[]>): void {
    this.#start(commit);
  }

  async #run(commit: (items: T[]) => Promise<R[]>): Promise<(R | null)[]> {
    await this.#after;
    const items = await Promise.all(this.#items);
    const real = items.filter((item): item is Awaited<T> => item !== null) as T[];
    const results = real.length === 0 ? [] : await commit(real);
    let at = 0;
    return items.map((item) => (item === null ? null : results[at++]));
  }
}

/**
 * Plans steps per stream: `step(stream, kind)` is the open step of that kind at the end of
 * the stream's chain, or a new one after it.
 *
 * @example
 * ```ts
 * const chain = new StepChain();
 * const step = chain.step<number, number>("@bob", "sent");
 * const result = step.add(Promise.resolve(1));
 * chain.launch(() => (items) => Promise.resolve(items));
 * await result; // 1
 * ```
 */
export class StepChain {
  readonly #last = new Map<string, Step<unknown, unknown>>();
  readonly #steps: [string, Step<unknown, unknown>][] = [];

  /** The step to add a write of `kind` to `stream` to. */
  step<T, R>(stream: string, kind: string): Step<T, R> {
    const last = this.#last.get(stream);
    if (last?.kind === kind) return last as unknown as Step<T, R>;
    const step = new Step<T, R>(kind, last?.done ?? Promise.resolve());
    this.#last.set(stream, step as unknown as Step<unknown, unknown>);
    this.#steps.push([stream, step as unknown as Step<unknown, unknown>]);
    return step;
  }

  /** Starts every step with the commit `commit` gives for its stream and kind. */
  launch(commit: (stream: string, kind: string) => (items: unknown[]) => Promise<unknown[]>): void {
    for (const [stream, step] of this.#steps) step.launch(commit(stream, step.kind));
  }
}
