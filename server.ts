/**
 * Entry point of the chat server: `deno task serve [options]`, `--help` for the options.
 *
 * @module
 */

import { formatHelp, UsageError } from "./lib/config/flags.ts";
import { parseServerConfig, SERVER_OPTIONS } from "./lib/config/server_config.ts";
import { runHashWorker } from "./lib/auth/hash_worker.ts";
import { createLogger } from "./lib/server/log.ts";
import { startServer } from "./lib/server/server.ts";
import { v8FlagsOption } from "./lib/server/v8_flags.ts";
import { startSupervisor, WORKER_ENV } from "./lib/supervisor/supervisor.ts";
import { startWorker } from "./lib/supervisor/worker.ts";

/** Runs the server until SIGINT or SIGTERM; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  if (args[0] === "--hash-worker") {
    await runHashWorker(Deno.stdin.readable, Deno.stdout.writable);
    return 0;
  }
  if (args.includes("--help")) {
    console.log(formatHelp("imchat server", "Instant messaging server", SERVER_OPTIONS));
    return 0;
  }
  let config;
  try {
    config = parseServerConfig(
      args,
      (name) => Deno.env.get(name),
      Deno.hostname(),
      navigator.hardwareConcurrency,
      Deno.pid,
    );
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun with --help to see the options.`);
    return 2;
  }
  const log = createLogger(config.logLevel);
  const linkPath = Deno.env.get(WORKER_ENV.link);
  let stop: () => Promise<void>;
  let stopped: Promise<void> | undefined;
  try {
    if (linkPath !== undefined) {
      const index = Number(Deno.env.get(WORKER_ENV.index) ?? "0");
      const worker = await startWorker(config, linkPath, index, log, hashWorkerCommand());
      stop = worker.shutdown;
      stopped = worker.stopped;
    } else if (config.workers > 1) {
      const supervisor = await startSupervisor(config, args, serverCommand(), log);
      stop = supervisor.shutdown;
      stopped = supervisor.stopped;
    } else {
      const server = await startServer(config, { log, workerCommand: hashWorkerCommand() });
      stop = () => server.shutdown();
    }
  } catch (error) {
    console.error(`Cannot start the server: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  const done = Promise.withResolvers<void>();
  const onSignal = () => stop().then(done.resolve);
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  stopped?.then(done.resolve);
  await done.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  return 0;
}

/** Whether this program runs as a compiled executable (not under `deno run`). */
function compiled(): boolean {
  return !/(^|\/)deno(\.exe)?$/.test(Deno.execPath());
}

/** The command line that runs this server program again (for `--workers`). */
function serverCommand(): string[] {
  if (compiled()) return [Deno.execPath()];
  const here = (file: string) => new URL(file, import.meta.url).pathname;
  return [
    Deno.execPath(),
    "run",
    "-q",
    "--config",
    here("./deno.json"),
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    "--allow-run",
    "--allow-ffi",
    v8FlagsOption(),
    here("./server.ts"),
  ];
}

/**
 * The command line of a hashing worker: this binary when compiled (it answers to
 * `--hash-worker`), else `deno run` of the small worker module.
 */
function hashWorkerCommand(): string[] {
  const exec = Deno.execPath();
  if (compiled()) return [exec];
  const worker = new URL("./lib/auth/hash_worker.ts", import.meta.url).pathname;
  return [exec, "run", "--quiet", "--no-prompt", "--no-config", worker];
}

if (import.meta.main) Deno.exit(await main(Deno.args));
