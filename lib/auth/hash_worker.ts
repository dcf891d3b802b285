/**
 * Password hashing in helper processes. The server starts a few copies of itself with
 * `--hash-worker` at idle CPU priority (`chrt --idle 0`, else `nice -n 19`): scrypt then runs
 * only when a core has nothing else to do, so a login storm can use every idle core without
 * taking CPU from the chat event loop.
 *
 * Protocol between server and worker: one JSON object per line on stdin
 * (`{"id":1,"op":"hash","password":"…"}` or `{"id":2,"op":"verify","password":"…","stored":"…"}`)
 * and one reply per line on stdout (`{"id":1,"result":"scrypt$…"}` or `{"id":2,"result":true}`).
 *
 * @module
 */

import { HashQueue, type JobLimits } from "./hash_queue.ts";
import { hashPassword, type PasswordHasher, verifyPassword } from "./password.ts";

interface Job {
  id: number;
  op: "hash" | "verify";
  password: string;
  stored?: string;
}

/** Runs the worker side: reads jobs from `input`, writes results to `output`, one at a time. */
export async function runHashWorker(
  input: ReadableStream<Uint8Array>,
  output: WritableStream<Uint8Array>,
): Promise<void> {
  const writer = output.getWriter();
  const encoder = new TextEncoder();
  let rest = "";
  for await (const chunk of input.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let newline;
    while ((newline = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      const job = JSON.parse(line) as Job;
      const result = job.op === "hash"
        ? await hashPassword(job.password)
        : await verifyPassword(job.password, job.stored ?? "");
      await writer.write(encoder.encode(JSON.stringify({ id: job.id, result }) + "\n"));
    }
  }
  await writer.close();
}

interface Worker {
  process: Deno.ChildProcess;
  /** Set once the process has ended. */
  exited: boolean;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>;
  done: Promise<void>;
}

/**
 * A {@linkcode PasswordHasher} backed by low-priority worker processes. Jobs wait in one
 * queue in this process (see {@linkcode HashQueue}) and each worker is given the next job
 * only when it is free, so a dropped job is never sent and a slow worker holds no queue of
 * its own.
 */
export class ProcessHasher implements PasswordHasher {
  readonly #workers: Worker[];
  readonly #command: string[];
  readonly #queue: HashQueue;
  #nextId = 1;
  #closed = false;

  private constructor(workers: Worker[], command: string[], queue: HashQueue) {
    this.#workers = workers;
    this.#command = command;
    this.#queue = queue;
  }

  /**
   * Starts `count` workers with `command` (the server's own command line, to which
   * `--hash-worker` is appended); at most `maxQueue` jobs wait; deadlines are on `now`.
   * Rejects when the workers cannot be started.
   */
  static async start(
    count: number,
    command: string[],
    maxQueue: number,
    now: () => number = Date.now,
  ): Promise<ProcessHasher> {
    const queue = () => new HashQueue({ concurrency: count, maxQueue, now });
    try {
      return await ProcessHasher.#start(count, ["chrt", "--idle", "0", ...command], queue());
    } catch {
      return await ProcessHasher.#start(count, ["nice", "-n", "19", ...command], queue());
    }
  }

  static async #start(count: number, command: string[], queue: HashQueue): Promise<ProcessHasher> {
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < count; i++) workers.push(startWorker(command));
      const hasher = new ProcessHasher(workers, command, queue);
      // Proves the workers run before the server relies on them.
      await Promise.all(workers.map((w) => hasher.#call(w, "verify", "x", "invalid")));
      return hasher;
    } catch (error) {
      for (const worker of workers) stopWorker(worker);
      throw error;
    }
  }

  /** Hashes with a fresh salt in a worker, within `limits`. */
  hash(password: string, limits?: JobLimits): Promise<string> {
    return this.#queue.run(() => this.#dispatch("hash", password), limits) as Promise<string>;
  }

  /** Verifies in a worker, within `limits`. */
  verify(password: string, stored: string, limits?: JobLimits): Promise<boolean> {
    return this.#queue.run(
      () => this.#dispatch("verify", password, stored),
      limits,
    ) as Promise<boolean>;
  }

  /** Stops the workers; waiting and running jobs fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    for (const worker of this.#workers) stopWorker(worker);
    await Promise.allSettled(this.#workers.map((w) => w.done));
  }

  /**
   * Gives a job to a free worker (the queue runs at most one job per worker). A worker that
   * died is replaced first; one that died while taking the job (not yet noticed) is replaced
   * and the job given to its replacement, once.
   */
  async #dispatch(
    op: Job["op"],
    password: string,
    stored?: string,
    retry = true,
  ): Promise<unknown> {
    for (let i = 0; i < this.#workers.length; i++) {
      if (this.#workers[i].exited) this.#workers[i] = startWorker(this.#command);
    }
    const free = this.#workers.find((worker) => worker.pending.size === 0) ?? this.#workers[0];
    try {
      return await this.#call(free, op, password, stored);
    } catch (error) {
      if (!retry || this.#closed || !(error instanceof WorkerGone)) throw error;
      free.exited = true;
      return await this.#dispatch(op, password, stored, false);
    }
  }

  #call(worker: Worker, op: Job["op"], password: string, stored?: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("Password hasher is closed"));
    const id = this.#nextId++;
    const job: Job = { id, op, password, ...(stored === undefined ? {} : { stored }) };
    return new Promise((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      worker.writer.write(new TextEncoder().encode(JSON.stringify(job) + "\n")).catch(() => {
        worker.pending.delete(id);
        reject(new WorkerGone());
      });
    });
  }
}

/** The worker a job was given to has stopped. */
class WorkerGone extends Error {
  constructor() {
    super("Password worker stopped");
    this.name = "WorkerGone";
  }
}

function startWorker(command: string[]): Worker {
  const process = new Deno.Command(command[0], {
    args: [...command.slice(1), "--hash-worker"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const pending: Worker["pending"] = new Map();
  const done = (async () => {
    let rest = "";
    try {
      for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let newline;
        while ((newline = rest.indexOf("\n")) >= 0) {
          const reply = JSON.parse(rest.slice(0, newline)) as { id: number; result: unknown };
          rest = rest.slice(newline + 1);
          pending.get(reply.id)?.resolve(reply.result);
          pending.delete(reply.id);
        }
      }
    } finally {
      for (const job of pending.values()) job.reject(new WorkerGone());
      pending.clear();
      await process.status;
    }
  })().catch(() => {});
  const worker: Worker = {
    process,
    exited: false,
    writer: process.stdin.getWriter(),
    pending,
    done,
  };
  process.status.then(() => worker.exited = true);
  return worker;
}

function stopWorker(worker: Worker): void {
  worker.writer.close().catch(() => {});
  try {
    worker.process.kill("SIGTERM");
  } catch {
    // already gone
  }
}

if (import.meta.main) await runHashWorker(Deno.stdin.readable, Deno.stdout.writable);
