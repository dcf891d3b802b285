/**
 * Entry point of the chat server: `deno task serve [options]`, `--help` for the options.
 *
 * @module
 */

import { formatHelp, UsageError } from "./lib/config/flags.ts";
import { parseServerConfig, SERVER_OPTIONS } from "./lib/config/server_config.ts";
import { runHashWorker } from "./lib/auth/hash_worker.ts";
import { startServer } from "./lib/server/server.ts";

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
    );
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun with --help to see the options.`);
    return 2;
  }
  let server;
  try {
    server = await startServer(config, { workerCommand: ownCommand() });
  } catch (error) {
    console.error(`Cannot start the server: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
  const stopped = Promise.withResolvers<void>();
  const stop = () => server.shutdown().then(stopped.resolve);
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  return 0;
}

/**
 * The command line of a hashing worker: this binary when compiled (it answers to
 * `--hash-worker`), else `deno run` of the small worker module.
 */
function ownCommand(): string[] {
  const exec = Deno.execPath();
  if (!/(^|\/)deno(\.exe)?$/.test(exec)) return [exec];
  const worker = new URL("./lib/auth/hash_worker.ts", import.meta.url).pathname;
  return [exec, "run", "--quiet", "--no-prompt", "--no-config", worker];
}

if (import.meta.main) Deno.exit(await main(Deno.args));
